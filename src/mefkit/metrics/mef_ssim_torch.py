"""MEF-SSIM (Ma, Zeng, Wang 2015) in torch, batched and differentiable in the fused image.

:func:`mefkit.metrics.mef_ssim` is the reference (numpy, the authors' MATLAB step by
step); this module computes the same score with torch filters so that it can be a
training loss (:func:`mefkit.train.losses.mef_ssim_loss`). :func:`mef_ssim_torch` is the
metric itself; :func:`mef_ssim_mefnet` is MEFNet's training form (Ma, Duanmu, Zhu, Fang,
Wang, IEEE TIP 2020), which takes the structure of the single exposure with the largest
local variance. In the metric the desired patch blends the
exposures' structures with the structural-consistency weights, its contrast is the
largest of theirs, and the scales combine as the metric's product of powers.

Why hand-written: no maintained library has a differentiable MEF-SSIM with the
authors' desired patch (kornia and torchmetrics have none; the pytorch-MEF_SSIM port
pads 'same' and builds a per-pixel desired signal, see the metric module's docstring).

Everything that depends on the exposures only (the desired patch's weights, contrast
and moments) is computed without gradients; the fused image enters through Gaussian
moments, so the gradient is that of an SSIM contrast-structure term. The arithmetic is
float64, as the reference, so the score matches it to about 1e-9 on float input
(``round_uint8=False``); the reference's uint8 rounding is not differentiable and is
left out.
"""

from __future__ import annotations

import math
from typing import Sequence

import torch
import torch.nn.functional as F

from .mef_ssim import (
    ED_OFFSET,
    FLAT_REL_TOL,
    K_CONST,
    MATLAB_EPS,
    P_MAX,
    RGB2GRAY,
    SCALE_WEIGHTS,
    WINDOW_SIGMA,
    WINDOW_SIZE,
)
from .ssim_torch import gaussian_kernel1d, gaussian_window, rgb_to_gray

#: Floor of a per-scale score before the product of powers (the reference clamps at 0;
#: a positive floor keeps the power differentiable).
SCORE_FLOOR = 1e-6


def _gray255(x: torch.Tensor) -> torch.Tensor:
    """``(B, 3|1, H, W)`` in [0, 1] -> ``(B, 1, H, W)`` float64 gray on 0..255 (MATLAB ``rgb2gray``)."""
    x = x.double() * 255.0
    if x.shape[1] == 1:
        return x
    w = x.new_tensor(RGB2GRAY).view(1, 3, 1, 1)
    return (x * w).sum(dim=1, keepdim=True)


def _downsample2(x: torch.Tensor) -> torch.Tensor:
    """The reference's ``downsample2``: 2x2 block mean, an odd last row/column repeated."""
    h, w = x.shape[-2:]
    if h % 2 or w % 2:
        x = F.pad(x, (0, w % 2, 0, h % 2), mode="replicate")
    return F.avg_pool2d(x, 2)


def _separable_valid(t: torch.Tensor, g: torch.Tensor) -> torch.Tensor:
    """Correlate ``(B, 1, H, W)`` with ``outer(g, g)``, 'valid', as two 1-D passes (5x fewer operations)."""
    n = g.numel()
    return F.conv2d(F.conv2d(t, g.view(1, 1, n, 1)), g.view(1, 1, 1, n))


