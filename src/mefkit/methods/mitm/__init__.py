"""MITM: mutual image translation with multiscale surround switching maps.

Go, Lee, Lee, "Multiexposed image-fusion strategy using mutual image translation learning
with multiscale surround switching maps", Mathematics 12(20) 3244, 2024. Reconstructed
from the paper's description: only its abstract and section outline could be read, so
every formula is a reconstruction of the stage the paper names and every open choice is
a parameter below. The stages live in :mod:`mefkit.methods.mitm.stages`.
"""

from __future__ import annotations

from typing import Any, Sequence

import numpy as np

from .stages.middle import ME_SIGMA, TRANSLATED_SHARE
from .stages.retinex import CLIP_PERCENTILES, RETINEX_SHARE, SATURATION, SSR_EPSILON
from .stages.smap import SMAP_CENTRE, SMAP_SLOPE
from .stages.pipeline import TSMAP_SIGMA, FusionParams, run_stages
from .stages.surround import MSR_SIGMAS, REFERENCE_SIZE
from ...nn.stack_fusion import DEFAULT_MAX_FRAMES
from ...nn.weights import WeightsSpec
from ...registry import keyword_defaults, register_method

#: The shipped translator pair G_LH, G_HL.
WEIGHTS = WeightsSpec.load(__name__)  # weights.json: file, sha256, architecture, licence, training


#: ``mitm``'s parameters that act on the whole bracket, not on one pair (:func:`mitm_stages`).
BRACKET_PARAMS = ("stack", "max_frames", "max_mp", "hue")
#: ``mitm``'s parameters of the translation step.
TRANSLATION_PARAMS = ("translator", "weights", "device", "tile", "tile_pad")


def mitm_stages(frames: Sequence[np.ndarray], **params: Any):
    """Run MITM on a pair and return every stage (:class:`mefkit.methods.mitm.stages.pipeline.Stages`).

    Takes the first and the last frame as LE and HE (the paper's pair) and the keyword
    parameters of :func:`mitm` that act on one pair (all but :data:`BRACKET_PARAMS`),
    with its defaults.
    """
    from .stages.translate import translate_pair

    options = keyword_defaults(mitm, params, exclude=BRACKET_PARAMS)
    translation = {k: options.pop(k) for k in TRANSLATION_PARAMS}
    weights = options["ssr_weights"]
    fusion = FusionParams(**{
        **options,
        "ssr_sigmas": tuple(options["ssr_sigmas"]),
        "ssr_weights": None if weights is None else tuple(weights),
        "clip_percentiles": tuple(float(c) for c in options["clip_percentiles"]),
    })
    under = np.asarray(frames[0], np.float32)
    over = np.asarray(frames[-1], np.float32)
    over_from_under, under_from_over = translate_pair(under, over, **translation)
    return run_stages(under, over, over_from_under, under_from_over, fusion)


