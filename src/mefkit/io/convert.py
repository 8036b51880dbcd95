"""Convert user arrays to the library's image convention: (H, W, 3) float32 in [0, 1].

Also the colour conversions of such images: BT.601 luma, and sRGB <-> CIE-Lab (D65)
through OpenCV. OpenCV's float path applies the sRGB transfer curve before the XYZ
matrix, so ``L`` is perceptual lightness: mid-grey 0.5 gives L = 53.4, white L = 100. We
use it rather than a hand-written conversion: a maintained implementation is preferred.
"""

from __future__ import annotations

import warnings

import cv2
import numpy as np

from ..errors import BracketError


def as_float_rgb(image: np.ndarray, name: str = "array") -> np.ndarray:
    """Return ``image`` as an ``(H, W, 3)`` float32 array in [0, 1].

    Parameters
    ----------
    image : ndarray
        ``(H, W)``, ``(H, W, 1)``, ``(H, W, 3)`` or ``(H, W, 4)``; uint8 (0..255),
        uint16 (0..65535) or float (must already lie in [0, 1]). Gray is broadcast to
        RGB; a fourth (alpha) channel is dropped with a warning, as for files.
    name : str
        How to name the image in error messages (a file name or ``"frame 2"``).

    Raises
    ------
    BracketError
        On an unsupported shape or dtype, NaN/inf, or float values outside [0, 1].
    """
    arr = np.asarray(image)
    if arr.ndim == 3 and arr.shape[2] == 1:
        arr = arr[:, :, 0]
    if arr.ndim == 2:
        arr = np.repeat(arr[:, :, None], 3, axis=2)
    elif arr.ndim == 3 and arr.shape[2] == 4:
        warnings.warn(f"{name}: alpha channel dropped", stacklevel=2)
        arr = arr[:, :, :3]
    if arr.ndim != 3 or arr.shape[2] != 3:
        raise BracketError(f"{name}: expected an (H, W), (H, W, 3) or (H, W, 4) image, got shape {arr.shape}")
    if arr.shape[0] < 2 or arr.shape[1] < 2:
        raise BracketError(f"{name}: image of {arr.shape[1]}x{arr.shape[0]} pixels is too small")
    if arr.dtype == np.uint8:
        return arr.astype(np.float32) / np.float32(255)
    if arr.dtype == np.uint16:
        return arr.astype(np.float32) / np.float32(65535)
    if np.issubdtype(arr.dtype, np.floating):
        out = arr.astype(np.float32, copy=True)
        if not np.isfinite(out).all():
            raise BracketError(f"{name}: contains NaN or infinite values")
        lo, hi = float(out.min()), float(out.max())
        if lo < 0.0 or hi > 1.0:
            raise BracketError(
                f"{name}: float images must lie in [0, 1], got values in [{lo:.4g}, {hi:.4g}]"
            )
        return out
    raise BracketError(f"{name}: unsupported dtype {arr.dtype} (use uint8, uint16 or float in [0, 1])")


def luminance(image: np.ndarray) -> np.ndarray:
    """BT.601 luma of an ``(H, W, 3)`` RGB image, ``(H, W)`` in the input's range."""
    return image[..., 0] * 0.299 + image[..., 1] * 0.587 + image[..., 2] * 0.114


def rgb_to_lab(image: np.ndarray) -> np.ndarray:
    """CIE-Lab of an sRGB image.

    Parameters
    ----------
    image : ndarray
        ``(H, W, 3)`` RGB in [0, 1] (any float or integer-valued float dtype).

    Returns
    -------
    ndarray
        ``(H, W, 3)`` float32: L in [0, 100], a and b roughly in [-128, 128].
    """
    rgb = np.ascontiguousarray(image, dtype=np.float32)
    return cv2.cvtColor(rgb, cv2.COLOR_RGB2Lab)


def lab_to_rgb(lab: np.ndarray) -> np.ndarray:
    """sRGB of a CIE-Lab image, clipped to [0, 1].

    Parameters
    ----------
    lab : ndarray
        ``(H, W, 3)`` L in [0, 100], a, b in about [-128, 128].

    Returns
    -------
    ndarray
        ``(H, W, 3)`` float32 RGB in [0, 1]; out-of-gamut colours are clipped per channel.
    """
    rgb = cv2.cvtColor(np.ascontiguousarray(lab, dtype=np.float32), cv2.COLOR_Lab2RGB)
    return np.clip(rgb, 0.0, 1.0, out=rgb)
