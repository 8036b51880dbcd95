"""Training losses: ``L1 + lambda_vgg * VGG19 perceptual + lambda_ssim * (1 - SSIM)``.

The thesis (seed 000) trains both phases with this sum, lambda_vgg 0.01 and
lambda_ssim 0.1, SSIM on grayscale. Every term is computed per sample first, so a
per-sample weighted mean (CBM's variance-driven weights) reuses the same code:
``FusionLoss(...)(pred, target, weights=w)``.

SSIM is hand-written in torch (Gaussian window 11, sigma 1.5, K1 0.01, K2 0.03, 'valid'
filtering, Wang et al. 2004) because it must be differentiable and batched; kornia's
``ssim_loss`` pads the border ('same') and works per colour channel, which is not the
grayscale SSIM the thesis uses.
"""

from __future__ import annotations

from typing import Sequence

import torch
import torch.nn.functional as F
from torch import nn

from ..errors import MefkitError

#: SSIM constants and window (Wang, Bovik, Sheikh, Simoncelli, IEEE TIP 2004, Sec. III-C).
SSIM_K1 = 0.01
SSIM_K2 = 0.03
SSIM_WINDOW = 11
SSIM_SIGMA = 1.5
#: BT.601 luma weights for the grayscale SSIM (as ``rgb2gray``; the thesis says "grayscale").
GRAY_WEIGHTS = (0.299, 0.587, 0.114)

MISSING_VGG_MESSAGE = (
    "lambda_vgg > 0 needs VGG19 weights and mefkit downloads nothing: pass "
    "--vgg-weights PATH (a torchvision-format VGG19 state dict such as vgg19-dcbb9e9d.pth, "
    "or the same keys as .safetensors), or set --lambda-vgg 0 to train without the perceptual term"
)


class MissingVGGWeights(MefkitError):
    """The perceptual loss was requested without a VGG19 weights file."""


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


def _gaussian_window(size: int, sigma: float, channels: int, device, dtype) -> torch.Tensor:
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
    win = _gaussian_window(window, sigma, c, x.device, x.dtype)
    filt = lambda t: F.conv2d(t, win, groups=c)  # noqa: E731 - 'valid' Gaussian filter per channel
    mu_x, mu_y = filt(x), filt(y)
    sxx = filt(x * x) - mu_x * mu_x
    syy = filt(y * y) - mu_y * mu_y
    sxy = filt(x * y) - mu_x * mu_y
    c1 = (SSIM_K1 * data_range) ** 2
    c2 = (SSIM_K2 * data_range) ** 2
    ssim_map = ((2 * mu_x * mu_y + c1) * (2 * sxy + c2)) / ((mu_x**2 + mu_y**2 + c1) * (sxx + syy + c2))
    return ssim_map.flatten(1).mean(dim=1)


def ssim_loss(x: torch.Tensor, y: torch.Tensor, gray: bool = True, reduction: str = "mean") -> torch.Tensor:
    """``1 - SSIM`` of ``(B, 3, H, W)`` images in [0, 1] (grayscale by default).

    ``reduction="none"`` gives the ``(B,)`` per-sample values.
    """
    if gray:
        x, y = rgb_to_gray(x), rgb_to_gray(y)
    loss = 1.0 - ssim_per_sample(x, y)
    return loss.mean() if reduction == "mean" else loss


def weighted_mean(values: torch.Tensor, weights: torch.Tensor | None) -> torch.Tensor:
    """``sum(w * v) / sum(w)`` over the batch, or the plain mean when ``weights`` is None.

    Parameters
    ----------
    values : Tensor
        ``(B,)`` per-sample losses.
    weights : Tensor or None
        ``(B,)`` non-negative weights, not all zero. Treated as constants (detached).
    """
    if weights is None:
        return values.mean()
    weights = weights.detach().to(values.dtype).reshape(-1)
    if weights.shape != values.shape:
        raise ValueError(f"weights must have shape {tuple(values.shape)}, got {tuple(weights.shape)}")
    if bool((weights < 0).any()):
        raise ValueError("weights must be >= 0")
    return (weights * values).sum() / weights.sum().clamp_min(torch.finfo(values.dtype).tiny)


