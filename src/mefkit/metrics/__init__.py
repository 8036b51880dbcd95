"""Image quality metrics for exposure fusion.

Reference metrics compare a fused image with a ground truth (``fn(fused, reference)``):
:func:`psnr`, :func:`ssim`, :func:`ms_ssim`, :func:`vif`. The no-reference metric
compares it with its input bracket (``fn(frames, fused)``): :func:`mef_ssim`.

Images are ``(H, W, 3)`` RGB or ``(H, W)`` gray arrays in ``[0, data_range]``
(``data_range=1.0`` for the library's float images). Every metric follows a named
reference implementation (see each docstring and ``docs/bench/metrics.md``) and is
tested against it.
"""

from __future__ import annotations

from typing import Callable

from .color import COLOR_MODES
from .mef_ssim import mef_ssim
from .ms_ssim import ms_ssim
from .psnr import psnr
from .ssim import ssim
from .vif import vif

#: Metrics that need a ground truth: ``fn(fused, reference) -> float``; higher is better.
REFERENCE_METRICS: dict[str, Callable[..., float]] = {
    "psnr": psnr,
    "ssim": ssim,
    "ms_ssim": ms_ssim,
    "vif": vif,
}

#: Metrics scored against the input bracket: ``fn(frames, fused) -> float``; higher is better.
NO_REFERENCE_METRICS: dict[str, Callable[..., float]] = {
    "mef_ssim": mef_ssim,
}

__all__ = [
    "COLOR_MODES",
    "NO_REFERENCE_METRICS",
    "REFERENCE_METRICS",
    "mef_ssim",
    "ms_ssim",
    "psnr",
    "ssim",
    "vif",
]
