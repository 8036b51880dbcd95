"""Colour and tone of a fused image in CIE-Lab: hue/chroma shift against the inputs, mean L*.

MEF-SSIM (Ma, Zeng, Wang, TIP 2015) compares gray structure only: it has no luminance
term and no colour at all, so a fused image can drift darker, or take on a colour cast,
without losing a point. These measures make such defects visible beside it.

Colour shift (``color_shift``, lower is better, CIE-Lab units)
    For every pixel ``p`` a reference chroma is built from the input frames ``k`` whose
    pixel is *usable*: no channel clipped (every channel ``<= CLIP_LEVEL = 250/255``)
    and not near black (the largest channel ``>= BLACK_LEVEL = 16/255``, where 8-bit
    quantisation leaves the hue unreliable). The reference is the exposure-weighted mean
    of their ``(a*, b*)``::

        ab_ref(p) = sum_k w_k(p) ab_k(p) / sum_k w_k(p),
        w_k(p)    = exp(-(L_k(p) / 100 - 0.5)^2 / (2 * 0.2^2))

    (Mertens, Kautz, Van Reeth 2007 well-exposedness, on ``L*/100`` instead of each
    channel). The shift is the mean over the pixels with at least one usable frame of
    ``|| ab_fused(p) - ab_ref(p) ||_2``, the Euclidean distance in the a*b* plane
    (CIE76 Delta-E with the L* term left out, since fusion is meant to change lightness).
    A gray result of gray inputs gives 0; a result whose hue is rotated by ``theta`` at
    chroma ``C`` gives ``2 C sin(theta / 2)``. Pixels where every frame is clipped or
    black carry no trustworthy colour and are left out; when no pixel is left the shift
    is NaN (left out of means).

Mean lightness (``l_mean``, ``gt_l``, ``dl_gt``)
    The mean CIE L* (0 black .. 100 white) of the result, of the ground truth, and their
    difference (result minus ground truth; negative = darker than the reference).

Colour conversions use OpenCV's float sRGB -> CIE-Lab (D65, sRGB transfer curve applied),
not a hand-written one. It interpolates tables, so it is accurate to about 0.1 in a*b*
(gray pixels get ``|ab|`` up to 0.07; mean 0.12, max 0.55 from scikit-image's exact
formula on random colours): a gray result of gray inputs scores below 0.1, not exactly 0,
far below the just-noticeable difference of about 2.3. Images are clipped to ``[0, data_range]`` first: a fused image
that overshoots slightly is measured as it would be saved.
"""

from __future__ import annotations

from typing import Sequence

import numpy as np

from ..checks import check_data_range, check_image
from ..io.convert import rgb_to_lab

#: A channel above this (fraction of white) counts as clipped: 250 of 255.
CLIP_LEVEL = 250.0 / 255.0
#: A pixel whose largest channel is below this (fraction of white) is near black: 16 of 255.
BLACK_LEVEL = 16.0 / 255.0
#: Slack of the two level tests: 8-bit 250/255 stored as float32 is 1e-9 above 250/255.
LEVEL_SLACK = 1e-6
#: Well-exposedness weight: Gaussian in L*/100 around 0.5 with this sigma (Mertens et al. 2007).
WELL_EXPOSED_SIGMA = 0.2


def to_lab(image: np.ndarray, data_range: float = 1.0) -> np.ndarray:
    """CIE-Lab of an sRGB or gray image in ``[0, data_range]`` (:func:`mefkit.io.convert.rgb_to_lab`).

    Parameters
    ----------
    image : ndarray
        ``(H, W, 3)`` RGB or ``(H, W)`` gray, values in ``[0, data_range]`` (clipped).
    data_range : float
        Value of white.

    Returns
    -------
    ndarray
        ``(H, W, 3)`` float32: L* in [0, 100], a* and b* in about [-128, 128].
    """
    rgb = np.clip(np.asarray(image, dtype=np.float32) / np.float32(data_range), 0.0, 1.0)
    if rgb.ndim == 2:
        rgb = np.repeat(rgb[..., None], 3, axis=2)
    return rgb_to_lab(rgb)


def mean_lightness(image: np.ndarray, data_range: float = 1.0) -> float:
    """Mean CIE L* of an image.

    Parameters
    ----------
    image : ndarray
        The image whose lightness is averaged: ``(H, W, 3)`` RGB or ``(H, W)`` gray,
        values in ``[0, data_range]``.
    data_range : float
        The value of white (L* = 100).

    Returns
    -------
    float
        In [0, 100]: 0 for black, 100 for white, 53.39 for sRGB mid-gray 0.5.
    """
    data_range = check_data_range(data_range)
    img = check_image(image, "image", data_range)
    return float(to_lab(img, data_range)[..., 0].mean(dtype=np.float64))


