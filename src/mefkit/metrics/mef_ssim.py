"""MEF-SSIM: the no-reference quality index for multi-exposure fusion of Ma, Zeng, Wang (TIP 2015).

Follows the authors' MATLAB ("MEF quality model v1.0", ``mef_ssim.m`` / ``mef_ms_ssim.m``,
and the gray conversion of MEFB's wrapper ``metricsMEF_SSIM.m``; read from the copies in
github.com/xingchenzhang/MEFB ``metrics/``) step by step, but vectorised. At each 'valid' position (i, j) the MATLAB code builds a
desired patch ``r = sum_k a_k (v_k - mu_k)`` from the K exposure patches ``v_k`` (box
means ``mu_k``, per-position scalars ``a_k``) and compares it with the fused patch ``f``
under a Gaussian window ``g``. Every quantity it needs is a per-position combination of
filtered images:

* ``<v_k - mu_k, v_l - mu_l> = N (box(x_k x_l) - mu_k mu_l)``   (norms, consistency R)
* ``sum g r = sum_k a_k (G x_k - mu_k)``
* ``sum g r f = sum_k a_k (G(x_k f) - mu_k G f)``
* ``sum g r^2 = sum_{k,l} a_k a_l (G(x_k x_l) - mu_l G x_k - mu_k G x_l + mu_k mu_l)``

with ``box`` / ``G`` the 'valid' box / Gaussian filters. So one score costs
O(K^2) filterings of the image instead of a loop over patches. The per-patch loop is
kept in the tests as the reference this must match to 1e-10.

No maintained Python library implements this metric: the pytorch-MEF_SSIM port uses
'same' padding and a per-pixel desired signal, and MEFNet's ``mefssim`` is a training
loss with a different reference structure (Ma, Duanmu, Zhu, Fang, Wang, IEEE TIP 2020).
"""

from __future__ import annotations

import numpy as np

from ..checks import check_data_range, check_exposures
from .windows import box_kernel1d, downsample2, filter_valid, gaussian_kernel1d

#: Ma, Zeng, Wang 2015 (``mef_ms_ssim.m`` defaults): stability constant, C = (K 255)^2.
K_CONST = 0.03
#: 11x11 Gaussian window, sigma 1.5 (``fspecial('gaussian', 11, 1.5)``).
WINDOW_SIZE = 11
WINDOW_SIGMA = 1.5
#: Per-scale exponents (Wang's first three MS-SSIM weights), normalised to sum 1 by the code.
SCALE_WEIGHTS = (0.0448, 0.2856, 0.3001)
#: ``mef_ssim.m``: added to the patch signal strength "to avoid instability".
ED_OFFSET = 0.001
#: ``mef_ssim.m``: the exponent p = tan(pi/2 R) is capped "to avoid blowing up".
P_MAX = 10.0
#: MATLAB ``eps`` (the code adds it to R, the weights, and uses it for the clamps).
MATLAB_EPS = float(np.finfo(np.float64).eps)
#: Centred patch energies below N * FLAT_REL_TOL * 255^2 are box-filter rounding noise.
FLAT_REL_TOL = 1e-13
#: MATLAB ``rgb2gray`` coefficients (first row of inv of the NTSC YIQ matrix).
RGB2GRAY = (0.298936021293776, 0.587043074451121, 0.114020904255103)


