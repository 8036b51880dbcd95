"""Two-phase progressive fusion (Huang, NTU thesis): intermediate exposure, then attention.

Phase 1 (:class:`mefkit.nn.progressive.IntermediateUNet`) makes an intermediate
exposure from the darkest and brightest frames; phase 2
(:class:`mefkit.nn.progressive.AMNet`) refines it with attention over the three.
Weights ship in the package (``mefkit/weights/progressive_v1.safetensors``, see
``progressive_MODEL_CARD.md``); ``weights=PATH`` loads others in the same format
(:func:`save_weights`).

Full-resolution inference goes through :func:`mefkit.nn.tiling.fuse_full_resolution`:
tiles with feathered seams, and above ``max_mp`` megapixels a reduced-scale pass
brought back to full resolution by guided upsampling. Torch is imported inside the
functions so that listing methods stays fast.
"""

from __future__ import annotations

import functools
import json
from pathlib import Path
from typing import Any, Sequence

import numpy as np

from ..params import require_non_negative
from ..registry import register_method

#: Weights shipped with mefkit (both phases in one file).
SHIPPED_WEIGHTS = Path(__file__).resolve().parents[1] / "weights" / "progressive_v1.safetensors"
#: Format tag written into the safetensors metadata.
WEIGHTS_FORMAT = "mefkit-progressive-v1"


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
    from safetensors.torch import save_file

    from ..nn.progressive import config_dict

    import torch

    dtype = torch.float16 if half else None
    cast = lambda v: v.detach().cpu().to(dtype).contiguous() if dtype is not None and v.is_floating_point() else v.detach().cpu().contiguous()  # noqa: E731
    tensors = {f"unet.{k}": cast(v) for k, v in unet.state_dict().items()}
    meta = {"format": WEIGHTS_FORMAT, "unet_config": json.dumps(config_dict(unet)), "info": json.dumps(info or {})}
    if amnet is not None:
        tensors.update({f"amnet.{k}": cast(v) for k, v in amnet.state_dict().items()})
        meta["amnet_config"] = json.dumps(config_dict(amnet))
    path = Path(path)
    tmp = path.with_suffix(path.suffix + ".tmp")
    save_file(tensors, str(tmp), metadata=meta)
    tmp.chmod(0o644)
    tmp.replace(path)


def load_weights(path: str | Path, device: str = "cpu") -> Any:
    """Build a :class:`~mefkit.nn.progressive.ProgressiveFusion` from a weights file.

    Parameters
    ----------
    path : str or Path
        A file written by :func:`save_weights`.
    device : str
        Torch device for the model.

    Returns
    -------
    ProgressiveFusion
        In eval mode; ``.amnet`` is None when the file holds phase 1 only.

    Raises
    ------
    ValueError
        The file is missing or not in this format.
    """
    return _load_cached(str(Path(path).resolve()), Path(path).stat().st_mtime if Path(path).exists() else 0.0, device)


