"""Training losses: ``L1 + lambda_vgg * VGG19 perceptual + lambda_ssim * (1 - SSIM)``, and ``1 - MEF-SSIM``.

The thesis (seed 000) trains both phases with this sum, lambda_vgg 0.01 and
lambda_ssim 0.1, SSIM on grayscale. Every term is computed per sample first, so a
per-sample weighted mean (CBM's variance-driven weights) reuses the same code:
``FusionLoss(...)(pred, target, weights=w)``.

As in kornia's ``metrics``/``losses`` split, the losses are thin wrappers: the scores
themselves are the torch metrics beside their numpy references,
:mod:`mefkit.metrics.ssim_torch` (SSIM, Wang et al. 2004, grayscale as the thesis) and
:mod:`mefkit.metrics.mef_ssim_torch` (MEF-SSIM, Ma, Zeng, Wang 2015, and MEFNet's
training form of it).
"""

from __future__ import annotations

from typing import Sequence

import torch
from torch import nn

from ..errors import MefkitError
from ..metrics.ssim_torch import (  # noqa: F401 - re-exported: the loss's building blocks
    GRAY_WEIGHTS,
    SSIM_K1,
    SSIM_K2,
    SSIM_SIGMA,
    SSIM_WINDOW,
    gaussian_kernel1d,
    rgb_to_gray,
    ssim_per_sample,
)

MISSING_VGG_MESSAGE = (
    "lambda_vgg > 0 needs VGG19 weights and mefkit downloads nothing: pass "
    "--vgg-weights PATH (a torchvision-format VGG19 state dict such as vgg19-dcbb9e9d.pth, "
    "or the same keys as .safetensors), or set --lambda-vgg 0 to train without the perceptual term"
)


class MissingVGGWeights(MefkitError):
    """The perceptual loss was requested without a VGG19 weights file."""


def ssim_loss(x: torch.Tensor, y: torch.Tensor, gray: bool = True, reduction: str = "mean") -> torch.Tensor:
    """``1 - SSIM`` of ``(B, 3, H, W)`` images in [0, 1] (grayscale by default).

    ``reduction="none"`` gives the ``(B,)`` per-sample values.
    """
    if gray:
        x, y = rgb_to_gray(x), rgb_to_gray(y)
    loss = 1.0 - ssim_per_sample(x, y)
    return loss.mean() if reduction == "mean" else loss


#: Forms of the MEF-SSIM loss: ``mefnet`` (:func:`~mefkit.metrics.mef_ssim_torch.mef_ssim_mefnet`)
#: or ``metric`` (:func:`~mefkit.metrics.mef_ssim_torch.mef_ssim_torch`).
MEF_FORMS = ("mefnet", "metric")


def mef_ssim_loss(frames: Sequence[torch.Tensor], fused: torch.Tensor, scales: int = 1,
                  form: str = "mefnet") -> torch.Tensor:
    """``1 - MEF-SSIM`` of each fused image against its own exposures, differentiable.

    Parameters
    ----------
    frames : sequence of Tensor
        K exposures ``(B, 3, H, W)`` in [0, 1].
    fused : Tensor
        ``(B, 3, H, W)`` in [0, 1].
    scales : int
        Pyramid levels, 1 to 3.
    form : {"mefnet", "metric"}
        ``mefnet``: MEFNet's training form (:func:`~mefkit.metrics.mef_ssim_torch.mef_ssim_mefnet`);
        ``metric``: the metric itself (:func:`~mefkit.metrics.mef_ssim_torch.mef_ssim_torch`, float64).

    Returns
    -------
    Tensor
        ``(B,)`` losses, 0 at best.
    """
    from ..metrics.mef_ssim_torch import mef_ssim_mefnet, mef_ssim_torch

    if form == "mefnet":
        return 1.0 - mef_ssim_mefnet(list(frames), fused, scales=scales)
    if form == "metric":
        return 1.0 - mef_ssim_torch(frames, fused, levels=scales)
    raise ValueError(f"form must be one of {MEF_FORMS}, got {form!r}")


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