def matlab_gray255(image: np.ndarray, data_range: float = 1.0, round_uint8: bool = True) -> np.ndarray:
    """Gray image on 0..255 as the MEF-SSIM demo makes it: ``double(rgb2gray(uint8 image))``.

    Parameters
    ----------
    image : ndarray
        ``(H, W, 3)`` RGB or ``(H, W)`` gray in ``[0, data_range]``.
    data_range : float
        Value of white.
    round_uint8 : bool
        True (the demo): round the colour values to uint8 (``im2uint8``), then round the
        gray value to uint8 (``rgb2gray`` on uint8 data returns uint8). False: the same
        linear conversion with no rounding.

    Returns
    -------
    ndarray
        ``(H, W)`` float64 in 0..255.
    """
    img = np.asarray(image, dtype=np.float64) * (255.0 / data_range)
    if round_uint8:
        # MATLAB rounds half away from zero and saturates to 0..255.
        img = np.floor(np.clip(img, 0.0, 255.0) + 0.5)
    if img.ndim == 3:
        img = RGB2GRAY[0] * img[..., 0] + RGB2GRAY[1] * img[..., 1] + RGB2GRAY[2] * img[..., 2]
        if round_uint8:
            img = np.floor(np.clip(img, 0.0, 255.0) + 0.5)
    return img


def _centred_dot(x, mu, k, l, box, n_pix, flat_tol) -> np.ndarray:
    """``<v_k - mu_k, v_l - mu_l>`` at every valid position; rounding noise set to 0."""
    c = n_pix * (filter_valid(x[k] * x[l], box) - mu[k] * mu[l])
    c[np.abs(c) < flat_tol] = 0.0
    return c


