"""CBM colour and tone stages (Son, Go, Lee, Lee, Mathematics 2025, 13(22) 3629).

Small modules, one job each:

* :mod:`mefkit.methods.cbm.stages.lab` - the U-Net's luminance input (L* / 100; the sRGB <-> CIE-Lab conversions are :mod:`mefkit.io.convert`'s).
* :mod:`mefkit.methods.cbm.stages.chroma` - chroma-scale colour fusion (``select`` / ``weighted``).
* :mod:`mefkit.methods.cbm.stages.gamma` - visual gamma compensation of the fused lightness.
* :mod:`mefkit.methods.cbm.stages.compose` - lightness + chroma -> sRGB, the test-time pipeline after the U-Net.

The U-Net lives in :mod:`mefkit.methods.cbm.unet`, the method in :mod:`mefkit.methods.cbm`.
Nothing here imports torch.
"""

from .compose import compose
from .chroma import CHROMA_MODES, chroma_scale, clip_reliability, fuse_chroma, selection_mask
from .gamma import gamma_compensate, gamma_exponent
from .lab import lab_to_rgb, lightness, rgb_to_lab

__all__ = [
    "CHROMA_MODES",
    "chroma_scale",
    "clip_reliability",
    "compose",
    "fuse_chroma",
    "gamma_compensate",
    "gamma_exponent",
    "lab_to_rgb",
    "lightness",
    "rgb_to_lab",
    "selection_mask",
]
