"""Align every frame of a bracket onto a reference frame.

Features are matched at a working resolution (longer side :data:`WORK_SIDE`), each
frame against its exposure neighbour towards the reference (the extreme frames of a
long bracket share few well-exposed pixels with the reference, their neighbours many),
the neighbour maps are composed, and the composed map is refined by ECC directly
against the reference where enough pixels are well exposed in both. Each frame is then
resampled once, at full resolution (Lanczos-4 by default). A frame whose map moves no pixel by more
than ``still_px`` is returned as it is, without resampling.
"""

from __future__ import annotations

import warnings
from dataclasses import dataclass, field
from typing import Sequence

import cv2
import numpy as np

from .estimate import Estimate, check_warp, estimate_warp, max_displacement, refine_ecc, well_exposed
from .normalise import apply_lut, luma, match_lut

#: Longer side of the working resolution at which warps are estimated.
WORK_SIDE = 1200
#: A map moving no pixel by more than this (full-resolution pixels) counts as the identity.
STILL_PX = 0.1
#: Border policies.
BORDERS = ("fill", "crop")
#: Alignment algorithms (``align=True`` is ``"features"``).
METHODS = ("features", "mtb")


@dataclass
class FrameWarp:
    """How one frame was aligned.

    Attributes
    ----------
    index : int
        Position in the bracket (darkest first).
    matrix : ndarray
        ``(3, 3)`` sampling map at full resolution: reference pixel -> this frame's pixel
        (identity for the reference).
    model : str
        ``"reference"``, ``"homography"``, ``"affine"``, ``"translation"`` or ``"none"``
        (no plausible warp found; the frame is left as it is).
    via : int
        The neighbour the features were matched against.
    inliers, matches : int
        RANSAC inliers and ratio-test matches against ``via``.
    residual_px : float
        RMS reprojection error of the inliers (full-resolution pixels).
    ecc : float or None
        ECC correlation with the reference after refinement.
    shift_px : float
        Largest displacement of the map over the frame (full-resolution pixels).
    resampled : bool
        False when the frame was returned untouched (the reference, or ``shift_px``
        under ``STILL_PX``).
    notes : list of str
        Fallbacks taken and estimates rejected.
    """

    index: int
    matrix: np.ndarray
    model: str
    via: int
    inliers: int = 0
    matches: int = 0
    residual_px: float = float("nan")
    ecc: float | None = None
    shift_px: float = 0.0
    resampled: bool = False
    notes: list = field(default_factory=list)

    def describe(self) -> str:
        """One line for ``--verbose``."""
        if self.model == "reference":
            return f"frame {self.index}: reference"
        m = self.matrix / self.matrix[2, 2]
        angle = np.degrees(np.arctan2(m[1, 0], m[0, 0]))
        scale = np.sqrt(abs(np.linalg.det(m[:2, :2])))
        ecc = f", ecc {self.ecc:.3f}" if self.ecc is not None else ""
        res = f", residual {self.residual_px:.2f} px" if np.isfinite(self.residual_px) else ""
        text = (f"frame {self.index}: {self.model} via frame {self.via}, shift {m[0, 2]:+.2f},{m[1, 2]:+.2f} px, "
                f"rotation {angle:+.2f} deg, scale {scale:.4f}, moves <= {self.shift_px:.2f} px, "
                f"{self.inliers}/{self.matches} inliers{res}{ecc}"
                f"{'' if self.resampled else ', left untouched'}")
        if self.notes:
            text += " (" + "; ".join(self.notes) + ")"
        return text


@dataclass
class Alignment:
    """Result of :func:`align_frames`.

    Attributes
    ----------
    frames : list of ndarray
        The aligned frames, ``(H', W', 3)`` float32 in [0, 1] (``H' = H`` with
        ``border="fill"``).
    reference : int
        Index of the reference frame.
    warps : list of FrameWarp
        One per frame, in bracket order.
    border : str
        The border policy used.
    crop : tuple of int or None
        ``(top, bottom, left, right)`` of the kept rectangle with ``border="crop"``.
    """

    frames: list
    reference: int
    warps: list
    border: str
    crop: tuple | None = None

    def describe(self) -> list[str]:
        """One line per frame, and the crop."""
        lines = [w.describe() for w in self.warps]
        if self.crop is not None:
            t, b, l, r = self.crop
            lines.append(f"cropped to rows {t}..{b}, columns {l}..{r} ({r - l}x{b - t})")
        return lines


