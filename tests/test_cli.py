"""The `mefkit` command: fuse, fuse-dir, methods; one-line errors, no clobbering.

Plumbing checks: the command's outputs are compared with :func:`mefkit.fuse` itself (through
the 8/16-bit writers), not with an external reference; the methods' own oracles are in
their test modules.
"""

from __future__ import annotations

import shutil

import numpy as np
import pytest
from typer.testing import CliRunner

import mefkit
from mefkit.cli import app
from mefkit.io import quantize, read_image, write_image

from .conftest import make_bracket

runner = CliRunner()


def _example(tmp_path):
    paths = []
    for p in mefkit.example_bracket():
        dst = tmp_path / p.name
        shutil.copy(p, dst)
        paths.append(str(dst))
    return paths


def test_fuse_example_matches_python_api(tmp_path):
    frames = _example(tmp_path)
    out = tmp_path / "out.png"
    res = runner.invoke(app, ["fuse", *frames, "-o", str(out)])
    assert res.exit_code == 0, res.output
    assert "ordered by exif" in res.output
    img, bits, _ = read_image(out)
    assert bits == 8
    expected = quantize(mefkit.fuse(frames), 8) / np.float32(255)
    np.testing.assert_array_equal(img, expected)


def test_fuse_refuses_to_overwrite_then_force(tmp_path):
    frames = _example(tmp_path)
    out = tmp_path / "out.jpg"
    out.write_bytes(b"keep me")
    res = runner.invoke(app, ["fuse", *frames, "-o", str(out)])
    assert res.exit_code == 2
    assert "already exists" in res.output and "Traceback" not in res.output
    assert out.read_bytes() == b"keep me"
    res = runner.invoke(app, ["fuse", *frames, "-o", str(out), "--force"])
    assert res.exit_code == 0 and out.read_bytes() != b"keep me"


def test_fuse_never_overwrites_input_even_with_force(tmp_path):
    frames = _example(tmp_path)
    before = open(frames[0], "rb").read()
    res = runner.invoke(app, ["fuse", *frames, "-o", frames[0], "--force"])
    assert res.exit_code == 2 and "input" in res.output
    assert open(frames[0], "rb").read() == before


def test_one_frame_is_a_clear_error(tmp_path):
    frames = _example(tmp_path)
    out = tmp_path / "o.png"
    res = runner.invoke(app, ["fuse", frames[0], "-o", str(out)])
    assert res.exit_code == 2
    assert "at least two frames" in res.output and "Traceback" not in res.output
    assert not out.exists()


def test_debug_shows_traceback(tmp_path):
    frames = _example(tmp_path)
    res = runner.invoke(app, ["--debug", "fuse", frames[0], "-o", str(tmp_path / "o.png")])
    assert res.exit_code != 0
    assert isinstance(res.exception, mefkit.BracketError)


def test_params_and_unknown_method(tmp_path):
    frames = _example(tmp_path)
    ok = runner.invoke(app, ["fuse", *frames, "-o", str(tmp_path / "a.png"), "-p", "levels=3"])
    assert ok.exit_code == 0, ok.output
    bad = runner.invoke(app, ["fuse", *frames, "-o", str(tmp_path / "b.png"), "-p", "nope=1"])
    assert bad.exit_code == 2 and "no parameter 'nope'" in bad.output
    unk = runner.invoke(app, ["fuse", *frames, "-o", str(tmp_path / "c.png"), "-m", "zzz"])
    assert unk.exit_code == 2 and "unknown fusion method" in unk.output


def test_16bit_in_gives_16bit_out(tmp_path):
    frames = make_bracket(20, 24, 2)
    paths = []
    for i, f in enumerate(frames):
        paths.append(str(write_image(tmp_path / f"f{i}.tif", f, bits=16)))
    out = tmp_path / "o.tif"
    res = runner.invoke(app, ["fuse", *paths, "-o", str(out)])
    assert res.exit_code == 0, res.output
    assert read_image(out)[1] == 16


def test_fuse_dir_continues_past_bad_bracket(tmp_path):
    src = tmp_path / "in"
    good = src / "good"
    bad = src / "bad"
    good.mkdir(parents=True)
    bad.mkdir()
    for p in mefkit.example_bracket():
        shutil.copy(p, good / p.name)
    shutil.copy(mefkit.example_bracket()[0], bad / "only.jpg")
    (bad / "broken.jpg").write_bytes(b"garbage")
    out = tmp_path / "out"
    res = runner.invoke(app, ["fuse-dir", str(src), "-o", str(out)])
    assert res.exit_code == 1
    assert (out / "good.jpg").exists() and not (out / "bad.jpg").exists()
    assert "1 fused" in res.output and "1 failed" in res.output and "broken.jpg" in res.output
    # Re-running skips the existing output instead of overwriting it.
    stamp = (out / "good.jpg").stat().st_mtime_ns
    res2 = runner.invoke(app, ["fuse-dir", str(src), "-o", str(out)])
    assert "skipped" in res2.output
    assert (out / "good.jpg").stat().st_mtime_ns == stamp


def test_methods_lists_mertens():
    res = runner.invoke(app, ["methods"])
    assert res.exit_code == 0 and "mertens" in res.output


# --- typed KEY=VALUE parameters, one parser for fuse, fuse-dir, eval and train --------

def _bracket_dir(root, name="br", h=32, w=48):
    """A tiny synthetic bracket folder of three PNG frames (fast to fuse)."""
    folder = root / name
    folder.mkdir(parents=True)
    for i, frame in enumerate(make_bracket(h, w, 3)):
        write_image(folder / f"f{i}.png", frame)
    return folder


@pytest.mark.parametrize(("item", "message"), [
    ("levels=2.5", "parameter levels: expected int or none, got '2.5' (not a whole number)"),
    ("sigma=inf", "parameter sigma: expected float, got 'inf' (not a finite number)"),
    ("levels=abc", "parameter levels: expected int or none, got 'abc' (not a number)"),
])
@pytest.mark.parametrize("command", ["fuse", "fuse-dir", "eval"])
def test_bad_parameter_values_are_one_typed_error(tmp_path, command, item, message):
    br = _bracket_dir(tmp_path / "data")
    out = tmp_path / ("o.png" if command == "fuse" else "out")
    args = {
        "fuse": ["fuse", str(br), "-o", str(out), "-p", item],
        "fuse-dir": ["fuse-dir", str(tmp_path / "data"), "-o", str(out), "-p", item],
        "eval": ["eval", str(tmp_path / "data"), "-o", str(out), "-m", "mertens", "--layout", "generic",
                 "-p", f"mertens.{item}"],
    }[command]
    res = runner.invoke(app, args)
    assert res.exit_code == 2, res.output
    assert res.stderr.strip() == f"error: {message}"
    assert not out.exists()


def test_train_task_param_uses_the_typed_parser(tmp_path):
    res = runner.invoke(app, ["train", "progressive", "--phase", "1", "--out", str(tmp_path / "run"), "--synthetic", "labels",
                              "--task-param", "mef_scales=2.5"])
    assert res.exit_code == 2
    assert res.stderr.strip() == "error: parameter mef_scales: expected int, got '2.5' (not a whole number)"
    assert not (tmp_path / "run").exists()
