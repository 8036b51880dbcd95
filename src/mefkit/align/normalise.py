"""Exposure-invariant views of frames: luminance mapped onto another frame's histogram.

Two frames of one scene at different exposures differ by a monotone tone curve (the
camera response times the exposure ratio, clipped). Matching the cumulative histogram
of one frame's luminance to the other's undoes that curve wherever neither is clipped,
so feature detectors and ECC (Evangelidis & Psarakis, IEEE TPAMI 2008) then compare
like with like. Written with NumPy (a 1-D CDF inversion) because OpenCV has no
histogram specification, and scikit-image's ``match_histograms`` is not a dependency.
"""

from __future__ import annotations

import cv2
import numpy as np

#: Bins of the histograms used for matching (enough for 16-bit input's smooth tones).
BINS = 1024


def luma(image: np.ndarray) -> np.ndarray:
    """BT.601 luma of an ``(H, W, 3)`` float RGB image in [0, 1], ``(H, W)`` float32."""
    out = cv2.transform(np.asarray(image, np.float32), np.array([[0.299, 0.587, 0.114]], np.float32))
    return out if out.ndim == 2 else out[..., 0]


def match_lut(source: np.ndarray, target: np.ndarray, bins: int = BINS) -> np.ndarray:
    """Look-up table mapping ``source``'s values onto ``target``'s histogram.

    Parameters
    ----------
    source, target : ndarray
        Float arrays in [0, 1], any shapes (sizes may differ).
    bins : int
        Histogram bins.

    Returns
    -------
    ndarray
        ``(bins,)`` float32 in [0, 1]: ``lut[i]`` is the target value whose cumulative
        frequency equals that of source bin ``i`` (its centre).
    """
    edges = np.linspace(0.0, 1.0, bins + 1)
    hs, _ = np.histogram(np.clip(source, 0, 1), bins=edges)
    ht, _ = np.histogram(np.clip(target, 0, 1), bins=edges)
    cs = np.cumsum(hs).astype(np.float64)
    ct = np.cumsum(ht).astype(np.float64)
    cs = (cs - hs / 2.0) / max(cs[-1], 1.0)  # mid-bin cumulative frequency
    ct = (ct - ht / 2.0) / max(ct[-1], 1.0)
    centres = (edges[:-1] + edges[1:]) / 2
    keep = ht > 0
    if not keep.any():
        return centres.astype(np.float32)
    return np.interp(cs, ct[keep], centres[keep]).astype(np.float32)


#: Levels of the dense table :func:`apply_lut` indexes (exact for 16-bit input).
_LEVELS = 65536


def apply_lut(values: np.ndarray, lut: np.ndarray) -> np.ndarray:
    """Map float values in [0, 1] through a LUT from :func:`match_lut` (linear interpolation).

    The LUT is first interpolated onto a dense 65536-level table, then indexed by the
    values rounded to 16 bits: one gather per pixel, exact for 8- and 16-bit input.
    """
    bins = lut.shape[0]
    levels = np.linspace(0.0, 1.0, _LEVELS, dtype=np.float32)
    dense = np.interp(levels, (np.arange(bins, dtype=np.float32) + 0.5) / bins, lut).astype(np.float32)
    v = np.asarray(values, np.float32)
    idx = np.clip(v * np.float32(_LEVELS - 1) + np.float32(0.5), 0, _LEVELS - 1).astype(np.uint16)
    return np.take(dense, idx)


def match_histogram(source: np.ndarray, target: np.ndarray, *, sample: int = 1) -> np.ndarray:
    """``source`` with each channel's histogram matched to ``target``'s.

    Parameters
    ----------
    source, target : ndarray
        ``(H, W)`` or ``(H, W, C)`` float in [0, 1] (same channel count).
    sample : int
        Build the histograms from every ``sample``-th row and column (speed on large
        frames); the mapping is applied to every pixel.

    Returns
    -------
    ndarray
        Same shape as ``source``, float32 in [0, 1].
    """
    s = np.asarray(source, np.float32)
    t = np.asarray(target, np.float32)
    if s.ndim == 2:
        return apply_lut(s, match_lut(s[::sample, ::sample], t[::sample, ::sample]))
    out = np.empty_like(s)
    for c in range(s.shape[2]):
        out[..., c] = apply_lut(s[..., c], match_lut(s[::sample, ::sample, c], t[::sample, ::sample, c]))
    return out
