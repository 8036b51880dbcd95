"""MSRCR: multi-scale retinex with colour restoration (Jobson, Rahman, Woodell 1997).

Retinex is a single-image enhancer, not a fusion rule. The MEF papers that list
"MSR" among their baselines run it on the bracket's information as one image; here
that image is the **mean of the frames** by default (a crude, order-free fusion that
keeps shadow detail from the bright frames and highlight detail from the dark ones),
or the darkest frame with ``source="darkest"``. MSRCR then compresses its dynamic
range. Any number of frames >= 2 is accepted.

The pipeline and its defaults are those of the widely used ``dongb5/Retinex``
implementation of Jobson, Rahman, Woodell (IEEE TIP 1997): log10, the multi-scale
retinex averaged over the scales and doubled, gain 5 and offset 25, colour
restoration with alpha 125 and beta 46, a per-channel min-max stretch and a 1 % / 99 %
clip ("simplest colour balance"; dongb5 clips without stretching again, and so do
we). The 1997 paper's own gain/offset (192, -30) are recalled, not verified; pass
them as ``gain``/``offset`` to try them.
"""

from __future__ import annotations

import math
from typing import Sequence

import cv2
import numpy as np

from ..checks import require_positive
from ..registry import keyword_defaults, register_method

#: Surround scales in pixels, used as Gaussian sigmas (Jobson et al. 1997; dongb5 config).
SIGMAS = (15.0, 80.0, 250.0)
#: Final gain G and offset b of ``G * (CR * MSR + b)`` (dongb5 config; paper: 192, -30).
GAIN = 5.0
OFFSET = 25.0
#: Colour restoration ``beta * (log(alpha I_c) - log(sum_c I_c))`` (Jobson et al. 1997).
ALPHA = 125.0
BETA = 46.0
#: Fractions clipped at the dark and bright ends per channel (dongb5 config).
LOW_CLIP = 0.01
HIGH_CLIP = 0.99
#: dongb5 multiplies the scale-averaged retinex by 2 (``retinex / len(sigmas) * 2``).
MSR_SCALE = 2.0
#: Offset added to 8-bit values before taking logs, against log(0) (dongb5: ``img + 1``).
LOG_OFFSET = 1.0
#: Largest Gaussian sigma computed at full resolution; larger surrounds are computed on
#: an image decimated so that the remaining sigma is at least this (see :func:`surround`).
FULL_RES_MAX_SIGMA = 8.0


