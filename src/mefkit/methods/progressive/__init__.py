"""Two-phase progressive fusion (Huang, NTU thesis): intermediate exposure, then attention.

Phase 1 (:class:`mefkit.methods.progressive.network.IntermediateUNet`) makes an intermediate
exposure from two frames; phase 2 (:class:`mefkit.methods.progressive.network.AMNet`) refines it
with attention over the three. A bracket of K > 2 frames is fused by the K-frame rule
of :mod:`mefkit.nn.stack_fusion`: at most ``max_frames`` frames chosen evenly in log
luminance, every pair of exposure neighbours through the networks at the working size,
the pair results blended with their frames' exposure-fusion weights, one guided
upsampling at the end.
Weights ship beside this module (:data:`WEIGHTS`, ``progressive_v1.safetensors``, see
``MODEL_CARD.md``); ``weights=PATH`` loads others in the same format
(:func:`save_weights`).

Full-resolution inference goes through :func:`mefkit.nn.tiling.fuse_full_resolution`:
tiles with feathered seams, and above ``max_mp`` megapixels a reduced-scale pass
brought back to full resolution by guided upsampling. Torch is imported inside the
functions so that listing methods stays fast.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any, Sequence

import numpy as np

from ...nn.stack_fusion import DEFAULT_MAX_FRAMES
from ...nn.weights import WeightsSpec, load_model, resolve_weights
from ...nn.weights import save_weights as save_weights_file
from ...checks import require_non_negative
from ...registry import keyword_defaults, register_method

#: Format tag written into the safetensors metadata.
WEIGHTS_FORMAT = "mefkit-progressive-v1"
#: The shipped weights (both phases in one file).
WEIGHTS = WeightsSpec.load(__name__)  # weights.json: file, sha256, architecture, licence, training


def save_weights(
    path: str | Path, unet: Any, amnet: Any | None = None, info: dict | None = None, half: bool = False
) -> None:
    """Write phase-1 (and phase-2) weights as one safetensors file.

    Parameters
    ----------
    path : str or Path
        Output ``.safetensors`` file.
    unet : IntermediateUNet
    amnet : AMNet, optional
    info : dict, optional
        Extra JSON-serialisable metadata (training run, steps, ...).
    half : bool
        Store float16 (half the file; :func:`load_weights` computes in float32).

    Notes
    -----
    Tensors are stored as ``unet.<name>`` and ``amnet.<name>``; the metadata holds
    ``format``, ``unet_config``, ``amnet_config`` and ``info`` as JSON strings.
    """
    from .network import config_dict

    models = {"unet": unet} if amnet is None else {"unet": unet, "amnet": amnet}
    meta: dict[str, Any] = {"format": WEIGHTS_FORMAT, "unet_config": config_dict(unet), "info": info or {}}
    if amnet is not None:
        meta["amnet_config"] = config_dict(amnet)
    save_weights_file(path, models, meta, half=half)


def load_weights(path: str | Path, device: str = "cpu") -> Any:
    """Build a :class:`~mefkit.methods.progressive.network.ProgressiveFusion` from a weights file.

    Parameters
    ----------
    path : str or Path
        A file written by :func:`save_weights`.
    device : str
        Torch device for the model.

    Returns
    -------
    ProgressiveFusion
        In eval mode; ``.amnet`` is None when the file holds phase 1 only. Cached
        (:func:`mefkit.nn.weights.load_model`).

    Raises
    ------
    ValueError
        The file is missing or not in this format.
    """
    from .network import build_from_weights

    return load_model(path, build_from_weights, device)


def _nhwc(t: Any) -> Any:
    """``t`` in channels_last memory format, the layout the loaded model's weights use."""
    import torch

    return t.contiguous(memory_format=torch.channels_last)