@register_method(
    "mitm",
    summary="MITM (reconstructed): mutual LE/HE translation, surround switching maps, multiscale SSR",
    citation="J. Go, C. Lee, S.-H. Lee, Multiexposed Image-Fusion Strategy Using Mutual Image "
    "Translation Learning with Multiscale Surround Switching Maps, Mathematics 12(20) 3244, 2024",
    kind="learned",
    weights=WEIGHTS,
)
def mitm(
    frames: Sequence[np.ndarray],
    *,
    translator: str = "learned",
    weights: str | None = None,
    device: str = "cpu",
    tile: int = 512,
    tile_pad: int = 48,
    slope: float = SMAP_SLOPE,
    centre: float = SMAP_CENTRE,
    reference_size: int | None = REFERENCE_SIZE,
    me_sigma: float = ME_SIGMA,
    translated_share: float = TRANSLATED_SHARE,
    tsmap_sigma: float = TSMAP_SIGMA,
    ssr_sigmas: Sequence[float] = MSR_SIGMAS,
    ssr_weights: Sequence[float] | None = None,
    ssr_eps: float = SSR_EPSILON,
    clip_percentiles: Sequence[float] = CLIP_PERCENTILES,
    retinex_share: float = RETINEX_SHARE,
    saturation: float = SATURATION,
    stack: str = "chain",
    max_frames: int = DEFAULT_MAX_FRAMES,
    max_mp: float | str | None = "shared",
    hue: str = "neutral",
) -> np.ndarray:
    """Fuse a bracket by MITM (reconstructed from the paper's description), every frame used.

    Parameters
    ----------
    frames : sequence of ndarray
        K >= 2 frames ``(H, W, 3)`` float32 RGB in [0, 1], any order. The paper fuses
        an LE/HE pair; K > 2 frames go through the K-frame rule of
        :mod:`mefkit.nn.stack_fusion` (our extension): every pair of exposure
        neighbours is fused by MITM and the results are blended by their frames'
        exposure-fusion weights.
    translator : {"learned", "curve"}
        The trained mutual translators, or a histogram-curve stand-in (ablation).
    weights : str, optional
        Translator safetensors file (default: the shipped pair,
        :data:`WEIGHTS`, ``mitm_translators.safetensors``).
    device : str
        torch device of the translators (``"cpu"``, ``"cuda"``).
    tile, tile_pad : int
        Tile side and context of the full-resolution translator pass (0: no tiling).
    slope, centre : float
        Switching map ``sigmoid(slope * (G_sigma * L - centre))`` on CIELAB L/100 (M1: 10, 0.5).
    reference_size : int or None
        Short side (px) at which every sigma below applies; other sizes scale them (M2).
    me_sigma : float
        Surround sigma of the middle-exposure switch (M6: 80).
    translated_share : float
        Weight of the translated image in ``(LE + HE')/2`` and ``(HE + LE')/2`` (M6: 0.5).
    tsmap_sigma : float
        Surround sigma of the trans-switching map for the high-mid / mid-low images (M7: 80).
    ssr_sigmas : sequence of float
        Single-scale-retinex scales (M2: 15, 80, 250).
    ssr_weights : sequence of float, optional
        Weights of the retinex layers (default equal).
    ssr_eps : float
        Offset inside the retinex logarithms (1/255).
    clip_percentiles : (float, float)
        Clip before stretching the retinex lightness (M8: 1, 99).
    retinex_share : float
        Share of the retinex lightness in the output lightness (M8: 0.5).
    saturation : float
        Colour saturation factor (1).
    stack, max_frames : str, int
        The K-frame rule and the cap on frames used, as in
        :func:`mefkit.methods.progressive.progressive` (default ``chain``, 9).
    max_mp : float, "shared" or None
        Working size in megapixels: larger brackets are fused at that size and the
        result is guided-upsampled once. None: full resolution. ``"shared"``
        (default): two frames run at full resolution; the K - 1 pairs of a longer
        bracket share one full-resolution pair's pixels (each runs at
        ``H * W / (K - 1)``), so a bracket costs about what a pair does. On the 16
        ``mef_database`` stacks with all frames: MEF-SSIM 0.9516 against 0.9518 at
        full resolution, at a seventh of the time.
    hue : {"neutral", "clipped", "inputs", "network"}
        Colour step (:func:`mefkit.hue.restore_hue`). ``neutral`` (default): the
        pipeline's colour, its chroma capped where the unclipped inputs are neutral,
        so a gray bracket stays gray (the pipeline alone tints it). ``inputs``: also
        the hue from the unclipped inputs. ``network``: the pipeline's own colour.
        SICE ground-truth pairs: ``network`` 18.16 dB / SSIM 0.8721, ``neutral``
        18.19 / 0.8720.

    Returns
    -------
    ndarray
        ``(H, W, 3)`` float32 RGB in [0, 1].

    References
    ----------
    J. Go, C. Lee, S.-H. Lee, Mathematics 12(20) 3244, 2024 (MITM); J.-Y. Zhu et al.,
    CycleGAN, ICCV 2017; D. Jobson, Z. Rahman, G. Woodell, retinex, IEEE TIP 1997.
    """
    one_pair = {k: v for k, v in locals().items() if k != "frames" and k not in BRACKET_PARAMS}
    if len(clip_percentiles) != 2:
        raise ValueError(f"clip_percentiles must be two numbers, got {clip_percentiles}")
    from ...nn.stack_fusion import fuse_stack, pair_count, select_frames

    plan = select_frames(frames, max_frames)
    if max_mp == "shared":
        pairs = pair_count(stack, len(plan.used))
        max_mp = None if pairs <= 1 else frames[0].shape[0] * frames[0].shape[1] / 1e6 / pairs
    elif isinstance(max_mp, str):
        raise ValueError(f"max_mp must be a number of megapixels, 'shared' or None; got {max_mp!r}")

    def pair(under: np.ndarray, over: np.ndarray) -> np.ndarray:
        return mitm_stages([under, over], **one_pair).output

    from ...hue import hue_refiner

    return fuse_stack(pair, frames, max_mp=max_mp, design=stack, max_frames=max_frames, plan=plan,
                      refine=hue_refiner(hue))
