"""CBM's lightness: ``L* / 100`` of the frames, the U-Net's input and target.

The sRGB <-> CIE-Lab conversions themselves are the library's
(:func:`mefkit.io.convert.rgb_to_lab`, :func:`~mefkit.io.convert.lab_to_rgb`, OpenCV);
they are imported here because the CBM stages use them.
"""

from __future__ import annotations

import numpy as np

from ....io.convert import lab_to_rgb, rgb_to_lab

__all__ = ["L_MAX", "lab_to_rgb", "lightness", "rgb_to_lab"]

#: Range of CIE-Lab lightness L* (CIE 15:2004): 0 (black) .. 100 (diffuse white).
L_MAX = 100.0


def lightness(image: np.ndarray) -> np.ndarray:
    """Normalised lightness ``L* / 100`` of an sRGB image: the U-Net's input and target.

    Parameters
    ----------
    image : ndarray
        ``(H, W, 3)`` RGB in [0, 1].

    Returns
    -------
    ndarray
        ``(H, W)`` float32 in [0, 1].
    """
    lum = rgb_to_lab(image)[..., 0] * np.float32(1.0 / L_MAX)
    return np.clip(lum, 0.0, 1.0, out=lum)
