"""CIELAB lightness and the Gaussian surround used by every MITM map.

MITM's switching maps are driven by the *surround* luminance, the centre/surround Gaussian
of Retinex (Land 1986; Jobson, Rahman, Woodell, IEEE TIP 1997). The lightness is CIELAB
``L* / 100`` (a reconstruction default), written out here instead of ``cv2.cvtColor(..., COLOR_RGB2Lab)``
because OpenCV's float path approximates the sRGB curve (about 0.1 L* off) and the training
code needs a torch twin (:mod:`mefkit.methods.mitm.stages.torch_maps`) that agrees to float precision.
"""

from __future__ import annotations

import math

import cv2
import numpy as np

#: CIE 1931 Y (relative luminance) weights of linear sRGB (IEC 61966-2-1).
SRGB_TO_Y = (0.212671, 0.715160, 0.072169)
#: CIELAB f(t) switches from the cube root to its linear segment below (6/29)^3 (CIE 15).
LAB_EPSILON = (6.0 / 29.0) ** 3
#: The multiscale surround sigmas in pixels at a 512-pixel short side: the MSR canon
#: 15, 80, 250 (Jobson, Rahman, Woodell 1997), the reconstruction default for MITM.
MSR_SIGMAS = (15.0, 80.0, 250.0)
#: Short side (pixels) at which ``MSR_SIGMAS`` apply; other sizes scale them.
REFERENCE_SIZE = 512
#: Largest sigma blurred directly; beyond it the blur runs on a downscaled copy.
DIRECT_SIGMA_MAX = 8.0


def lightness(image: np.ndarray) -> np.ndarray:
    """CIELAB lightness ``L* / 100`` of an sRGB image.

    Parameters
    ----------
    image : ndarray
        ``(H, W, 3)`` float RGB in [0, 1] (sRGB-encoded).

    Returns
    -------
    ndarray
        ``(H, W)`` float32 in [0, 1]; 0.5 is L* = 50, mid grey.
    """
    x = np.asarray(image, dtype=np.float32)
    linear = np.where(x <= 0.04045, x / 12.92, np.power((x + 0.055) / 1.055, 2.4))
    y = linear @ np.asarray(SRGB_TO_Y, np.float32)
    f = np.where(y > LAB_EPSILON, np.cbrt(np.maximum(y, LAB_EPSILON)), y / (3 * (6 / 29) ** 2) + 4 / 29)
    return np.clip((116.0 * f - 16.0) / 100.0, 0.0, 1.0).astype(np.float32)


def scaled_sigma(sigma: float, shape: tuple[int, ...], reference_size: int | None = REFERENCE_SIZE) -> float:
    """Scale a surround sigma given at ``reference_size`` to an image of ``shape``.

    ``reference_size=None`` keeps ``sigma`` in absolute pixels.
    """
    if reference_size is None:
        return float(sigma)
    return float(sigma) * min(shape[0], shape[1]) / float(reference_size)


def surround(plane: np.ndarray, sigma: float) -> np.ndarray:
    """Gaussian surround ``G_sigma * plane`` with mirrored borders.

    Sigmas above ``DIRECT_SIGMA_MAX`` are blurred on a copy downscaled by a power of two
    ``f`` (area averaging), then upsampled bilinearly: a direct kernel of a 12 MP image's
    surround (sigma ~1500 px) would take minutes, and a surround that wide has no detail
    a downscaled copy loses. The pre-blur of area-down plus bilinear-up (variance about
    ``f^2 / 4``) is subtracted from the sigma used at low resolution.

    Parameters
    ----------
    plane : ndarray
        ``(H, W)`` float32.
    sigma : float
        Standard deviation in pixels of ``plane`` (> 0).

    Returns
    -------
    ndarray
        ``(H, W)`` float32.
    """
    if sigma <= 0:
        raise ValueError(f"sigma must be > 0, got {sigma}")
    plane = np.asarray(plane, dtype=np.float32)
    h, w = plane.shape[:2]
    if sigma <= DIRECT_SIGMA_MAX:
        return cv2.GaussianBlur(plane, (0, 0), sigma, borderType=cv2.BORDER_REFLECT)
    factor = 2 ** int(math.floor(math.log2(sigma / DIRECT_SIGMA_MAX)))
    small_w, small_h = max(1, math.ceil(w / factor)), max(1, math.ceil(h / factor))
    small = cv2.resize(plane, (small_w, small_h), interpolation=cv2.INTER_AREA)
    small_sigma = math.sqrt(max(sigma**2 - factor**2 / 4.0, (0.5 * sigma) ** 2)) / factor
    small = cv2.GaussianBlur(small, (0, 0), small_sigma, borderType=cv2.BORDER_REFLECT)
    return cv2.resize(small, (w, h), interpolation=cv2.INTER_LINEAR)
