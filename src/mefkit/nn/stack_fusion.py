"""K-frame fusion with a two-input fusion network: frame choice, pairing, merge, upsampling.

The learned methods of mefkit (``progressive``, ``cbm``, ``mitm``) fuse two exposures.
This module makes any such pair fusion serve a bracket of K >= 2 frames:

1. **Order.** Frames are put in exposure order by their mean luminance (ties: the
   frame's own bytes), so the result does not depend on the order they were given in.
2. **Choice** (:func:`select_frames`). At most ``max_frames`` frames are used (default
   :data:`DEFAULT_MAX_FRAMES`): the darkest and the brightest always, and between them
   the frames nearest to evenly spaced steps of log mean luminance (a proxy for
   exposure value). The rule depends only on the frames' luminances, never on their
   order; ``mefkit fuse`` prints which frames it used.
3. **Pairs at the working size** (:func:`fuse_stack_small`). The chosen frames are
   shrunk once to the network's working size and fused by a ``design``:

   * ``chain`` (the default of every learned method): every pair of exposure
     neighbours ``(f_i, f_i+1)`` through the pair fusion, giving K - 1 results, blended
     by a Laplacian pyramid (Burt and Adelson 1983) whose weight for pair i is the mean
     of its two frames' exposure-fusion weights (contrast x saturation x
     well-exposedness; Mertens, Kautz, Van Reeth, Pacific Graphics 2007), normalised
     over the pairs. Each region comes from the pairs whose frames expose it well;
     the network fuses every pair, so the structure and tone inside a pair are learned.
   * ``chain_results``: the same pairs, the exposure-fusion weights computed on the
     pair results instead of the frames;
   * ``tree``: neighbours fused level after level (K - 1 results, then K - 2, ...)
     until one image is left (K (K - 1) / 2 network passes);
   * ``base``: the extremes' network result gives the coarsest pyramid levels (tone),
     an exposure fusion of all chosen frames the finer levels (structure);
   * ``extremes``: the darkest and brightest frame only (the two-frame method).

   ``docs/bench/multiframe.md`` compares them; ``chain`` was chosen on the
   development stacks.
4. **Upsampling** (:func:`fuse_stack`). One guided upsampling at the end
   (:func:`mefkit.nn.tiling.guided_upsample`) brings the working-size result to full
   resolution with up to three chosen frames (darkest, middle, brightest) as the guide,
   so the cost of the guide does not grow with K.

With two frames every design is the two-frame method unchanged. Cost: K - 1 pair
fusions at the working size for ``chain``, so a 30-frame bracket costs at most
``max_frames - 1`` of them.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Callable, Sequence

import cv2
import numpy as np

#: Fuses two working-size frames ``(h, w, C)`` (darker first) into one ``(h, w, C')``.
PairFuse = Callable[[np.ndarray, np.ndarray], np.ndarray]

#: The designs of :func:`fuse_stack_small`.
DESIGNS = ("extremes", "chain_results", "chain", "tree", "base")
#: Default cap on the frames used: auto-exposure brackets reach 9 frames, and on the
#: 30-frame development stack (MEF database ``MadisonCapitol``) MEF-SSIM against all
#: frames rose 0.866 / 0.955 / 0.967 / 0.973 for caps 3 / 5 / 7 / 9 (progressive,
#: ``chain_results``, one pass; ``docs/bench/multiframe.md``), while the cost grows
#: by one pair fusion per frame.
DEFAULT_MAX_FRAMES = 9
#: Frames used as the guide of the final guided upsampling (darkest, middle, brightest).
GUIDE_FRAMES = 3


@dataclass(frozen=True)
class StackPlan:
    """Which frames of a bracket a K-frame fusion uses.

    Attributes
    ----------
    order : tuple of int
        Indices of all given frames, darkest first.
    used : tuple of int
        Indices (into the given frames) of the frames used, darkest first.
    """

    order: tuple[int, ...]
    used: tuple[int, ...]

    def describe(self, total: int | None = None) -> str:
        """One line for the command line, e.g. ``used 5 of 30 frames (1, 8, 15, 22, 30)``."""
        n = len(self.order) if total is None else total
        if len(self.used) == n:
            return f"used all {n} frames"
        rank = {idx: r for r, idx in enumerate(self.order)}
        ranks = ", ".join(str(rank[i] + 1) for i in self.used)
        return f"used {len(self.used)} of {n} frames (exposure ranks {ranks})"


def mean_luminance(frame: np.ndarray) -> float:
    """Mean Rec. 709 luma of an ``(H, W, 3)`` frame in [0, 1]."""
    return float(cv2.transform(np.asarray(frame, np.float32), np.array([[0.2126, 0.7152, 0.0722]], np.float32)).mean())


def exposure_order(frames: Sequence[np.ndarray]) -> list[int]:
    """Indices of ``frames`` from darkest to brightest, independent of the given order.

    Sorted by mean luminance; equal means are ordered by the frames' bytes, so even a
    tie gives the same order whatever order the frames came in.
    """
    keys = [(round(mean_luminance(f), 9), np.ascontiguousarray(np.asarray(f).reshape(-1)[:1024]).tobytes())
            for f in frames]
    return sorted(range(len(frames)), key=lambda i: keys[i])


def select_frames(frames: Sequence[np.ndarray], max_frames: int = DEFAULT_MAX_FRAMES) -> StackPlan:
    """Choose at most ``max_frames`` frames evenly spread in log mean luminance.

    Parameters
    ----------
    frames : sequence of ndarray
        K >= 2 frames ``(H, W, 3)`` in [0, 1], any order.
    max_frames : int
        Cap (>= 2); 0 means no cap.

    Returns
    -------
    StackPlan
        The darkest and brightest frames are always used; for each of the
        ``max_frames - 2`` evenly spaced targets between their log luminances, the
        nearest frame not yet chosen (ties to the darker one).
    """
    if max_frames != 0 and max_frames < 2:
        raise ValueError(f"max_frames must be 0 or >= 2, got {max_frames}")
    order = exposure_order(frames)
    k = len(order)
    if max_frames == 0 or k <= max_frames:
        return StackPlan(tuple(order), tuple(order))
    logs = [math.log(max(mean_luminance(frames[i]), 1e-4)) for i in order]
    chosen = {0, k - 1}
    for j in range(1, max_frames - 1):
        target = logs[0] + (logs[-1] - logs[0]) * j / (max_frames - 1)
        free = [r for r in range(1, k - 1) if r not in chosen]
        chosen.add(min(free, key=lambda r: (abs(logs[r] - target), r)))
    return StackPlan(tuple(order), tuple(order[r] for r in sorted(chosen)))


def _mertens_blend(images: Sequence[np.ndarray]) -> np.ndarray:
    return exposure_blend(images)


def exposure_blend(images: Sequence[np.ndarray]) -> np.ndarray:
    """Exposure fusion (Mertens, Kautz, Van Reeth 2007) of 1- or 3-channel images.

    Three channels: :func:`mefkit.methods.mertens.mertens` with the paper's weights.
    One channel (a lightness): contrast and well-exposedness only, the saturation term
    having no meaning there.

    Parameters
    ----------
    images : sequence of ndarray
        ``(h, w, 3)`` or ``(h, w, 1)`` float32 in [0, 1].

    Returns
    -------
    ndarray
        Same shape, not clipped.
    """
    from .. import pyramid
    from ..methods.mertens import WEIGHT_EPSILON, blend_pyramid, mertens, quality_weights

    if images[0].shape[-1] == 3:
        return mertens(list(images))
    h, w = images[0].shape[:2]
    weights = np.stack([quality_weights(np.repeat(im[..., :1], 3, -1), 1.0, 0.0, 1.0) for im in images])
    weights += np.float32(WEIGHT_EPSILON)
    weights /= weights.sum(axis=0, keepdims=True)
    rgb = blend_pyramid([np.repeat(im[..., :1], 3, -1) for im in images], weights, pyramid.max_levels(h, w))
    return rgb[..., :1]


def _frame_weighted_merge(results: Sequence[np.ndarray], frames: Sequence[np.ndarray]) -> np.ndarray:
    """Pair results of neighbours blended with the mean exposure-fusion weight of each pair's two frames."""
    from .. import pyramid
    from ..methods.mertens import WEIGHT_EPSILON, blend_pyramid, quality_weights

    # The saturation term is 0 everywhere on a gray frame, which would leave only the
    # epsilon (a plain average); gray brackets and lightness maps drop it.
    colour = frames[0].shape[-1] == 3 and any(float(np.ptp(f, axis=-1).max()) > 1 / 255 for f in frames)
    fw = np.stack([quality_weights(f if f.shape[-1] == 3 else np.repeat(f, 3, -1), 1.0, 1.0 if colour else 0.0, 1.0)
                   for f in frames]) + np.float32(WEIGHT_EPSILON)
    fw /= fw.sum(axis=0, keepdims=True)
    w = 0.5 * (fw[:-1] + fw[1:])
    w /= w.sum(axis=0, keepdims=True)
    levels = pyramid.max_levels(*frames[0].shape[:2])
    c = results[0].shape[-1]
    if c == 1:  # the pyramid works on RGB; a lightness map goes through as gray RGB
        return blend_pyramid([np.repeat(r, 3, -1) for r in results], w, levels)[..., :1]
    return np.concatenate([blend_pyramid([r[..., g:g + 3] for r in results], w, levels)
                           for g in range(0, c, 3)], -1)