@register_method(
    "progressive",
    summary="Two-phase progressive fusion: intermediate-exposure UNet, then attention refinement (learned)",
    citation="Y.-F. Huang, Two-Phase Progressive Multiple Exposure Fusion via Intermediate Exposure Generation, "
    "M.S. thesis, National Taiwan University (advisor Y.-Y. Chuang)",
    kind="learned",
    weights=WEIGHTS,
)
def progressive(
    frames: Sequence[np.ndarray],
    *,
    weights: str | None = None,
    phase: int = 2,
    max_mp: float | None = 1.0,
    tile: int = 1024,
    tile_pad: int = 32,
    device: str = "cpu",
    hue: str = "neutral",
    flips: int | str = "auto",
    stack: str = "chain",
    max_frames: int = DEFAULT_MAX_FRAMES,
    runtime: str = "auto",
) -> np.ndarray:
    """Fuse a bracket with the two-phase progressive networks, every frame used.

    Parameters
    ----------
    frames : sequence of ndarray
        K >= 2 frames ``(H, W, 3)`` float32 in [0, 1], in any order (they are put in
        exposure order by mean luminance). The networks take two exposures; K > 2
        frames are fused by pairs of exposure neighbours (``stack``).
    weights : str, optional
        A weights file written by :func:`save_weights`; default the shipped weights.
    phase : {1, 2}
        2: the final result; 1: phase 1's intermediate exposure alone.
    max_mp : float or None
        Largest size (megapixels) the networks run at; bigger brackets run at that
        size and come back to full resolution by guided upsampling. ``None`` or 0:
        always full resolution (slower, same memory bound).
    tile, tile_pad : int
        Tile side and context margin of the network pass (``tile=0``: one pass).
    device : str
        Torch device, e.g. ``"cpu"`` or ``"cuda"``.
    hue : {"neutral", "clipped", "inputs", "network"}
        Colour step at the working size (:func:`mefkit.hue.restore_hue`). The
        networks tint a gray bracket (up to 25/255 per channel) and copy part of a
        clipped frame's hue (an orange whose red channel clipped turns yellow, as on
        the bundled example). ``neutral`` (default): the networks' colour, its chroma
        capped where the unclipped inputs are neutral, so a gray bracket stays gray.
        ``inputs``: also the hue from the inputs where they are coloured and not
        clipped, which fixes the clipped-channel hue. ``network``: the colour as is.
        Measured (SICE ground-truth pairs, PSNR / SSIM; validation pairs, one pass,
        PSNR / SSIM, ``bench/progressive_val.py``): ``network`` 18.93 / 0.8934,
        22.37 / 0.9242; ``neutral`` 18.89 / 0.8923, 22.37 / 0.9219 (validation with
        an earlier, tighter cap); ``inputs`` 18.78 / 0.8821, 22.22 / 0.9192. ``inputs``
        costs too much to be the default; ``neutral`` costs little and keeps gray gray.
    flips : {"auto", 1, 2, 4}
        Geometric self-ensemble: the mean of this many mirrored network passes
        (:mod:`mefkit.nn.self_ensemble`). ``auto``: as many as fit in the ``max_mp``
        budget shared by all pairs (for one pair: 4 for brackets up to ``max_mp / 4``
        megapixels, 2 up to half, else 1), so large brackets cost what a single pass
        per pair costs.
    stack : {"chain", "chain_results", "tree", "base", "extremes"}
        How K > 2 frames are fused (:func:`mefkit.nn.stack_fusion.fuse_stack_small`).
        ``chain`` (default): every pair of exposure neighbours, the pair results
        blended by their two frames' mean exposure-fusion weight. ``extremes``: the
        darkest and brightest frame only (the method before it used every frame).
        Two frames give the same result under every rule.
    max_frames : int
        At most this many frames are used (>= 2; 0: all), chosen evenly in log mean
        luminance, the darkest and brightest always
        (:func:`mefkit.nn.stack_fusion.select_frames`); ``mefkit fuse`` reports which.
    runtime : {"auto", "torch", "onnxruntime"}
        What runs the networks. ``onnxruntime``: ONNX Runtime on the CPU, from a graph
        exported at run time from the weights (:mod:`mefkit.nn.onnx_runtime`; needs the
        ``fast`` extra); 2-3 times faster than torch on a small CPU, same output to
        float rounding. ``auto`` (default): ONNX Runtime when installed and ``device``
        is the CPU, else torch.

    Returns
    -------
    ndarray
        ``(H, W, 3)`` float32 in [0, 1].
    """
    if phase not in (1, 2):
        raise ValueError(f"phase must be 1 or 2, got {phase}")

    def make_pass(model: Any, path: Path) -> Any:
        if phase == 2 and model.amnet is None:
            raise ValueError(f"{path} holds phase-1 weights only; use phase=1")

        def one_pass(under: Any, over: Any) -> Any:
            return model(_nhwc(under), _nhwc(over), phase=phase)

        return one_pass

    return _run_networks(frames, make_pass, 3, weights=weights, max_mp=max_mp, tile=tile, tile_pad=tile_pad,
                         device=device, hue=hue, flips=flips, stack=stack, max_frames=max_frames,
                         runtime=runtime, outputs=f"phase{phase}")


