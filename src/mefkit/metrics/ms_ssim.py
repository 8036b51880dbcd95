"""Multi-scale SSIM (Wang, Simoncelli, Bovik 2003), as the authors' ``msssim.m``."""

from __future__ import annotations

import numpy as np

from .color import check_color, to_channels
from ..checks import check_data_range, check_min_size, check_pair
from .ssim import WINDOW_SIZE, ssim_maps
from .windows import downsample2

#: Wang, Simoncelli, Bovik 2003, Sec. 3.2: per-scale exponents, finest scale first.
MS_SSIM_WEIGHTS = (0.0448, 0.2856, 0.3001, 0.2363, 0.1333)


def ms_ssim_gray(x: np.ndarray, y: np.ndarray, data_range: float,
                 weights: tuple[float, ...] = MS_SSIM_WEIGHTS) -> float:
    """MS-SSIM of two ``(H, W)`` float64 gray images (no input checks)."""
    values = []
    levels = len(weights)
    for level in range(levels):
        ssim_map, cs_map = ssim_maps(x, y, data_range)
        values.append(ssim_map.mean() if level == levels - 1 else cs_map.mean())
        if level < levels - 1:
            x, y = downsample2(x), downsample2(y)
    # msssim.m raises negative means to fractional powers (a complex result); clamp at 0
    # as pytorch-msssim does, so anti-correlated images score 0 instead of NaN.
    values = np.maximum(np.asarray(values), 0.0)
    return float(np.prod(values ** np.asarray(weights)))


def ms_ssim(fused, reference, *, data_range: float = 1.0, color: str = "rgb") -> float:
    """MS-SSIM of ``fused`` against ``reference``.

    Five scales with Wang's exponents (0.0448, 0.2856, 0.3001, 0.2363, 0.1333): the mean
    contrast-structure term at scales 1..4 and the mean SSIM at scale 5, each from the
    11x11 / sigma 1.5 Gaussian SSIM at 'valid' positions; between scales a 2x2 average
    and decimation (``msssim.m``: ``imfilter(ones(2)/4, 'symmetric')`` then ``1:2:end``,
    identical to 2x2 average pooling on even sides).

    Parameters
    ----------
    fused, reference : ndarray
        ``(H, W, 3)`` RGB or ``(H, W)`` gray, float in ``[0, data_range]``; the short
        side must be at least 176 pixels (11 x 2^4, so the window fits at scale 5).
    data_range : float
        Value of white.
    color : {"rgb", "y", "y_matlab"}
        Default ``"rgb"``: MS-SSIM of each channel, then the mean over channels (the same
        convention as :func:`ssim`); ``"y"`` / ``"y_matlab"`` score the luma only.

    Returns
    -------
    float
        MS-SSIM in [0, 1] (negative scale terms are clamped at 0).

    Notes
    -----
    torchmetrics pools the contrast terms over channels at each scale before taking the
    product, which differs slightly from the per-channel mean used here for ``"rgb"``; on
    one channel both agree.
    """
    data_range = check_data_range(data_range)
    check_color(color)
    f, r = check_pair(fused, reference, data_range)
    min_side = WINDOW_SIZE * 2 ** (len(MS_SSIM_WEIGHTS) - 1)
    check_min_size(f.shape, min_side, "fused", "MS-SSIM's 5 scales with an 11x11 window")
    fc, rc = to_channels(f, color, data_range), to_channels(r, color, data_range)
    return float(np.mean([ms_ssim_gray(a, b, data_range) for a, b in zip(fc, rc)]))