class PerceptualLoss(nn.Module):
    """Mean L1 distance between VGG19 activations of prediction and target, per sample.

    Parameters
    ----------
    features : mefkit.nn.vgg.VGG19Features
        A loaded (frozen) feature extractor.
    """

    def __init__(self, features: nn.Module):
        super().__init__()
        self.features = features

    def forward(self, pred: torch.Tensor, target: torch.Tensor) -> torch.Tensor:
        """``(B,)`` sum over layers of the mean absolute feature difference."""
        fp = self.features(pred)
        with torch.no_grad():
            ft = self.features(target)
        total = pred.new_zeros(pred.shape[0], dtype=torch.float32)
        for a, b in zip(fp, ft):
            total = total + (a.float() - b.float()).abs().flatten(1).mean(dim=1)
        return total


class FusionLoss(nn.Module):
    """``L1 + lambda_vgg * VGG + lambda_ssim * (1 - SSIM_gray)``, optionally per-sample weighted.

    Parameters
    ----------
    lambda_vgg : float
        Weight of the perceptual term (thesis 0.01). 0 skips VGG entirely.
    lambda_ssim : float
        Weight of ``1 - SSIM`` on grayscale (thesis 0.1).
    vgg_weights : str or Path, optional
        torchvision-format VGG19 state dict; required when ``lambda_vgg > 0``.
    vgg_layers : sequence of str
        Activations compared by the perceptual term.

    Raises
    ------
    MissingVGGWeights
        ``lambda_vgg > 0`` and no ``vgg_weights`` (raised at construction, i.e. when a
        run starts, never after hours of training).

    Notes
    -----
    ``forward(pred, target, weights=None)`` takes ``(B, 3, H, W)`` tensors in [0, 1]
    and an optional ``(B,)`` weight vector, and returns ``(loss, logs)``: the scalar
    loss (weighted mean over the batch of the per-sample sum) and a dict of float
    logs ``{"l1", "vgg", "ssim", "loss"}`` (unweighted batch means of each term).
    """

    def __init__(
        self,
        lambda_vgg: float = 0.01,
        lambda_ssim: float = 0.1,
        vgg_weights: str | None = None,
        vgg_layers: Sequence[str] = ("relu1_2", "relu2_2", "relu3_4", "relu4_4"),
    ):
        super().__init__()
        if lambda_vgg < 0 or lambda_ssim < 0:
            raise ValueError(f"loss weights must be >= 0, got lambda_vgg={lambda_vgg}, lambda_ssim={lambda_ssim}")
        self.lambda_vgg = float(lambda_vgg)
        self.lambda_ssim = float(lambda_ssim)
        self.perceptual: PerceptualLoss | None = None
        if self.lambda_vgg > 0:
            if not vgg_weights:
                raise MissingVGGWeights(MISSING_VGG_MESSAGE)
            from ..nn.vgg import load_vgg19_features

            self.perceptual = PerceptualLoss(load_vgg19_features(vgg_weights, vgg_layers))

    @classmethod
    def from_config(cls, cfg) -> "FusionLoss":  # noqa: ANN001 - a LossConfig
        """Build from a :class:`mefkit.train.config.LossConfig`."""
        return cls(cfg.lambda_vgg, cfg.lambda_ssim, cfg.vgg_weights, cfg.vgg_layers)

    def per_sample(self, pred: torch.Tensor, target: torch.Tensor) -> dict[str, torch.Tensor]:
        """Each term as a ``(B,)`` tensor, plus ``"total"`` (their weighted sum)."""
        if pred.shape != target.shape:
            raise ValueError(f"pred and target shapes differ: {tuple(pred.shape)} vs {tuple(target.shape)}")
        pred32, target32 = pred.float(), target.float()
        terms = {"l1": (pred32 - target32).abs().flatten(1).mean(dim=1)}
        total = terms["l1"]
        if self.perceptual is not None:
            terms["vgg"] = self.perceptual(pred, target)
            total = total + self.lambda_vgg * terms["vgg"]
        if self.lambda_ssim > 0:
            terms["ssim"] = ssim_loss(pred32, target32, gray=True, reduction="none")
            total = total + self.lambda_ssim * terms["ssim"]
        terms["total"] = total
        return terms

    def forward(
        self, pred: torch.Tensor, target: torch.Tensor, weights: torch.Tensor | None = None
    ) -> tuple[torch.Tensor, dict[str, float]]:
        terms = self.per_sample(pred, target)
        loss = weighted_mean(terms["total"], weights)
        logs = {name: float(v.detach().mean()) for name, v in terms.items() if name != "total"}
        logs["loss"] = float(loss.detach())
        return loss, logs
