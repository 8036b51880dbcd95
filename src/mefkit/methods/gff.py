"""GFF: image fusion with guided filtering (Li, Kang, Hu, IEEE TIP 2013).

Two-scale fusion: each frame is split into a base layer (31x31 mean) and a detail
layer; a one-hot "most salient frame" map is refined by a guided filter into a
smooth weight for the base layers and a sharp one for the details. Follows the
paper (Li, Kang, Hu, IEEE TIP 2013, Sec. II), cross-read with two public
re-implementations (``msrt92/Deghosting-Image-Fusion`` ``GFF.m``, ``rzwm/GFF``).
"""

from __future__ import annotations

from typing import Sequence

import cv2
import numpy as np

from ..filters.guided import guided_filter
from ..checks import require_positive
from ..registry import register_method

#: Guided-filter radius and regularisation for the base-layer weights (Li et al. 2013, §IV-A).
BASE_RADIUS = 45
BASE_EPS = 0.3
#: Guided-filter radius and regularisation for the detail-layer weights (Li et al. 2013, §IV-A).
DETAIL_RADIUS = 7
DETAIL_EPS = 1e-6
#: Side of the average filter of the two-scale decomposition (Li et al. 2013, eq. 1: 31x31).
AVERAGE_SIZE = 31
#: Gaussian low-pass of the saliency map: (2 r_g + 1)^2 window, r_g = 5, sigma_g = 5 (Li et al. 2013, eq. 3).
SALIENCY_RADIUS = 5
SALIENCY_SIGMA = 5.0
#: MATLAB ``rgb2gray`` coefficients (R, G, B) for the saliency image, as the re-implementations.
RGB2GRAY = (0.2989, 0.5870, 0.1140)
#: Added before normalising the weights, against 0/0 where every weight is 0.
WEIGHT_EPSILON = 1e-12


def saliency(gray: np.ndarray, radius: int = SALIENCY_RADIUS, sigma: float = SALIENCY_SIGMA) -> np.ndarray:
    """GFF saliency ``|Laplacian(gray)| * Gaussian`` (Li et al. 2013, eqs. 2-3).

    Parameters
    ----------
    gray : ndarray
        ``(H, W)`` float32 in [0, 1].
    radius, sigma : int, float
        Gaussian window ``2 radius + 1`` and spread.

    Returns
    -------
    ndarray
        ``(H, W)`` float32 >= 0.
    """
    # 3x3 [0 1 0; 1 -4 1; 0 1 0] with replicate borders, as MATLAB imfilter(..., 'replicate').
    lap = np.abs(cv2.Laplacian(gray, cv2.CV_32F, ksize=1, borderType=cv2.BORDER_REPLICATE))
    k = 2 * radius + 1
    return cv2.GaussianBlur(lap, (k, k), sigma, sigmaY=sigma, borderType=cv2.BORDER_REPLICATE)


def _normalise(weights: np.ndarray) -> np.ndarray:
    # Guided filtering can overshoot [0, 1] near edges; both re-implementations clip it
    # (uint8 round trip / min(., 1)) before normalising, and a negative weight would
    # flip a layer's sign, so clip to [0, 1] (the paper does not say).
    np.clip(weights, 0.0, 1.0, out=weights)
    weights += np.float32(WEIGHT_EPSILON)
    weights /= weights.sum(axis=0, keepdims=True)
    return weights


