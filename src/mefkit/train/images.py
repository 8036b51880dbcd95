"""Decode training images once, downscaled, into a small in-memory LRU cache (uint8).

Training reads the same few hundred JPEGs over and over; decoding a 768 px JPEG costs
a few milliseconds, the cache makes it free after the first time. The cache holds
uint8 RGB (4x smaller than float32) and is bounded in megabytes.
"""

from __future__ import annotations

from collections import OrderedDict
from pathlib import Path

import cv2
import numpy as np

from ..errors import BracketError


def fit_size(height: int, width: int, max_side: int) -> tuple[int, int]:
    """``(H, W)`` after scaling so the longer side is at most ``max_side`` (never up)."""
    if max_side <= 0 or max(height, width) <= max_side:
        return height, width
    s = max_side / max(height, width)
    return max(1, round(height * s)), max(1, round(width * s))


def read_rgb8(path: str | Path, max_side: int = 0) -> np.ndarray:
    """Read an image as ``(H, W, 3)`` uint8 RGB, area-downscaled to ``max_side``.

    16-bit files are reduced to 8 bits (training data is 8-bit JPEG/PNG).
    """
    data = cv2.imread(str(path), cv2.IMREAD_UNCHANGED | cv2.IMREAD_IGNORE_ORIENTATION)
    if data is None:
        raise BracketError(f"{path}: cannot read image")
    if data.dtype == np.uint16:
        data = (data // 257).astype(np.uint8)
    if data.ndim == 2:
        data = np.repeat(data[:, :, None], 3, axis=2)
    elif data.shape[2] == 4:
        data = data[:, :, :3]
    rgb = np.ascontiguousarray(data[:, :, ::-1])
    h, w = rgb.shape[:2]
    nh, nw = fit_size(h, w, max_side)
    if (nh, nw) != (h, w):
        rgb = cv2.resize(rgb, (nw, nh), interpolation=cv2.INTER_AREA)
    return rgb


class ImageCache:
    """LRU cache of :func:`read_rgb8` results, bounded to ``max_mb`` megabytes."""

    def __init__(self, max_mb: int = 256):
        self.max_bytes = int(max_mb) * 2**20
        self._items: OrderedDict[tuple[str, int], np.ndarray] = OrderedDict()
        self._bytes = 0

    def get(self, path: str | Path, max_side: int = 0) -> np.ndarray:
        """The uint8 image (shared: do not modify it in place)."""
        key = (str(path), int(max_side))
        hit = self._items.get(key)
        if hit is not None:
            self._items.move_to_end(key)
            return hit
        image = read_rgb8(path, max_side)
        if image.nbytes <= self.max_bytes:
            self._items[key] = image
            self._bytes += image.nbytes
            while self._bytes > self.max_bytes:
                _, old = self._items.popitem(last=False)
                self._bytes -= old.nbytes
        return image


def to_float(image: np.ndarray) -> np.ndarray:
    """uint8 ``(H, W, 3)`` -> float32 in [0, 1]; float input is returned as float32."""
    if image.dtype == np.uint8:
        return image.astype(np.float32) * np.float32(1 / 255)
    return image.astype(np.float32, copy=False)
