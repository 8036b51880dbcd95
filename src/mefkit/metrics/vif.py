"""Pixel-domain visual information fidelity, VIFp (Sheikh & Bovik 2006), as LIVE ``vifp_mscale.m``."""

from __future__ import annotations

import numpy as np

from .color import check_color, to_channels
from ..checks import check_data_range, check_min_size, check_pair
from .windows import filter_valid, gaussian_kernel1d

#: Variance of the visual noise, for images on a 0..255 scale (``vifp_mscale.m``).
SIGMA_NSQ = 2.0
#: Number of scales, and the guard value of ``vifp_mscale.m``.
SCALES = 4
EPS = 1e-10
#: Smallest side for which the 17x17 window and three decimations leave a valid map.
MIN_SIDE = 41


def vifp_gray(ref: np.ndarray, dist: np.ndarray, sigma_nsq: float = SIGMA_NSQ) -> float:
    """VIFp of one ``(H, W)`` float64 channel on a 0..255 scale (no input checks).

    ``ref`` is the ground truth, ``dist`` the image under test (the order matters).
    """
    num = 0.0
    den = 0.0
    for scale in range(1, SCALES + 1):
        n = 2 ** (SCALES - scale + 1) + 1  # 17, 9, 5, 3
        k = gaussian_kernel1d(n, n / 5.0)
        if scale > 1:
            ref = filter_valid(ref, k)[::2, ::2]
            dist = filter_valid(dist, k)[::2, ::2]
        mu1 = filter_valid(ref, k)
        mu2 = filter_valid(dist, k)
        s1 = np.maximum(filter_valid(ref * ref, k) - mu1 * mu1, 0.0)
        s2 = np.maximum(filter_valid(dist * dist, k) - mu2 * mu2, 0.0)
        s12 = filter_valid(ref * dist, k) - mu1 * mu2

        g = s12 / (s1 + EPS)
        sv = s2 - g * s12
        # The fix-ups of vifp_mscale.m, in its order.
        m = s1 < EPS
        g[m] = 0.0
        sv[m] = s2[m]
        s1[m] = 0.0
        m = s2 < EPS
        g[m] = 0.0
        sv[m] = 0.0
        m = g < 0
        sv[m] = s2[m]
        g[m] = 0.0
        sv = np.maximum(sv, EPS)

        num += np.sum(np.log10(1.0 + g * g * s1 / (sv + sigma_nsq)))
        den += np.sum(np.log10(1.0 + s1 / sigma_nsq))
    return float(num / den)


def vif(fused, reference, *, data_range: float = 1.0, color: str = "y") -> float:
    """Pixel-domain VIF, VIFp(ref=reference, dist=fused), as LIVE ``vifp_mscale.m``.

    Four scales with Gaussian windows of 17, 9, 5, 3 pixels (sigma = size / 5), 'valid'
    filtering, decimation by 2 between scales, visual noise variance 2. The noise
    variance assumes a 0..255 scale, so the images are rescaled by ``255 / data_range``
    before scoring: the result does not depend on ``data_range`` for matching data.
    Agrees with ``sewar.full_ref.vifp`` and torchmetrics ``visual_information_fidelity``
    given 0..255 data.

    Parameters
    ----------
    fused, reference : ndarray
        ``(H, W, 3)`` RGB or ``(H, W)`` gray, float in ``[0, data_range]``, at least 41x41.
    data_range : float
        Value of white.
    color : {"rgb", "y", "y_matlab"}
        Default ``"y"``: VIF is defined and was validated on grayscale images (LIVE runs
        ``vifp_mscale`` on luminance; piq's ``vif_p`` converts to BT.601 Y too).
        ``"rgb"`` averages the per-channel scores, as sewar and torchmetrics do.

    Returns
    -------
    float
        VIFp; 1 for identical images, below 1 for a degraded one, above 1 for a
        contrast-enhanced one.
    """
    data_range = check_data_range(data_range)
    check_color(color)
    f, r = check_pair(fused, reference, data_range)
    check_min_size(f.shape, MIN_SIDE, "fused", "VIFp's 4 scales with a 17x17 window")
    scale = 255.0 / data_range
    fc = to_channels(f, color, data_range) * scale
    rc = to_channels(r, color, data_range) * scale
    return float(np.mean([vifp_gray(b, a) for a, b in zip(fc, rc)]))