def default_reference(frames: Sequence[np.ndarray]) -> int:
    """The reference frame of a darkest-first bracket: the middle exposure.

    With an odd count it is the middle frame. With an even count (two frames included)
    it is whichever of the two middle frames has more well-exposed pixels (luma in
    [0.05, 0.95], on a subsampled grid); a tie goes to the darker, whose highlights are
    not clipped.
    """
    n = len(frames)
    if n % 2 == 1:
        return n // 2
    a, b = n // 2 - 1, n // 2
    step = max(1, max(frames[a].shape[:2]) // 512)

    def count(f):
        y = luma(f[::step, ::step])
        return int(np.count_nonzero((y > 0.05) & (y < 0.95)))

    return a if count(frames[a]) >= count(frames[b]) else b


def _scale_matrix(s: float) -> np.ndarray:
    """Full-resolution -> working-resolution pixel coordinates (pixel centres kept)."""
    return np.array([[s, 0, 0.5 * s - 0.5], [0, s, 0.5 * s - 0.5], [0, 0, 1]], np.float64)


def _working(frames: Sequence[np.ndarray], side: int) -> tuple[list[np.ndarray], float]:
    h, w = frames[0].shape[:2]
    s = min(1.0, side / max(h, w))
    lumas = [luma(f) for f in frames]
    if s < 1.0:
        size = (max(1, round(w * s)), max(1, round(h * s)))
        lumas = [cv2.resize(y, size, interpolation=cv2.INTER_AREA) for y in lumas]
        s = size[0] / w
    return lumas, s


#: Resampling kernels: Lanczos-4 (default) scores ~2.5 dB higher than bicubic on the
#: synthetic benchmark; bicubic is ~5x faster at 12 MP (docs/align.md).
INTERPOLATIONS = {"lanczos": (cv2.INTER_LANCZOS4, 4), "cubic": (cv2.INTER_CUBIC, 2)}


def warp_frame(frame: np.ndarray, matrix: np.ndarray, shape: tuple[int, int],
               interpolation: str = "lanczos") -> np.ndarray:
    """Resample ``frame`` onto the reference grid with sampling map ``matrix``.

    Pixels that fall outside ``frame`` replicate its border (:func:`align_frames` then
    fills or crops them).
    """
    h, w = shape
    out = cv2.warpPerspective(frame, matrix, (w, h), flags=INTERPOLATIONS[interpolation][0] | cv2.WARP_INVERSE_MAP,
                              borderMode=cv2.BORDER_REPLICATE)
    return np.clip(out, 0.0, 1.0, out=out)


def valid_mask(matrix: np.ndarray, shape: tuple[int, int], support: int = 4) -> np.ndarray:
    """``(H, W)`` uint8, 1 where the warped frame has its own pixels, kernel ``support`` included."""
    h, w = shape
    ones = np.ones((h, w), np.uint8)
    m = cv2.warpPerspective(ones, matrix, (w, h), flags=cv2.INTER_NEAREST | cv2.WARP_INVERSE_MAP,
                            borderMode=cv2.BORDER_CONSTANT, borderValue=0)
    # The kernel reads `support` pixels each side, nearest-neighbour rounds by half a pixel.
    k = 2 * (support + 1) + 1
    return cv2.erode(m, np.ones((k, k), np.uint8), borderType=cv2.BORDER_CONSTANT, borderValue=1)


def largest_rectangle(valid: np.ndarray) -> tuple[int, int, int, int]:
    """``(top, bottom, left, right)`` of an axis-aligned rectangle inside ``valid``.

    Greedy: from the bounding box, drop whichever edge row/column holds the most
    invalid pixels until none is left. For the convex regions that warps leave this
    finds the largest rectangle or one close to it; written by hand because neither
    OpenCV nor NumPy has a maximal-rectangle routine.
    """
    ys, xs = np.nonzero(valid)
    if ys.size == 0:
        raise ValueError("no pixel is valid in every aligned frame")
    t, b, l, r = int(ys.min()), int(ys.max()) + 1, int(xs.min()), int(xs.max()) + 1
    bad = valid[t:b, l:r] == 0
    while bad.any():
        sides = [bad[0].sum(), bad[-1].sum(), bad[:, 0].sum(), bad[:, -1].sum()]
        # weigh by the other dimension so wide and tall edges compare fairly
        k = int(np.argmax([sides[0] / bad.shape[1], sides[1] / bad.shape[1],
                           sides[2] / bad.shape[0], sides[3] / bad.shape[0]]))
        if k == 0:
            t, bad = t + 1, bad[1:]
        elif k == 1:
            b, bad = b - 1, bad[:-1]
        elif k == 2:
            l, bad = l + 1, bad[:, 1:]
        else:
            r, bad = r - 1, bad[:, :-1]
        if bad.size == 0:
            raise ValueError("no pixel is valid in every aligned frame")
    return t, b, l, r


def align_frames(
    frames: Sequence[np.ndarray],
    *,
    reference: int | None = None,
    method: str = "features",
    border: str = "fill",
    ecc: bool = True,
    work_side: int = WORK_SIDE,
    still_px: float = STILL_PX,
    interpolation: str = "lanczos",
) -> Alignment:
    """Align a darkest-first bracket onto its reference frame.

    Parameters
    ----------
    frames : sequence of ndarray
        ``(H, W, 3)`` float32 in [0, 1], darkest first, same size.
    reference : int, optional
        Index of the frame that fixes the geometry (default: :func:`default_reference`).
    method : {"features", "mtb"}
        ``"features"``: SIFT + RANSAC homography, falling back to partial affine, then to
        MTB translation; ``"mtb"``: translation only (Ward 2003).
    border : {"fill", "crop"}
        ``"fill"`` (default) keeps the frame size: where a warped frame has no pixels
        of its own, it takes the reference mapped to its exposure (histogram matching),
        so borders fuse like the reference without ghosts. ``"crop"``: every frame is
        cut to the largest axis-aligned rectangle valid in all of them.
    ecc : bool
        Refine each map by ECC on pixels well exposed in both frames.
    work_side : int
        Longer side, in pixels, of the working resolution.
    still_px : float
        A frame whose map moves no pixel by more than this is not resampled.
    interpolation : {"lanczos", "cubic"}
        Resampling kernel of the one full-resolution warp.

    Returns
    -------
    Alignment
        Aligned frames, per-frame maps, residuals and notes.

    Warns
    -----
    UserWarning
        Naming the frame, when no plausible warp was found (it is used unaligned) or a
        fallback model was used.
    """
    if method not in METHODS:
        raise ValueError(f"unknown alignment {method!r}; choose one of {', '.join(METHODS)}")
    if interpolation not in INTERPOLATIONS:
        raise ValueError(f"unknown interpolation {interpolation!r}; choose one of {', '.join(INTERPOLATIONS)}")
    if border not in BORDERS:
        raise ValueError(f"unknown border policy {border!r}; choose one of {', '.join(BORDERS)}")
    frames = [np.asarray(f, np.float32) for f in frames]
    n = len(frames)
    ref = default_reference(frames) if reference is None else int(reference)
    if not 0 <= ref < n:
        raise ValueError(f"reference {reference} is not a frame index (0..{n - 1})")
    shape = frames[0].shape[:2]
    lumas, s = _working(frames, work_side)
    work_shape = lumas[0].shape
    scale = _scale_matrix(s)
    to_full = lambda m: np.linalg.inv(scale) @ m @ scale  # noqa: E731

    work_maps: dict[int, np.ndarray] = {ref: np.eye(3)}
    warps: dict[int, FrameWarp] = {ref: FrameWarp(ref, np.eye(3), "reference", ref)}
    order = list(range(ref + 1, n)) + list(range(ref - 1, -1, -1))
    for i in order:
        via = i - 1 if i > ref else i + 1
        est: Estimate = estimate_warp(lumas[via], lumas[i], method=method, ecc=ecc)
        # est maps `via` pixels -> frame i pixels; compose with reference -> `via`.
        composed = est.matrix @ work_maps[via]
        ecc_rho = est.ecc
        notes = list(est.notes or [])
        if via != ref and ecc and not est.static:
            # Correct the drift of the chain directly against the reference.
            moving_n = apply_lut(lumas[i], match_lut(lumas[i], lumas[ref]))
            model = est.model
            try:
                refined, rho = refine_ecc(lumas[ref], moving_n, composed, model,
                                          well_exposed(lumas[ref]), well_exposed(lumas[i]))
                if check_warp(refined, work_shape) is None and \
                        max_displacement(np.linalg.inv(composed) @ refined, work_shape) <= 2.0:
                    composed, ecc_rho = refined, rho
            except cv2.error:
                pass
        why = check_warp(composed, work_shape)
        if why is not None:
            warnings.warn(f"frame {i}: no plausible warp onto the reference ({why}); it is used unaligned",
                          stacklevel=2)
            work_maps[i] = work_maps[via]  # keep the chain going through an unaligned frame
            warps[i] = FrameWarp(i, np.eye(3), "none", via, est.inliers, est.matches, notes=notes + [why])
            continue
        if est.model == "translation" and method == "features":
            warnings.warn(f"frame {i}: too few reliable features; aligned by translation only "
                          f"({'; '.join(notes)})", stacklevel=2)
        work_maps[i] = composed
        full = to_full(composed)
        warps[i] = FrameWarp(i, full, est.model, via, est.inliers, est.matches,
                             est.residual / s if np.isfinite(est.residual) else float("nan"),
                             ecc_rho, max_displacement(full, shape), notes=notes)

    out = list(frames)
    valid = np.ones(shape, np.uint8)
    for i, w in warps.items():
        if w.model in ("reference", "none") or w.shift_px <= still_px:
            continue
        w.resampled = True
        out[i] = warp_frame(frames[i], w.matrix, shape, interpolation)
        mask = valid_mask(w.matrix, shape, INTERPOLATIONS[interpolation][1])
        valid &= mask
        outside = mask == 0
        if border == "fill" and outside.any():
            # Outside the frame's own pixels: the reference in this frame's tones.
            step = max(1, max(shape) // 1024)
            ref_px = frames[ref][outside]
            filler = np.empty_like(ref_px)
            for c in range(3):
                lut = match_lut(frames[ref][::step, ::step, c], frames[i][::step, ::step, c])
                filler[:, c] = apply_lut(ref_px[:, c], lut)
            out[i][outside] = filler
    crop = None
    if border == "crop" and not valid.all():
        crop = largest_rectangle(valid)
        t, b, l, r = crop
        out = [np.ascontiguousarray(f[t:b, l:r]) for f in out]
    return Alignment(out, ref, [warps[i] for i in range(n)], border, crop)