def mef_ssim_single_scale(
    seq: np.ndarray,
    fused: np.ndarray,
    *,
    k_const: float = K_CONST,
    window_size: int = WINDOW_SIZE,
    sigma: float = WINDOW_SIGMA,
) -> tuple[float, np.ndarray]:
    """One scale of MEF-SSIM (``mef_ssim.m``) on gray 0..255 data, vectorised.

    Parameters
    ----------
    seq : ndarray
        ``(K, H, W)`` float64 exposures, 0..255.
    fused : ndarray
        ``(H, W)`` float64 fused image, 0..255.
    k_const : float
        C = (k_const * 255)^2 in the contrast-structure comparison.
    window_size, sigma : int, float
        Side of the patch (box statistics) and of the Gaussian comparison window.

    Returns
    -------
    q : float
        Mean of the quality map.
    q_map : ndarray
        ``(H - w + 1, W - w + 1)`` quality map.
    """
    n_exp = seq.shape[0]
    n_pix = float(window_size * window_size)
    box = box_kernel1d(window_size)
    gauss = gaussian_kernel1d(window_size, sigma)

    # Every quantity below is invariant to adding a constant to an image, so centring
    # each image on its mean first only reduces the cancellation in E[x^2] - E[x]^2.
    x = seq - seq.mean(axis=(1, 2), keepdims=True)
    f = fused - fused.mean()

    mu = np.stack([filter_valid(x[k], box) for k in range(n_exp)])
    # A flat patch (e.g. a clipped highlight) has exactly zero centred energy, but
    # box(x^2) - mu^2 leaves rounding noise of about N * eps * 255^2. Values below
    # flat_tol are that noise (8-bit data cannot give a non-zero value below ~1), so
    # they are set to the exact 0: then r and its moments vanish as in exact arithmetic
    # rather than carrying a noise direction rescaled to length 0.001.
    flat_tol = n_pix * FLAT_REL_TOL * 255.0**2
    var_n = np.stack([_centred_dot(x, mu, k, k, box, n_pix, flat_tol) for k in range(n_exp)])
    flat = var_n == 0.0  # var_n[k] = N sigma_k^2 = ||v_k - mu_k||^2

    # Off-diagonal <v_k - mu_k, v_l - mu_l>, needed twice; kept for small brackets,
    # recomputed (one box filter) for large ones so memory stays O(K) maps.
    keep = n_exp <= 4
    cache: dict[tuple[int, int], np.ndarray] = {}

    def cross(k: int, l: int) -> np.ndarray:
        if k == l:
            return var_n[k]
        if (k, l) in cache:
            return cache[(k, l)]
        c = _centred_dot(x, mu, k, l, box, n_pix, flat_tol)
        c[flat[k] | flat[l]] = 0.0  # Cauchy-Schwarz: exactly 0 beside a flat patch
        if keep:
            cache[(k, l)] = c
        return c

    cross_sum = var_n.sum(axis=0)  # ||sum_k (v_k - mu_k)||^2 = sum over all pairs
    for k in range(n_exp):
        for l in range(k + 1, n_exp):
            cross_sum += 2.0 * cross(k, l)
    norms = np.sqrt(np.maximum(var_n, 0.0))
    ed = norms + ED_OFFSET

    # Structural consistency R: ||sum of centred patches|| / sum of their norms.
    numerator = np.sqrt(np.maximum(cross_sum, 0.0))
    denominator = norms.sum(axis=0)
    R = (numerator + MATLAB_EPS) / (denominator + MATLAB_EPS)
    R[R > 1] = 1 - MATLAB_EPS
    R[R < 0] = MATLAB_EPS
    p = np.minimum(np.tan(np.pi / 2 * R), P_MAX)

    w_map = (ed / window_size) ** p[None] + MATLAB_EPS
    w_map /= w_map.sum(axis=0, keepdims=True)
    c_hat = ed.max(axis=0)
    # r (before rescaling) = sum_k b_k (v_k - mu_k); a flat patch contributes exactly 0.
    b = np.where(flat, 0.0, w_map / ed)

    # ||r||^2 and the Gaussian moments of r, accumulated pair by pair. With
    # d_k = G x_k - mu_k:  G((x_k - mu_k)(x_l - mu_l)) = G(x_k x_l) - mu_l d_k - mu_k G x_l.
    gx = [filter_valid(x[k], gauss) for k in range(n_exp)]
    d = [gx[k] - mu[k] for k in range(n_exp)]
    r_sq = np.zeros_like(c_hat)
    g_r2 = np.zeros_like(c_hat)
    for k in range(n_exp):
        for l in range(k, n_exp):
            bb = b[k] * b[l]
            if k != l:
                bb *= 2.0
            r_sq += bb * cross(k, l)
            term = filter_valid(x[k] * x[l], gauss)
            term -= mu[l] * d[k]
            term -= mu[k] * gx[l]
            term *= bb
            g_r2 += term
    cache.clear()
    r_norm = np.sqrt(np.maximum(r_sq, 0.0))
    scale = np.where(r_norm > 0, c_hat / np.where(r_norm > 0, r_norm, 1.0), 1.0)

    g_f = filter_valid(f, gauss)
    g_ff = filter_valid(f * f, gauss)
    g_r = np.zeros_like(c_hat)
    g_rf = np.zeros_like(c_hat)
    for k in range(n_exp):
        g_r += b[k] * d[k]
        g_rf += b[k] * (filter_valid(x[k] * f, gauss) - mu[k] * g_f)
    # MATLAB leaves r = 0 when ||r|| = 0; zero the moments there so rounding noise
    # cannot stand in for it.
    scale[r_sq <= 0.0] = 0.0
    g_r *= scale
    g_rf *= scale
    g_r2 *= scale * scale

    var_r = g_r2 - g_r * g_r
    var_f = g_ff - g_f * g_f
    cov_rf = g_rf - g_r * g_f
    c = (k_const * 255.0) ** 2
    q_map = (2.0 * cov_rf + c) / (var_r + var_f + c)
    return float(q_map.mean()), q_map


