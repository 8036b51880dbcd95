"""SPD-MEF: structural patch decomposition fusion (Ma, Li, Yong, Wang, Meng, Zhang, TIP 2017).

Every colour patch (``w x w x 3``, one vector) of every exposure is split into a signal
strength ``c`` (norm of the mean-removed patch), a structure ``s`` (the unit vector) and
a mean intensity ``l``. The fused patch takes the largest strength, a strength-weighted
structure and an exposure-weighted mean; overlapping fused patches (stride 2) are
averaged. The ghost-removing variant first tests each exposure against a reference
exposure (structural consistency + intensity mapping function) and replaces the
inconsistent patches of an exposure by the reference, histogram-matched to it.

Follows the authors' ``spd_mef.m`` (v1.0, 2016) with its helpers ``selectRef`` and
``imfConsistency``; the static variant is ``spd_mef.m`` without the pseudo exposures,
which is what the authors' ``spdmefStatic.m`` computes (that file defaults to 11-pixel
patches, the ICIP 2015 setting; both variants here default to spd_mef.m's 21).

Vectorisation (the authors' code loops over patches). The reconstructed pixel is the
sum, over the patches that cover it, of ``beta(P) + sum_k alpha_k(P) x_k(pixel)`` with
per-patch scalars ``alpha_k, beta``, divided by the number of covering patches. Every
per-patch quantity (means, strengths, the norm of the structure vector) is a box sum of
per-pixel products, and "sum over covering patches" is a box filter of a map that is
zero off the stride-2 grid. Everything is therefore a few box filters: O(H W K^2).

With the defaults (the ghost-removing ``spd_mef.m``, as MEFB ran it) mefkit reproduces
the authors' published MEFB outputs to ~100 dB PSNR on the lossless pairs
(``docs/bench/classic_spd_dsift.md``).
"""

from __future__ import annotations

import math
from typing import Sequence

import cv2
import numpy as np

from ..checks import require_non_negative, require_positive
from ..registry import register_method

#: Exponent of the signal-strength weight (Ma et al. 2017, Sec. III-B; spd_mef.m ``p``).
P_EXPONENT = 4.0
#: Spread of the global-mean Gaussian (spd_mef.m ``gSig``).
GLOBAL_SIGMA = 0.2
#: Spread of the local-mean Gaussian (spd_mef.m ``lSig``).
LOCAL_SIGMA = 0.5
#: Patch side in pixels (spd_mef.m ``wSize``).
PATCH_SIZE = 21
#: Stride between patches (spd_mef.m ``stepSize`` = floor(wSize / 10)).
STEP_SIZE = 2
#: Local means below this or above 1 - this are under- / over-exposed (spd_mef.m ``exposureThres``).
EXPOSURE_THRES = 0.01
#: IMF test: largest |histogram-matched mean - reference mean| of a consistent patch (``consistencyThres``).
CONSISTENCY_THRES = 0.1
#: Structural consistency above which a patch agrees with the reference (``structureThres``).
STRUCTURE_THRES = 0.8
#: SSIM's stabilising constant for the structure term, (0.03)^2 / 2 for data in [0, 1] (spd_mef.m ``C``).
SSIM_C = 0.03**2 / 2
#: Added to the strength so it is never 0 (spd_mef.m).
STRENGTH_EPS = 1e-3
#: Added to every structure weight before normalisation (spd_mef.m).
WEIGHT_EPS = 1e-3
#: Bins of the histogram matching (MATLAB ``imhistmatch(..., 256)``).
HIST_BINS = 256


# --------------------------------------------------------------------------- helpers


def _channel_dot(a: np.ndarray, b: np.ndarray) -> np.ndarray:
    """``sum_c a[..., c] * b[..., c]`` of two ``(H, W, 3)`` float64 arrays, ``(H, W)``.

    ``cv2.transform`` sums the channels: NumPy's reduction over a length-3 last axis (or
    strided per-channel slices) is about ten times slower on large images.
    """
    return _channel_sum(a * b)


def _channel_sum(a: np.ndarray) -> np.ndarray:
    """``sum_c a[..., c]`` of an ``(H, W, C)`` float64 array (C <= 4), ``(H, W)``."""
    return cv2.transform(a, np.ones((1, a.shape[2])))


def _box_valid(img: np.ndarray, w: int) -> np.ndarray:
    """Sum over every ``w x w`` window that fits in ``img`` (MATLAB ``filter2(ones(w), img, 'valid')``)."""
    full = cv2.boxFilter(img, cv2.CV_64F, (w, w), normalize=False, borderType=cv2.BORDER_CONSTANT)
    r = w // 2
    return full[r : r + img.shape[0] - w + 1, r : r + img.shape[1] - w + 1]


