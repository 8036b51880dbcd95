"""Torch twins of :func:`~mefkit.methods.mitm.stages.surround.lightness` and the generator input map.

Training needs the switching map of a *translated* image (the cycle pass feeds
``G_HL(G_LH(LE))``), which exists only as a tensor. These functions follow the NumPy
definitions formula for formula; a test pins their agreement. Only the direct Gaussian
is needed here: the generator input map uses ``0.02 * min(H, W)``, a few pixels on
training crops.
"""

from __future__ import annotations

import math

import torch
import torch.nn.functional as F

from .smap import INPUT_SIGMA_FRACTION, SMAP_CENTRE, SMAP_SLOPE
from .surround import LAB_EPSILON, SRGB_TO_Y


def lightness(rgb: torch.Tensor) -> torch.Tensor:
    """CIELAB ``L* / 100`` of ``(B, 3, H, W)`` sRGB in [0, 1]; returns ``(B, 1, H, W)``."""
    linear = torch.where(rgb <= 0.04045, rgb / 12.92, ((rgb.clamp(min=0) + 0.055) / 1.055) ** 2.4)
    weights = torch.tensor(SRGB_TO_Y, dtype=rgb.dtype, device=rgb.device).view(1, 3, 1, 1)
    y = (linear * weights).sum(dim=1, keepdim=True)
    f = torch.where(y > LAB_EPSILON, y.clamp(min=LAB_EPSILON) ** (1.0 / 3.0), y / (3 * (6 / 29) ** 2) + 4 / 29)
    return ((116.0 * f - 16.0) / 100.0).clamp(0.0, 1.0)


def gaussian_blur(plane: torch.Tensor, sigma: float) -> torch.Tensor:
    """Separable Gaussian of ``(B, 1, H, W)`` with mirrored borders (OpenCV BORDER_REFLECT).

    The kernel radius is ``ceil(4 sigma)``; torch's "reflect" mode excludes the edge pixel,
    so the border is built by flipping (edge included) to match OpenCV's BORDER_REFLECT.
    """
    radius = max(1, int(math.ceil(4.0 * sigma)))
    x = torch.arange(-radius, radius + 1, dtype=plane.dtype, device=plane.device)
    kernel = torch.exp(-0.5 * (x / sigma) ** 2)
    kernel = kernel / kernel.sum()
    out = plane
    for dim in (3, 2):
        out = _reflect_pad(out, radius, dim)
        shape = (1, 1, 1, -1) if dim == 3 else (1, 1, -1, 1)
        out = F.conv2d(out, kernel.view(shape))
    return out


def _reflect_pad(t: torch.Tensor, r: int, dim: int) -> torch.Tensor:
    n = t.shape[dim]
    # Index arithmetic instead of F.pad: the pad may exceed the side on small crops, and
    # mirrored copies then repeat with period 2n (edge pixel included, like OpenCV).
    idx = torch.arange(-r, n + r, device=t.device) % (2 * n)
    idx = torch.where(idx >= n, 2 * n - 1 - idx, idx)
    return t.index_select(dim, idx)


def input_map(rgb: torch.Tensor, fraction: float = INPUT_SIGMA_FRACTION, slope: float = SMAP_SLOPE, centre: float = SMAP_CENTRE) -> torch.Tensor:
    """Generator input switching map of ``(B, 3, H, W)`` RGB: ``(B, 1, H, W)`` in [0, 1]."""
    sigma = max(fraction * min(rgb.shape[2], rgb.shape[3]), 0.5)
    surround = gaussian_blur(lightness(rgb), sigma)
    return torch.sigmoid(slope * (surround - centre))
