"""High-mid and mid-low images: the middle exposure closes the gap between LE and HE.

Reconstruction of the paper's high-mid / mid-low step (Go, Lee, Lee, Mathematics 2024; the
blend is an open choice). With the
trans-switching map ``T = SMap(ME)`` (about 1 in bright surrounds):

* high-mid ``HM = T * ME + (1 - T) * HE``: HE is kept in dark surrounds, ME replaces it
  where HE saturates;
* mid-low ``ML = T * LE + (1 - T) * ME``: LE is kept in bright surrounds, ME replaces it
  in the shadows.

Each of them spans at most one "step" of exposure (LE to ME or ME to HE), so the final
fusion blends images that are close in exposure.
"""

from __future__ import annotations

import numpy as np


def _check(tsmap: np.ndarray, image: np.ndarray) -> np.ndarray:
    if tsmap.shape != image.shape[:2]:
        raise ValueError(f"tsmap must be {image.shape[:2]}, got {tsmap.shape}")
    return tsmap[:, :, None].astype(np.float32)


def high_mid(me: np.ndarray, over: np.ndarray, tsmap: np.ndarray) -> np.ndarray:
    """``HM = T * ME + (1 - T) * HE``.

    Parameters
    ----------
    me, over : ndarray
        ``(H, W, 3)`` float32 in [0, 1].
    tsmap : ndarray
        ``(H, W)`` trans-switching map in [0, 1].

    Returns
    -------
    ndarray
        ``(H, W, 3)`` float32 in [0, 1].
    """
    t = _check(tsmap, me)
    return (t * me + (1 - t) * over).astype(np.float32)


def mid_low(me: np.ndarray, under: np.ndarray, tsmap: np.ndarray) -> np.ndarray:
    """``ML = T * LE + (1 - T) * ME`` (same shapes as :func:`high_mid`)."""
    t = _check(tsmap, me)
    return (t * under + (1 - t) * me).astype(np.float32)
