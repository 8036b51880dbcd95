"""MEF-SSIMd: MEF-SSIM for dynamic scenes (Fang, Zhu, Ma, Wang, Li, IEEE TIP 2020).

The score splits the image into static and dynamic regions and scores each separately
against a desired patch built from the bracket, as in the authors' MATLAB release
(github.com/h4nwei/MEF-SSIMd, ``mef_ms_ssim_d.m``, default parameters):

1. **Regions.** For every pair of exposures, the structure term of SSIM on 11x11 box
   windows, ``(sigma_kl + C) / (sigma_k sigma_l + C)``, is thresholded at 0.5 and cleaned
   by a morphological opening with MATLAB's default ``strel('disk', 11)`` (a 21x21
   octagon: see :func:`matlab_disk`). A window position is static where every pair agrees.
2. **Static quality.** The desired patch is ``r = sum_k w_k (x_k - mu_k) / ed_k`` with
   ``ed_k = ||x_k - mu_k|| + 0.001`` and ``w_k`` proportional to ``ed_k^4 + 0.001``,
   rescaled to length ``max_k ed_k``; it is compared with the fused patch by the
   contrast-structure term of SSIM (Gaussian window, sigma 1.5, ``C = (0.03 * 255)^2``).
3. **Dynamic quality.** Each exposure in turn is the reference. Every other frame is
   replaced by the reference matched to its histogram (MATLAB's ``imhistmatch``, see
   :func:`histogram_match`), and the desired patch is built from the reference and these
   stand-ins. The authors' code takes each slot's weight, mean and strength from the
   *original* frame of that slot (``sMap(i, j, k)``, ``lMu(i, j, k)``, ``ed(i, j, k)``
   indexed by slot, not by the substituted layer): in dynamic regions the stand-ins
   therefore get the small weight ``0.001`` and a mean that is not their own, and the
   patch length is the largest strength of the reference and stand-ins. This follows
   that code, as its published scores do. The best reference's mean is the dynamic
   quality.
4. **Score.** The mean of the static and dynamic qualities (the static one alone when
   nothing moves). Single scale: the release has no multi-scale step.

Vectorised like :mod:`mefkit.metrics.mef_ssim`: the desired patch is a per-position
combination ``r = sum_k a_k z_k - D`` of the layers ``z_k``, so its length and its
Gaussian moments are combinations of box and Gaussian filterings of ``z_k z_l`` and
``z_k f`` (``||r||^2 = N a' Cov_box a + N E^2`` where ``E`` is the patch mean of ``r``;
the Gaussian variance of ``r`` and covariance with ``f`` do not depend on ``E``). Checked
against the authors' code run in GNU Octave to 1e-6 (``tests/test_metrics_mef_ssim_d.py``).

No maintained Python package implements this metric, hence the hand-written code.
"""

from __future__ import annotations

import cv2
import numpy as np

from ..checks import check_data_range, check_exposures
from .mef_ssim import matlab_gray255
from .windows import box_kernel1d, filter_valid, gaussian_kernel1d

#: ``mef_ms_ssim_d.m`` defaults: C = (K 255)^2, weight exponent p, consistency threshold.
K_CONST = 0.03
EXPONENT = 4.0
STRUCTURE_THRESHOLD = 0.5
#: Box window of the patch statistics and Gaussian window of the comparison.
WINDOW_SIZE = 11
WINDOW_SIGMA = 1.5
#: Added to the patch strength and to every layer's weight by the authors' code.
ED_OFFSET = 0.001
#: MATLAB ``eps``: ``histeq`` tolerates undershooting the target cumulative by ``n sqrt(eps)``.
MATLAB_EPS = float(np.finfo(np.float64).eps)