def mef_ssim(
    frames,
    fused,
    *,
    data_range: float = 1.0,
    round_uint8: bool = True,
    levels: int = 3,
    weights=SCALE_WEIGHTS,
    k_const: float = K_CONST,
    window_size: int = WINDOW_SIZE,
    sigma: float = WINDOW_SIGMA,
    full: bool = False,
):
    """MEF-SSIM of a fused image for its exposure bracket (Ma, Zeng, Wang 2015).

    Multi-scale, exactly as the authors' ``mef_ms_ssim.m`` with its defaults: the demo's
    gray conversion (``rgb2gray`` on uint8 data), box-window patch statistics, the
    structural-consistency weighted desired patch, a Gaussian-window comparison of its
    contrast and structure with the fused patch ('valid' positions), 3 scales with 2x2
    average downsampling, and the product of per-scale scores raised to the normalised
    weights. There is no luminance term: a global brightness shift of the fused image
    does not change the score.

    Parameters
    ----------
    frames : sequence of ndarray
        K >= 1 exposures, each ``(H, W, 3)`` RGB or ``(H, W)`` gray in ``[0, data_range]``.
        Their order does not matter.
    fused : ndarray
        ``(H, W, 3)`` or ``(H, W)`` in ``[0, data_range]``.
    data_range : float
        Value of white; the images are scored on 0..255 whatever it is.
    round_uint8 : bool
        Default True: round to uint8 before and after the gray conversion, as the
        authors' demo does (it reads 8-bit files). False scores the exact float values.
    levels : int
        Number of scales (default 3). ``min(H, W) / 2^(levels - 1)`` must be at least the
        window size (where MATLAB returns -Inf this raises ``ValueError``).
    weights : sequence of float
        Per-scale exponents, at least ``levels`` of them; the first ``levels`` are used
        and normalised to sum 1 (default Wang's 0.0448, 0.2856, 0.3001).
    k_const : float
        C = (k_const * 255)^2 (default 0.03).
    window_size, sigma : int, float
        Patch side and Gaussian sigma (default 11 and 1.5).
    full : bool
        Also return the per-scale scores and quality maps.

    Returns
    -------
    float
        The score, at most 1 (higher is better); with ``full=True`` a tuple
        ``(score, per_scale_scores, q_maps)``.

    Raises
    ------
    ValueError
        No frames, mismatched shapes, NaN, an image too small for the scales, or bad
        parameters.
    """
    data_range = check_data_range(data_range)
    arrs, fused_arr = check_exposures(frames, fused, data_range)
    if int(levels) != levels or levels < 1:
        raise ValueError(f"levels must be a positive integer, got {levels!r}")
    levels = int(levels)
    if int(window_size) != window_size or window_size < 3 or window_size % 2 == 0:
        raise ValueError(f"window_size must be an odd integer >= 3, got {window_size!r}")
    window_size = int(window_size)
    if not sigma > 0:
        raise ValueError(f"sigma must be positive, got {sigma!r}")
    if not k_const > 0:
        raise ValueError(f"k_const must be positive, got {k_const!r}")
    beta = np.asarray(weights, dtype=np.float64)
    if beta.ndim != 1 or len(beta) < levels or not np.all(beta[:levels] >= 0) or beta[:levels].sum() <= 0:
        raise ValueError(f"weights must hold at least levels={levels} non-negative values, got {weights!r}")
    beta = beta[:levels] / beta[:levels].sum()
    h, w = fused_arr.shape[:2]
    if min(h, w) / 2 ** (levels - 1) < window_size:
        raise ValueError(
            f"fused of shape {fused_arr.shape} is too small for MEF-SSIM: {levels} scales with a "
            f"{window_size}x{window_size} window need a short side of at least {window_size * 2 ** (levels - 1)}"
        )

    seq = np.stack([matlab_gray255(a, data_range, round_uint8) for a in arrs])
    fI = matlab_gray255(fused_arr, data_range, round_uint8)
    scores, maps = [], []
    for level in range(levels):
        q, q_map = mef_ssim_single_scale(seq, fI, k_const=k_const, window_size=window_size, sigma=sigma)
        scores.append(q)
        maps.append(q_map)
        if level < levels - 1:
            seq = np.stack([downsample2(s) for s in seq])
            fI = downsample2(fI)
    # mef_ms_ssim.m: prod(Q .^ beta); a negative Q (a fused image anti-correlated with
    # the desired structure) would be complex in MATLAB; clamp at 0 instead of NaN.
    score = float(np.prod(np.maximum(np.asarray(scores), 0.0) ** beta))
    if full:
        return score, scores, maps
    return score
