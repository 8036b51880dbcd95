"""The learned-model runtime (mefkit.nn.weights) and the one atomic write (mefkit.atomic)."""

import os

import pytest

torch = pytest.importorskip("torch")

from mefkit.atomic import atomic_path  # noqa: E402
from mefkit.nn.weights import file_sha256, load_model, read_weights, save_weights, split_prefixed  # noqa: E402
from mefkit.registry import method_infos  # noqa: E402


def test_every_learned_method_ships_a_spec_whose_file_matches_its_hash():
    learned = [m for m in method_infos() if m.kind == "learned"]
    assert {m.name for m in learned} == {"progressive", "cbm", "mitm"}
    for info in learned:
        spec = info.weights
        assert spec is not None and spec.method == info.name
        spec.verify()  # raises on a missing or altered file
        assert spec.model_card.is_file() and spec.license and spec.training


def test_spec_verify_fails_on_altered_bytes(tmp_path, monkeypatch):
    from mefkit.methods.cbm import WEIGHTS

    altered = tmp_path / WEIGHTS.file
    data = bytearray(WEIGHTS.path.read_bytes())
    data[-1] ^= 1
    altered.write_bytes(bytes(data))
    monkeypatch.setattr(type(WEIGHTS), "path", property(lambda self: altered))
    with pytest.raises(ValueError, match="sha256"):
        WEIGHTS.verify()


def test_save_and_read_round_trip_with_names_half_and_metadata(tmp_path):
    a, b = torch.nn.Conv2d(2, 3, 3), torch.nn.BatchNorm2d(3)
    path = save_weights(tmp_path / "sub" / "w.safetensors", {"a": a, "b": b}, {"step": 5, "note": "x"}, half=True)
    tensors, meta = read_weights(path)
    assert meta == {"step": "5", "note": "x"}
    assert all(v.dtype == torch.float32 for v in tensors.values() if v.is_floating_point())
    assert tensors["b.num_batches_tracked"].dtype == torch.int64  # integers are not cast
    got = split_prefixed(tensors, "a")
    assert set(got) == set(a.state_dict())
    torch.testing.assert_close(got["weight"], a.weight.detach().half().float())
    assert [p.name for p in path.parent.iterdir()] == ["w.safetensors"]  # no temporary left


def test_load_model_caches_by_content_stamp(tmp_path):
    calls = []

    def build(tensors, meta, path, device):
        calls.append(path)
        return dict(tensors)

    net = torch.nn.Linear(2, 2)
    path = save_weights(tmp_path / "w.safetensors", net)
    first = load_model(path, build)
    assert load_model(path, build) is first and len(calls) == 1
    with torch.no_grad():
        net.weight.add_(1.0)
    save_weights(path, net)
    os.utime(path, ns=(0, os.stat(path).st_mtime_ns + 10**9))  # a rewritten file: new stamp
    second = load_model(path, build)
    assert second is not first and len(calls) == 2
    torch.testing.assert_close(second["weight"], net.weight.detach())


def test_read_weights_names_the_file_on_bad_input(tmp_path):
    with pytest.raises(ValueError, match="not found"):
        read_weights(tmp_path / "missing.safetensors")
    bad = tmp_path / "bad.safetensors"
    bad.write_bytes(b"not a safetensors file")
    with pytest.raises(ValueError, match="bad.safetensors"):
        read_weights(bad)


def test_atomic_path_keeps_the_old_file_when_the_writer_fails(tmp_path):
    target = tmp_path / "out.bin"
    target.write_bytes(b"old")
    with pytest.raises(RuntimeError):
        with atomic_path(target) as tmp:
            tmp.write_bytes(b"half of the new")
            raise RuntimeError("writer died")
    assert target.read_bytes() == b"old"
    assert sorted(p.name for p in tmp_path.iterdir()) == ["out.bin"]
    with atomic_path(target) as tmp:
        assert tmp.suffix == ".bin"  # writers that choose the format by extension still work
        tmp.write_bytes(b"new")
    assert target.read_bytes() == b"new" and file_sha256(target)
