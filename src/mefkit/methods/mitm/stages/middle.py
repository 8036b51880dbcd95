"""Middle-exposure (ME) estimation from the mutually translated pair.

Reconstruction (Go, Lee, Lee, Mathematics 2024; the estimator is an open choice). The paper says
the translated images are processed with separate maps suited to each to estimate a
middle exposure. Here each input is pulled toward the middle by averaging it with the
translation of the *other* input (``LE_mid = (LE + HE')/2`` with ``HE' = G_LH(LE)``,
``HE_mid = (HE + LE')/2`` with ``LE' = G_HL(HE)``), and a switching map of the mean pair
picks the LE-derived middle where the surround is bright, the HE-derived one where it is
dark. The map's Gaussian surround makes the switch smooth, so no halo appears at the
boundary between exposure levels.
"""

from __future__ import annotations

import numpy as np

from .smap import SMAP_CENTRE, SMAP_SLOPE, switching_map
from .surround import REFERENCE_SIZE, scaled_sigma

#: Surround sigma (px at a 512 short side) of the ME switching map (reconstruction default: 80).
ME_SIGMA = 80.0
#: Share of the translated image in each half-way image (reconstruction default: 1/2).
TRANSLATED_SHARE = 0.5


def middle_exposure(
    under: np.ndarray,
    over: np.ndarray,
    over_from_under: np.ndarray,
    under_from_over: np.ndarray,
    *,
    sigma: float = ME_SIGMA,
    reference_size: int | None = REFERENCE_SIZE,
    translated_share: float = TRANSLATED_SHARE,
    slope: float = SMAP_SLOPE,
    centre: float = SMAP_CENTRE,
) -> tuple[np.ndarray, np.ndarray]:
    """Estimate the middle exposure ME.

    Parameters
    ----------
    under, over : ndarray
        The real pair LE, HE: ``(H, W, 3)`` float32 RGB in [0, 1].
    over_from_under : ndarray
        ``HE' = G_LH(LE)``, same shape and range.
    under_from_over : ndarray
        ``LE' = G_HL(HE)``, same shape and range.
    sigma : float
        Surround sigma of the switching map (pixels at ``reference_size``).
    reference_size : int or None
        Short side at which ``sigma`` applies (None: absolute pixels).
    translated_share : float
        Weight of the translated image in each half-way image, in [0, 1].
    slope, centre : float
        Switching-map sigmoid parameters.

    Returns
    -------
    me : ndarray
        ``(H, W, 3)`` float32 in [0, 1].
    switch : ndarray
        ``(H, W)`` float32 in [0, 1]: the weight of the LE-derived middle.
    """
    if not 0.0 <= translated_share <= 1.0:
        raise ValueError(f"translated_share must be in [0, 1], got {translated_share}")
    a = np.float32(translated_share)
    under_mid = (1 - a) * under + a * over_from_under
    over_mid = (1 - a) * over + a * under_from_over
    mean_pair = 0.5 * (under + over)
    switch = switching_map(mean_pair, scaled_sigma(sigma, under.shape, reference_size), slope=slope, centre=centre)
    s = switch[:, :, None]
    me = s * under_mid + (1 - s) * over_mid
    return np.clip(me, 0.0, 1.0).astype(np.float32), switch
