"""Validation of metric inputs at the API boundary (shapes, NaN, sizes, data range)."""

from __future__ import annotations

import math

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


def check_min_size(shape: tuple[int, ...], minimum: int, name: str, why: str) -> None:
    """Raise ``ValueError`` if the image's height or width is below ``minimum``."""
    h, w = shape[0], shape[1]
    if min(h, w) < minimum:
        raise ValueError(f"{name} of shape {tuple(shape)} is too small: {why} needs at least {minimum}x{minimum} pixels")
