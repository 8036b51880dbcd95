"""ONNX Runtime execution of the learned networks (mefkit.nn.onnx_runtime, progressive's ``runtime``)."""

from __future__ import annotations

import numpy as np
import pytest

torch = pytest.importorskip("torch")

import mefkit  # noqa: E402
from mefkit.metrics import psnr  # noqa: E402
from mefkit.nn import onnx_runtime  # noqa: E402
from mefkit.nn.onnx_runtime import resolve_runtime  # noqa: E402

pytestmark = pytest.mark.usefixtures("one_torch_thread")


def _pair(h: int = 50, w: int = 70) -> list[np.ndarray]:
    # Sides that are not multiples of 16: the runner pads as the UNet does.
    frames = mefkit.load_frames(mefkit.example_bracket()).frames
    return [np.ascontiguousarray(f[100:100 + h, 200:200 + w]) for f in (frames[0], frames[-1])]


def test_runtime_choice_follows_device_and_installation(monkeypatch):
    monkeypatch.setattr(onnx_runtime, "available", lambda: True)
    assert resolve_runtime("auto", "cpu") == "onnxruntime"
    assert resolve_runtime("torch", "cpu") == "torch"
    assert resolve_runtime("auto", "cuda") == "torch"
    with pytest.raises(ValueError, match="CPU only"):
        resolve_runtime("onnxruntime", "cuda")
    with pytest.raises(ValueError, match="runtime must be one of"):
        resolve_runtime("tensorrt", "cpu")
    monkeypatch.setattr(onnx_runtime, "available", lambda: False)
    assert resolve_runtime("auto", "cpu") == "torch"
    with pytest.raises(ValueError, match=r"mefkit\[fast\]"):
        resolve_runtime("onnxruntime", "cpu")


def test_bad_runtime_is_a_clear_error():
    with pytest.raises(Exception, match="runtime must be one of"):
        mefkit.fuse(_pair(), method="progressive", order="given", runtime="fastest")


@pytest.mark.parametrize("params", [{"phase": 2}, {"phase": 1}, {"phase": 2, "flips": 4, "hue": "network"}])
def test_onnxruntime_gives_the_torch_result(params):
    pytest.importorskip("onnxruntime")
    pytest.importorskip("onnx")
    pair = _pair()
    by_torch = mefkit.fuse(pair, method="progressive", order="given", runtime="torch", **params)
    by_ort = mefkit.fuse(pair, method="progressive", order="given", runtime="onnxruntime", **params)
    assert by_ort.shape == by_torch.shape == pair[0].shape
    # Same networks, another kernel library: equal to float rounding (~150 dB measured);
    # a wrong graph (phase, padding, input order) lands far below.
    assert psnr(by_ort, by_torch) > 90


def test_onnxruntime_both_phases_match_torch():
    pytest.importorskip("onnxruntime")
    from mefkit.methods.progressive import fuse_both_phases

    pair = _pair(64, 48)
    for a, b in zip(fuse_both_phases(pair, runtime="torch"), fuse_both_phases(pair, runtime="onnxruntime")):
        assert psnr(a, b) > 90


def test_exported_graph_is_kept_on_disk_and_reused(tmp_path, monkeypatch):
    pytest.importorskip("onnxruntime")
    monkeypatch.setenv("MEFKIT_CACHE", str(tmp_path))
    monkeypatch.setattr(onnx_runtime, "_GRAPHS", {})
    net = torch.nn.Conv2d(3, 3, 3, padding=1)

    def build():
        return net.eval(), [torch.rand(1, 3, 8, 8)], ["x"]

    graph = onnx_runtime.onnx_graph("test-conv", build)
    files = list((tmp_path / "onnx").glob("*.onnx"))
    assert len(files) == 1 and files[0].read_bytes() == graph
    # A new process (empty memory cache) reads the file and does not export again.
    monkeypatch.setattr(onnx_runtime, "_GRAPHS", {})

    def no_export():
        raise AssertionError("exported again despite the disk cache")

    assert onnx_runtime.onnx_graph("test-conv", no_export) == graph
    x = torch.rand(1, 3, 20, 12)
    with torch.no_grad():
        expected = net(x)
    got = onnx_runtime.OnnxNetwork(graph, ["x"])(x)
    assert got.shape == expected.shape and torch.allclose(got, expected, atol=1e-5)
