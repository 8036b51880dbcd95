"""Exposure fusion (Mertens, Kautz, Van Reeth 2007).

Differences from OpenCV's ``MergeMertens`` (``createMergeMertens(1, 1, 1)``):

* levels: OpenCV's pyramid has ``floor(log2(min(H, W))) + 1`` levels, one more than
  the paper's MATLAB code; pass ``levels=max_levels(H, W) + 1`` to match it. That one
  level changes the result a lot on real pairs (18-35 dB PSNR apart): the coarsest
  level carries the global brightness blend.
* OpenCV's default ``exposure_weight`` is 0 (well-exposedness ignored); ours is 1, the
  paper's setting.
* gray for the contrast term: MATLAB ``rgb2gray`` coefficients (0.2989, 0.5870,
  0.1140) on RGB here; OpenCV applies RGB2GRAY to its BGR images, which swaps the R
  and B coefficients.
* contrast-filter border: replicate here (as MATLAB ``imfilter(..., 'replicate')``),
  reflect-101 in OpenCV.
* saturation: population std over R, G, B (with the /3), which differs from OpenCV's
  by the constant sqrt(3) that cancels after normalisation.
* OpenCV divides every input by 255, float or not; we take images in [0, 1].
"""

from __future__ import annotations

from typing import Sequence

import cv2
import numpy as np

from .. import pyramid
from ..checks import require_non_negative, require_positive
from ..registry import register_method

#: Spread of the well-exposedness Gaussian around 0.5 (Mertens et al. 2007, Sec. 3.1).
SIGMA_WELL_EXPOSED = 0.2
#: Added to every weight before normalisation (Mertens' MATLAB code), avoids 0/0.
WEIGHT_EPSILON = 1e-12
#: MATLAB ``rgb2gray`` luma coefficients (R, G, B) used for the contrast measure.
RGB2GRAY = (0.2989, 0.5870, 0.1140)


def quality_weights(
    frame: np.ndarray,
    contrast_weight: float = 1.0,
    saturation_weight: float = 1.0,
    exposure_weight: float = 1.0,
    sigma: float = SIGMA_WELL_EXPOSED,
) -> np.ndarray:
    """Unnormalised Mertens weight ``C^wc * S^ws * E^we`` of one frame.

    Parameters
    ----------
    frame : ndarray
        ``(H, W, 3)`` float32 RGB in [0, 1].
    contrast_weight, saturation_weight, exposure_weight : float
        Exponents ``wc, ws, we`` (>= 0). A term with exponent 0 is skipped, as in the
        MATLAB code.
    sigma : float
        Well-exposedness spread.

    Returns
    -------
    ndarray
        ``(H, W)`` float32, >= 0 (without the epsilon).
    """
    h, w = frame.shape[:2]
    weight = np.ones((h, w), np.float32)
    if contrast_weight:
        gray = cv2.transform(frame, np.array([RGB2GRAY], np.float32))
        contrast = np.abs(cv2.Laplacian(gray, cv2.CV_32F, ksize=1, borderType=cv2.BORDER_REPLICATE))
        weight *= contrast if contrast_weight == 1 else np.power(contrast, contrast_weight)
    if saturation_weight:
        mean = cv2.transform(frame, np.full((1, 3), 1 / 3, np.float32))
        dev = frame - mean[:, :, None]
        np.multiply(dev, dev, out=dev)
        sat = np.sqrt(cv2.transform(dev, np.full((1, 3), 1 / 3, np.float32)))
        weight *= sat if saturation_weight == 1 else np.power(sat, saturation_weight)
    if exposure_weight:
        dev = frame - np.float32(0.5)
        np.multiply(dev, dev, out=dev)
        # prod_c exp(-(x_c - .5)^2 / 2s^2) == exp(-sum_c (x_c - .5)^2 / 2s^2): one exp, not three.
        expo = cv2.exp(cv2.transform(dev, np.full((1, 3), -0.5 / sigma**2, np.float32)))
        weight *= expo if exposure_weight == 1 else np.power(expo, exposure_weight)
    return weight


