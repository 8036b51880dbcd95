"""CBM: variance-driven U-Net fusion with chroma-scale colour (learned).

Son, Go, Lee, Lee, "Variance-driven U-Net weighted training and chroma-scale-based
multi-exposure image fusion", Mathematics 2025, 13(22) 3629; reconstructed from the
paper's abstract and conference summary, not from its full text.

Pipeline (test time):

1. The frames to CIE-Lab (OpenCV, :func:`mefkit.io.convert.rgb_to_lab`).
2. The U-Net (:mod:`mefkit.methods.cbm.unet`) fuses two lightnesses ``L/100``. The paper
   fuses two exposures; a bracket of K > 2 frames goes through the K-frame rule of
   :mod:`mefkit.nn.stack_fusion` (our extension): at most ``max_frames`` frames, every
   pair of exposure neighbours through the U-Net, the pair lightnesses blended by
   their frames' exposure-fusion weights, one guided upsampling.
3. Gamma compensation of the fused lightness (:mod:`mefkit.methods.cbm.stages.gamma`).
4. a*, b* from all used inputs by chroma scale, ``select`` or ``weighted``
   (:mod:`mefkit.methods.cbm.stages.chroma`).
5. Lab back to sRGB.

Torch is imported inside the function only.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any, Sequence

import numpy as np

from .stages import CHROMA_MODES, clip_reliability, compose, rgb_to_lab
from .stages.chroma import CLIP_START
from .stages.gamma import GAMMA_TARGET
from .stages.lab import L_MAX
from ...checks import require_in_range, require_non_negative, require_one_of
from ...nn.stack_fusion import DEFAULT_MAX_FRAMES
from ...nn.weights import WeightsSpec, resolve_weights
from ...registry import keyword_defaults, register_method

#: The shipped U-Net weights.
WEIGHTS = WeightsSpec.load(__name__)  # weights.json: file, sha256, architecture, licence, training
#: Longer side (px) of the training images (``DataConfig.max_side``): by default
#: (``max_mp="train"``) the U-Net runs at this scale, where its receptive field covers
#: what it learned from, and its output is brought to full resolution by guided upsampling.
TRAIN_SIDE = 512
#: Default smoothing (Gaussian sigma, px) of the ``select`` mask: removes single-pixel
#: flips where both chromas are close, too small to blur colour edges visibly.
SELECT_SMOOTHING = 1.0


def train_scale(h: int, w: int) -> tuple[int, int] | None:
    """The working size with the longer side at :data:`TRAIN_SIDE`, or None when the image is within it."""
    if max(h, w) <= TRAIN_SIDE:
        return None
    s = TRAIN_SIDE / max(h, w)
    return max(1, round(h * s)), max(1, round(w * s))


def _check_budget(max_mp: float | str | None) -> None:
    if isinstance(max_mp, str):
        if max_mp != "train":
            raise ValueError(f"max_mp must be 'train', a number of megapixels >= 0, or None; got {max_mp!r}")
    elif max_mp is not None:
        require_non_negative(max_mp=max_mp)


#: :func:`cbm`'s parameters of the U-Net pass, which :func:`fused_lightness` and
#: :func:`stack_lightness` take (declared once, in :func:`cbm`).
UNET_PARAMS = ("weights", "max_mp", "tile", "tile_pad", "device")


def fused_lightness(under: np.ndarray, over: np.ndarray, **params: Any) -> np.ndarray:
    """U-Net fusion of two frames' lightness.

    Parameters
    ----------
    under, over : ndarray
        ``(H, W, 3)`` float32 sRGB in [0, 1], or ``(H, W)`` normalised lightness
        ``L/100`` in [0, 1].
    **params
        :data:`UNET_PARAMS` (``weights``, ``max_mp``, ``tile``, ``tile_pad``,
        ``device``) as in :func:`cbm`, with its defaults. Larger inputs than the
        ``max_mp`` budget are area-downscaled and the U-Net's output is brought back by
        guided upsampling (a local affine map from the two input lightnesses, fitted at
        low resolution: :func:`mefkit.nn.tiling.fuse_full_resolution`), so
        full-resolution detail comes from the inputs.

    Returns
    -------
    ndarray
        ``(H, W)`` float32 fused ``L/100`` in [0, 1].
    """
    from .stages.lab import lightness
    from .unet import load_cbm_unet

    from ...nn.tiling import fuse_full_resolution

    p = keyword_defaults(cbm, params, only=UNET_PARAMS)
    max_mp, tile, tile_pad, device = p["max_mp"], p["tile"], p["tile_pad"], p["device"]
    _check_budget(max_mp)
    lums = np.stack([x if x.ndim == 2 else lightness(x) for x in (under, over)], axis=-1).astype(np.float32)
    model = load_cbm_unet(resolve_weights(p["weights"], WEIGHTS), str(device))
    size = train_scale(*lums.shape[:2]) if max_mp == "train" else None
    # The image is padded as the U-Net pads itself (reflection to a multiple of its
    # stride) and the tiles start on that stride grid, so each tile pools the same
    # pixel groups as one whole pass would (otherwise the seams show the pooling phase
    # change); the feathered overlap is the context pad, capped below the tile side.
    out = fuse_full_resolution(
        model, [lums], max_mp=None if max_mp == "train" else max_mp, size=size, tile=tile, tile_pad=tile_pad,
        overlap=min(tile_pad, max(tile - 1, 0)), device=device, out_channels=1, multiple=2**model.depth,
        pad_mode="reflect",
    )
    return out[..., 0]


def stack_lightness(lums: Sequence[np.ndarray], *, design: str = "chain", **params: Any) -> np.ndarray:
    """U-Net fusion of K >= 2 lightness maps ``L/100`` (darkest first) by the K-frame rule.

    The maps are shrunk once to the working size of ``max_mp`` (as
    :func:`fused_lightness`), fused by pairs of exposure neighbours and merged
    (:func:`mefkit.nn.stack_fusion.fuse_stack`), and guided-upsampled once. Two maps
    give :func:`fused_lightness`'s result. ``design`` is the K-frame rule; ``params``
    are :data:`UNET_PARAMS` as in :func:`cbm`.

    Returns
    -------
    ndarray
        ``(H, W)`` float32 fused ``L/100`` in [0, 1].
    """
    from ...nn.stack_fusion import StackPlan, fuse_stack

    p = keyword_defaults(cbm, params, only=UNET_PARAMS)
    max_mp = p.pop("max_mp")
    _check_budget(max_mp)
    size = train_scale(*lums[0].shape[:2]) if max_mp == "train" else None

    def pair(under: np.ndarray, over: np.ndarray) -> np.ndarray:
        return fused_lightness(under[..., 0], over[..., 0], max_mp=None, **p)[..., None]

    k = len(lums)
    plan = StackPlan(tuple(range(k)), tuple(range(k)))
    out = fuse_stack(pair, [np.asarray(x, np.float32)[..., None] for x in lums],
                     max_mp=None if max_mp == "train" else max_mp, design=design, plan=plan, size=size)
    return out[..., 0]


@register_method(
    "cbm",
    summary="CBM: U-Net fuses Lab lightness (variance-weighted training), chroma-scale colour, gamma",
    citation=(
        "C.-W. Son, Y.-H. Go, S.-H. Lee, S.-H. Lee, Variance-driven U-Net weighted training and "
        "chroma-scale-based multi-exposure image fusion, Mathematics 13(22) 3629, 2025 (reconstructed)"
    ),
    kind="learned",
    weights=WEIGHTS,
)
def cbm(
    frames: Sequence[np.ndarray],
    *,
    stack: str = "chain",
    max_frames: int = DEFAULT_MAX_FRAMES,
    weights: str | None = None,
    chroma: str = "select",
    smoothing: float = SELECT_SMOOTHING,
    clip_guard: float | None = CLIP_START,
    gamma: float | str | None = "auto",
    gamma_target: float = GAMMA_TARGET,
    max_mp: float | str | None = "train",
    tile: int = 512,
    tile_pad: int = 32,
    device: str = "cpu",
) -> np.ndarray:
    """Fuse a bracket with CBM, every frame used.

    Parameters
    ----------
    frames : sequence of ndarray
        K >= 2 frames ``(H, W, 3)`` float32 sRGB in [0, 1], any order (put in exposure
        order by mean luminance).
    stack, max_frames : str, int
        The K-frame rule and the cap on frames used, as in
        :func:`mefkit.methods.progressive.progressive` (default ``chain``, 9).
    weights : str, optional
        Path of CBM U-Net safetensors (default: the shipped :data:`WEIGHTS`).
    chroma : {"select", "weighted"}
        ``select``: a*, b* of the input with the larger chroma scale
        ``sqrt(a^2 + b^2)``; ``weighted``: a*, b* blended by chroma scale.
    smoothing : float
        Gaussian sigma (pixels) applied to the ``select`` mask against speckle; 0: hard.
    clip_guard : float or None
        Our addition: an input's chroma scale is down-weighted where its largest RGB
        channel exceeds this value (linearly to ~0 at 1.0), because clipped pixels have
        wrong hues (:func:`mefkit.methods.cbm.stages.chroma.clip_reliability`). None or 1: the paper's
        plain rule.
    gamma : "auto", float, or "off"
        Gamma compensation of the fused lightness: ``"auto"`` maps the mean lightness
        to ``gamma_target`` (exponent ``clip(log t / log mean(L), 0.6, 1.6)``), a number
        is a fixed exponent, ``"off"`` (or None) disables it.
    gamma_target : float
        Target mean lightness in (0, 1) for ``"auto"``.
    max_mp : "train", float or None
        Size budget of the U-Net pass: ``"train"`` (default) runs it at the training
        images' scale (longer side 512 px), a number at most that many megapixels;
        its lightness is then guided-upsampled to full resolution. 0 or None runs it
        at full resolution (tiled).
    tile, tile_pad : int
        Tile side and overlap (pixels) of the U-Net inference; ``tile=0`` runs the
        whole image at once.
    device : str
        Torch device, e.g. ``"cpu"`` or ``"cuda"``.

    Returns
    -------
    ndarray
        ``(H, W, 3)`` float32 sRGB in [0, 1].
    """
    require_one_of("chroma", chroma, CHROMA_MODES)
    require_non_negative(smoothing=smoothing, tile=tile, tile_pad=tile_pad)
    if clip_guard is not None:
        require_in_range("clip_guard", clip_guard, 0.0, 1.0)
    _check_budget(max_mp)
    from ...nn.stack_fusion import select_frames

    used = [frames[i] for i in select_frames(frames, max_frames).used]
    labs = [rgb_to_lab(f) for f in used]
    lums = [np.clip(lab[..., 0] / np.float32(L_MAX), 0.0, 1.0) for lab in labs]
    lum = stack_lightness(lums, weights=weights, max_mp=max_mp, tile=tile, tile_pad=tile_pad, device=device,
                          design=stack)
    rel = None
    if clip_guard is not None and clip_guard < 1.0:
        rel = [clip_reliability(f, clip_guard) for f in used]
    return compose(labs, lum, chroma=chroma, smoothing=smoothing, gamma=gamma, gamma_target=gamma_target,
                   reliabilities=rel)
