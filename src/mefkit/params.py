"""Validation of numeric method parameters, with one message format for every method.

Each fusion method checks its keyword parameters before any work; these helpers keep
the wording identical (``"<name> must be >= 0, got <value>"``) and also reject NaN,
which a plain ``value < 0`` test lets through.
"""

from __future__ import annotations

import math


def _finite_number(name: str, value: float) -> float:
    try:
        number = float(value)
    except (TypeError, ValueError):
        raise ValueError(f"{name} must be a number, got {value!r}") from None
    if math.isnan(number):
        raise ValueError(f"{name} must be a number, got NaN")
    return number


def require_non_negative(**values: float) -> None:
    """Raise ``ValueError`` naming the first parameter that is negative or NaN.

    Parameters
    ----------
    **values : float
        Parameter name -> value, e.g. ``require_non_negative(contrast_weight=1.0)``.

    Raises
    ------
    ValueError
        ``"<name> must be >= 0, got <value>"`` (or ``"must be a number"`` for NaN and
        non-numbers).
    """
    for name, value in values.items():
        if _finite_number(name, value) < 0:
            raise ValueError(f"{name} must be >= 0, got {value}")


def require_positive(**values: float) -> None:
    """Raise ``ValueError`` naming the first parameter that is not > 0 (or is NaN).

    Parameters
    ----------
    **values : float
        Parameter name -> value, e.g. ``require_positive(sigma=0.2)``.

    Raises
    ------
    ValueError
        ``"<name> must be > 0, got <value>"`` (or ``"must be a number"``).
    """
    for name, value in values.items():
        if _finite_number(name, value) <= 0:
            raise ValueError(f"{name} must be > 0, got {value}")
