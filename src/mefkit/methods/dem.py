"""DEM: detail-enhanced multi-scale exposure fusion in YUV (Wang, Chen, Wu, Li 2020).

Follows the authors' released MATLAB code (``QTWANGBUAA/exposure-fusion``:
``main.m`` and ``code_for_CSVT20191.m``; Wang, Chen, Wu, Li, IEEE TCSVT 2020) step
for step, including Mertens' pyramid helpers with their MATLAB borders
(:mod:`mefkit.pyramid_matlab`), because the target is the authors' own outputs.
"""

from __future__ import annotations

import math
from typing import Sequence

import cv2
import numpy as np

from .. import pyramid_matlab as pyr
from ..pyramid import max_levels
from ..checks import require_non_negative, require_positive
from ..registry import keyword_defaults, register_method

#: RGB -> analog BT.601 YUV rows (Y; U; V), as typed in the authors' ``main.m``.
RGB_TO_YUV = np.array(
    [[0.299, 0.587, 0.114], [-0.147, -0.289, 0.436], [0.615, -0.515, -0.100]], np.float32
)
#: YUV -> RGB rows (R; G; B), the authors' rounded inverse from ``main.m`` (not the exact
#: matrix inverse of :data:`RGB_TO_YUV`; kept because their outputs were made with it).
YUV_TO_RGB = np.array([[1.0, 0.0, 1.14], [1.0, -0.39, -0.58], [1.0, 2.03, 0.0]], np.float32)
#: Well-exposedness spread on Y (DEM code, inherited from Mertens et al. 2007).
SIGMA_WELL_EXPOSED = 0.2
#: Weight of the base-level detail term for the under-exposed frames (DEM code: ``1.5*w_high``).
DETAIL_GAIN = 1.5
#: Exponent of the mean-luminance brightness prior ``W_k *= mean(Y_k)^2`` (DEM code).
BRIGHTNESS_PRIOR_EXPONENT = 2.0
#: Pyramid levels below Mertens' ``floor(log2(min(H, W)))`` (DEM code: ``nlev - 2``).
LEVELS_BELOW_FULL = 2
#: 3x3 Gaussian (sigma 1) that smooths the base-level weight and detail (DEM code).
BASE_SMOOTH_SIGMA = 1.0
#: Added to weights and weight sums against 0/0 (DEM code, from Mertens).
WEIGHT_EPSILON = 1e-12


def _smooth3(image: np.ndarray) -> np.ndarray:
    # MATLAB imfilter(x, fspecial('gaussian', 3, 1), 'replicate').
    return cv2.GaussianBlur(
        image, (3, 3), BASE_SMOOTH_SIGMA, sigmaY=BASE_SMOOTH_SIGMA, borderType=cv2.BORDER_REPLICATE
    )


#: :func:`dem`'s parameters that :func:`dem_weights` takes (declared once, in :func:`dem`).
WEIGHT_PARAMS = ("contrast_weight", "saturation_weight", "exposure_weight", "sigma", "prior_exponent")


def dem_weights(yuv: Sequence[np.ndarray], **params: float) -> np.ndarray:
    """DEM's normalised weights: Mertens-style measures on YUV times a brightness prior.

    Parameters
    ----------
    yuv : sequence of ndarray
        N frames ``(H, W, 3)`` float32 YUV (Y in [0, 1]).
    **params : float
        :data:`WEIGHT_PARAMS` as in :func:`dem`, with its defaults:
        ``contrast_weight``, ``saturation_weight``, ``exposure_weight`` are the exponents
        of |Laplacian(Y)|, ``|U| + |V| + 1`` and ``exp(-(Y - .5)^2 / 2 sigma^2)`` (a zero
        exponent skips the term, as the code does); ``sigma`` the well-exposedness
        spread; ``prior_exponent`` gives ``W_k *= mean(Y_k) ** prior_exponent`` before
        the second normalisation.

    Returns
    -------
    ndarray
        ``(N, H, W)`` float32, summing to 1 over N.
    """
    p = keyword_defaults(dem, params, only=WEIGHT_PARAMS)
    contrast_weight, saturation_weight, exposure_weight = p["contrast_weight"], p["saturation_weight"], p["exposure_weight"]
    sigma, prior_exponent = p["sigma"], p["prior_exponent"]
    n = len(yuv)
    h, w = yuv[0].shape[:2]
    weights = np.ones((n, h, w), np.float32)
    for k, img in enumerate(yuv):
        y = np.ascontiguousarray(img[:, :, 0])
        if contrast_weight:
            c = np.abs(cv2.Laplacian(y, cv2.CV_32F, ksize=1, borderType=cv2.BORDER_REPLICATE))
            weights[k] *= c if contrast_weight == 1 else np.power(c, contrast_weight)
        if saturation_weight:
            s = np.abs(img[:, :, 1]) + np.abs(img[:, :, 2]) + np.float32(1.0)
            weights[k] *= s if saturation_weight == 1 else np.power(s, saturation_weight)
        if exposure_weight:
            e = np.exp(np.float32(-0.5 / sigma**2) * (y - np.float32(0.5)) ** 2)
            weights[k] *= e if exposure_weight == 1 else np.power(e, exposure_weight)
    weights += np.float32(WEIGHT_EPSILON)
    weights /= weights.sum(axis=0, keepdims=True)
    for k, img in enumerate(yuv):
        # The prior favours brighter frames (DEM §III): mean of Y over the whole frame.
        weights[k] *= np.float32(float(img[:, :, 0].mean(dtype=np.float64)) ** prior_exponent)
    weights /= weights.sum(axis=0, keepdims=True)
    return weights


