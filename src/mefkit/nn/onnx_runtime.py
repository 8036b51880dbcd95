"""Run a torch image network with ONNX Runtime on the CPU, exported at run time.

ONNX Runtime's CPU execution provider runs the progressive networks' many thin
convolutions 2-3 times faster than eager torch on the 2-core CPU mefkit is developed on
(``docs/bench/progressive.md``): it fuses each convolution with its activation and
picks a blocked memory layout for the whole graph. It is optional: without the
``onnxruntime`` and ``onnx`` packages (the ``fast`` extra) the same networks run in
torch.

Nothing is downloaded: the graph is exported here with ``torch.onnx.export`` from the
network that was just built from the shipped safetensors weights, with free height
and width, and kept in memory for the process. It can also be kept on disk
(:func:`cache_dir`), keyed by a digest of the weights and of the versions that made
it, so that a later process skips the export.
"""

from __future__ import annotations

import functools
import hashlib
import io
import os
import warnings
from pathlib import Path
from typing import Any, Callable, Sequence

import torch

#: Bump when the exported graphs change for the same weights (a new wrapper, opset...).
GRAPH_VERSION = 1
#: ONNX opset of the exported graphs.
OPSET = 17
#: Runtime choices of the learned methods' ``runtime`` parameter.
RUNTIMES = ("auto", "torch", "onnxruntime")


def available() -> bool:
    """Whether ONNX Runtime and the ONNX exporter's dependency are importable."""
    try:
        import onnx  # noqa: F401  (torch.onnx.export needs it)
        import onnxruntime  # noqa: F401
    except ImportError:
        return False
    return True


def resolve_runtime(runtime: str, device: str) -> str:
    """``"torch"`` or ``"onnxruntime"`` for a ``runtime`` choice on ``device``.

    Parameters
    ----------
    runtime : {"auto", "torch", "onnxruntime"}
        ``auto``: ONNX Runtime when it is installed and ``device`` is the CPU, else torch.
    device : str
        The torch device the method was asked to use.

    Raises
    ------
    ValueError
        An unknown choice, ``onnxruntime`` on another device than the CPU, or
        ``onnxruntime`` when it is not installed (the message names the extra).
    """
    if runtime not in RUNTIMES:
        raise ValueError(f"runtime must be one of {RUNTIMES}, got {runtime!r}")
    on_cpu = torch.device(device).type == "cpu"
    if runtime == "torch" or (runtime == "auto" and not on_cpu):
        return "torch"
    if not on_cpu:
        raise ValueError(f"runtime 'onnxruntime' runs on the CPU only, not on {device!r}; use runtime='torch'")
    if available():
        return "onnxruntime"
    if runtime == "onnxruntime":
        raise ValueError("runtime 'onnxruntime' needs the onnxruntime and onnx packages: pip install 'mefkit[fast]'")
    return "torch"


def cache_dir() -> Path | None:
    """Folder for exported graphs: ``$MEFKIT_CACHE/onnx``, or None when that is unset or empty."""
    root = os.environ.get("MEFKIT_CACHE", "")
    return Path(root) / "onnx" if root else None


def _export(module: torch.nn.Module, example: Sequence[torch.Tensor], names: Sequence[str]) -> bytes:
    """``module`` as ONNX bytes, inputs ``names`` of shape ``(1, C, h, w)``, ``h, w`` free."""
    axes = {n: {2: "height", 3: "width"} for n in (*names, "out")}
    buf = io.BytesIO()
    with warnings.catch_warnings(), torch.no_grad():
        # The TorchScript exporter is deprecated in favour of torch.export's, which needs
        # the onnxscript package as well and produces the same graph for these networks.
        warnings.simplefilter("ignore")
        torch.onnx.export(module, tuple(example), buf, dynamo=False, opset_version=OPSET, input_names=list(names),
                          output_names=["out"], dynamic_axes=axes)
    return buf.getvalue()


@functools.lru_cache(maxsize=8)
def _session(graph: bytes, threads: int) -> Any:
    import onnxruntime as ort

    opts = ort.SessionOptions()
    opts.graph_optimization_level = ort.GraphOptimizationLevel.ORT_ENABLE_ALL
    opts.intra_op_num_threads = threads
    opts.inter_op_num_threads = 1
    # No busy-waiting between operators: on a CPU shared with other work, spinning
    # threads were 1.3x slower than sleeping ones (docs/bench/progressive.md).
    opts.add_session_config_entry("session.intra_op.allow_spinning", "0")
    opts.log_severity_level = 3  # errors only: it warns about unused initialisers
    return ort.InferenceSession(graph, opts, providers=["CPUExecutionProvider"])


def onnx_graph(key: str, build: Callable[[], tuple[torch.nn.Module, Sequence[torch.Tensor], Sequence[str]]]) -> bytes:
    """The ONNX graph for ``key``: from the disk cache if there, else exported (and cached).

    Parameters
    ----------
    key : str
        Identifies the network and its weights (e.g. the weights file's sha256 and
        what the graph computes); the torch version and :data:`GRAPH_VERSION` are
        added.
    build : callable
        ``build() -> (module, example_inputs, input_names)``, called only to export.

    Returns
    -------
    bytes
        A serialised ONNX model.
    """
    return _graph_cached(f"{key}-torch{torch.__version__}-g{GRAPH_VERSION}", build)


_GRAPHS: dict[str, bytes] = {}


def _graph_cached(full_key: str, build: Callable[[], Any]) -> bytes:
    if full_key in _GRAPHS:
        return _GRAPHS[full_key]
    folder = cache_dir()
    path = folder / (hashlib.sha256(full_key.encode()).hexdigest()[:24] + ".onnx") if folder else None
    graph = None
    if path is not None and path.is_file():
        graph = path.read_bytes()
    if graph is None:
        graph = _export(*build())
        if path is not None:
            from ..atomic import write_bytes_atomic

            try:
                write_bytes_atomic(path, graph)
            except OSError:  # a read-only or full cache folder only costs the next export
                pass
    _GRAPHS[full_key] = graph
    return graph


class OnnxNetwork:
    """A callable ``net(*tensors) -> tensor`` that runs an exported graph in ONNX Runtime.

    Parameters
    ----------
    graph : bytes
        From :func:`onnx_graph`.
    names : sequence of str
        The graph's input names, in call order.
    threads : int, optional
        Intra-op threads (default: ``torch.get_num_threads()``, so that
        ``OMP_NUM_THREADS`` and ``torch.set_num_threads`` apply alike).

    Notes
    -----
    Inputs are CPU tensors ``(B, C, h, w)`` float32 in any memory layout; the output is
    a float32 tensor ``(B, C_out, h, w)``.
    """

    def __init__(self, graph: bytes, names: Sequence[str], threads: int | None = None) -> None:
        self.session = _session(graph, int(threads or torch.get_num_threads()))
        self.names = tuple(names)

    def __call__(self, *inputs: torch.Tensor) -> torch.Tensor:
        feed = {n: x.detach().float().contiguous().numpy() for n, x in zip(self.names, inputs)}
        return torch.from_numpy(self.session.run(None, feed)[0])


__all__ = ["GRAPH_VERSION", "OnnxNetwork", "RUNTIMES", "available", "cache_dir", "onnx_graph", "resolve_runtime"]
