"""The CBM test-time composition: U-Net lightness + chroma-scale a*b* -> sRGB.

Kept apart from the network so the colour and tone stages can be run, tested and
ablated on a fixed lightness map without torch.
"""

from __future__ import annotations

from typing import Sequence

import numpy as np

from .chroma import fuse_chroma
from .gamma import GAMMA_TARGET, gamma_compensate
from .lab import L_MAX, lab_to_rgb


def compose(
    labs: Sequence[np.ndarray],
    lum: np.ndarray,
    *,
    chroma: str = "select",
    smoothing: float = 1.0,
    gamma: float | str | None = "auto",
    gamma_target: float = GAMMA_TARGET,
    reliabilities: Sequence[np.ndarray] | None = None,
) -> np.ndarray:
    """Fused sRGB image from the inputs' Lab and a fused lightness map.

    Parameters
    ----------
    labs : sequence of ndarray
        The inputs in CIE-Lab, ``(H, W, 3)`` each (L in [0, 100]).
    lum : ndarray
        ``(H, W)`` fused normalised lightness ``L/100`` in [0, 1] (the U-Net output).
    chroma : {"select", "weighted"}
        Chroma-scale colour mode (see :func:`mefkit.methods.cbm.stages.chroma.fuse_chroma`).
    smoothing : float
        Gaussian sigma (pixels) of the ``select`` mask; 0 keeps the hard choice.
    gamma : "auto", float or None
        Gamma compensation of ``lum`` (see :func:`mefkit.methods.cbm.stages.gamma.gamma_compensate`);
        ``None`` or ``"off"`` disables it.
    gamma_target : float
        Mean lightness the ``"auto"`` exponent aims at.
    reliabilities : sequence of ndarray, optional
        Per-input colour reliabilities for the chroma stage (the clipping guard, see
        :mod:`mefkit.methods.cbm.stages.chroma`); None: the paper's plain rule.

    Returns
    -------
    ndarray
        ``(H, W, 3)`` float32 sRGB in [0, 1].
    """
    out = np.empty(lum.shape + (3,), np.float32)
    out[..., 0] = gamma_compensate(lum, gamma, gamma_target) * np.float32(L_MAX)
    out[..., 1:] = fuse_chroma(labs, chroma, smoothing, reliabilities)
    return lab_to_rgb(out)