def _box_scatter(values: np.ndarray, w: int, shape: tuple[int, int]) -> np.ndarray:
    """Spread each window's value over the ``w x w`` pixels it covers and sum (adjoint of ``_box_valid``)."""
    canvas = np.zeros(shape, np.float64)
    canvas[: values.shape[0], : values.shape[1]] = values
    return cv2.boxFilter(
        canvas, cv2.CV_64F, (w, w), anchor=(w - 1, w - 1), normalize=False, borderType=cv2.BORDER_CONSTANT
    )


def _patch_positions(n_valid: int, step: int) -> np.ndarray:
    """Boolean mask of patch origins along one axis, as spd_mef.m's ``xIdx``.

    Every ``step``-th origin, then every origin after the last strided one.
    """
    mask = np.zeros(n_valid, bool)
    mask[::step] = True
    last = (n_valid - 1) // step * step
    mask[last + 1 :] = True
    return mask


def _matlab_histeq_lut(source: np.ndarray, reference: np.ndarray, bins: int = HIST_BINS) -> np.ndarray:
    """Look-up table of MATLAB ``histeq(source, imhist(reference, bins))`` for data in [0, 1].

    MATLAB picks, for each source level k, the first target level j whose cumulative
    target count reaches the source's cumulative count minus half the level's own count
    (``histeq``'s ``createTransformationToIntensityImage``).
    """
    n_src = 256  # histeq bins the source with 256 levels whatever the target histogram
    src_idx = np.clip(np.floor(source.ravel() * (n_src - 1) + 0.5), 0, n_src - 1).astype(np.int64)
    ref_idx = np.clip(np.floor(reference.ravel() * (bins - 1) + 0.5), 0, bins - 1).astype(np.int64)
    nhist = np.bincount(src_idx, minlength=n_src).astype(np.float64)
    hgram = np.bincount(ref_idx, minlength=bins).astype(np.float64)
    total = float(src_idx.size)
    cum = np.cumsum(nhist)
    cumd = np.cumsum(hgram * total / hgram.sum())
    tol = nhist.copy() / 2
    tol[0] = tol[-1] = 0.0
    err = cumd[:, None] - cum[None, :] + tol[None, :]
    err[err < -total * math.sqrt(np.finfo(np.float64).eps)] = total
    t = np.argmin(err, axis=0)
    return t / (bins - 1)


def histogram_match(source: np.ndarray, reference: np.ndarray, bins: int = HIST_BINS) -> np.ndarray:
    """MATLAB ``imhistmatch(source, reference, bins)`` for float data in [0, 1], per channel.

    Parameters
    ----------
    source, reference : ndarray
        ``(H, W)`` or ``(H, W, C)`` float arrays in [0, 1] (sizes may differ; channel
        counts must agree).

    Returns
    -------
    ndarray
        ``source`` mapped through the matching curve, quantised to ``(0..bins-1) / (bins-1)``.
    """
    if source.ndim != 3:
        lut = _matlab_histeq_lut(source, reference, bins)
        return lut[np.clip(np.floor(source * 255 + 0.5), 0, 255).astype(np.int64)]
    out = np.empty(source.shape, np.float64)
    for c in range(source.shape[2]):
        out[:, :, c] = histogram_match(source[:, :, c], reference[:, :, c], bins)
    return out


def select_reference(frames: Sequence[np.ndarray], exposure_thres: float = EXPOSURE_THRES) -> int:
    """Index of the reference exposure (the package's ``selectRef``).

    The middle one of three; otherwise the one with the fewest 3 x 3 x 3 box means
    outside ``[exposure_thres, 1 - exposure_thres]`` (the first on ties). Frames are
    assumed ordered by exposure.
    """
    if len(frames) == 3:
        return 1
    counts = []
    for f in frames:
        mu = _box_valid(_channel_sum(f), 3) / 27.0
        counts.append(int(np.count_nonzero((mu < exposure_thres) | (mu > 1 - exposure_thres))))
    return int(np.argmin(counts))


