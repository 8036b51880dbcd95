"""SSIM (Wang, Bovik, Sheikh, Simoncelli, IEEE TIP 2004) in torch: batched and differentiable.

The torch twin of :func:`mefkit.metrics.ssim` (numpy, the reference), for training
losses (:func:`mefkit.train.losses.ssim_loss` is ``1 -`` this score) in the manner of
kornia's ``metrics``/``losses`` split. Gaussian window 11, sigma 1.5, K1 0.01, K2 0.03,
'valid' filtering, each channel scored separately.

Hand-written because kornia's ``ssim`` pads the border ('same') where the reference
filters 'valid', and the thesis's loss wants the grayscale SSIM.
"""

from __future__ import annotations

import torch
import torch.nn.functional as F

#: SSIM constants and window (Wang, Bovik, Sheikh, Simoncelli, IEEE TIP 2004, Sec. III-C).
SSIM_K1 = 0.01
SSIM_K2 = 0.03
SSIM_WINDOW = 11
SSIM_SIGMA = 1.5
#: BT.601 luma weights for the grayscale SSIM (as ``rgb2gray``; the thesis says "grayscale").
GRAY_WEIGHTS = (0.299, 0.587, 0.114)


def rgb_to_gray(x: torch.Tensor) -> torch.Tensor:
    """BT.601 luma of ``(B, 3, H, W)`` RGB, returned as ``(B, 1, H, W)``; gray input passes."""
    if x.shape[1] == 1:
        return x
    w = x.new_tensor(GRAY_WEIGHTS).view(1, 3, 1, 1)
    return (x * w).sum(dim=1, keepdim=True)


def gaussian_kernel1d(size: int, sigma: float, device=None, dtype=None) -> torch.Tensor:  # noqa: ANN001
    """Normalised 1-D Gaussian, ``(size,)``: the factor of the separable 2-D window."""
    coords = torch.arange(size, device=device, dtype=dtype) - (size - 1) / 2
    g = torch.exp(-(coords**2) / (2 * sigma**2))
    return g / g.sum()


def gaussian_window(size: int, sigma: float, channels: int, device=None, dtype=None) -> torch.Tensor:  # noqa: ANN001
    """Normalised 2-D Gaussian window ``(channels, 1, size, size)``, for a grouped ``conv2d``."""
    g = gaussian_kernel1d(size, sigma, device, dtype)
    return (g[:, None] * g[None, :]).expand(channels, 1, size, size).contiguous()


def ssim_per_sample(
    x: torch.Tensor,
    y: torch.Tensor,
    *,
    data_range: float = 1.0,
    window: int = SSIM_WINDOW,
    sigma: float = SSIM_SIGMA,
) -> torch.Tensor:
    """Mean SSIM of each sample, differentiable.

    Parameters
    ----------
    x, y : Tensor
        ``(B, C, H, W)`` with ``H, W >= window``; values in ``[0, data_range]``.
        Channels are scored separately and averaged.
    data_range : float
        Dynamic range of the values (sets ``C1 = (K1 L)^2``, ``C2 = (K2 L)^2``).
    window, sigma : int, float
        Gaussian window side and spread.

    Returns
    -------
    Tensor
        ``(B,)`` mean SSIM over the 'valid' positions, 1 for identical inputs.
    """
    if x.shape != y.shape or x.ndim != 4:
        raise ValueError(f"x and y must be (B, C, H, W) of one shape, got {tuple(x.shape)} and {tuple(y.shape)}")
    if min(x.shape[-2:]) < window:
        raise ValueError(f"images of {tuple(x.shape[-2:])} are smaller than the SSIM window {window}")
    x = x.float()
    y = y.float()
    c = x.shape[1]
    win = gaussian_window(window, sigma, c, x.device, x.dtype)
    filt = lambda t: F.conv2d(t, win, groups=c)  # noqa: E731 - 'valid' Gaussian filter per channel
    mu_x, mu_y = filt(x), filt(y)
    sxx = filt(x * x) - mu_x * mu_x
    syy = filt(y * y) - mu_y * mu_y
    sxy = filt(x * y) - mu_x * mu_y
    c1 = (SSIM_K1 * data_range) ** 2
    c2 = (SSIM_K2 * data_range) ** 2
    ssim_map = ((2 * mu_x * mu_y + c1) * (2 * sxy + c2)) / ((mu_x**2 + mu_y**2 + c1) * (sxx + syy + c2))
    return ssim_map.flatten(1).mean(dim=1)


__all__ = ["GRAY_WEIGHTS", "SSIM_K1", "SSIM_K2", "SSIM_SIGMA", "SSIM_WINDOW", "gaussian_kernel1d", "gaussian_window",
           "rgb_to_gray", "ssim_per_sample"]
