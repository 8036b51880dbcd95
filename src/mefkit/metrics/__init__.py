"""Image quality metrics for exposure fusion.

Reference metrics compare a fused image with a ground truth (``fn(fused, reference)``):
:func:`psnr`, :func:`ssim`, :func:`ms_ssim`, :func:`vif`. The no-reference metric
compares it with its input bracket (``fn(frames, fused)``): :func:`mef_ssim`, and for
scenes with camera or object motion :func:`mef_ssim_d` (MEF-SSIMd). Colour and
tone (:mod:`mefkit.metrics.color_shift`): the CIE-Lab a*b* shift of the result from the
unclipped input pixels (``color_shift``), its mean L* (``l_mean``), and where there is a
ground truth its mean L* (``gt_l``) and the difference (``dl_gt``).

Images are ``(H, W, 3)`` RGB or ``(H, W)`` gray arrays in ``[0, data_range]``
(``data_range=1.0`` for the library's float images). Every metric follows a named
reference implementation (see each docstring and ``docs/bench/metrics.md``) and is
tested against it.
"""

from __future__ import annotations

from typing import Callable

from .color import COLOR_MODES
from .color_shift import color_shift, lightness_offset, mean_lightness, reference_lightness, result_lightness
from .mef_ssim import mef_ssim
from .mef_ssim_d import mef_ssim_d
from .ms_ssim import ms_ssim
from .psnr import psnr
from .ssim import ssim
from .vif import vif

#: Metrics that need a ground truth: ``fn(fused, reference) -> float``; higher is better
#: except ``gt_l`` (a property of the ground truth) and ``dl_gt`` (best at 0).
REFERENCE_METRICS: dict[str, Callable[..., float]] = {
    "psnr": psnr,
    "ssim": ssim,
    "ms_ssim": ms_ssim,
    "vif": vif,
    "gt_l": reference_lightness,
    "dl_gt": lightness_offset,
}

#: Metrics scored against the input bracket: ``fn(frames, fused) -> float``; MEF-SSIM and
#: MEF-SSIMd (dynamic scenes; not in the eval defaults: it costs about K^3 filterings) are
#: higher-is-better, ``color_shift`` lower-is-better, ``l_mean`` has no better side.
NO_REFERENCE_METRICS: dict[str, Callable[..., float]] = {
    "mef_ssim": mef_ssim,
    "mef_ssim_d": mef_ssim_d,
    "color_shift": color_shift,
    "l_mean": result_lightness,
}

__all__ = [
    "COLOR_MODES",
    "NO_REFERENCE_METRICS",
    "REFERENCE_METRICS",
    "color_shift",
    "mean_lightness",
    "mef_ssim",
    "mef_ssim_d",
    "ms_ssim",
    "psnr",
    "ssim",
    "vif",
]
