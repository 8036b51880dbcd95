"""Random crops, flips and exposure-order swaps, deterministic by (seed, sample key).

Every random draw for one training sample comes from :func:`sample_rng` seeded by the
run seed and the sample's key (its global position in the sample stream), never from a
global generator. So a sample is the same whatever the worker, the process count or
whether the run was resumed, which is what makes ``--resume`` exact.
"""

from __future__ import annotations

from dataclasses import dataclass

import cv2
import numpy as np


def sample_rng(seed: int, key: int, stream: int = 0) -> np.random.Generator:
    """Generator for sample ``key`` of a run seeded ``seed`` (``stream`` separates uses)."""
    return np.random.default_rng([int(seed) & 0xFFFFFFFF, int(key) & 0xFFFFFFFFFFFF, int(stream)])


@dataclass(frozen=True)
class Augment:
    """One sample's geometric augmentation.

    Attributes
    ----------
    y, x : int
        Top-left corner of the crop.
    size : int
        Crop side (square).
    flip_h, flip_v : bool
        Mirror left-right / upside-down after cropping.
    """

    y: int
    x: int
    size: int
    flip_h: bool = False
    flip_v: bool = False

    def apply(self, image: np.ndarray) -> np.ndarray:
        """Crop and flip one ``(H, W, C)`` array (any dtype); returns a contiguous copy."""
        out = image[self.y : self.y + self.size, self.x : self.x + self.size]
        if self.flip_h:
            out = out[:, ::-1]
        if self.flip_v:
            out = out[::-1]
        return np.ascontiguousarray(out)


def draw_augment(
    rng: np.random.Generator, height: int, width: int, crop: int, *, flips: bool = True
) -> Augment:
    """Draw a crop position and flips for an image of ``height x width``.

    Parameters
    ----------
    rng : numpy Generator
        The sample's generator (:func:`sample_rng`).
    height, width : int
        Image size; both must be >= ``crop`` (see :func:`ensure_min_side`).
    crop : int
        Crop side.
    flips : bool
        Draw random horizontal and vertical flips.
    """
    if height < crop or width < crop:
        raise ValueError(f"image of {width}x{height} is smaller than the crop {crop}")
    y = int(rng.integers(0, height - crop + 1))
    x = int(rng.integers(0, width - crop + 1))
    fh = bool(rng.integers(0, 2)) if flips else False
    fv = bool(rng.integers(0, 2)) if flips else False
    return Augment(y, x, crop, fh, fv)


def ensure_min_side(image: np.ndarray, side: int) -> np.ndarray:
    """Upscale (bilinear) so the shorter side is at least ``side``; unchanged otherwise."""
    h, w = image.shape[:2]
    if min(h, w) >= side:
        return image
    scale = side / min(h, w)
    size = (max(side, int(np.ceil(w * scale))), max(side, int(np.ceil(h * scale))))
    return cv2.resize(image, size, interpolation=cv2.INTER_LINEAR)
