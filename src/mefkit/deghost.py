"""Remove ghosts of moving objects before fusion, against a reference frame.

For every frame other than the reference:

1. **Intensity mapping.** The reference is mapped to the frame's exposure by
   histogram specification per channel (the intensity mapping function of Grossberg &
   Nayar, IEEE TPAMI 2003, estimated from cumulative histograms), and the frame to the
   reference's exposure the same way.
2. **Consistency map** in the spirit of SPD-MEF's (Ma, Li, Yong, Wang, Meng, Zhang,
   IEEE TIP 2017): a pixel is inconsistent when, over a local window,
   - the mapped intensities differ by more than ``intensity_thres`` where both frames
     are well exposed (tested in both exposure domains), or
   - where the reference is clipped, the frame leaves the range the clipped level can
     map to (a one-sided test, so detail the reference lost is not flagged), or
   - the local structure (the structure term of SSIM, Wang et al., IEEE TIP 2004)
     correlates below ``structure_thres`` where both frames have contrast.
3. **Replacement.** The map is cleaned (opening removes isolated pixels, closing and
   dilation fill and pad the object), feathered by a Gaussian, and the frame is blended
   towards the exposure-mapped reference by it. Pixels the map leaves at 0 keep their
   exact values, so static regions are unchanged.

The maps are computed at a working resolution (longer side ``work_side``) and resized
to the frame, which keeps the cost small next to fusion on large frames.

``method="flow"`` first moves each frame onto the reference by dense optical flow
(OpenCV's DIS, Kroeger, Timofte, Dai, Van Gool, ECCV 2016), computed between the frame
and the reference mapped to the frame's exposure, for small non-rigid motion (leaves,
cloth, water, a slight parallax) that a single homography leaves behind. The warped frame
is used only where the flow moves pixels by more than ``FLOW_MIN`` and clearly improves the
agreement with the reference (feathered), so static regions keep their exact values; the
consistency test then replaces what the flow could not explain (occlusions, large motion).
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Sequence

import cv2
import numpy as np

from .align.normalise import apply_lut, luma, match_lut

#: Deghosting algorithms (``deghost=True`` is ``"consistency"``).
METHODS = ("consistency", "flow")
#: Flow magnitude (pixels at full resolution) below which a pixel keeps its own value.
FLOW_MIN = 0.5
#: Smallest drop of the local mean |difference| from the mapped reference (luma) for which
#: a pixel takes the flow-resampled frame.
FLOW_GAIN = 0.01
#: Largest local mean |difference| left after the flow for a pixel to take the resampled
#: frame; where the flow explains less, the consistency test decides.
FLOW_RESIDUAL = 0.02
#: Largest local mean |difference| of mapped intensities in a consistent region
#: (SPD-MEF's ``consistencyThres``).
INTENSITY_THRES = 0.1
#: Smallest local structural correlation of a consistent region where both frames have
#: contrast (SPD-MEF's ``structureThres``).
STRUCTURE_THRES = 0.8
#: Local standard deviation both frames must exceed for the structure test.
CONTRAST_MIN = 0.02
#: Largest tone stretch of the intensity mapping at which a difference is trusted.
MAX_SLOPE = 3.0
#: Luma range counted as well exposed.
WELL_EXPOSED = (0.03, 0.97)
#: Longer side of the working resolution of the maps.
WORK_SIDE = 1000


@dataclass
class Deghosting:
    """Result of :func:`deghost_frames`.

    Attributes
    ----------
    frames : list of ndarray
        ``(H, W, 3)`` float32 in [0, 1], ghost regions replaced.
    reference : int
        Index of the reference frame.
    masks : list of ndarray
        ``(H, W)`` float32 in [0, 1] per frame: how much of the exposure-mapped
        reference each pixel took (all zero for the reference).
    """

    frames: list
    reference: int
    masks: list

    def describe(self) -> list[str]:
        """One line per frame: the share of pixels replaced."""
        out = []
        for i, m in enumerate(self.masks):
            if i == self.reference:
                out.append(f"frame {i}: reference")
            else:
                out.append(f"frame {i}: {float(np.mean(m > 0.5)):.1%} of the pixels taken from the reference")
        return out


def _map_channels(source: np.ndarray, target: np.ndarray, source_full: np.ndarray) -> np.ndarray:
    """``source_full`` mapped per channel by the LUT matching ``source``'s histogram to ``target``'s."""
    out = np.empty_like(source_full)
    for c in range(source_full.shape[2]):
        out[..., c] = apply_lut(source_full[..., c], match_lut(source[..., c], target[..., c]))
    return out


def _lut_slope(lut: np.ndarray, values: np.ndarray) -> np.ndarray:
    """Local slope (output per input unit) of a :func:`match_lut` table at ``values``."""
    bins = lut.shape[0]
    slope = np.gradient(cv2.GaussianBlur(lut.reshape(1, -1), (0, 0), 4).ravel()) * bins
    return apply_lut(values, slope.astype(np.float32))


def _local_stats(a: np.ndarray, b: np.ndarray, win: int):
    k = (win, win)
    mu_a, mu_b = cv2.blur(a, k), cv2.blur(b, k)
    var_a = np.maximum(cv2.blur(a * a, k) - mu_a * mu_a, 0)
    var_b = np.maximum(cv2.blur(b * b, k) - mu_b * mu_b, 0)
    cov = cv2.blur(a * b, k) - mu_a * mu_b
    return mu_a, mu_b, var_a, var_b, cov


def inconsistency(ref: np.ndarray, frame: np.ndarray, *, window: int = 7,
                  intensity_thres: float = INTENSITY_THRES,
                  structure_thres: float = STRUCTURE_THRES) -> np.ndarray:
    """Raw 0/1 map of the pixels of ``frame`` that disagree with ``ref``.

    Parameters
    ----------
    ref, frame : ndarray
        ``(h, w, 3)`` float32 in [0, 1], the same scene at two exposures.
    window : int
        Side of the local windows.
    intensity_thres, structure_thres : float
        See the module docstring.

    Returns
    -------
    ndarray
        ``(h, w)`` bool.
    """
    ref_in_frame = _map_channels(ref, frame, ref)  # the reference at the frame's exposure
    frame_in_ref = _map_channels(frame, ref, frame)  # the frame at the reference's exposure
    yr, yf = luma(ref), luma(frame)
    yr_f, yf_r = luma(ref_in_frame), luma(frame_in_ref)
    lo, hi = WELL_EXPOSED
    k = (window, window)
    mr, mf, va, vb, cov = _local_stats(yr, yf, window)
    ok_r, ok_f = (mr > lo) & (mr < hi), (mf > lo) & (mf < hi)
    both = ok_r & ok_f
    d_frame = cv2.blur(np.abs(yf - yr_f), k)  # in the frame's exposure domain
    d_ref = cv2.blur(np.abs(yf_r - yr), k)  # in the reference's exposure domain
    # Each domain's difference counts where the mapping into it does not stretch tones
    # by more than MAX_SLOPE (there it would amplify noise, quantisation and the
    # mapping's own error near clipping into false alarms).
    ref_to_frame = match_lut(yr, yf)
    slope_into_ref = _lut_slope(match_lut(yf, yr), yf)
    slope_into_frame = _lut_slope(ref_to_frame, yr)
    d = np.maximum(np.where(slope_into_frame <= MAX_SLOPE, d_frame, 0),
                   np.where(slope_into_ref <= MAX_SLOPE, d_ref, 0))
    bad = both & (d > intensity_thres)
    # Reference clipped: the frame must stay on the side the clipped level maps to.
    white = apply_lut(np.float32(hi), ref_to_frame)
    black = apply_lut(np.float32(lo), ref_to_frame)
    bad |= ok_f & (mr >= hi) & (mf < white - intensity_thres)
    bad |= ok_f & (mr <= lo) & (mf > black + intensity_thres)
    # Structure (SSIM's structure term) where both have contrast.
    c = (0.03**2) / 2
    s = (cov + c) / (np.sqrt(va * vb) + c)
    textured = both & (va > CONTRAST_MIN**2) & (vb > CONTRAST_MIN**2)
    bad |= textured & (s < structure_thres)
    return bad


def flow_warp(ref_small: np.ndarray, frame: np.ndarray, frame_small: np.ndarray
              ) -> tuple[np.ndarray, np.ndarray]:
    """``frame`` moved onto the reference by DIS optical flow where that helps.

    The flow is computed at the working resolution between the frame and the reference
    mapped to the frame's exposure. A pixel takes the resampled frame only where the flow
    moves it by more than :data:`FLOW_MIN` pixels *and* the resampled frame agrees with
    the mapped reference clearly better than the frame does (local mean absolute
    difference down by at least half and by :data:`FLOW_GAIN`); the choice is feathered.
    Elsewhere, static regions included, the frame keeps its exact values.

    Parameters
    ----------
    ref_small : ndarray
        ``(h, w, 3)`` float32 in [0, 1], the reference at the working resolution.
    frame : ndarray
        ``(H, W, 3)`` float32 in [0, 1], the frame at full resolution.
    frame_small : ndarray
        ``(h, w, 3)``, the frame at the working resolution.

    Returns
    -------
    warped : ndarray
        ``(H, W, 3)`` float32, the frame with its moved regions resampled.
    weight : ndarray
        ``(H, W)`` float32 in [0, 1], how much of each pixel is resampled.
    """
    h, w = frame.shape[:2]
    hs, ws = frame_small.shape[:2]
    # Brightness constancy across exposures: the reference mapped to the frame's exposure.
    ref_in_frame = luma(_map_channels(ref_small, frame_small, ref_small))
    y_frame = luma(frame_small)
    a = np.clip(ref_in_frame * 255 + 0.5, 0, 255).astype(np.uint8)
    b = np.clip(y_frame * 255 + 0.5, 0, 255).astype(np.uint8)
    dis = cv2.DISOpticalFlow_create(cv2.DISOPTICAL_FLOW_PRESET_MEDIUM)
    dis.setFinestScale(0)  # full working resolution (the preset stops at half)
    flow = dis.calc(a, b, None)  # a(x) ~ b(x + flow(x))
    gx, gy = np.meshgrid(np.arange(ws, dtype=np.float32), np.arange(hs, dtype=np.float32))
    y_warped = cv2.remap(y_frame, gx + flow[..., 0], gy + flow[..., 1], cv2.INTER_LINEAR,
                         borderMode=cv2.BORDER_REPLICATE)
    k = (7, 7)
    err_before = cv2.blur(np.abs(y_frame - ref_in_frame), k)
    err_after = cv2.blur(np.abs(y_warped - ref_in_frame), k)
    scale = max(w / ws, h / hs)
    mag = np.hypot(flow[..., 0], flow[..., 1]) * scale
    # The flow is trusted only where the reference shows the scene: well exposed and
    # textured (over a clipped or flat reference, pulling any pixels in "agrees").
    y_ref = luma(ref_small)
    mean_ref = cv2.blur(y_ref, k)
    sd_ref = np.sqrt(np.maximum(cv2.blur(ref_in_frame * ref_in_frame, k) - cv2.blur(ref_in_frame, k) ** 2, 0))
    seen = (mean_ref > WELL_EXPOSED[0]) & (mean_ref < WELL_EXPOSED[1]) & (sd_ref > CONTRAST_MIN)
    seen = cv2.erode(seen.astype(np.uint8), np.ones(k, np.uint8)).astype(bool)
    better = (seen & (mag > FLOW_MIN) & (err_after < 0.5 * err_before) & (err_before - err_after > FLOW_GAIN)
              & (err_after < FLOW_RESIDUAL))
    if not better.any():
        return frame, np.zeros((h, w), np.float32)
    m = cv2.morphologyEx(better.astype(np.uint8), cv2.MORPH_OPEN, np.ones((3, 3), np.uint8)).astype(np.float32)
    radius = max(1.0, 0.004 * max(hs, ws))
    weight = np.clip(cv2.GaussianBlur(m, (0, 0), radius) * 2.0, 0, 1)
    if (hs, ws) != (h, w):
        weight = cv2.resize(weight, (w, h), interpolation=cv2.INTER_LINEAR)
        flow = cv2.resize(flow, (w, h), interpolation=cv2.INTER_LINEAR)
        flow[..., 0] *= w / ws
        flow[..., 1] *= h / hs
    weight[weight < 1e-3] = 0
    sel = weight > 0
    if not sel.any():
        return frame, np.zeros((h, w), np.float32)
    ys, xs = np.nonzero(sel)
    # Resample only the selected pixels (usually a small part of a large frame), laid out
    # in rows of ROW pixels (OpenCV's remap takes maps narrower than 32767).
    n_sel, row = ys.size, 4096
    pad = -n_sel % row
    map_x = np.pad(xs + flow[ys, xs, 0], (0, pad)).astype(np.float32).reshape(-1, row)
    map_y = np.pad(ys + flow[ys, xs, 1], (0, pad)).astype(np.float32).reshape(-1, row)
    warped = cv2.remap(frame, map_x, map_y, cv2.INTER_LINEAR, borderMode=cv2.BORDER_REPLICATE)
    warped = warped.reshape(-1, 3)[:n_sel]
    out = frame.copy()
    wsel = weight[sel][:, None]
    out[sel] = frame[sel] * (1 - wsel) + warped * wsel
    return out, weight


def clean_mask(raw: np.ndarray, *, radius: int) -> np.ndarray:
    """Opening (drops specks), closing (fills holes), dilation (pads the object)."""
    k = cv2.getStructuringElement(cv2.MORPH_ELLIPSE, (2 * radius + 1, 2 * radius + 1))
    m = raw.astype(np.uint8)
    m = cv2.morphologyEx(m, cv2.MORPH_OPEN, cv2.getStructuringElement(cv2.MORPH_ELLIPSE, (5, 5)))
    m = cv2.morphologyEx(m, cv2.MORPH_CLOSE, k)
    return cv2.dilate(m, k)


def deghost_frames(
    frames: Sequence[np.ndarray],
    reference: int,
    *,
    method: str = "consistency",
    intensity_thres: float = INTENSITY_THRES,
    structure_thres: float = STRUCTURE_THRES,
    work_side: int = WORK_SIDE,
) -> Deghosting:
    """Replace the regions of each frame that disagree with the reference.

    Parameters
    ----------
    frames : sequence of ndarray
        ``(H, W, 3)`` float32 in [0, 1], darkest first, aligned.
    reference : int
        Index of the frame whose content moving regions take.
    method : {"consistency", "flow"}
        The algorithm (see the module docstring); ``"flow"`` warps each frame onto the
        reference by DIS optical flow before the consistency test.
    intensity_thres, structure_thres : float
        Thresholds of the consistency test (0.1, 0.8, as SPD-MEF's).
    work_side : int
        Longer side of the resolution at which the maps are computed.

    Returns
    -------
    Deghosting
        The frames (the reference and fully consistent frames are returned as they
        are, not copied) and the feathered masks.
    """
    if method not in METHODS:
        raise ValueError(f"unknown deghosting {method!r}; choose one of {', '.join(METHODS)}")
    frames = [np.asarray(f, np.float32) for f in frames]
    n = len(frames)
    if not 0 <= reference < n:
        raise ValueError(f"reference {reference} is not a frame index (0..{n - 1})")
    h, w = frames[0].shape[:2]
    s = min(1.0, work_side / max(h, w))
    size = (max(1, round(w * s)), max(1, round(h * s)))
    small = [cv2.resize(f, size, interpolation=cv2.INTER_AREA) if s < 1 else f for f in frames]
    radius = max(2, round(0.01 * max(size)))
    if method == "flow":
        frames = list(frames)
        for i in range(n):
            if i != reference:
                frames[i], _ = flow_warp(small[reference], frames[i], small[i])
                small[i] = cv2.resize(frames[i], size, interpolation=cv2.INTER_AREA) if s < 1 else frames[i]
    out, masks = list(frames), []
    for i in range(n):
        if i == reference:
            masks.append(np.zeros((h, w), np.float32))
            continue
        raw = inconsistency(small[reference], small[i], intensity_thres=intensity_thres,
                            structure_thres=structure_thres)
        m = clean_mask(raw, radius=radius).astype(np.float32)
        if not m.any():
            masks.append(np.zeros((h, w), np.float32))
            continue
        m = cv2.GaussianBlur(m, (0, 0), radius)
        m = np.clip(m * 2.0, 0, 1)  # the object's core stays fully replaced; the feather lies outside
        if s < 1:
            m = cv2.resize(m, (w, h), interpolation=cv2.INTER_LINEAR)
        m[m < 1e-3] = 0
        # Blend only where the mask is not 0: every other pixel keeps its exact value,
        # and on large frames the (usually small) masked area is all that costs.
        sel = m > 0
        ref_px = frames[reference][sel]
        filler = np.empty_like(ref_px)
        for c in range(3):
            filler[:, c] = apply_lut(ref_px[:, c], match_lut(small[reference][..., c], small[i][..., c]))
        weight = m[sel][:, None]
        frame = frames[i].copy()
        frame[sel] = frames[i][sel] * (1 - weight) + filler * weight
        out[i] = frame
        masks.append(m)
    return Deghosting(out, reference, masks)
