"""Structural similarity (Wang, Bovik, Sheikh, Simoncelli 2004), as the authors' ``ssim_index.m``."""

from __future__ import annotations

import numpy as np

from .color import check_color, to_channels
from ..checks import check_data_range, check_min_size, check_pair
from .windows import filter_valid, gaussian_kernel1d

# Wang et al. 2004, Sec. III-C: 11x11 circular-symmetric Gaussian, sigma 1.5, K1, K2.
WINDOW_SIZE = 11
WINDOW_SIGMA = 1.5
K1 = 0.01
K2 = 0.03


def ssim_maps(x: np.ndarray, y: np.ndarray, data_range: float,
              window_size: int = WINDOW_SIZE, sigma: float = WINDOW_SIGMA) -> tuple[np.ndarray, np.ndarray]:
    """SSIM and contrast-structure maps of two gray images, 'valid' positions only.

    Parameters
    ----------
    x, y : ndarray
        ``(H, W)`` float64 in ``[0, data_range]``.

    Returns
    -------
    ssim_map, cs_map : ndarray
        ``(H - w + 1, W - w + 1)``; ``cs`` is SSIM without its luminance factor (used by
        MS-SSIM).
    """
    c1 = (K1 * data_range) ** 2
    c2 = (K2 * data_range) ** 2
    k = gaussian_kernel1d(window_size, sigma)
    mu_x = filter_valid(x, k)
    mu_y = filter_valid(y, k)
    sxx = filter_valid(x * x, k) - mu_x * mu_x
    syy = filter_valid(y * y, k) - mu_y * mu_y
    sxy = filter_valid(x * y, k) - mu_x * mu_y
    cs = (2.0 * sxy + c2) / (sxx + syy + c2)
    lum = (2.0 * mu_x * mu_y + c1) / (mu_x * mu_x + mu_y * mu_y + c1)
    return lum * cs, cs


def wang_scale_factor(shape: tuple[int, ...]) -> int:
    """``ssim.m``'s automatic downsampling factor f = max(1, round(min(H, W) / 256))."""
    return max(1, int(np.floor(min(shape[:2]) / 256 + 0.5)))  # MATLAB round: half away from zero


def box_decimate(x: np.ndarray, f: int) -> np.ndarray:
    """``imfilter(x, ones(f)/f^2, 'symmetric', 'same')`` then ``x(1:f:end, 1:f:end)``.

    MATLAB anchors an f x f kernel at ``floor((f + 1) / 2)`` (1-based), so output pixel i
    averages input rows ``i - a .. i - a + f - 1`` with ``a = floor((f + 1) / 2) - 1``,
    mirrored ('symmetric') past the edges.
    """
    if f == 1:
        return x
    a = (f + 1) // 2 - 1
    padded = np.pad(x, ((a, f - 1 - a), (a, f - 1 - a)), mode="symmetric")
    h, w = x.shape
    box = sum(padded[t:t + h, u:u + w] for t in range(f) for u in range(f)) / (f * f)
    return box[::f, ::f]


def ssim(fused, reference, *, data_range: float = 1.0, color: str = "rgb",
         downsample: bool = False) -> float:
    """Mean SSIM of ``fused`` against ``reference``.

    Wang et al. 2004 with the authors' settings: 11x11 Gaussian window (sigma 1.5),
    K1 = 0.01, K2 = 0.03, statistics at 'valid' positions only (MATLAB ``filter2``), mean
    of the SSIM map. Agrees with ``skimage.metrics.structural_similarity(...,
    gaussian_weights=True, sigma=1.5, use_sample_covariance=False)``, which computes
    the same map with padding and then crops the padded border before averaging.

    Parameters
    ----------
    fused, reference : ndarray
        ``(H, W, 3)`` RGB or ``(H, W)`` gray, float in ``[0, data_range]``; at least 11x11.
    data_range : float
        Value of white; sets C1 = (K1 L)^2 and C2 = (K2 L)^2.
    color : {"rgb", "y", "y_matlab"}
        Default ``"rgb"`` (mean of the per-channel SSIMs), as skimage with
        ``channel_axis`` and torchmetrics do and as the SICE fusion papers compare colour
        results; ``"y"`` / ``"y_matlab"`` score the luma only.
    downsample : bool
        Default False. True applies ``ssim.m``'s automatic scaling first (an f x f box
        filter and decimation by f = round(min(H, W) / 256)); most Python libraries
        (skimage, torchmetrics) do not, and MATLAB's toolbox ``ssim`` does not either.

    Returns
    -------
    float
        Mean SSIM, at most 1 (identical images).
    """
    data_range = check_data_range(data_range)
    check_color(color)
    f, r = check_pair(fused, reference, data_range)
    check_min_size(f.shape, WINDOW_SIZE, "fused", "SSIM's 11x11 window")
    fc, rc = to_channels(f, color, data_range), to_channels(r, color, data_range)
    scores = []
    for a, b in zip(fc, rc):
        if downsample:
            factor = wang_scale_factor(a.shape)
            a, b = box_decimate(a, factor), box_decimate(b, factor)
            check_min_size(a.shape, WINDOW_SIZE, "fused (after downsampling)", "SSIM's 11x11 window")
        scores.append(ssim_maps(a, b, data_range)[0].mean())
    return float(np.mean(scores))
