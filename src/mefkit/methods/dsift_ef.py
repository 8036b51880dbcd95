"""DSIFT-EF: dense-SIFT exposure fusion (Liu & Wang, JVCIR 2015).

Follows the authors' ``DSIFT_fusion.m`` (Yu Liu, 2015):

* local contrast: the sum of the 32 unnormalised dense-SIFT bins of each frame's gray
  image (:mod:`mefkit.filters.dense_sift`);
* optional winner-take-all: the frame of largest contrast gets weight 1 at a pixel;
* exposure quality: 0 where the gray value is <= 0.10 or >= 0.90, else 1;
* optional ghost removal ("dynamic" mode): the consistency of frame i is
  ``sum_{j != i} exp(-0.5 * d_ij / 0.05**2)``, ``d_ij`` the 19 x 19 box mean of the
  squared distance between the normalised descriptors of frames i and j;
* weights ``contrast * T / sum T``, refined per frame by the domain-transform recursive
  filter (sigma_s = 100, sigma_r = 4, 3 iterations, guided by the colour frame),
  renormalised, and a single-scale weighted average in RGB (no pyramid).

The defaults are the authors' demo call for static scenes, ``DSIFT_fusion(I, 16, 2, 1)``
(winner-take-all, no ghost removal), which is what MEFB ran: on MEFB's lossless pairs
mefkit reproduces the published outputs to ~100 dB PSNR, and half of the JPEG ones bit
for bit once saved the same way (``docs/bench/classic_spd_dsift.md``).
"""

from __future__ import annotations

from typing import Sequence

import cv2
import numpy as np

from ..filters.dense_sift import dense_sift, dense_sift_contrast, normalize_descriptors
from ..filters.recursive import recursive_filter_stack
from ..checks import require_positive
from ..registry import register_method

#: MATLAB ``rgb2gray`` coefficients on double images (inverse-NTSC row), as DSIFT_fusion.m uses.
RGB2GRAY = (0.298936021293775, 0.587043074451121, 0.114020904255103)
#: Dense-SIFT patch size, the code's ``scale`` (Liu & Wang 2015, Script.m).
PATCH_SIZE = 16
#: Gray levels at or beyond which a pixel counts as badly exposed (DSIFT_fusion.m).
EXPOSURE_LOW, EXPOSURE_HIGH = 0.10, 0.90
#: Spread of the descriptor-distance kernel of the consistency term (DSIFT_fusion.m ``sigma_map``).
CONSISTENCY_SIGMA = 0.05
#: Box window over which descriptor distances are averaged (DSIFT_fusion.m ``ker``, 19 x 19).
CONSISTENCY_WINDOW = 19
#: Recursive-filter refinement of the weights (DSIFT_fusion.m: ``RF(w, 100, 4, 3, img)``).
RF_SIGMA_S, RF_SIGMA_R, RF_ITERATIONS = 100.0, 4.0, 3
#: Added before each normalisation to avoid 0/0 (DSIFT_fusion.m, 10^-25).
EPSILON = 1e-25


def _gray(frame: np.ndarray) -> np.ndarray:
    return cv2.transform(frame.astype(np.float32), np.array([RGB2GRAY], np.float32))


