"""The CBM test-time composition: U-Net lightness + chroma-scale a*b* -> sRGB.

Kept apart from the network so the colour and tone stages can be run, tested and
ablated on a fixed lightness map without torch.
"""

from __future__ import annotations

from typing import Sequence

import numpy as np

from .chroma import fuse_chroma
from .gamma import GAMMA_TARGET, gamma_compensate, gamma_exponent
from .lab import L_MAX, lab_to_rgb

#: Rows composed at once. The colour stage is a chain of elementwise passes over K
#: full-size maps; in strips of this many rows they stay in the CPU cache, which makes
#: it about twice as fast at 12 MP as whole-image passes, with the same result.
STRIP_ROWS = 256


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
    lum = np.clip(np.asarray(lum, dtype=np.float32), 0.0, 1.0)
    if isinstance(gamma, str) and gamma.lower() == "auto":
        gamma = gamma_exponent(lum, gamma_target)  # of the whole image, before the strips
    # The select mask's Gaussian reaches 4 sigma (OpenCV's kernel size for float
    # images): with that many more rows on each side, a strip's colours equal the
    # whole image's.
    halo = int(np.ceil(4 * smoothing)) + 1 if chroma == "select" and smoothing > 0 else 0
    h = lum.shape[0]
    out = np.empty(lum.shape + (3,), np.float32)
    for top in range(0, h, STRIP_ROWS):
        bottom = min(top + STRIP_ROWS, h)
        rows = slice(max(0, top - halo), min(h, bottom + halo))
        keep = slice(top - rows.start, bottom - rows.start)
        ab = fuse_chroma([lab[rows] for lab in labs], chroma, smoothing,
                         None if reliabilities is None else [r[rows] for r in reliabilities])
        lab = np.empty((bottom - top,) + lum.shape[1:] + (3,), np.float32)
        lab[..., 0] = gamma_compensate(lum[top:bottom], gamma, gamma_target) * np.float32(L_MAX)
        lab[..., 1:] = ab[keep]
        out[top:bottom] = lab_to_rgb(lab)
    return out