@register_method(
    "dem",
    summary="DEM: Mertens-style fusion in YUV with a brightness prior and base-level detail boost",
    citation=(
        "Q. Wang, W. Chen, X. Wu, Z. Li, Detail-enhanced multi-scale exposure fusion in YUV "
        "color space, IEEE TCSVT 30(8), 2020"
    ),
)
def dem(
    frames: Sequence[np.ndarray],
    *,
    contrast_weight: float = 1.0,
    saturation_weight: float = 1.0,
    exposure_weight: float = 1.0,
    sigma: float = SIGMA_WELL_EXPOSED,
    detail_gain: float = DETAIL_GAIN,
    prior_exponent: float = BRIGHTNESS_PRIOR_EXPONENT,
    levels: int | None = None,
) -> np.ndarray:
    """Fuse N frames with DEM (Wang et al. 2020), as in the authors' code.

    Parameters
    ----------
    frames : sequence of ndarray
        N >= 2 frames ``(H, W, 3)`` float32 RGB in [0, 1], in any order: they are sorted
        by mean RGB intensity, ascending, as the authors' ``main.m`` does.
    contrast_weight, saturation_weight, exposure_weight : float
        Exponents of the three measures (code: ``[1 1 1]``).
    sigma : float
        Well-exposedness spread on Y (code: 0.2).
    detail_gain : float
        Weight of the base-level detail term added for the under-exposed frames (code: 1.5).
    prior_exponent : float
        Exponent of the mean-luminance prior (code: 2).
    levels : int, optional
        Pyramid levels including the base; default ``floor(log2(min(H, W))) - 2`` as in the
        code, at least 1.

    Returns
    -------
    ndarray
        ``(H, W, 3)`` float32 RGB clipped to [0, 1] (the code leaves clipping to ``imshow``).

    Notes
    -----
    The "detail enhancement" acts only on the coarsest pyramid level of Y: for the frames
    with 1-based index ``i <= ceil(N/2) - 1`` (the darker ones) the smoothed magnitude of
    that level's own first Laplacian band, times ``detail_gain``, is added to the smoothed
    weight. For N = 2 that set is empty, so on pairs DEM is Mertens in YUV with the
    brightness prior and a smoothed base weight; we reproduce that faithfully. The
    optional separate detail-enhancement component of the paper is not in the released
    code and not implemented.

    References
    ----------
    Q. Wang, W. Chen, X. Wu, Z. Li, "Detail-enhanced multi-scale exposure fusion in YUV
    color space", IEEE Trans. Circuits Syst. Video Technol. 30(8):2418-2429, 2020.
    """
    require_non_negative(
        contrast_weight=contrast_weight, saturation_weight=saturation_weight, exposure_weight=exposure_weight,
        detail_gain=detail_gain,
    )
    require_positive(sigma=sigma)
    h, w = frames[0].shape[:2]
    full = max_levels(h, w)
    if levels is None:
        levels = max(1, full - LEVELS_BELOW_FULL)
    levels = int(levels)
    if not 1 <= levels <= full:
        raise ValueError(f"levels must be in 1..{full} for a {w}x{h} image, got {levels}")

    # main.m sorts by mean RGB intensity, ascending; the detail boost depends on it, so
    # sort here too (mefkit.fuse's luminance order can differ, and order="given" keeps
    # the caller's). A stable sort keeps ties in the given order, as MATLAB's sort.
    order = np.argsort([float(np.mean(f, dtype=np.float64)) for f in frames], kind="stable")
    yuv = [cv2.transform(np.asarray(frames[i], np.float32), RGB_TO_YUV) for i in order]
    weights = dem_weights(
        yuv, contrast_weight=contrast_weight, saturation_weight=saturation_weight,
        exposure_weight=exposure_weight, sigma=sigma, prior_exponent=prior_exponent,
    )
    n = len(frames)
    # 1-based i <= ceil(N/2) - 1 in the code, i.e. 0-based k < ceil(N/2) - 1.
    n_under = math.ceil(n / 2) - 1

    acc: list[np.ndarray] = []
    base_uv = base_y = base_wsum = None  # accumulators of the coarsest level
    for k in range(n):
        lap = pyr.laplacian_pyramid(yuv[k], levels)
        gw = pyr.gaussian_pyramid(weights[k], levels)
        for level in range(levels - 1):
            band = lap[level] * gw[level][:, :, None]
            if k == 0:
                acc.append(band)
            else:
                acc[level] += band
        base = lap[-1]
        # Chroma base: plain Mertens blending with the Gaussian-pyramid weight.
        uv = base[:, :, 1:] * gw[-1][:, :, None]
        # Luma base: smoothed weight, plus the detail term for the darker frames.
        b_y = np.ascontiguousarray(base[:, :, 0])
        w_final = _smooth3(gw[-1])
        if k < n_under and detail_gain:
            detail = np.abs(pyr.laplacian_pyramid(b_y, 2)[0])
            w_final = w_final + np.float32(detail_gain) * ((detail > 0) * _smooth3(detail))
        if k == 0:
            base_uv = uv
            base_y = w_final * b_y
            base_wsum = w_final + np.float32(WEIGHT_EPSILON)
        else:
            base_uv += uv
            base_y += w_final * b_y
            base_wsum += w_final + np.float32(WEIGHT_EPSILON)
    top = np.empty(base_uv.shape[:2] + (3,), np.float32)
    top[:, :, 0] = base_y / base_wsum
    top[:, :, 1:] = base_uv
    acc.append(top)
    fused_yuv = pyr.collapse(acc)
    rgb = cv2.transform(fused_yuv, YUV_TO_RGB)
    return np.clip(rgb, 0.0, 1.0, out=rgb)