def reference_chroma(
    frames: Sequence[np.ndarray], data_range: float = 1.0
) -> tuple[np.ndarray, np.ndarray]:
    """Exposure-weighted (a*, b*) of the usable input pixels (see the module docstring).

    Parameters
    ----------
    frames : sequence of ndarray
        The input bracket, ``(H, W, 3)`` RGB or ``(H, W)`` gray each, same size, in
        ``[0, data_range]``.
    data_range : float
        Value of white.

    Returns
    -------
    ab_ref : ndarray
        ``(H, W, 2)`` float64 reference a*, b* (0 where no frame is usable).
    usable : ndarray
        ``(H, W)`` bool: at least one frame is usable at that pixel.
    """
    data_range = check_data_range(data_range)
    if len(frames) == 0:
        raise ValueError("frames must hold at least one image")
    shape = None
    ab_sum = w_sum = None
    for i, frame in enumerate(frames):
        f = check_image(frame, f"frames[{i}]", data_range)
        if shape is None:
            shape = f.shape[:2]
            ab_sum = np.zeros((*shape, 2), np.float64)
            w_sum = np.zeros(shape, np.float64)
        elif f.shape[:2] != shape:
            raise ValueError(f"frames[{i}] is {f.shape[:2]}, frames[0] is {shape}: all frames must have one size")
        rel = np.asarray(f, np.float64) / data_range
        peak = rel if rel.ndim == 2 else rel.max(axis=2)
        ok = (peak <= CLIP_LEVEL + LEVEL_SLACK) & (peak >= BLACK_LEVEL - LEVEL_SLACK)
        lab = to_lab(f, data_range).astype(np.float64)
        w = np.exp(-((lab[..., 0] / 100.0 - 0.5) ** 2) / (2 * WELL_EXPOSED_SIGMA**2))
        # The weight never reaches 0 inside [0, 100], so a usable pixel always counts.
        w = np.where(ok, w, 0.0)
        ab_sum += w[..., None] * lab[..., 1:]
        w_sum += w
    usable = w_sum > 0
    ab_ref = np.zeros_like(ab_sum)
    ab_ref[usable] = ab_sum[usable] / w_sum[usable][:, None]
    return ab_ref, usable


def color_shift(frames: Sequence[np.ndarray], fused: np.ndarray, data_range: float = 1.0) -> float:
    """Mean a*b* distance of the fused image from the usable input pixels' chroma.

    Parameters
    ----------
    frames : sequence of ndarray
        The input bracket (any order), ``(H, W, 3)`` or ``(H, W)`` in ``[0, data_range]``.
    fused : ndarray
        The fused image, same height and width.
    data_range : float
        Value of white.

    Returns
    -------
    float
        Mean CIE-Lab ``||ab_fused - ab_ref||`` over the pixels with a usable input
        (>= 0, lower is better; about 2.3 is a just-noticeable difference); NaN when no
        pixel of any frame is usable.
    """
    data_range = check_data_range(data_range)
    f = check_image(fused, "fused", data_range)
    ab_ref, usable = reference_chroma(frames, data_range)
    if f.shape[:2] != usable.shape:
        raise ValueError(f"fused is {f.shape[:2]}, the frames are {usable.shape}: sizes must match")
    if not usable.any():
        return float("nan")
    ab = to_lab(f, data_range)[..., 1:].astype(np.float64)
    dist = np.sqrt(((ab - ab_ref) ** 2).sum(axis=2))
    return float(dist[usable].mean())


# -- adapters with the signatures of mefkit.metrics' two metric tables -------------------
def result_lightness(frames: Sequence[np.ndarray], fused: np.ndarray, data_range: float = 1.0) -> float:
    """Mean L* of the fused image (the frames are not used): ``l_mean``, no-reference table."""
    return mean_lightness(fused, data_range)


def reference_lightness(fused: np.ndarray, reference: np.ndarray, data_range: float = 1.0) -> float:
    """Mean L* of the ground truth (the same for every method): ``gt_l``, reference table."""
    return mean_lightness(reference, data_range)


def lightness_offset(fused: np.ndarray, reference: np.ndarray, data_range: float = 1.0) -> float:
    """Mean L* of the result minus that of the ground truth: ``dl_gt`` (negative = darker)."""
    return mean_lightness(fused, data_range) - mean_lightness(reference, data_range)
