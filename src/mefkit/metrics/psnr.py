"""Peak signal-to-noise ratio."""

from __future__ import annotations

import math

import numpy as np

from .color import check_color, to_channels
from ..checks import check_data_range, check_pair


def psnr(fused, reference, *, data_range: float = 1.0, color: str = "rgb") -> float:
    """PSNR of ``fused`` against ``reference``, in dB.

    ``PSNR = 10 log10(data_range^2 / MSE)``, the MSE pooled over all pixels and all
    compared channels.

    Parameters
    ----------
    fused, reference : ndarray
        ``(H, W, 3)`` RGB or ``(H, W)`` gray, float in ``[0, data_range]``.
    data_range : float
        Value of white (1.0 for float images, 255 for 8-bit values).
    color : {"rgb", "y", "y_matlab"}
        Default ``"rgb"``: the SICE-based fusion papers compare the fused colour image
        with the colour reference, and pyiqa/skimage also default to all channels.
        ``"y_matlab"`` reproduces papers that report PSNR on MATLAB's YCbCr Y.

    Returns
    -------
    float
        PSNR in dB; ``inf`` when the images are identical.

    Examples
    --------
    >>> import numpy as np
    >>> a = np.zeros((4, 4)); b = np.full((4, 4), 0.1)
    >>> round(psnr(b, a), 6)   # MSE = 0.01 -> 10 log10(1 / 0.01) = 20 dB
    20.0
    """
    data_range = check_data_range(data_range)
    check_color(color)
    f, r = check_pair(fused, reference, data_range)
    diff = to_channels(f, color, data_range) - to_channels(r, color, data_range)
    mse = float(np.mean(diff * diff))
    if mse == 0.0:
        return math.inf
    return 10.0 * math.log10(data_range * data_range / mse)