def _run_networks(frames: Sequence[np.ndarray], make_pass: Any, out_channels: int, *, weights: str | None,
                  max_mp: float | None, tile: int, tile_pad: int, device: str, hue: str,
                  flips: int | str, runtime: str, outputs: str, stack: str = "chain",
                  max_frames: int = DEFAULT_MAX_FRAMES) -> np.ndarray:
    """The shared body of :func:`progressive` and :func:`fuse_both_phases`.

    Checks the options, loads the weights, wraps ``make_pass(model, path)`` (a torch
    network pass on ``(under, over)`` tensors giving ``out_channels`` channels; when
    ``runtime`` resolves to ONNX Runtime, the same pass exported by :func:`_onnx_pass`,
    ``outputs`` naming what it computes) in the self-ensemble and runs it on the
    bracket by the K-frame rule (:func:`mefkit.nn.stack_fusion.fuse_stack`), with the
    hue refinement at the working size and one guided upsampling to full resolution.
    """
    if max_mp is not None:
        require_non_negative(max_mp=max_mp)
    if tile != 0 and tile < 16:
        raise ValueError(f"tile must be 0 or >= 16, got {tile}")
    require_non_negative(tile_pad=tile_pad)
    refine = _hue_refiner(hue)
    path = resolve_weights(weights, WEIGHTS)
    from .network import UNET_FACTOR
    from ...nn.onnx_runtime import resolve_runtime
    from ...nn.self_ensemble import flip_count, flip_ensemble
    from ...nn.stack_fusion import fuse_stack, merge_groups, pair_count, select_frames
    from ...nn.tiling import fuse_full_resolution

    plan = select_frames(frames, max_frames)
    # One budget per bracket: the pairs share max_mp megapixels of network input (each
    # runs at most at max_mp / pairs), and the mirrored passes count within it, so a
    # K-frame bracket costs about what a pair does.
    pair_mp = max_mp and max_mp / pair_count(stack, len(plan.used))
    passes = flip_count(*frames[0].shape[:2], pair_mp, flips)
    model = load_weights(path, device)
    one_pass = make_pass(model, path)  # also checks that the weights hold the phases asked for
    if resolve_runtime(runtime, device) == "onnxruntime":
        one_pass = _onnx_pass(model, path, outputs)
    net = flip_ensemble(one_pass, passes)

    def pair(under: np.ndarray, over: np.ndarray) -> np.ndarray:
        return fuse_full_resolution(net, [under, over], max_mp=None, tile=tile, tile_pad=tile_pad, device=device,
                                    out_channels=out_channels, multiple=UNET_FACTOR)

    return fuse_stack(pair, frames, max_mp=pair_mp, design=stack, plan=plan, refine=refine,
                      merge=merge_groups(3) if out_channels > 3 else None)


#: What an exported progressive graph returns, by ``outputs`` name of :func:`_onnx_pass`.
_GRAPH_OUTPUTS = ("phase1", "phase2", "both")


