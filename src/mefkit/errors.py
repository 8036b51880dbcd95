"""Exceptions raised by mefkit for user errors.

Every user-facing failure derives from :class:`MefkitError`, so the CLI can print one
clear line for it and a caller can catch all of them at once.
"""

from __future__ import annotations


class MefkitError(Exception):
    """Base class of every error caused by the user's input or settings."""


class BracketError(MefkitError):
    """A bracket cannot be read or fused: the message names the file and the problem."""


class OutputError(MefkitError):
    """An output file cannot be written (exists, is an input, unsupported format...)."""


class MethodError(MefkitError):
    """An unknown fusion method or an invalid parameter for a method."""


class ParameterError(MethodError):
    """A ``KEY=VALUE`` parameter is malformed, unknown, or of the wrong type."""