def _pyramid_swap(fine_src: np.ndarray, coarse_src: np.ndarray, coarse_levels: int) -> np.ndarray:
    """Fine Laplacian levels of ``fine_src``, the coarsest ``coarse_levels`` of ``coarse_src``."""
    from .. import pyramid

    levels = pyramid.max_levels(*fine_src.shape[:2])
    # OpenCV drops a single channel axis; work on 2-D maps then.
    squeeze = fine_src.ndim == 3 and fine_src.shape[-1] == 1
    if squeeze:
        fine_src, coarse_src = fine_src[..., 0], coarse_src[..., 0]
    a = pyramid.laplacian_pyramid(np.ascontiguousarray(fine_src), levels)
    b = pyramid.laplacian_pyramid(np.ascontiguousarray(coarse_src), levels)
    keep = max(0, levels - coarse_levels)
    out = pyramid.collapse(a[:keep] + b[keep:])
    return out[..., None] if squeeze else out


def fuse_stack_small(pair_fuse: PairFuse, frames: Sequence[np.ndarray], design: str = "chain",
                     *, base_levels: int = 3, merge: Callable[[Sequence[np.ndarray]], np.ndarray] | None = None
                     ) -> np.ndarray:
    """Fuse working-size frames (darkest first) with a pair fusion by ``design``.

    Parameters
    ----------
    pair_fuse : callable
        ``pair_fuse(darker, brighter) -> (h, w, C)``.
    frames : sequence of ndarray
        K >= 2 frames ``(h, w, C_in)`` at the working size, darkest first.
    design : {"chain", "chain_results", "tree", "base", "extremes"}
        See the module docstring.
    base_levels : int
        ``base`` only: coarsest pyramid levels taken from the extremes' network result.
    merge : callable, optional
        Merges pair results (``chain_results``) or fuses the frames (``base``); default an
        exposure fusion (Mertens et al. 2007).

    Returns
    -------
    ndarray
        ``(h, w, C)`` float32, not clipped.
    """
    if design not in DESIGNS:
        raise ValueError(f"design must be one of {DESIGNS}, got {design!r}")
    merge = merge or _mertens_blend
    frames = list(frames)
    if len(frames) == 2 or design == "extremes":
        return pair_fuse(frames[0], frames[-1])
    if design == "chain_results":
        return merge([pair_fuse(a, b) for a, b in zip(frames[:-1], frames[1:])])
    if design == "chain":
        return _frame_weighted_merge([pair_fuse(a, b) for a, b in zip(frames[:-1], frames[1:])], frames)
    if design == "tree":
        level = frames
        while len(level) > 1:
            level = [pair_fuse(a, b) for a, b in zip(level[:-1], level[1:])]
        return level[0]
    # base
    learned = pair_fuse(frames[0], frames[-1])
    return _pyramid_swap(merge(frames), learned, base_levels)