def matlab_disk(radius: int) -> np.ndarray:
    """Neighbourhood of MATLAB's ``strel('disk', radius)`` with its default ``N = 4``.

    MATLAB approximates the disk by a radial decomposition (Adams, "Radial decomposition
    of discs and spheres", CVGIP 1993) into periodic lines (Jones and Soille, Pattern
    Recognition Letters 1996) along (1, 0), (1, 1), (0, 1), (-1, 1), each repeated
    ``floor(k / |v|)`` times with ``k = 2 r / (cot(pi/8) + 1/sin(pi/8))``, then adds
    horizontal and vertical lines of length ``2 (r - reach - 1) + 1`` when that is at
    least 3. For ``radius = 11`` this is the 21x21 octagon ``|dx|, |dy| <= 10``,
    ``|dx| + |dy| <= 14``. Radii below 3 give the Euclidean disk, as in MATLAB.

    Parameters
    ----------
    radius : int
        Disk radius in pixels, >= 1.

    Returns
    -------
    ndarray
        ``(2 m + 1, 2 m + 1)`` uint8 mask of 0 and 1 (m is the reach of the shape).
    """
    r = int(radius)
    if r < 1:
        raise ValueError(f"radius must be a positive integer, got {radius!r}")
    if r < 3:
        yy, xx = np.mgrid[-r:r + 1, -r:r + 1]
        return (xx * xx + yy * yy <= r * r).astype(np.uint8)
    theta = np.pi / 8
    k = 2 * r / (1 / np.tan(theta) + 1 / np.sin(theta))
    pts = {(0, 0)}

    def dilate(points, step, reps):
        return {(p + t * step[0], q + t * step[1]) for p, q in points for t in range(-reps, reps + 1)}

    for v in ((1, 0), (1, 1), (0, 1), (-1, 1)):
        pts = dilate(pts, v, int(np.floor(k / np.hypot(*v))))
    reach = max(p for p, _ in pts)
    length = 2 * (r - reach - 1) + 1
    if length >= 3:
        pts = dilate(dilate(pts, (1, 0), length // 2), (0, 1), length // 2)
    m = max(max(abs(p), abs(q)) for p, q in pts)
    out = np.zeros((2 * m + 1, 2 * m + 1), np.uint8)
    for p, q in pts:
        out[p + m, q + m] = 1
    return out


def histogram_match(image: np.ndarray, target: np.ndarray) -> np.ndarray:
    """``image`` given the histogram of ``target`` (MATLAB ``imhistmatch(image, target, 256)``).

    MATLAB's ``histeq(image, hgram)`` with the 256-bin histogram of ``target``: the
    monotonic level map T minimises ``c1(T(a)) - c0(a)`` (``c0`` the cumulative histogram
    of ``image``, ``c1`` of ``target``) among the levels where ``c1(T(a))`` does not fall
    below ``c0(a)`` by more than half the count of level ``a`` (none for the first and last
    level); ties go to the darker level. Hand-written because OpenCV and scikit-image
    match histograms by interpolating quantiles, which gives other levels.

    Parameters
    ----------
    image, target : ndarray
        uint8 arrays (any shape; the same number of pixels is not required).

    Returns
    -------
    ndarray
        uint8, the shape of ``image``.
    """
    image = np.asarray(image)
    target = np.asarray(target)
    if image.dtype != np.uint8 or target.dtype != np.uint8:
        raise ValueError(f"histogram_match needs uint8 images, got {image.dtype} and {target.dtype}")
    n_pix = float(image.size)
    hgram = np.bincount(target.ravel(), minlength=256).astype(np.float64) * (n_pix / target.size)
    cum = np.cumsum(hgram)
    counts = np.bincount(image.ravel(), minlength=256).astype(np.float64)
    cumd = np.cumsum(counts)
    tol = counts / 2.0
    tol[0] = tol[-1] = 0.0
    err = cum[:, None] - cumd[None, :] + tol[None, :]  # (output level, input level)
    err[err < -n_pix * np.sqrt(MATLAB_EPS)] = n_pix
    lut = np.argmin(err, axis=0).astype(np.uint8)  # argmin returns the first minimum
    return lut[image]


def static_regions(seq: np.ndarray, *, c: float, window_size: int = WINDOW_SIZE,
                   threshold: float = STRUCTURE_THRESHOLD) -> np.ndarray:
    """Window positions where every pair of exposures agrees in structure.

    Parameters
    ----------
    seq : ndarray
        ``(K, H, W)`` float64 gray exposures on 0..255.
    c : float
        Stability constant of the structure term.
    window_size : int
        Side of the box window; also the radius of the opening disk.
    threshold : float
        Structure term below which a pair disagrees.

    Returns
    -------
    ndarray
        ``(H - w + 1, W - w + 1)`` bool, True where static.
    """
    n_exp = seq.shape[0]
    box = box_kernel1d(window_size)
    x = seq - 127.5  # box covariances do not change; less cancellation
    mu = [filter_valid(x[k], box) for k in range(n_exp)]
    sd = [np.sqrt(np.maximum(filter_valid(x[k] * x[k], box) - mu[k] * mu[k], 0.0)) for k in range(n_exp)]
    static = np.ones(mu[0].shape, bool)
    disk = matlab_disk(window_size)
    for k in range(n_exp):
        for l in range(k + 1, n_exp):
            cov = filter_valid(x[k] * x[l], box) - mu[k] * mu[l]
            agree = ((cov + c) / (sd[k] * sd[l] + c) >= threshold).astype(np.uint8)
            # OpenCV's default borders for erosion/dilation are +inf/-inf, as MATLAB pads.
            static &= cv2.morphologyEx(agree, cv2.MORPH_OPEN, disk).astype(bool)
    return static


def _box_stats(z: np.ndarray, box: np.ndarray, window_size: int) -> tuple[np.ndarray, np.ndarray]:
    """Box means and strengths ``ed = ||z - mu|| + 0.001`` of one layer."""
    mu = filter_valid(z, box)
    var = np.maximum(filter_valid(z * z, box) - mu * mu, 0.0)
    return mu, np.sqrt(var) * window_size + ED_OFFSET


def _quality(z, coef, dc, length, f, box, gauss, c, window_size) -> np.ndarray:
    """SSIM contrast-structure map of the desired patches ``r`` against ``f``.

    ``r = sum_k coef_k (z_k - box mean of z_k) + dc`` (per position), rescaled to
    ``length`` when not zero.
    """
    n_exp = len(z)
    n_pix = float(window_size * window_size)
    mb = [filter_valid(z[k], box) for k in range(n_exp)]
    gz = [filter_valid(z[k], gauss) for k in range(n_exp)]
    gf = filter_valid(f, gauss)
    r_sq = n_pix * dc * dc
    var_r = np.zeros_like(gf)
    cov_rf = np.zeros_like(gf)
    for k in range(n_exp):
        for l in range(k, n_exp):
            ab = coef[k] * coef[l] * (1.0 if k == l else 2.0)
            prod = z[k] * z[l]
            cov_box = filter_valid(prod, box) - mb[k] * mb[l]
            r_sq = r_sq + ab * n_pix * (np.maximum(cov_box, 0.0) if k == l else cov_box)
            var_r += ab * (filter_valid(prod, gauss) - gz[k] * gz[l])
        cov_rf += coef[k] * (filter_valid(z[k] * f, gauss) - gz[k] * gf)
    r_norm = np.sqrt(np.maximum(r_sq, 0.0))
    scale = np.divide(length, r_norm, out=np.zeros_like(r_norm), where=r_norm > 0)
    var_r = np.maximum(var_r, 0.0) * scale * scale
    cov_rf = cov_rf * scale
    var_f = np.maximum(filter_valid(f * f, gauss) - gf * gf, 0.0)
    return (2.0 * cov_rf + c) / (var_r + var_f + c)


def mef_ssim_d_gray(seq: np.ndarray, fused: np.ndarray, *, k_const: float = K_CONST,
                    exponent: float = EXPONENT, threshold: float = STRUCTURE_THRESHOLD,
                    window_size: int = WINDOW_SIZE, sigma: float = WINDOW_SIGMA):
    """MEF-SSIMd of 8-bit gray data (the authors' ``mef_ms_ssim_d(imgSeq, fI)``).

    Parameters
    ----------
    seq : ndarray
        ``(K, H, W)`` exposures, integer values 0..255 (any order).
    fused : ndarray
        ``(H, W)`` fused image on 0..255 (float allowed).
    k_const, exponent, threshold : float
        ``C = (k_const 255)^2``; weight exponent p; structure-consistency threshold.
    window_size, sigma : int, float
        Box window side (and opening disk radius); Gaussian sigma of the comparison.

    Returns
    -------
    score : float
        ``(Qs + Qd) / 2``, or ``Qs`` when no position is dynamic and ``Qd`` when none is
        static (the authors' code returns NaN then).
    q_map : ndarray
        ``(H - w + 1, W - w + 1)`` quality map (the best reference's in dynamic regions).
    static : ndarray
        ``(H - w + 1, W - w + 1)`` bool, the static positions.
    """
    seq8 = np.clip(np.floor(np.asarray(seq, np.float64) + 0.5), 0, 255).astype(np.uint8)  # MATLAB uint8()
    n_exp = seq8.shape[0]
    x = seq8.astype(np.float64)
    f = np.asarray(fused, np.float64)
    f = f - f.mean()
    c = (k_const * 255.0) ** 2
    box = box_kernel1d(window_size)
    gauss = gaussian_kernel1d(window_size, sigma)
    static = static_regions(x, c=c, window_size=window_size, threshold=threshold)
    dynamic = ~static
    offset = 127.5  # one constant for every layer: patch-mean differences stay exact
    stats = [_box_stats(x[k] - offset, box, window_size) for k in range(n_exp)]
    mu = [s[0] for s in stats]
    ed = [s[1] for s in stats]
    powered = [e ** exponent for e in ed]

    q_map = np.zeros(static.shape)
    qs = None
    if static.any():
        # Every layer active but the stand-ins (inactive, 0.001 each in the normaliser).
        norm = sum(powered) + ED_OFFSET * (2 * n_exp - 1)
        coef = [(powered[k] + ED_OFFSET) / norm / ed[k] for k in range(n_exp)]
        q = _quality([x[k] - offset for k in range(n_exp)], coef, np.zeros_like(q_map), np.maximum.reduce(ed),
                     f, box, gauss, c, window_size)
        q_map[static] = q[static]
        qs = float(q[static].mean())
    qd = None
    if dynamic.any():
        best = None
        for ref in range(n_exp):
            z = [x[ref] - offset if k == ref else histogram_match(seq8[ref], seq8[k]).astype(np.float64) - offset
                 for k in range(n_exp)]
            z_stats = [(mu[ref], ed[ref]) if k == ref else _box_stats(z[k], box, window_size) for k in range(n_exp)]
            # Active: the reference and the stand-ins; the other originals add 0.001 each.
            norm = powered[ref] + sum(z_stats[k][1] ** exponent for k in range(n_exp) if k != ref)
            norm = norm + ED_OFFSET * (2 * n_exp - 1)
            # Slot k uses the ORIGINAL frame's weight, mean and strength (see the module notes).
            coef = [((powered[k] if k == ref else 0.0) + ED_OFFSET) / norm / ed[k] for k in range(n_exp)]
            dc = sum(coef[k] * (z_stats[k][0] - mu[k]) for k in range(n_exp) if k != ref)
            length = np.maximum.reduce([z_stats[k][1] for k in range(n_exp)])
            q = _quality(z, coef, dc, length, f, box, gauss, c, window_size)
            mean = float(q[dynamic].mean())
            if best is None or mean > best[0]:  # MATLAB max: the first of equal means
                best = (mean, q)
        qd = best[0]
        q_map[dynamic] = best[1][dynamic]
    if qs is None:
        score = qd
    elif qd is None:
        score = qs
    else:
        score = (qs + qd) / 2.0
    return float(score), q_map, static


def mef_ssim_d(frames, fused, *, data_range: float = 1.0, round_uint8: bool = True, k_const: float = K_CONST,
               exponent: float = EXPONENT, threshold: float = STRUCTURE_THRESHOLD,
               window_size: int = WINDOW_SIZE, sigma: float = WINDOW_SIGMA, full: bool = False):
    """MEF-SSIMd of a fused image for a bracket of a dynamic scene (Fang et al., TIP 2020).

    MEF-SSIM (Ma, Zeng, Wang 2015) scored separately in the static regions and, against
    each exposure taken in turn as the reference of moving content, in the dynamic ones;
    see the module notes for the steps. Images are converted to gray as the authors'
    demo does (``rgb2gray`` of the 8-bit images). Higher is better, at most 1; a ghost
    of a moving object lowers the dynamic-region quality.

    Parameters
    ----------
    frames : sequence of ndarray
        K >= 1 exposures, each ``(H, W, 3)`` RGB or ``(H, W)`` gray in ``[0, data_range]``,
        in any order.
    fused : ndarray
        ``(H, W, 3)`` or ``(H, W)`` in ``[0, data_range]``.
    data_range : float
        Value of white.
    round_uint8 : bool
        Round the fused gray image to 8 bits as the demo does (default True). The
        exposures are always rounded: the stand-ins are 8-bit histogram matches.
    k_const, exponent, threshold : float
        ``C = (k_const 255)^2`` (0.03), weight exponent (4), consistency threshold (0.5).
    window_size, sigma : int, float
        Box window side and opening-disk radius (11), Gaussian sigma (1.5).
    full : bool
        Also return the quality map and the static-region mask.

    Returns
    -------
    float
        The score; with ``full=True`` a tuple ``(score, q_map, static)`` of
        ``(H - w + 1, W - w + 1)`` arrays.

    Raises
    ------
    ValueError
        No frames, mismatched shapes, NaN, an image smaller than the window, or bad
        parameters.
    """
    data_range = check_data_range(data_range)
    arrs, fused_arr = check_exposures(frames, fused, data_range)
    if int(window_size) != window_size or window_size < 3 or window_size % 2 == 0:
        raise ValueError(f"window_size must be an odd integer >= 3, got {window_size!r}")
    window_size = int(window_size)
    if min(fused_arr.shape[:2]) < window_size:
        raise ValueError(f"fused of shape {fused_arr.shape} is smaller than the {window_size}x{window_size} window")
    if not sigma > 0:
        raise ValueError(f"sigma must be positive, got {sigma!r}")
    if not k_const > 0:
        raise ValueError(f"k_const must be positive, got {k_const!r}")
    if not exponent > 0:
        raise ValueError(f"exponent must be positive, got {exponent!r}")
    seq = np.stack([matlab_gray255(a, data_range, True) for a in arrs])
    f = matlab_gray255(fused_arr, data_range, round_uint8)
    score, q_map, static = mef_ssim_d_gray(seq, f, k_const=k_const, exponent=exponent, threshold=threshold,
                                           window_size=window_size, sigma=sigma)
    if full:
        return score, q_map, static
    return score
