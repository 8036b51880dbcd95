"""Filtering windows and 'valid' filtering, as MATLAB ``fspecial`` / ``filter2(..., 'valid')``.

The metrics follow MATLAB reference code, which filters with ``'valid'`` output (only
positions where the window fits). OpenCV's separable filter does the arithmetic in
float64 and is several times faster than ``scipy.ndimage``; the border mode does not
matter because the border is cropped away.
"""

from __future__ import annotations

import cv2
import numpy as np


def gaussian_kernel1d(size: int, sigma: float) -> np.ndarray:
    """1-D factor of MATLAB ``fspecial('gaussian', size, sigma)``, float64, sums to 1.

    ``fspecial`` builds ``exp(-(x^2 + y^2) / (2 sigma^2))`` and normalises it; that 2-D
    window is exactly the outer product of this normalised 1-D kernel with itself.
    (``fspecial`` also zeroes values below ``eps * max``; for the windows used here,
    sigma >= size / 7.4, none is that small.)
    """
    x = np.arange(size, dtype=np.float64) - (size - 1) / 2.0
    g = np.exp(-(x * x) / (2.0 * sigma * sigma))
    return g / g.sum()


def box_kernel1d(size: int) -> np.ndarray:
    """1-D factor of the ``ones(size) / size^2`` box window."""
    return np.full(size, 1.0 / size)


def filter_valid(image: np.ndarray, kernel1d: np.ndarray) -> np.ndarray:
    """Correlate a 2-D float64 image with ``outer(kernel1d, kernel1d)``, 'valid' output.

    Parameters
    ----------
    image : ndarray
        ``(H, W)`` float64.
    kernel1d : ndarray
        ``(w,)`` odd-length 1-D factor of a separable window.

    Returns
    -------
    ndarray
        ``(H - w + 1, W - w + 1)`` float64, as MATLAB ``filter2(window, image, 'valid')``.
    """
    r = (len(kernel1d) - 1) // 2
    out = cv2.sepFilter2D(
        np.ascontiguousarray(image, dtype=np.float64), cv2.CV_64F, kernel1d, kernel1d,
        borderType=cv2.BORDER_REFLECT,
    )
    if r == 0:
        return out
    return out[r:-r, r:-r]


def downsample2(image: np.ndarray) -> np.ndarray:
    """2x2 average then keep every second pixel, as MATLAB multi-scale SSIM code does.

    MATLAB ``imfilter(I, ones(2)/4, 'symmetric', 'same')`` anchors the even kernel at
    its top-left, so output pixel (i, j) averages input rows i..i+1 and columns j..j+1,
    mirroring past the bottom/right edge; ``(1:2:end, 1:2:end)`` then keeps the even
    0-based positions. For an even side this is a 2x2 block mean; for an odd side the
    last block is the last row/column averaged with its mirror, i.e. the edge pixel
    repeated. A side of n becomes ceil(n / 2).

    Parameters
    ----------
    image : ndarray
        ``(H, W)`` float64.

    Returns
    -------
    ndarray
        ``(ceil(H/2), ceil(W/2))`` float64.
    """
    h, w = image.shape
    padded = np.pad(image, ((0, h % 2), (0, w % 2)), mode="edge")
    hh, ww = padded.shape
    return padded.reshape(hh // 2, 2, ww // 2, 2).mean(axis=(1, 3))
