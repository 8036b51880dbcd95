"""Gaussian and Laplacian pyramids with the binomial 5-tap kernel [1 4 6 4 1]/16.

Built on OpenCV's ``pyrDown``/``pyrUp``: the same kernel as Burt & Adelson / Mertens'
MATLAB code, a side of n pixels becomes ceil(n/2), but borders are reflect-101 instead
of MATLAB's symmetric/replicate padding. We use OpenCV because it is several times
faster than a separable filter in NumPy; only a band of about two pixels per level
along the image border differs from the MATLAB pyramid.
"""

from __future__ import annotations

import math
from typing import Callable

import cv2
import numpy as np

Down = Callable[[np.ndarray], np.ndarray]
Up = Callable[[np.ndarray, tuple], np.ndarray]


def max_levels(height: int, width: int) -> int:
    """Mertens' level count ``floor(log2(min(H, W)))`` (at least 1)."""
    return max(1, int(math.floor(math.log2(max(1, min(height, width))))))


def down(image: np.ndarray) -> np.ndarray:
    """Blur with the 5-tap binomial kernel and keep every second row and column."""
    return cv2.pyrDown(image)


def up(image: np.ndarray, shape: tuple[int, ...]) -> np.ndarray:
    """Upsample ``image`` to ``shape[:2]`` (zero insertion + 4x binomial blur)."""
    return cv2.pyrUp(image, dstsize=(shape[1], shape[0]))


def gaussian_pyramid(image: np.ndarray, levels: int, down: Down = down) -> list[np.ndarray]:
    """``levels`` images, the first being ``image`` itself, each ``down`` of the previous.

    ``down`` selects the border handling (:mod:`mefkit.pyramid_matlab` passes MATLAB's).
    """
    pyr = [image]
    for _ in range(levels - 1):
        pyr.append(down(pyr[-1]))
    return pyr


def laplacian_pyramid(
    image: np.ndarray, levels: int, down: Down = down, up: Up = up
) -> list[np.ndarray]:
    """Band-pass levels ``G_l - up(G_{l+1})`` and, last, the low-pass residual."""
    gauss = gaussian_pyramid(image, levels, down)
    pyr = [g - up(g_next, g.shape) for g, g_next in zip(gauss[:-1], gauss[1:])]
    pyr.append(gauss[-1])
    return pyr


def collapse(pyramid: list[np.ndarray], up: Up = up) -> np.ndarray:
    """Invert :func:`laplacian_pyramid`: coarse to fine, ``R = L_l + up(R)``."""
    out = pyramid[-1]
    for level in reversed(pyramid[:-1]):
        out = level + up(out, level.shape)
    return out