def matlab_disk(radius: int) -> np.ndarray:
    """MATLAB ``strel('disk', radius)`` neighbourhood (default N = 4 line approximation).

    For radius >= 3 MATLAB approximates the disk by the Minkowski sum of four periodic
    lines (0, 45, 90, 135 degrees; Adams 1993 radial decomposition) plus a horizontal and
    a vertical line that make up the shortfall, which gives an octagon, not a Euclidean
    disk; spd_mef.m's ``strel('disk', 21)`` is such an octagon of half-width 20.

    Returns
    -------
    ndarray
        Square uint8 0/1 neighbourhood, odd side, centred.
    """
    if radius < 3:
        yy, xx = np.mgrid[-radius : radius + 1, -radius : radius + 1]
        return (xx**2 + yy**2 <= radius**2).astype(np.uint8)
    lines = _disk_lines(radius)
    pts = {(0, 0)}
    for (dy, dx), n in lines:
        pts = {(y + m * dy, x + m * dx) for y, x in pts for m in range(-n, n + 1)}
    half = max(max(abs(y), abs(x)) for y, x in pts)
    nhood = np.zeros((2 * half + 1, 2 * half + 1), np.uint8)
    for y, x in pts:
        nhood[y + half, x + half] = 1
    return nhood


def _disk_lines(radius: int) -> list[tuple[tuple[int, int], int]]:
    """The decomposition of ``strel('disk', radius, 4)`` as (direction, repetitions) pairs.

    Each pair is a symmetric line ``{m * direction : |m| <= repetitions}``.
    """
    directions = [(1, 0), (1, 1), (0, 1), (-1, 1)]  # (row, col) offsets of the periodic lines
    theta = math.pi / (2 * 4)
    k = 2 * radius / (1 / math.tan(theta) + 1 / math.sin(theta))  # Adams 1993, p. 328
    lines = [(d, int(math.floor(k / math.hypot(*d)))) for d in directions]
    # MATLAB builds the shape in a (2r - 1)^2 grid and adds lines of length
    # (empty rows of that grid) + 1 to make up for the floor() above.
    extent = sum(n * abs(d[0]) for d, n in lines)
    empty_rows = max(0, (2 * radius - 1) - (2 * extent + 1))
    extra = empty_rows + 1
    if extra > 1:
        # ones(1, L) has its origin at floor((L + 1) / 2); odd L is symmetric. For even L
        # the line is one pixel longer on one side; we keep it symmetric (rounding down).
        lines += [((0, 1), (extra - 1) // 2), ((1, 0), (extra - 1) // 2)]
    return lines


def _open(mask: np.ndarray, radius: int) -> np.ndarray:
    """Morphological opening of a 0/1 map by ``strel('disk', radius)``, outside ignored.

    As MATLAB's ``imerode``/``imdilate`` with a decomposed strel: the map is padded once
    (with 1 for the erosion, 0 for the dilation) by the extent of the whole element, the
    line elements are applied one after another, and the padding is cropped. This equals
    erosion/dilation by the full octagon with the outside ignored, at the cost of the
    lines (O(pixels x line lengths)). Applying the lines to the unpadded map instead is
    not the same near the border (a line step may not pass outside the image), and
    that changed the ghost maps of 21-pixel bands along the borders (59 dB instead of
    105 dB against the authors' result on MEFB ``507``).
    """
    img = mask.astype(np.uint8)
    if radius < 3:
        kernels = [matlab_disk(radius)]
    else:
        kernels = []
        for (dy, dx), n in _disk_lines(radius):
            side_y, side_x = 2 * n * abs(dy) + 1, 2 * n * abs(dx) + 1
            k = np.zeros((side_y, side_x), np.uint8)
            for m in range(-n, n + 1):
                k[n * abs(dy) + m * dy, n * abs(dx) + m * dx] = 1
            kernels.append(k)
    pad = matlab_disk(radius).shape[0] // 2
    h, w = img.shape
    for op, fill in ((cv2.erode, 1), (cv2.dilate, 0)):
        img = cv2.copyMakeBorder(img, pad, pad, pad, pad, cv2.BORDER_CONSTANT, value=fill)
        for k in kernels:
            img = op(img, k)
        img = img[pad : pad + h, pad : pad + w]
    return img.astype(np.float64)


# --------------------------------------------------------------------------- the method


def _check_params(p, g_sig, l_sig, w, step, exposure_thres, consistency_thres, structure_thres, c):
    require_non_negative(p=p)
    require_positive(global_sigma=g_sig, local_sigma=l_sig)
    if int(w) != w or w < 2:
        raise ValueError(f"patch_size must be an integer >= 2, got {w}")
    if int(step) != step or step < 1:
        raise ValueError(f"step_size must be an integer >= 1, got {step}")
    if not 0 <= exposure_thres < 0.5:
        raise ValueError(f"exposure_thres must be in [0, 0.5), got {exposure_thres}")
    if consistency_thres < 0 or not 0 <= structure_thres <= 1:
        raise ValueError("consistency_thres must be >= 0 and structure_thres in [0, 1]")
    require_non_negative(c=c)


@register_method(
    "spd_mef",
    summary="Structural patch decomposition: strength/structure/mean per colour patch, optional ghost removal",
    citation=(
        "K. Ma, H. Li, H. Yong, Z. Wang, D. Meng, L. Zhang, Robust Multi-Exposure Image Fusion: "
        "A Structural Patch Decomposition Approach, IEEE TIP 26(5) 2017"
    ),
)
def spd_mef(
    frames: Sequence[np.ndarray],
    *,
    ghost_removal: bool = True,
    p: float = P_EXPONENT,
    global_sigma: float = GLOBAL_SIGMA,
    local_sigma: float = LOCAL_SIGMA,
    patch_size: int = PATCH_SIZE,
    step_size: int = STEP_SIZE,
    exposure_thres: float = EXPOSURE_THRES,
    consistency_thres: float = CONSISTENCY_THRES,
    structure_thres: float = STRUCTURE_THRES,
    c: float = SSIM_C,
) -> np.ndarray:
    """Fuse N frames by structural patch decomposition (Ma et al. 2017).

    Parameters
    ----------
    frames : sequence of ndarray
        N >= 2 frames ``(H, W, 3)`` float32 RGB in [0, 1], ordered darkest first, each
        side at least ``patch_size``.
    ghost_removal : bool
        True (the authors' ``spd_mef.m``): patches inconsistent with the reference
        exposure are replaced by the histogram-matched reference. False: the static
        variant, every patch used as is.
    p : float
        Exponent of the strength weight (paper: 4).
    global_sigma, local_sigma : float
        Spreads of the global- and local-mean Gaussians of the mean weight (0.2, 0.5).
    patch_size, step_size : int
        Patch side and stride in pixels (21, 2).
    exposure_thres, consistency_thres, structure_thres : float
        Ghost-removal thresholds (0.01, 0.1, 0.8); unused when ``ghost_removal`` is False.
    c : float
        Constant of the structural-consistency ratio (0.03^2 / 2).

    Returns
    -------
    ndarray
        ``(H, W, 3)`` float32 in [0, 1].

    References
    ----------
    K. Ma, H. Li, H. Yong, Z. Wang, D. Meng, L. Zhang, "Robust Multi-Exposure Image
    Fusion: A Structural Patch Decomposition Approach", IEEE Trans. Image Processing
    26(5), 2519-2532, 2017.
    """
    _check_params(p, global_sigma, local_sigma, patch_size, step_size, exposure_thres,
                  consistency_thres, structure_thres, c)
    w, step = int(patch_size), int(step_size)
    real = [np.asarray(f, np.float64) for f in frames]
    h, wd, ch = real[0].shape
    if h < w or wd < w:
        raise ValueError(f"frames ({wd}x{h}) must be at least patch_size={w} on each side")
    k_real = len(real)
    n_elem = float(w * w * ch)  # elements of one colour patch

    # --- pseudo exposures: the reference histogram-matched to each other exposure
    ref = select_reference(real, exposure_thres) if ghost_removal else 0
    imgs = list(real)
    pseudo_of = {}
    if ghost_removal:
        for k in range(k_real):
            if k != ref:
                pseudo_of[k] = len(imgs)
                imgs.append(np.clip(histogram_match(real[ref], real[k]), 0.0, 1.0))
    n_img = len(imgs)

    # --- per-window statistics of every image (valid windows only)
    sums = [_box_valid(_channel_sum(im), w) for im in imgs]  # sum over the colour patch
    sq = [_box_valid(_channel_dot(im, im), w) for im in imgs]
    l_mu = np.stack([s / n_elem for s in sums])  # channel-averaged local mean
    g_mu = np.array([im.mean() for im in imgs])
    sigma = np.sqrt(np.maximum(np.stack([q / n_elem for q in sq]) - l_mu**2, 0.0))
    ed = sigma * math.sqrt(n_elem) + STRENGTH_EPS  # signal strength ~ ||x - mean||
    hv, wv = l_mu.shape[1:]

    # --- consistency maps (1 = use the exposure's own patch, 0 = use its pseudo patch)
    c_exd = np.ones((n_img, hv, wv))
    if ghost_removal:
        s_ref = np.ones((k_real, hv, wv))
        for k in range(k_real):
            if k == ref:
                continue
            cross = _box_valid(_channel_dot(real[k], real[ref]), w) / n_elem - l_mu[k] * l_mu[ref]
            s = (cross + c) / (sigma[k] * sigma[ref] + c)  # the structure term of SSIM
            s_ref[k] = np.maximum(s, 0.0)
        s_ref = (s_ref > structure_thres).astype(np.float64)
        badly_exposed = (l_mu[ref] < exposure_thres) | (l_mu[ref] > 1 - exposure_thres)
        s_ref[:, badly_exposed] = 1.0
        for k in range(k_real):
            s_ref[k] = _open(s_ref[k], w)
        i_ref = np.ones((k_real, hv, wv))
        for k in range(k_real):
            if k != ref:
                matched = histogram_match(l_mu[k], l_mu[ref])
                i_ref[k] = np.abs(matched - l_mu[ref]) <= consistency_thres
        c_map = s_ref * i_ref
        c_exd[:k_real] = c_map
        for k, j in pseudo_of.items():
            c_exd[j] = 1.0 - c_map[k]

    # --- weights
    mu_w = np.exp(-0.5 * ((g_mu[:, None, None] - 0.5) ** 2 / global_sigma**2
                          + (l_mu - 0.5) ** 2 / local_sigma**2)) * c_exd
    mu_w /= mu_w.sum(axis=0, keepdims=True)
    s_w = ed**p * c_exd + WEIGHT_EPS
    s_w /= s_w.sum(axis=0, keepdims=True)
    max_ed = (ed * c_exd).max(axis=0)  # desired signal strength
    l_hat = (mu_w * l_mu).sum(axis=0)  # desired mean intensity

    # --- the structure vector r = sum_k a_k (X_k - lMu_k) of each window, where X_k is the
    # exposure's own patch or its pseudo patch; spd_mef.m weights X_k with the weight,
    # mean and strength of exposure k even when X_k is the pseudo patch.
    a = s_w[:k_real] / ed[:k_real]
    use_own = c_exd[:k_real] > 0.5
    alt = [pseudo_of.get(k, k) for k in range(k_real)]  # the patch used where not own
    pair_cache: dict[tuple[int, int], np.ndarray] = {}

    def pair_sum(i: int, j: int) -> np.ndarray:
        key = (min(i, j), max(i, j))
        if key not in pair_cache:
            pair_cache[key] = _box_valid(_channel_dot(imgs[key[0]], imgs[key[1]]), w)
        return pair_cache[key]

    def own_or_alt(own: np.ndarray, alt_map: np.ndarray, k: int) -> np.ndarray:
        return own if alt[k] == k else np.where(use_own[k], own, alt_map)

    sum_x = [own_or_alt(sums[k], sums[alt[k]], k) for k in range(k_real)]
    norm_sq = np.zeros((hv, wv))
    for k in range(k_real):
        for m in range(k, k_real):
            # <X_k, X_m> with X_k, X_m each the own or the pseudo patch: up to 4 cases
            dot_own = own_or_alt(pair_sum(k, m), pair_sum(alt[k], m), k)
            dot_alt = own_or_alt(pair_sum(k, alt[m]), pair_sum(alt[k], alt[m]), k)
            dot = own_or_alt(dot_own, dot_alt, m) if alt[m] != m else dot_own
            cov = dot - l_mu[m] * sum_x[k] - l_mu[k] * sum_x[m] + n_elem * l_mu[k] * l_mu[m]
            norm_sq += (a[k] * a[m] * (1.0 if k == m else 2.0)) * cov
    # norm_sq is a difference of large box sums; below this level it is rounding noise,
    # i.e. the window is flat, where spd_mef.m leaves r (then ~0) unscaled.
    noise = 1e-12 * n_elem * np.abs(a).sum(axis=0) ** 2
    flat = norm_sq <= noise
    scale = np.where(flat, 1.0, max_ed / np.sqrt(np.where(flat, 1.0, norm_sq)))

    # --- overlap-add: pixel = sum over covering windows of beta + sum_k alpha_k x_k, / count
    sel = np.outer(_patch_positions(hv, step), _patch_positions(wv, step)).astype(np.float64)
    beta = sel * (l_hat - scale * (a * l_mu[:k_real]).sum(axis=0))
    out = np.empty((h, wd, ch))
    out[:] = _box_scatter(beta, w, (h, wd))[:, :, None]
    for k in range(k_real):
        coef = sel * scale * a[k]
        out += _box_scatter(coef * use_own[k], w, (h, wd))[:, :, None] * real[k]
        if k in pseudo_of:
            out += _box_scatter(coef * ~use_own[k], w, (h, wd))[:, :, None] * imgs[pseudo_of[k]]
    count = _box_scatter(sel, w, (h, wd))
    out /= count[:, :, None]
    return np.clip(out, 0.0, 1.0).astype(np.float32)