@register_method(
    "gff",
    summary="GFF: two-scale fusion with guided-filter-refined saliency weights",
    citation="S. Li, X. Kang, J. Hu, Image fusion with guided filtering, IEEE TIP 22(7), 2013",
)
def gff(
    frames: Sequence[np.ndarray],
    *,
    base_radius: int = BASE_RADIUS,
    base_eps: float = BASE_EPS,
    detail_radius: int = DETAIL_RADIUS,
    detail_eps: float = DETAIL_EPS,
    average_size: int = AVERAGE_SIZE,
    saliency_radius: int = SALIENCY_RADIUS,
    saliency_sigma: float = SALIENCY_SIGMA,
    guide: str = "gray",
) -> np.ndarray:
    """Fuse N frames by guided-filtering fusion (Li, Kang, Hu 2013).

    Parameters
    ----------
    frames : sequence of ndarray
        N >= 2 frames ``(H, W, 3)`` float32 RGB in [0, 1] (any order).
    base_radius, base_eps : int, float
        Guided filter for the base-layer weights (paper: r1 = 45, eps1 = 0.3).
    detail_radius, detail_eps : int, float
        Guided filter for the detail-layer weights (paper: r2 = 7, eps2 = 1e-6).
    average_size : int
        Odd side of the mean filter that makes the base layer (paper: 31).
    saliency_radius, saliency_sigma : int, float
        Gaussian smoothing of |Laplacian| (paper: r_g = 5, sigma_g = 5, an 11x11 window).
    guide : {"gray", "color"}
        Guide of the weight filtering. ``"gray"`` (default): the frame's gray version, as
        both public re-implementations do. ``"color"``: the colour frame with He's colour
        guided filter, which the paper describes for colour guidance. Gray is the default
        because on 14 MEFB development pairs it scored higher MEF-SSIM (0.942 vs 0.935)
        at about 1/7 of the run time (see ``docs/bench/classic_dem_gff_msr_dbm.md``).

    Returns
    -------
    ndarray
        ``(H, W, 3)`` float32, not clipped (:func:`mefkit.fuse` clips to [0, 1]).

    Notes
    -----
    Ties in the saliency argmax go to the first (darkest) frame, as MATLAB ``max``.
    Guided-filtered weights are clipped to [0, 1] before normalisation (not stated in
    the paper; both re-implementations clip). Borders: replicate for the mean,
    Laplacian and Gaussian filters (MATLAB ``'replicate'``); the guided filter averages
    over the part of each window inside the image (He's ``boxfilter``).

    References
    ----------
    S. Li, X. Kang, J. Hu, "Image Fusion With Guided Filtering", IEEE Trans. Image
    Process. 22(7):2864-2875, 2013.
    """
    if guide not in ("color", "gray"):
        raise ValueError(f"guide must be 'color' or 'gray', got {guide!r}")
    for name, value in (
        ("base_radius", base_radius),
        ("detail_radius", detail_radius),
        ("saliency_radius", saliency_radius),
    ):
        if int(value) != value or value < 1:
            raise ValueError(f"{name} must be an integer >= 1, got {value}")
    require_positive(base_eps=base_eps, detail_eps=detail_eps)
    if int(average_size) != average_size or average_size < 1 or average_size % 2 == 0:
        raise ValueError(f"average_size must be an odd integer >= 1, got {average_size}")
    require_positive(saliency_sigma=saliency_sigma)

    n = len(frames)
    h, w = frames[0].shape[:2]
    gray_m = np.array([RGB2GRAY], np.float32)
    grays = [cv2.transform(np.asarray(f, np.float32), gray_m) for f in frames]
    sal = np.stack([saliency(g, int(saliency_radius), saliency_sigma) for g in grays])
    winner = np.argmax(sal, axis=0)
    del sal

    w_base = np.empty((n, h, w), np.float32)
    w_detail = np.empty((n, h, w), np.float32)
    for k in range(n):
        p = (winner == k).astype(np.float32)
        g = grays[k] if guide == "gray" else frames[k]
        w_base[k] = guided_filter(g, p, int(base_radius), base_eps)
        w_detail[k] = guided_filter(g, p, int(detail_radius), detail_eps)
    _normalise(w_base)
    _normalise(w_detail)

    out = np.zeros((h, w, 3), np.float32)
    size = (int(average_size), int(average_size))
    for k, frame in enumerate(frames):
        base = cv2.blur(frame, size, borderType=cv2.BORDER_REPLICATE)
        detail = frame - base
        out += base * w_base[k][:, :, None]
        out += detail * w_detail[k][:, :, None]
    return out