def _onnx_pass(model: Any, path: Path, outputs: str) -> Any:
    """A network pass ``(under, over) -> tensor`` run by ONNX Runtime.

    ``outputs``: ``phase1`` (the intermediate exposure), ``phase2`` (the final image)
    or ``both`` (6 channels, intermediate first). The graph is exported from ``model``
    (built from the weights file at ``path``) on first use and kept for the process,
    keyed by the file's sha256. Inputs whose sides are not multiples of 16 are padded
    by edge replication as the UNet pads them, and the output is cropped back.
    """
    import torch
    import torch.nn.functional as F

    from ...nn.onnx_runtime import OnnxNetwork, onnx_graph
    from ...nn.weights import file_sha256
    from .network import UNET_FACTOR

    if outputs not in _GRAPH_OUTPUTS:
        raise ValueError(f"outputs must be one of {_GRAPH_OUTPUTS}, got {outputs!r}")

    class Graph(torch.nn.Module):
        def __init__(self, unet: Any, amnet: Any) -> None:
            super().__init__()
            self.unet, self.amnet = unet, amnet

        def forward(self, under: Any, over: Any) -> Any:
            inter = self.unet(under, over)
            if outputs == "phase1":
                return inter
            final = self.amnet(under, inter, over)
            return final if outputs == "phase2" else torch.cat([inter, final], dim=1)

    def build() -> Any:
        import copy

        # A float32 NCHW copy (Module.to works in place, and the cached model stays
        # channels_last for torch): the exported graph's layout is ONNX Runtime's choice.
        nchw = lambda m: copy.deepcopy(m).to(memory_format=torch.contiguous_format)  # noqa: E731
        graph = Graph(nchw(model.unet), nchw(model.amnet) if outputs != "phase1" else None)
        side = 2 * UNET_FACTOR
        example = [torch.rand(1, 3, side, side), torch.rand(1, 3, side, side)]
        return graph.eval(), example, ["under", "over"]

    net = OnnxNetwork(onnx_graph(f"progressive-{file_sha256(path)}-{outputs}", build), ["under", "over"])

    def one_pass(under: Any, over: Any) -> Any:
        h, w = under.shape[-2:]
        ph, pw = -h % UNET_FACTOR, -w % UNET_FACTOR
        if ph or pw:
            under, over = (F.pad(x, (0, pw, 0, ph), mode="replicate") for x in (under, over))
        return net(under, over)[..., :h, :w]

    return one_pass


#: Colour modes of the progressive method (see ``hue`` of :func:`progressive`).
from ...hue import HUE_MODES  # noqa: E402  (re-exported under the method's name)


def _hue_refiner(hue: str) -> Any:
    """The working-size refinement for a ``hue`` mode (:func:`mefkit.hue.hue_refiner`)."""
    from ...hue import hue_refiner

    return hue_refiner(hue)


def fuse_both_phases(frames: Sequence[np.ndarray], **params: Any) -> tuple[np.ndarray, np.ndarray]:
    """Phase 1's and phase 2's results from one network pass (for evaluation).

    Takes the keyword parameters of :func:`progressive` but ``phase``; returns
    ``(intermediate, final)``, each ``(H, W, 3)`` float32 in [0, 1], equal to ``phase=1``
    and ``phase=2`` calls.
    """
    options = keyword_defaults(progressive, params, exclude=("phase",))
    import torch

    def make_pass(model: Any, path: Path) -> Any:
        if model.amnet is None:
            raise ValueError(f"{path} holds phase 1 only")

        def one_pass(under: Any, over: Any) -> Any:
            under, over = _nhwc(under), _nhwc(over)
            inter = model.unet(under, over)
            return torch.cat([inter, model.amnet(under, inter, over)], dim=1)

        return one_pass

    both = _run_networks(frames, make_pass, 6, outputs="both", **options)
    return both[..., :3], both[..., 3:]