@register_method(
    "dsift_ef",
    summary="Dense-SIFT exposure fusion: SIFT contrast, exposure and consistency weights, RF-refined",
    citation="Y. Liu, Z. Wang, Dense SIFT for ghost-free multi-exposure fusion, JVCIR 31 (2015) 208-224",
)
def dsift_ef(
    frames: Sequence[np.ndarray],
    *,
    patch_size: int = PATCH_SIZE,
    ghost_removal: bool = False,
    weighted_average: bool | None = None,
    sigma_s: float = RF_SIGMA_S,
    sigma_r: float = RF_SIGMA_R,
    iterations: int = RF_ITERATIONS,
) -> np.ndarray:
    """Fuse N frames by dense-SIFT exposure fusion (Liu & Wang 2015).

    Parameters
    ----------
    frames : sequence of ndarray
        N >= 2 frames ``(H, W, 3)`` float32 RGB in [0, 1], any order.
    patch_size : int
        Dense-SIFT patch side ("scale", paper: 16); a multiple of 4.
    ghost_removal : bool
        True: the "dynamic" mode, weights also use the descriptor consistency between
        frames, to suppress moving objects. False: the "static" mode.
    weighted_average : bool, optional
        True: the contrast is a weight (weighted average); False: winner-take-all, the
        frame of largest contrast gets the pixel (the code's ``weighted_average``
        switch). Default: as the authors' demo ``Script.m`` runs each mode, that is
        winner-take-all when static (``DSIFT_fusion(I, 16, 2, 1)``, also what MEFB ran)
        and weighted average when removing ghosts (``DSIFT_fusion(I, 16, 1, 2)``).
    sigma_s, sigma_r, iterations : float, float, int
        Recursive-filter refinement of the weights (paper: 100, 4, 3), sigma_r in units
        of the [0, 1] colour guide's L1 differences.

    Returns
    -------
    ndarray
        ``(H, W, 3)`` float32 in [0, 1] (a convex combination of the frames).

    References
    ----------
    Y. Liu and Z. Wang, "Dense SIFT for ghost-free multi-exposure fusion", Journal of
    Visual Communication and Image Representation 31 (2015) 208-224.
    """
    if int(patch_size) < 4 or int(patch_size) % 4:
        raise ValueError(f"patch_size must be a positive multiple of 4, got {patch_size}")
    require_positive(sigma_s=sigma_s, sigma_r=sigma_r)
    if int(iterations) < 1:
        raise ValueError(f"iterations must be >= 1, got {iterations}")
    if weighted_average is None:
        weighted_average = bool(ghost_removal)
    n = len(frames)
    grays = [_gray(f) for f in frames]
    if ghost_removal:
        # The consistency term needs the full descriptors; the contrast is their bin sum.
        descs = [dense_sift(g, int(patch_size), channels_first=True) for g in grays]
        contrast = np.stack([d.sum(axis=0, dtype=np.float64) for d in descs])
    else:
        contrast = np.stack([dense_sift_contrast(g, int(patch_size)) for g in grays]).astype(np.float64)
    if not weighted_average:
        # One-hot argmax; ties go to the first frame, like MATLAB max.
        labels = np.argmax(contrast, axis=0)
        contrast = (labels[None] == np.arange(n)[:, None, None]).astype(np.float64)
    quality = np.stack([((g > EXPOSURE_LOW) & (g < EXPOSURE_HIGH)).astype(np.float64) for g in grays])
    if ghost_removal:
        normed = [normalize_descriptors(d, axis=0, copy=False) for d in descs]
        consistency = np.zeros_like(quality)
        for i in range(n):
            for j in range(i + 1, n):  # the distance is symmetric: one computation per pair
                dist = np.zeros(quality.shape[1:], np.float32)
                for di, dj in zip(normed[i], normed[j]):  # bin by bin: no 32-plane temporary
                    t = di - dj
                    t *= t
                    dist += t
                dist = cv2.blur(
                    dist, (CONSISTENCY_WINDOW, CONSISTENCY_WINDOW), borderType=cv2.BORDER_REPLICATE
                )
                similarity = np.exp(-0.5 * dist.astype(np.float64) / CONSISTENCY_SIGMA**2)
                consistency[i] += similarity
                consistency[j] += similarity
        quality *= consistency
    quality += EPSILON
    quality /= quality.sum(axis=0, keepdims=True)
    weights = contrast * quality
    weights = recursive_filter_stack(weights, frames, sigma_s, sigma_r, int(iterations))
    weights += EPSILON
    weights /= weights.sum(axis=0, keepdims=True)
    fused = np.zeros(frames[0].shape, np.float64)
    for frame, w in zip(frames, weights):
        fused += frame * w[:, :, None]
    return np.clip(fused, 0.0, 1.0).astype(np.float32)