@functools.lru_cache(maxsize=4)
def _load_cached(path: str, mtime: float, device: str) -> Any:
    import torch
    from safetensors import safe_open

    from ..nn.progressive import AMNet, AMNetConfig, IntermediateUNet, ProgressiveFusion, UNetConfig

    if not Path(path).is_file():
        raise ValueError(f"weights file not found: {path}")
    try:
        with safe_open(path, framework="pt") as f:
            meta = f.metadata() or {}
            tensors = {k: f.get_tensor(k).float() for k in f.keys()}  # float16 files compute in float32
    except Exception as exc:  # safetensors raises its own error types
        raise ValueError(f"{path}: not a safetensors file ({exc})") from None
    if meta.get("format") != WEIGHTS_FORMAT:
        raise ValueError(f"{path}: not progressive-fusion weights (format {meta.get('format')!r})")
    unet = IntermediateUNet(UNetConfig(**json.loads(meta["unet_config"])))
    unet.load_state_dict({k[5:]: v for k, v in tensors.items() if k.startswith("unet.")})
    amnet = None
    if "amnet_config" in meta:
        amnet = AMNet(AMNetConfig(**json.loads(meta["amnet_config"])))
        amnet.load_state_dict({k[6:]: v for k, v in tensors.items() if k.startswith("amnet.")})
    # channels_last: oneDNN's convolutions run these many thin layers about 1.4-1.5x
    # faster on the CPU in NHWC than in NCHW (measured, docs/bench/progressive.md).
    model = ProgressiveFusion(unet, amnet).to(device).to(memory_format=torch.channels_last).eval()
    for p in model.parameters():
        p.requires_grad_(False)
    return model


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
    hue: str = "network",
    flips: int | str = "auto",
    runtime: str = "auto",
) -> np.ndarray:
    """Fuse the darkest and brightest frames with the two-phase progressive networks.

    Parameters
    ----------
    frames : sequence of ndarray
        N >= 2 frames ``(H, W, 3)`` float32 in [0, 1], darkest first. The networks
        take two exposures: the first (darkest) and the last (brightest) are used.
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
    hue : {"network", "inputs"}
        ``network`` (default): the networks' colour as it is. ``inputs``: keep the
        networks' lightness and chroma and take the hue from the two inputs where they
        are strongly coloured and not clipped (:func:`mefkit.hue.restore_hue`, at the
        working size). The networks copy part of a clipped frame's hue (an orange
        whose red channel clipped turns yellow, as on the bundled example); ``inputs``
        fixes that, but scores slightly lower on the validation stacks (RGB SSIM
        -0.003, MEF-SSIM -0.0004), so it is not the default.
    flips : {"auto", 1, 2, 4}
        Geometric self-ensemble: the mean of this many mirrored network passes
        (:mod:`mefkit.nn.self_ensemble`). ``auto``: as many as fit in the ``max_mp``
        budget (4 for brackets up to ``max_mp / 4`` megapixels, 2 up to half, else 1),
        so large brackets cost what a single pass costs.
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
                         device=device, hue=hue, flips=flips, runtime=runtime, outputs=f"phase{phase}")


def _run_networks(frames: Sequence[np.ndarray], make_pass: Any, out_channels: int, *, weights: str | None,
                  max_mp: float | None, tile: int, tile_pad: int, device: str, hue: str,
                  flips: int | str, runtime: str, outputs: str) -> np.ndarray:
    """The shared body of :func:`progressive` and :func:`fuse_both_phases`.

    Checks the options, loads the weights, wraps ``make_pass(model, path)`` (a torch
    network pass on ``(under, over)`` tensors giving ``out_channels`` channels; with
    ``runtime`` resolving to ONNX Runtime, the same pass exported, see
    :func:`_onnx_pass`, ``outputs`` naming what it computes) in the self-ensemble and
    runs it on the darkest and brightest frames at full resolution, with the hue
    refinement at the working size.
    """
    if max_mp is not None and max_mp < 0:
        raise ValueError(f"max_mp must be >= 0 or None, got {max_mp}")
    if tile != 0 and tile < 16:
        raise ValueError(f"tile must be 0 or >= 16, got {tile}")
    require_non_negative(tile_pad=tile_pad)
    refine = _hue_refiner(hue)
    path = Path(weights) if weights else SHIPPED_WEIGHTS
    if not weights and not path.is_file():
        raise ValueError(f"the shipped weights are missing ({path}); pass weights=PATH")
    from ..nn.onnx_runtime import resolve_runtime
    from ..nn.progressive import UNET_FACTOR
    from ..nn.self_ensemble import flip_count, flip_ensemble
    from ..nn.tiling import fuse_full_resolution

    passes = flip_count(*frames[0].shape[:2], max_mp, flips)
    model = load_weights(path, device)
    one_pass = make_pass(model, path)  # also checks that the weights hold the phases asked for
    if resolve_runtime(runtime, device) == "onnxruntime":
        one_pass = _onnx_pass(model, path, outputs)
    net = flip_ensemble(one_pass, passes)
    return fuse_full_resolution(
        net, [frames[0], frames[-1]], max_mp=max_mp, tile=tile, tile_pad=tile_pad, device=device,
        out_channels=out_channels, multiple=UNET_FACTOR, refine=refine,
    )


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

    from ..nn.onnx_runtime import OnnxNetwork, onnx_graph
    from ..nn.progressive import UNET_FACTOR

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

    net = OnnxNetwork(onnx_graph(f"progressive-{_sha256(path)}-{outputs}", build), ["under", "over"])

    def one_pass(under: Any, over: Any) -> Any:
        h, w = under.shape[-2:]
        ph, pw = -h % UNET_FACTOR, -w % UNET_FACTOR
        if ph or pw:
            under, over = (F.pad(x, (0, pw, 0, ph), mode="replicate") for x in (under, over))
        return net(under, over)[..., :h, :w]

    return one_pass


@functools.lru_cache(maxsize=8)
def _sha256_cached(path: str, mtime: float, size: int) -> str:
    import hashlib

    digest = hashlib.sha256()
    with open(path, "rb") as fh:
        for block in iter(lambda: fh.read(1 << 20), b""):
            digest.update(block)
    return digest.hexdigest()


def _sha256(path: Path) -> str:
    """sha256 of a weights file (cached per path, modification time and size)."""
    st = path.stat()
    return _sha256_cached(str(path.resolve()), st.st_mtime, st.st_size)


#: Colour modes of the progressive method (see ``hue`` of :func:`progressive`).
HUE_MODES = ("network", "inputs")


def _hue_refiner(hue: str) -> Any:
    """The working-size refinement for a ``hue`` mode: None or a hue restorer.

    The restorer handles outputs of 3 or 6 channels (one or both phases), restoring
    each RGB triple against the same inputs.
    """
    if hue not in HUE_MODES:
        raise ValueError(f"hue must be one of {HUE_MODES}, got {hue!r}")
    if hue == "network":
        return None
    from ..hue import restore_hue

    def refine(out: np.ndarray, frames: Sequence[np.ndarray]) -> np.ndarray:
        parts = [restore_hue(out[..., c:c + 3], frames) for c in range(0, out.shape[-1], 3)]
        return parts[0] if len(parts) == 1 else np.concatenate(parts, axis=-1)

    return refine


def fuse_both_phases(
    frames: Sequence[np.ndarray],
    *,
    weights: str | None = None,
    max_mp: float | None = 1.0,
    tile: int = 1024,
    tile_pad: int = 32,
    device: str = "cpu",
    hue: str = "network",
    flips: int | str = "auto",
    runtime: str = "auto",
) -> tuple[np.ndarray, np.ndarray]:
    """Phase 1's and phase 2's results from one network pass (for evaluation).

    Same parameters as :func:`progressive`; returns ``(intermediate, final)``, each
    ``(H, W, 3)`` float32 in [0, 1], equal to ``phase=1`` and ``phase=2`` calls.
    """
    import torch

    def make_pass(model: Any, path: Path) -> Any:
        if model.amnet is None:
            raise ValueError(f"{path} holds phase 1 only")

        def one_pass(under: Any, over: Any) -> Any:
            under, over = _nhwc(under), _nhwc(over)
            inter = model.unet(under, over)
            return torch.cat([inter, model.amnet(under, inter, over)], dim=1)

        return one_pass

    both = _run_networks(frames, make_pass, 6, weights=weights, max_mp=max_mp, tile=tile, tile_pad=tile_pad,
                         device=device, hue=hue, flips=flips, runtime=runtime, outputs="both")
    return both[..., :3], both[..., 3:]