def _single_scale(seq: list[torch.Tensor], f: torch.Tensor) -> torch.Tensor:
    """Mean quality map of one scale, ``(B,)``; ``seq`` K maps and ``f`` ``(B, 1, H, W)`` float64 0..255."""
    n_exp = len(seq)
    n_pix = float(WINDOW_SIZE * WINDOW_SIZE)
    g1 = gaussian_kernel1d(WINDOW_SIZE, WINDOW_SIGMA, f.device, f.dtype)
    b1 = torch.full((WINDOW_SIZE,), 1.0 / WINDOW_SIZE, dtype=f.dtype, device=f.device)
    gauss = lambda t: _separable_valid(t, g1)  # noqa: E731 - 'valid' Gaussian filter
    box = lambda t: _separable_valid(t, b1)  # noqa: E731 - 'valid' box mean
    # Centring each image on its mean changes no term (as in the reference) and keeps
    # E[x^2] - E[x]^2 from cancelling.
    f = f - f.mean(dim=(2, 3), keepdim=True)
    with torch.no_grad():
        x = [s - s.mean(dim=(2, 3), keepdim=True) for s in seq]
        mu = [box(s) for s in x]
        flat_tol = n_pix * FLAT_REL_TOL * 255.0**2

        def centred_dot(k: int, l: int) -> torch.Tensor:
            c = n_pix * (box(x[k] * x[l]) - mu[k] * mu[l])
            return torch.where(c.abs() < flat_tol, torch.zeros_like(c), c)

        var_n = [centred_dot(k, k) for k in range(n_exp)]
        flat = [v == 0 for v in var_n]
        cross = {}
        for k in range(n_exp):
            for l in range(k + 1, n_exp):
                c = centred_dot(k, l)
                cross[(k, l)] = torch.where(flat[k] | flat[l], torch.zeros_like(c), c)
        cross_sum = sum(var_n) + 2.0 * sum(cross.values(), torch.zeros_like(var_n[0]))
        norms = torch.stack([v.clamp_min(0).sqrt() for v in var_n])
        ed = norms + ED_OFFSET
        r_cons = (cross_sum.clamp_min(0).sqrt() + MATLAB_EPS) / (norms.sum(0) + MATLAB_EPS)
        r_cons = torch.where(r_cons > 1, torch.full_like(r_cons, 1 - MATLAB_EPS), r_cons)
        r_cons = torch.where(r_cons < 0, torch.full_like(r_cons, MATLAB_EPS), r_cons)
        p = torch.tan(math.pi / 2 * r_cons).clamp_max(P_MAX)
        w_map = (ed / WINDOW_SIZE) ** p.unsqueeze(0) + MATLAB_EPS
        w_map = w_map / w_map.sum(0, keepdim=True)
        c_hat = ed.max(0).values
        b = torch.where(torch.stack(flat), torch.zeros_like(w_map), w_map / ed)

        gx = [gauss(s) for s in x]
        d = [gx[k] - mu[k] for k in range(n_exp)]
        r_sq = torch.zeros_like(c_hat)
        g_r2 = torch.zeros_like(c_hat)
        for k in range(n_exp):
            for l in range(k, n_exp):
                bb = b[k] * b[l] * (1.0 if k == l else 2.0)
                r_sq = r_sq + bb * (var_n[k] if k == l else cross[(k, l)])
                g_r2 = g_r2 + bb * (gauss(x[k] * x[l]) - mu[l] * d[k] - mu[k] * gx[l])
        # r is rescaled to the contrast c_hat; where ||r|| = 0 the reference leaves r = 0.
        has_r = r_sq > 0
        r_norm = torch.where(has_r, r_sq, torch.ones_like(r_sq)).sqrt()
        scale = torch.where(has_r, c_hat / r_norm, torch.zeros_like(r_norm))
        g_r = scale * sum(b[k] * d[k] for k in range(n_exp))
        g_r2 = g_r2 * scale * scale
    g_f = gauss(f)
    g_ff = gauss(f * f)
    g_rf = scale * sum(b[k] * (gauss(x[k] * f) - mu[k] * g_f) for k in range(n_exp))
    var_r = g_r2 - g_r * g_r
    var_f = g_ff - g_f * g_f
    cov = g_rf - g_r * g_f
    c = (K_CONST * 255.0) ** 2
    q_map = (2.0 * cov + c) / (var_r + var_f + c)
    return q_map.flatten(1).mean(dim=1)


def mef_ssim_torch(frames: Sequence[torch.Tensor], fused: torch.Tensor, levels: int = 3) -> torch.Tensor:
    """MEF-SSIM of each fused image of a batch, differentiable in ``fused``.

    Parameters
    ----------
    frames : sequence of Tensor
        K >= 1 exposures, each ``(B, 3, H, W)`` (or ``(B, 1, H, W)`` gray) in [0, 1].
    fused : Tensor
        ``(B, 3, H, W)`` or ``(B, 1, H, W)`` in [0, 1].
    levels : int
        Scales, 1 to 3 (the metric's default 3); ``min(H, W) / 2^(levels - 1)`` must be
        at least 11.

    Returns
    -------
    Tensor
        ``(B,)`` float64 scores, at most 1: :func:`mefkit.metrics.mef_ssim` with
        ``round_uint8=False`` (per-scale scores floored at :data:`SCORE_FLOOR` instead of 0).

    Raises
    ------
    ValueError
        No frames, shapes that differ, bad ``levels`` or images too small for them.
    """
    frames = list(frames)
    if not frames:
        raise ValueError("frames must hold at least one exposure, got none")
    if not 1 <= levels <= len(SCALE_WEIGHTS):
        raise ValueError(f"levels must be 1..{len(SCALE_WEIGHTS)}, got {levels}")
    for i, fr in enumerate(frames):
        if fr.shape != fused.shape:
            raise ValueError(f"frames[{i}] has shape {tuple(fr.shape)} but fused has {tuple(fused.shape)}")
    need = WINDOW_SIZE * 2 ** (levels - 1)
    if min(fused.shape[-2:]) < need:
        raise ValueError(f"{levels} scales need a short side of at least {need} px, got {tuple(fused.shape[-2:])}")
    beta = torch.tensor(SCALE_WEIGHTS[:levels], dtype=torch.float64, device=fused.device)
    beta = beta / beta.sum()
    seq = [_gray255(fr) for fr in frames]
    f = _gray255(fused)
    scores = []
    for level in range(levels):
        scores.append(_single_scale(seq, f))
        if level < levels - 1:
            seq = [_downsample2(s) for s in seq]
            f = _downsample2(f)
    q = torch.stack(scores, dim=1).clamp_min(SCORE_FLOOR)
    return torch.exp((beta * q.log()).sum(dim=1))