def surround(image: np.ndarray, sigma: float) -> np.ndarray:
    """Gaussian surround ``G_sigma * image`` with OpenCV's reflect-101 border.

    A direct 250-pixel Gaussian needs a 2001-tap kernel (about 10 s per megapixel).
    Because the result is so smooth, it is computed instead on an image box-decimated
    by ``f = floor(sigma / 8)`` (the box prefilter's variance ``f^2/12`` is subtracted
    from the remaining Gaussian) and upsampled bilinearly. Against the direct blur the
    surround differs by up to ~6 % in the corners (border handling at the coarse
    scale) and far less inside; after the logs and the stretch the MSRCR output
    differs from a direct float64 port of dongb5 by under 0.01 (about 1/255 on a
    real MEFB pair, tested), and it takes ~0.1 s instead of ~3 s at 0.2 MP.

    Parameters
    ----------
    image : ndarray
        ``(H, W)`` or ``(H, W, C)`` float32.
    sigma : float
        Gaussian standard deviation in pixels (> 0).

    Returns
    -------
    ndarray
        Same shape, float32.
    """
    h, w = image.shape[:2]
    f = int(sigma // FULL_RES_MAX_SIGMA)
    if f <= 1:
        return cv2.GaussianBlur(image, (0, 0), sigma).reshape(image.shape)
    small_size = (max(1, math.ceil(w / f)), max(1, math.ceil(h / f)))
    small = cv2.resize(image, small_size, interpolation=cv2.INTER_AREA)
    s_small = math.sqrt(max(sigma**2 - f**2 / 12.0, 1e-6)) / f
    small = cv2.GaussianBlur(small, (0, 0), s_small)
    return cv2.resize(small, (w, h), interpolation=cv2.INTER_LINEAR).reshape(image.shape)


def msrcr(image: np.ndarray, **params: float | Sequence[float]) -> np.ndarray:
    """MSRCR of one image (dongb5 pipeline), see the module docstring.

    Parameters
    ----------
    image : ndarray
        ``(H, W, 3)`` float32 RGB in [0, 1].
    **params
        The keyword parameters of :func:`msr` but ``source`` (``sigmas``, ``gain``,
        ``offset``, ``alpha``, ``beta``, ``low_clip``, ``high_clip``), with its defaults;
        declared once, in :func:`msr`.

    Returns
    -------
    ndarray
        ``(H, W, 3)`` float32 in [0, 1].
    """
    p = keyword_defaults(msr, params, exclude=("source",))
    sigmas, gain, offset, alpha, beta = p["sigmas"], p["gain"], p["offset"], p["alpha"], p["beta"]
    low_clip, high_clip = p["low_clip"], p["high_clip"]
    img = np.asarray(image, np.float32) * np.float32(255.0) + np.float32(LOG_OFFSET)
    log_img = np.log10(img)
    retinex = np.zeros_like(img)
    for s in sigmas:
        retinex += log_img - np.log10(surround(img, float(s)))
    retinex *= np.float32(MSR_SCALE / len(sigmas))
    color = np.float32(beta) * (
        np.float32(math.log10(alpha)) + log_img - np.log10(img.sum(axis=2, keepdims=True))
    )
    out = np.float32(gain) * (retinex * color + np.float32(offset))
    npix = out.shape[0] * out.shape[1]
    # dongb5's clip points: the value at rank ceil(frac * npix) - 1 of each channel.
    lo_rank = min(npix - 1, max(0, math.ceil(low_clip * npix) - 1))
    hi_rank = min(npix - 1, max(0, math.ceil(high_clip * npix) - 1))
    for c in range(out.shape[2]):
        ch = out[:, :, c]
        lo, hi = float(ch.min()), float(ch.max())
        ch -= lo
        ch *= np.float32(1.0 / (hi - lo)) if hi > lo else np.float32(0.0)
        flat = np.partition(ch.ravel(), (lo_rank, hi_rank))
        np.clip(ch, flat[lo_rank], flat[hi_rank], out=ch)
    return out


@register_method(
    "msr",
    summary="MSRCR (multi-scale retinex, colour restoration) of the frames' mean",
    citation=(
        "D. J. Jobson, Z. Rahman, G. A. Woodell, A multiscale retinex for bridging the gap "
        "between color images and the human observation of scenes, IEEE TIP 6(7), 1997"
    ),
)
def msr(
    frames: Sequence[np.ndarray],
    *,
    source: str = "mean",
    sigmas: Sequence[float] = SIGMAS,
    gain: float = GAIN,
    offset: float = OFFSET,
    alpha: float = ALPHA,
    beta: float = BETA,
    low_clip: float = LOW_CLIP,
    high_clip: float = HIGH_CLIP,
) -> np.ndarray:
    """Enhance the bracket with MSRCR (Jobson, Rahman, Woodell 1997).

    Parameters
    ----------
    frames : sequence of ndarray
        N >= 2 frames ``(H, W, 3)`` float32 RGB in [0, 1], in any order.
    source : {"mean", "darkest"}
        The image MSRCR enhances: the per-pixel mean of all frames (default), or the
        darkest frame, by mean value (retinex as an under-exposure enhancer).
    sigmas : sequence of float
        Surround scales (Gaussian sigmas in pixels; paper: 15, 80, 250).
    gain, offset : float
        ``G`` and ``b`` of ``G * (CR * MSR + b)`` (dongb5: 5, 25; paper: 192, -30).
    alpha, beta : float
        Colour restoration constants (paper: 125, 46).
    low_clip, high_clip : float
        Per-channel fractions clipped after the min-max stretch (dongb5: 0.01, 0.99).

    Returns
    -------
    ndarray
        ``(H, W, 3)`` float32 in [0, 1]. MSRCR enhances by design: identical frames do
        not come back unchanged, they come back as the MSRCR of that frame.

    References
    ----------
    D. J. Jobson, Z. Rahman, G. A. Woodell, "A multiscale retinex for bridging the gap
    between color images and the human observation of scenes", IEEE TIP 6(7), 1997.
    """
    if source not in ("mean", "darkest"):
        raise ValueError(f"source must be 'mean' or 'darkest', got {source!r}")
    sigmas = tuple(float(s) for s in np.atleast_1d(sigmas))
    if not sigmas or min(sigmas) <= 0:
        raise ValueError(f"sigmas must be one or more positive numbers, got {sigmas}")
    require_positive(alpha=alpha)
    if not 0.0 <= low_clip < high_clip <= 1.0:
        raise ValueError(f"need 0 <= low_clip < high_clip <= 1, got {low_clip}, {high_clip}")
    if source == "darkest":
        # By mean value, not position: order="given" may pass the frames in any order.
        image = np.asarray(min(frames, key=lambda f: float(np.mean(f, dtype=np.float64))), np.float32)
    else:
        image = np.mean(np.stack([np.asarray(f, np.float32) for f in frames]), axis=0)
    return msrcr(image, sigmas=sigmas, gain=gain, offset=offset, alpha=alpha, beta=beta, low_clip=low_clip,
                 high_clip=high_clip)