def pair_count(design: str, k: int) -> int:
    """Network passes (pair fusions) ``design`` makes for ``k`` frames."""
    if design not in DESIGNS:
        raise ValueError(f"design must be one of {DESIGNS}, got {design!r}")
    if k <= 2 or design in ("extremes", "base"):
        return 1
    return k * (k - 1) // 2 if design == "tree" else k - 1


def guide_frames(frames: Sequence[np.ndarray], count: int | None = None) -> list[np.ndarray]:
    """The frames of the final guided upsampling: darkest, (middle,) brightest.

    ``count`` (default :data:`GUIDE_FRAMES`) is 2 or 3; fewer frames than that are all used.
    """
    count = GUIDE_FRAMES if count is None else count
    if len(frames) <= count:
        return list(frames)
    if count == 2:
        return [frames[0], frames[-1]]
    return [frames[0], frames[(len(frames) - 1) // 2], frames[-1]]


def shrink(frames: Sequence[np.ndarray], max_mp: float | None, size: tuple[int, int] | None = None) -> list[np.ndarray]:
    """Frames area-shrunk to ``size`` ``(h, w)`` or, if None, the working size of
    :func:`mefkit.nn.tiling.working_size` for ``max_mp``; clipped to [0, 1]."""
    from .tiling import working_size

    h, w = frames[0].shape[:2]
    sh, sw = size if size is not None else working_size(h, w, max_mp)
    if (sh, sw) == (h, w):
        return list(frames)
    out = [cv2.resize(f, (sw, sh), interpolation=cv2.INTER_AREA) for f in frames]
    return [np.clip(o if o.ndim == f.ndim else o[..., None], 0.0, 1.0) for o, f in zip(out, frames)]


def fuse_stack(
    pair_fuse: PairFuse,
    frames: Sequence[np.ndarray],
    *,
    max_mp: float | None,
    design: str = "chain",
    max_frames: int = DEFAULT_MAX_FRAMES,
    refine: Callable[[np.ndarray, Sequence[np.ndarray]], np.ndarray] | None = None,
    merge: Callable[[Sequence[np.ndarray]], np.ndarray] | None = None,
    radius: int | None = None,
    eps: float | None = None,
    plan: StackPlan | None = None,
    size: tuple[int, int] | None = None,
) -> np.ndarray:
    """Fuse a bracket of K >= 2 frames with a pair fusion, full resolution out.

    Parameters
    ----------
    pair_fuse : callable
        ``pair_fuse(darker, brighter) -> (h, w, C)`` on working-size frames ``(h, w, 3)``
        in [0, 1]; its output in [0, 1] (it is clipped).
    frames : sequence of ndarray
        ``(H, W, 3)`` float32 in [0, 1], any order.
    max_mp : float or None
        Working size in megapixels (:func:`mefkit.nn.tiling.working_size`); larger
        brackets are fused at that size and guided-upsampled once at the end.
    design, max_frames : str, int
        See :func:`fuse_stack_small` and :func:`select_frames`.
    refine : callable, optional
        ``refine(out, frames) -> out`` at the working size, with the used frames.
    merge : callable, optional
        Passed to :func:`fuse_stack_small`.
    radius, eps : optional
        Guided-upsampling window and regulariser (defaults of :mod:`mefkit.nn.tiling`).
    plan : StackPlan, optional
        A plan from :func:`select_frames` for these frames (saves recomputing it).
    size : (int, int), optional
        Working size ``(h, w)``, overriding ``max_mp``.

    Returns
    -------
    ndarray
        ``(H, W, C)`` float32 in [0, 1].
    """
    from .tiling import GUIDE_EPS, GUIDE_RADIUS, guide_subsample, guided_coefficients, guided_upsample

    plan = plan or select_frames(frames, max_frames)
    used = [np.asarray(frames[i], np.float32) for i in plan.used]
    small = shrink(used, max_mp, size)
    low = np.clip(fuse_stack_small(pair_fuse, small, design, merge=merge), 0.0, 1.0).astype(np.float32)
    if refine is not None:
        low = refine(low, small)
    if small[0].shape == used[0].shape:
        return np.clip(low, 0.0, 1.0)
    guide_small, guide_full = guide_frames(small), guide_frames(used)
    coef = guided_coefficients(np.concatenate(guide_small, -1), low,
                               radius=GUIDE_RADIUS if radius is None else radius,
                               eps=GUIDE_EPS if eps is None else eps, subsample=guide_subsample(*low.shape[:2]))
    return np.clip(guided_upsample(coef, guide_full), 0.0, 1.0)


def merge_groups(channels: int) -> Callable[[Sequence[np.ndarray]], np.ndarray]:
    """A merge for results that stack several images (e.g. both phases): each group of
    ``channels`` channels merged on its own by the default exposure fusion."""

    def merge(images: Sequence[np.ndarray]) -> np.ndarray:
        c = images[0].shape[-1]
        return np.concatenate([_mertens_blend([im[..., g:g + channels] for im in images])
                               for g in range(0, c, channels)], -1)

    return merge


def frames_note(fn: Callable[..., object], frames: Sequence[np.ndarray], params: dict) -> str | None:
    """What a method with a ``max_frames`` parameter does with ``frames``, for the command line.

    Parameters
    ----------
    fn : callable
        A fusion function; only its ``max_frames`` and ``stack`` parameters are read
        (defaults from its signature, overridden by ``params``).
    frames : sequence of ndarray
        The bracket.
    params : dict
        The keyword parameters the method is called with.

    Returns
    -------
    str or None
        e.g. ``"used 5 of 30 frames (exposure ranks 1, 9, 16, 23, 30)"``; None when
        ``fn`` has no ``max_frames`` parameter (it uses every frame).
    """
    import inspect

    sig = inspect.signature(fn).parameters
    if "max_frames" not in sig:
        return None
    design = params.get("stack", sig["stack"].default if "stack" in sig else "chain")
    if design == "extremes" and len(frames) > 2:
        plan = select_frames(frames, 2)
    else:
        plan = select_frames(frames, int(params.get("max_frames", sig["max_frames"].default)))
    return plan.describe()
