"""Checks of parameters, shapes and dtypes, with one message format everywhere.

Every public function checks its inputs before any work, through these helpers, so
the wording is the same across methods and metrics (``"<name> must be >= 0, got
<value>"``, ``"<name> must be one of (...), got <value>"``) and NaN is rejected where a
plain ``value < 0`` test lets it through. Errors are ``ValueError``; the CLI shows
them as one line.

* parameters: :func:`require_non_negative`, :func:`require_positive`,
  :func:`require_one_of`, :func:`require_in_range`;
* images (numpy, at the metric and method boundary): :func:`check_image`,
  :func:`check_pair`, :func:`check_min_size`, :func:`check_data_range`;
* tensors (torch, without importing it): :func:`check_batch`.
"""

from __future__ import annotations

import math

from typing import Any, Iterable

import numpy as np


def check_data_range(data_range: float) -> float:
    """Return ``data_range`` as a float, or raise ``ValueError`` if it is not positive and finite."""
    try:
        value = float(data_range)
    except (TypeError, ValueError):
        raise ValueError(f"data_range must be a positive number, got {data_range!r}") from None
    if not (math.isfinite(value) and value > 0):
        raise ValueError(f"data_range must be a positive number, got {data_range!r}")
    return value


def check_image(image, name: str, data_range: float) -> np.ndarray:
    """Return ``image`` as an array after checking its shape and values.

    Parameters
    ----------
    image : array_like
        ``(H, W)`` or ``(H, W, 3)``.
    name : str
        The argument's name, used in error messages.
    data_range : float
        White level; integer arrays must lie in ``[0, data_range]`` (this catches uint8
        data passed with the default ``data_range=1.0``). Float values are not range
        checked: a fused image that overshoots slightly is scored as it is.

    Raises
    ------
    ValueError
        Wrong number of dimensions or channels, NaN/inf, or integers above ``data_range``.
    """
    arr = np.asarray(image)
    if not (arr.ndim == 2 or (arr.ndim == 3 and arr.shape[2] == 3)):
        raise ValueError(f"{name} must be (H, W) or (H, W, 3), got shape {arr.shape}")
    if arr.dtype == bool or not (np.issubdtype(arr.dtype, np.floating) or np.issubdtype(arr.dtype, np.integer)):
        raise ValueError(f"{name} must be a real numeric array, got dtype {arr.dtype}")
    if np.issubdtype(arr.dtype, np.floating):
        if not np.isfinite(arr).all():
            raise ValueError(f"{name} of shape {arr.shape} contains NaN or infinite values")
    elif arr.size and (arr.min() < 0 or arr.max() > data_range):
        raise ValueError(
            f"{name} is an integer array with values up to {arr.max()} but data_range={data_range:g}; "
            f"pass data_range=255 for 8-bit data or convert to float in [0, 1]"
        )
    return arr


def check_pair(fused, reference, data_range: float) -> tuple[np.ndarray, np.ndarray]:
    """Check a (fused, reference) pair: both valid images of the same shape."""
    f = check_image(fused, "fused", data_range)
    r = check_image(reference, "reference", data_range)
    if f.shape != r.shape:
        raise ValueError(f"fused and reference must have the same shape, got {f.shape} and {r.shape}")
    return f, r


def check_exposures(frames, fused, data_range: float) -> tuple[list[np.ndarray], np.ndarray]:
    """Check the (frames, fused) input of a no-reference fusion metric.

    ``frames`` is a sequence of exposures, or one ``(H, W)`` / ``(H, W, 3)`` array taken
    as a single exposure; every frame and ``fused`` must be valid images
    (:func:`check_image`) of the same height and width.

    Returns
    -------
    (list of ndarray, ndarray)
        The checked frames and the checked fused image.
    """
    if isinstance(frames, np.ndarray) and (frames.ndim == 2 or (frames.ndim == 3 and frames.shape[2] == 3)):
        frames = [frames]  # a single (H, W) or (H, W, 3) array is one exposure, not a stack of rows
    frames = list(frames)
    if not frames:
        raise ValueError("frames must hold at least one exposure, got none")
    fused_arr = check_image(fused, "fused", data_range)
    arrs = [check_image(fr, f"frames[{i}]", data_range) for i, fr in enumerate(frames)]
    for i, a in enumerate(arrs):
        if a.shape[:2] != fused_arr.shape[:2]:
            raise ValueError(f"frames[{i}] has shape {a.shape} but fused has shape {fused_arr.shape}; sizes must match")
    return arrs, fused_arr


def check_min_size(shape: tuple[int, ...], minimum: int, name: str, why: str) -> None:
    """Raise ``ValueError`` if the image's height or width is below ``minimum``."""
    h, w = shape[0], shape[1]
    if min(h, w) < minimum:
        raise ValueError(f"{name} of shape {tuple(shape)} is too small: {why} needs at least {minimum}x{minimum} pixels")


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


def require_one_of(name: str, value: Any, choices: Iterable[Any]) -> None:
    """Raise ``ValueError`` unless ``value`` is one of ``choices``.

    The message is ``"<name> must be one of (<choices>), got <value>"``.
    """
    choices = tuple(choices)
    if value not in choices:
        raise ValueError(f"{name} must be one of {choices}, got {value!r}")


def require_in_range(name: str, value: float, low: float, high: float) -> None:
    """Raise ``ValueError`` unless ``low <= value <= high`` (NaN is rejected)."""
    if not low <= _finite_number(name, value) <= high:
        raise ValueError(f"{name} must be in [{low:g}, {high:g}], got {value}")


def check_batch(tensor: Any, name: str, channels: int | None = None) -> None:
    """Raise ``ValueError`` unless ``tensor`` is ``(B, C, H, W)`` (with ``C == channels`` if given)."""
    shape = tuple(getattr(tensor, "shape", ()))
    if len(shape) != 4 or (channels is not None and shape[1] != channels):
        want = f"(B, {channels}, H, W)" if channels is not None else "(B, C, H, W)"
        raise ValueError(f"{name} must be {want}, got {shape}")