#: MEF-SSIM's stabiliser for data in [0, 1]: C2 = (K2 L)^2 with the metric's K2 (Ma et al. 2015).
MEF_SSIM_C2 = K_CONST**2
#: Gaussian window of the structure comparison: the metric's (11x11, sigma 1.5).
MEF_SSIM_WINDOW, MEF_SSIM_SIGMA = WINDOW_SIZE, WINDOW_SIGMA


def mef_ssim_mefnet(frames: list[torch.Tensor], fused: torch.Tensor, scales: int = 1) -> torch.Tensor:
    """MEF-SSIM in the MEFNet training form (Ma et al., IEEE TIP 2020), differentiable, grayscale.

    At each position the reference structure is the exposure with the largest local
    variance (a hard choice, as in MEFNet's ``mefssim.py``; the 2015 metric blends
    the exposures' structures instead), compared with the fused image by the
    contrast-structure term of SSIM over an 11x11 Gaussian window ('valid').

    With ``scales > 1`` the same score is taken on a 2x2-mean pyramid (as the metric's
    ``mef_ms_ssim.m`` downsamples) and the scales are combined by the metric's
    normalised weights (:data:`mefkit.metrics.mef_ssim.SCALE_WEIGHTS`), as a weighted *sum* of
    ``Q_s`` rather than the metric's product of powers: the same optimum, without
    powers of possibly negative means. The coarse scales see global contrast, which
    one 11x11 window cannot.

    Parameters
    ----------
    frames : list of Tensor
        K exposures ``(B, 3, H, W)`` in [0, 1], ``H, W >= 11``.
    fused : Tensor
        ``(B, 3, H, W)`` in [0, 1].
    scales : int
        1 to 3 pyramid levels; the coarsest must stay at least 11 px.

    Returns
    -------
    Tensor
        ``(B,)``: 1 when the fused image carries the strongest structure everywhere.
    """
    if not 1 <= scales <= len(SCALE_WEIGHTS):
        raise ValueError(f"scales must be 1..{len(SCALE_WEIGHTS)}, got {scales}")
    weights = SCALE_WEIGHTS[:scales]
    total = 0.0
    for level, weight in enumerate(weights):
        if level:
            frames = [F.avg_pool2d(f, 2) for f in frames]
            fused = F.avg_pool2d(fused, 2)
        total = total + (weight / sum(weights)) * _mefnet_one_scale(frames, fused)
    return total


def _mefnet_one_scale(frames: list[torch.Tensor], fused: torch.Tensor) -> torch.Tensor:
    """One scale of :func:`mef_ssim_mefnet`: ``(B,)`` values of ``mean q``."""
    if min(fused.shape[-2:]) < MEF_SSIM_WINDOW:
        raise ValueError(f"MEF-SSIM (MEFNet form) needs images of at least {MEF_SSIM_WINDOW} px, got {tuple(fused.shape[-2:])}")
    y = rgb_to_gray(fused.float())
    win = gaussian_window(MEF_SSIM_WINDOW, MEF_SSIM_SIGMA, 1, y.device, y.dtype)
    filt = lambda t: F.conv2d(t, win)  # noqa: E731 - 'valid' Gaussian filter
    mu_y = filt(y)
    var_y = filt(y * y) - mu_y**2
    best_var = best_q = None
    for frame in frames:
        x = rgb_to_gray(frame.float())
        mu_x = filt(x)
        var_x = (filt(x * x) - mu_x**2).clamp_min(0)
        cov = filt(x * y) - mu_x * mu_y
        q = (2 * cov + MEF_SSIM_C2) / (var_x + var_y + MEF_SSIM_C2)
        if best_var is None:
            best_var, best_q = var_x, q
        else:
            take = var_x > best_var
            best_q = torch.where(take, q, best_q)
            best_var = torch.where(take, var_x, best_var)
    return best_q.flatten(1).mean(dim=1)
