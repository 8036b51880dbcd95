"""sRGB <-> CIE-Lab (D65) through OpenCV, on float32 images.

OpenCV's float path applies the sRGB transfer curve before the XYZ matrix, so ``L`` is
perceptual lightness: mid-grey 0.5 gives L = 53.4, white L = 100. We use it rather than
a hand-written conversion: a maintained implementation is preferred.
"""

from __future__ import annotations

import cv2
import numpy as np

#: Range of CIE-Lab lightness L* (CIE 15:2004): 0 (black) .. 100 (diffuse white).
L_MAX = 100.0


def rgb_to_lab(image: np.ndarray) -> np.ndarray:
    """CIE-Lab of an sRGB image.

    Parameters
    ----------
    image : ndarray
        ``(H, W, 3)`` RGB in [0, 1] (any float or integer-valued float dtype).

    Returns
    -------
    ndarray
        ``(H, W, 3)`` float32: L in [0, 100], a and b roughly in [-128, 128].
    """
    rgb = np.ascontiguousarray(image, dtype=np.float32)
    return cv2.cvtColor(rgb, cv2.COLOR_RGB2Lab)


def lab_to_rgb(lab: np.ndarray) -> np.ndarray:
    """sRGB of a CIE-Lab image, clipped to [0, 1].

    Parameters
    ----------
    lab : ndarray
        ``(H, W, 3)`` L in [0, 100], a, b in about [-128, 128].

    Returns
    -------
    ndarray
        ``(H, W, 3)`` float32 RGB in [0, 1]; out-of-gamut colours are clipped per channel.
    """
    rgb = cv2.cvtColor(np.ascontiguousarray(lab, dtype=np.float32), cv2.COLOR_Lab2RGB)
    return np.clip(rgb, 0.0, 1.0, out=rgb)


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
