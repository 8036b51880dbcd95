"""Colour modes shared by the reference metrics: which channels a metric compares.

``"rgb"``
    the three channels as they are (a metric is computed per channel and averaged,
    except PSNR, whose MSE is pooled over all channels, as the usual definition does);
``"y"``
    BT.601 luma, full range: ``Y = 0.299 R + 0.587 G + 0.114 B`` (the ``'yiq'`` Y of
    piq/pyiqa), in the input's range;
``"y_matlab"``
    the Y of MATLAB ``rgb2ycbcr`` (limited range, ``16..235`` for 8-bit data), the
    convention of many restoration papers and of BasicSR; it gives higher PSNR than
    ``"y"`` because the range is compressed to 219/255 (see github.com/chaofengc/IQA-PyTorch/issues/257 and
    github.com/photosynthesis-team/piq/issues/288).
"""

from __future__ import annotations

import numpy as np

#: The colour modes every reference metric accepts.
COLOR_MODES = ("rgb", "y", "y_matlab")

#: BT.601 luma weights (ITU-R BT.601, full range).
BT601_WEIGHTS = (0.299, 0.587, 0.114)

#: MATLAB ``rgb2ycbcr`` Y row for R, G, B in [0, 1] -> Y in 0..255 (BT.601 limited range):
#: ``Y = 16 + 65.481 R + 128.553 G + 24.966 B``.
MATLAB_YCBCR_OFFSET = 16.0
MATLAB_YCBCR_WEIGHTS = (65.481, 128.553, 24.966)


def check_color(color: str) -> str:
    """Return ``color`` if it is a known colour mode, else raise ``ValueError``."""
    if color not in COLOR_MODES:
        raise ValueError(f"color must be one of {COLOR_MODES}, got {color!r}")
    return color


def to_channels(image: np.ndarray, color: str, data_range: float) -> np.ndarray:
    """Convert an image to the ``(C, H, W)`` float64 stack a metric compares.

    Parameters
    ----------
    image : ndarray
        ``(H, W, 3)`` RGB or ``(H, W)`` gray, values in ``[0, data_range]``. A gray
        image is taken as luminance and used as it is in every mode.
    color : {"rgb", "y", "y_matlab"}
        Colour mode (see the module docstring).
    data_range : float
        Value of white; the result stays in the same units (``"y_matlab"`` gives
        ``[16/255, 235/255] * data_range``).

    Returns
    -------
    ndarray
        ``(3, H, W)`` for ``"rgb"`` on a colour image, else ``(1, H, W)``; float64.
    """
    img = np.asarray(image, dtype=np.float64)
    if img.ndim == 2:
        return img[None]
    if color == "rgb":
        return np.moveaxis(img, -1, 0)
    r, g, b = img[..., 0], img[..., 1], img[..., 2]
    if color == "y":
        wr, wg, wb = BT601_WEIGHTS
        return (wr * r + wg * g + wb * b)[None]
    wr, wg, wb = MATLAB_YCBCR_WEIGHTS
    y255 = MATLAB_YCBCR_OFFSET + (wr * r + wg * g + wb * b) / data_range
    return (y255 * (data_range / 255.0))[None]