def blend_pyramid(frames: Sequence[np.ndarray], weights: np.ndarray, levels: int) -> np.ndarray:
    """Laplacian-pyramid blend of ``frames`` with per-pixel ``weights``.

    Streams frame by frame: only the accumulated result pyramid and one frame's
    current level are held, so memory stays at a few full-size copies for any N.

    Parameters
    ----------
    frames : sequence of ndarray
        N frames ``(H, W, 3)`` float32.
    weights : ndarray
        ``(N, H, W)`` float32, summing to 1 over N at every pixel.
    levels : int
        Pyramid levels including the low-pass residual.

    Returns
    -------
    ndarray
        ``(H, W, 3)`` float32, not clipped.
    """
    acc: list[np.ndarray] = []
    for k, (frame, weight) in enumerate(zip(frames, weights)):
        gauss, w = frame, weight
        for level in range(levels):
            if level < levels - 1:
                nxt = pyramid.down(gauss)
                band = pyramid.up(nxt, gauss.shape)
                np.subtract(gauss, band, out=band)
                band *= w[:, :, None]
                gauss, w = nxt, pyramid.down(w)
            else:
                band = gauss * w[:, :, None]
            if k == 0:
                acc.append(band)
            else:
                acc[level] += band
    return pyramid.collapse(acc)


@register_method(
    "mertens",
    summary="Exposure fusion: contrast/saturation/well-exposedness weights, Laplacian pyramid blend",
    citation="T. Mertens, J. Kautz, F. Van Reeth, Exposure Fusion, Pacific Graphics 2007",
)
def mertens(
    frames: Sequence[np.ndarray],
    *,
    contrast_weight: float = 1.0,
    saturation_weight: float = 1.0,
    exposure_weight: float = 1.0,
    sigma: float = SIGMA_WELL_EXPOSED,
    levels: int | None = None,
) -> np.ndarray:
    """Fuse N frames by exposure fusion (Mertens et al. 2007).

    Parameters
    ----------
    frames : sequence of ndarray
        N >= 2 frames ``(H, W, 3)`` float32 RGB in [0, 1].
    contrast_weight, saturation_weight, exposure_weight : float
        Exponents of the three quality measures (paper: 1, 1, 1).
    sigma : float
        Well-exposedness spread around 0.5 (paper: 0.2).
    levels : int, optional
        Pyramid levels including the residual. Default ``floor(log2(min(H, W)))``, as
        in the paper's code; OpenCV's ``MergeMertens`` uses one more.

    Returns
    -------
    ndarray
        ``(H, W, 3)`` float32 (may leave [0, 1] slightly; :func:`mefkit.fuse` clips).

    Notes
    -----
    The pyramid uses OpenCV's ``pyrDown``/``pyrUp`` (reflect-101 borders) because they
    are faster than a NumPy filter; the paper's code pads symmetrically, so a band of
    about two pixels per level at the border differs. See the module docstring for
    the differences from OpenCV's ``MergeMertens``.

    References
    ----------
    T. Mertens, J. Kautz, F. Van Reeth, "Exposure Fusion", Pacific Graphics 2007.
    """
    require_non_negative(
        contrast_weight=contrast_weight, saturation_weight=saturation_weight, exposure_weight=exposure_weight
    )
    require_positive(sigma=sigma)
    h, w = frames[0].shape[:2]
    top = pyramid.max_levels(h, w) + 1
    if levels is None:
        levels = pyramid.max_levels(h, w)
    if not 1 <= int(levels) <= top:
        raise ValueError(f"levels must be in 1..{top} for a {w}x{h} image, got {levels}")
    weights = np.empty((len(frames), h, w), np.float32)
    for k, frame in enumerate(frames):
        weights[k] = quality_weights(frame, contrast_weight, saturation_weight, exposure_weight, sigma)
    weights += np.float32(WEIGHT_EPSILON)
    weights /= weights.sum(axis=0, keepdims=True)
    return blend_pyramid(frames, weights, int(levels))
