"""CBM: variance-driven U-Net fusion with chroma-scale colour (learned).

Son, Go, Lee, Lee, "Variance-driven U-Net weighted training and chroma-scale-based
multi-exposure image fusion", Mathematics 2025, 13(22) 3629; reconstructed from the
paper's abstract and conference summary (papers.md §3b), not from its full text.

Pipeline (test time):

1. The frames to CIE-Lab (OpenCV, :mod:`mefkit.methods.cbm.stages.lab`).
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

from functools import lru_cache
from pathlib import Path
from typing import Sequence

import numpy as np

from .stages import CHROMA_MODES, clip_reliability, compose, rgb_to_lab
from .stages.chroma import CLIP_START
from .stages.gamma import GAMMA_TARGET
from .stages.lab import L_MAX
from ...nn.stack_fusion import DEFAULT_MAX_FRAMES
from ...registry import register_method

#: Weights shipped with mefkit (see ``weights/cbm_MODEL_CARD.md``).
DEFAULT_WEIGHTS = Path(__file__).resolve().parents[2] / "weights" / "cbm.safetensors"
#: Longer side (px) of the training images (``DataConfig.max_side``): by default the
#: U-Net runs at this scale, where its receptive field covers what it learned from,
#: and its output is brought to full resolution by guided upsampling.
TRAIN_SIDE = 512
#: Default smoothing (Gaussian sigma, px) of the ``select`` mask: removes single-pixel
#: flips where both chromas are close, too small to blur colour edges visibly.
SELECT_SMOOTHING = 1.0


@lru_cache(maxsize=4)
def _model(path: str, device: str):
    from .unet import load_cbm_unet

    return load_cbm_unet(path, device)


def resolve_weights(weights: str | Path | None) -> Path:
    """The weights file to use: ``weights`` or the shipped default; ValueError if missing."""
    path = Path(weights) if weights else DEFAULT_WEIGHTS
    if not path.is_file():
        hint = "" if weights else " (the shipped CBM weights are missing from this install)"
        raise ValueError(f"CBM weights not found: {path}{hint}")
    return path


def fused_lightness(
    under: np.ndarray,
    over: np.ndarray,
    *,
    weights: str | Path | None = None,
    max_side: int = TRAIN_SIDE,
    tile: int = 512,
    tile_pad: int = 32,
    device: str = "cpu",
) -> np.ndarray:
    """U-Net fusion of two frames' lightness.

    Parameters
    ----------
    under, over : ndarray
        ``(H, W, 3)`` float32 sRGB in [0, 1], or ``(H, W)`` normalised lightness
        ``L/100`` in [0, 1].
    weights : str or Path, optional
        CBM U-Net safetensors (default: the shipped weights).
    max_side : int
        Larger inputs are area-downscaled to this longer side for the U-Net and its
        output is brought back by guided upsampling (a local affine map from the two
        input lightnesses, fitted at low resolution: :func:`mefkit.nn.tiling.guided_coefficients`),
        so full-resolution detail comes from the inputs. 0: run at full resolution.
    tile, tile_pad : int
        Tile side and overlap for bounded-memory inference (``tile=0``: whole image).
    device : str
        Torch device.

    Returns
    -------
    ndarray
        ``(H, W)`` float32 fused ``L/100`` in [0, 1].
    """
    import cv2

    from .stages.lab import lightness

    from ...nn.tiling import guided_coefficients, guided_upsample

    lums = np.stack([x if x.ndim == 2 else lightness(x) for x in (under, over)], axis=-1).astype(np.float32)
    model = _model(str(resolve_weights(weights)), str(device))
    h, w = lums.shape[:2]
    small = lums
    if max_side and max(h, w) > max_side:
        s = max_side / max(h, w)
        sh, sw = max(1, round(h * s)), max(1, round(w * s))
        small = np.clip(cv2.resize(lums, (sw, sh), interpolation=cv2.INTER_AREA), 0.0, 1.0)
    y = _infer(model, small, tile, tile_pad, str(device))
    low = y[0, 0].float().cpu().numpy()
    if small is lums:
        return low.clip(0.0, 1.0)
    coef = guided_coefficients(small, low[..., None])
    return guided_upsample(coef, [lums])[..., 0].clip(0.0, 1.0)


def stack_lightness(
    lums: Sequence[np.ndarray],
    *,
    weights: str | Path | None = None,
    max_side: int = TRAIN_SIDE,
    tile: int = 512,
    tile_pad: int = 32,
    device: str = "cpu",
    design: str = "chain",
) -> np.ndarray:
    """U-Net fusion of K >= 2 lightness maps ``L/100`` (darkest first) by the stack rule.

    The maps are shrunk once to ``max_side`` (as :func:`fused_lightness`), fused by
    pairs of exposure neighbours and merged (:func:`mefkit.nn.stack_fusion.fuse_stack`),
    and guided-upsampled once. Two maps give :func:`fused_lightness` exactly.

    Returns
    -------
    ndarray
        ``(H, W)`` float32 fused ``L/100`` in [0, 1].
    """
    from ...nn.stack_fusion import StackPlan, fuse_stack

    h, w = lums[0].shape[:2]
    size = None
    if max_side and max(h, w) > max_side:
        s = max_side / max(h, w)
        size = (max(1, round(h * s)), max(1, round(w * s)))

    def pair(under: np.ndarray, over: np.ndarray) -> np.ndarray:
        return fused_lightness(under[..., 0], over[..., 0], weights=weights, max_side=0, tile=tile,
                               tile_pad=tile_pad, device=device)[..., None]

    k = len(lums)
    plan = StackPlan(tuple(range(k)), tuple(range(k)))
    out = fuse_stack(pair, [np.asarray(x, np.float32)[..., None] for x in lums], max_mp=None, design=design,
                     plan=plan, size=size)
    return out[..., 0]


def _infer(model, image: np.ndarray, tile: int, tile_pad: int, device: str):  # noqa: ANN001 - a torch module
    """The U-Net on ``image`` ``(H, W, 2)``, tiled: ``(1, 1, H, W)`` tensor."""
    import torch

    from ...nn.tiling import pad_to_multiple, tile_alignment, tiled_apply

    # Overlapping tiles with feathered seams keep memory bounded at any resolution;
    # the overlap is the context pad, capped below the tile side. The image is padded
    # as the U-Net pads itself (reflection to a multiple of its stride) and the tiles
    # start on that stride grid, so each tile pools the same pixel groups as one whole
    # pass would (otherwise the seams show the pooling phase change).
    h, w = image.shape[:2]
    align = tile_alignment(2**model.depth, tile_pad) if tile else 1
    (image,) = pad_to_multiple([image], align, mode="reflect")
    x = torch.from_numpy(np.ascontiguousarray(image.transpose(2, 0, 1))[None]).to(device)
    overlap = min(tile_pad, max(tile - 1, 0))
    with torch.inference_mode():
        out = tiled_apply(model, [x], tile=tile, tile_pad=tile_pad, overlap=overlap, out_channels=1, align=align)
    return out[..., :h, :w]


@register_method(
    "cbm",
    summary="CBM: U-Net fuses Lab lightness (variance-weighted training), chroma-scale colour, gamma",
    citation=(
        "C.-W. Son, Y.-H. Go, S.-H. Lee, S.-H. Lee, Variance-driven U-Net weighted training and "
        "chroma-scale-based multi-exposure image fusion, Mathematics 13(22) 3629, 2025 (reconstructed)"
    ),
    kind="learned",
)
def cbm(
    frames: Sequence[np.ndarray],
    *,
    weights: str | None = None,
    chroma: str = "select",
    smoothing: float = SELECT_SMOOTHING,
    clip_guard: float | None = CLIP_START,
    gamma: float | str | None = "auto",
    gamma_target: float = GAMMA_TARGET,
    max_side: int = TRAIN_SIDE,
    tile: int = 512,
    tile_pad: int = 32,
    device: str = "cpu",
    stack: str = "chain_fw",
    max_frames: int = DEFAULT_MAX_FRAMES,
) -> np.ndarray:
    """Fuse a bracket with CBM, every frame used.

    Parameters
    ----------
    frames : sequence of ndarray
        K >= 2 frames ``(H, W, 3)`` float32 sRGB in [0, 1], any order (put in exposure
        order by mean luminance).
    weights : str, optional
        Path of CBM U-Net safetensors (default: shipped ``cbm.safetensors``).
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
    max_side : int
        The U-Net runs with the longer side at most this (default: the training
        images' 512 px) and its lightness is guided-upsampled to full resolution;
        0 runs it at full resolution (tiled).
    tile, tile_pad : int
        Tile side and overlap (pixels) of the U-Net inference; ``tile=0`` runs the
        whole image at once.
    device : str
        Torch device, e.g. ``"cpu"`` or ``"cuda"``.
    stack, max_frames : str, int
        The K-frame rule and the cap on frames used, as in
        :func:`mefkit.methods.progressive.progressive` (default ``chain_fw``, 9).

    Returns
    -------
    ndarray
        ``(H, W, 3)`` float32 sRGB in [0, 1].
    """
    if chroma not in CHROMA_MODES:
        raise ValueError(f"chroma must be one of {CHROMA_MODES}, got {chroma!r}")
    if smoothing < 0:
        raise ValueError(f"smoothing must be >= 0, got {smoothing}")
    if clip_guard is not None and not 0.0 <= clip_guard <= 1.0:
        raise ValueError(f"clip_guard must be in [0, 1] or None, got {clip_guard}")
    if max_side < 0:
        raise ValueError(f"max_side must be >= 0, got {max_side}")
    if tile < 0 or tile_pad < 0:
        raise ValueError(f"tile and tile_pad must be >= 0, got {tile}, {tile_pad}")
    from ...nn.stack_fusion import select_frames

    used = [frames[i] for i in select_frames(frames, max_frames).used]
    labs = [rgb_to_lab(f) for f in used]
    lums = [np.clip(lab[..., 0] / np.float32(L_MAX), 0.0, 1.0) for lab in labs]
    lum = stack_lightness(lums, weights=weights, max_side=max_side, tile=tile, tile_pad=tile_pad, device=device,
                          design=stack)
    rel = None
    if clip_guard is not None and clip_guard < 1.0:
        rel = [clip_reliability(f, clip_guard) for f in used]
    return compose(labs, lum, chroma=chroma, smoothing=smoothing, gamma=gamma, gamma_target=gamma_target,
                   reliabilities=rel)
