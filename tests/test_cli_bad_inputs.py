"""Every bad input the README promises to handle, against ``fuse``, ``fuse-dir`` and ``eval``.

One table: each row builds a tiny dataset (``data/br/`` holding a 32x48 bracket of three
PNG frames, damaged as the row says) and names the output each command gets. For a bad
input every command must exit with status 2, print exactly one line on stderr (no
traceback), leave no file behind and leave every input byte-for-byte unchanged (SHA-256
of every file under the test folder before and after).

Five cells are not errors, by design, and say so in ``NOT_ERRORS``: alpha is dropped
with a warning (the README's promise, for files and arrays alike), and ``fuse-dir`` /
``eval`` create a missing output folder (their output is a folder, "created" in their
help). For those two commands "existing output" is an existing *file* where their output
folder should be: an existing output folder is reused on purpose (``fuse-dir`` skips
finished brackets, ``eval`` resumes), which ``test_cli.py`` and ``test_eval.py`` cover.
"""

from __future__ import annotations

import hashlib
from pathlib import Path

import cv2
import numpy as np
import pytest
import tifffile
from typer.testing import CliRunner

from mefkit.cli import app

from .conftest import make_bracket

runner = CliRunner()
H, W = 32, 48


def _png(path: Path, rgb: np.ndarray) -> None:
    cv2.imwrite(str(path), np.ascontiguousarray((rgb[:, :, ::-1] * 255 + 0.5).astype(np.uint8)))


def _dataset(root: Path, damage: str) -> Path:
    """``root/data/br/f{0,1,2}.png`` with ``damage`` applied to the bracket."""
    br = root / "data" / "br"
    br.mkdir(parents=True)
    frames = make_bracket(H, W, 3)
    for i, f in enumerate(frames):
        _png(br / f"f{i}.png", f)
    f1 = br / "f1.png"
    if damage == "one_frame":
        (br / "f1.png").unlink()
        (br / "f2.png").unlink()
    elif damage == "size_mismatch":
        _png(f1, make_bracket(H - 2, W, 3)[1])
    elif damage == "corrupt":
        f1.write_bytes(f1.read_bytes()[: len(f1.read_bytes()) // 2])  # truncated PNG
    elif damage == "zero_byte":
        f1.write_bytes(b"")
    elif damage == "text_as_jpg":
        f1.unlink()
        (br / "f1.jpg").write_text("this is not a photograph\n")
    elif damage == "alpha":
        rgba = np.concatenate([frames[1], np.ones((H, W, 1), np.float32)], axis=2)
        cv2.imwrite(str(f1), (rgba[:, :, [2, 1, 0, 3]] * 255 + 0.5).astype(np.uint8))
    elif damage == "nan":
        f1.unlink()
        bad = frames[1].copy()
        bad[3, 4, 1] = np.nan
        tifffile.imwrite(br / "f1.tif", bad, photometric="rgb")
    elif damage == "tiny_1x1":
        for i, f in enumerate(frames):
            _png(br / f"f{i}.png", f[:1, :1])
    elif damage == "out_under_file":
        (root / "file.txt").write_text("a regular file\n")
    elif damage == "existing_out":
        (root / "exists.jpg").write_bytes(b"an earlier result, to keep")
    return root / "data"


# row -> (damage, output of fuse, of fuse-dir, of eval, and what fuse is given as frames)
ROWS = {
    "one frame": ("one_frame", "o.jpg", "out", "rep"),
    "size mismatch": ("size_mismatch", "o.jpg", "out", "rep"),
    "corrupt": ("corrupt", "o.jpg", "out", "rep"),
    "zero-byte": ("zero_byte", "o.jpg", "out", "rep"),
    "text as jpg": ("text_as_jpg", "o.jpg", "out", "rep"),
    "missing file": ("none", "o.jpg", "out", "rep"),
    "missing folder": ("none", "o.jpg", "out", "rep"),
    "alpha": ("alpha", "o.jpg", "out", "rep"),
    "NaN": ("nan", "o.png", "out", "rep"),
    "1x1": ("tiny_1x1", "o.jpg", "out", "rep"),
    "unwritable output folder": ("none", "/proc/mefkit_test.jpg", "/proc/mefkit_test", "/proc/mefkit_test"),
    "output under a regular file": ("out_under_file", "file.txt/o.jpg", "file.txt/out", "file.txt/rep"),
    "missing output folder": ("none", "missing/o.jpg", "missing/out", "missing/rep"),
    "output equal to an input": ("none", "data/br/f0.png", "data/br", "data"),
    "existing output": ("existing_out", "exists.jpg", "exists.jpg", "exists.jpg"),
}
#: The cells that are not errors, and why (see the module docstring).
NOT_ERRORS = {
    ("alpha", "fuse"): "alpha is dropped with a warning",
    ("alpha", "fuse-dir"): "alpha is dropped with a warning",
    ("alpha", "eval"): "alpha is dropped with a warning",
    ("missing output folder", "fuse-dir"): "the output folder is created",
    ("missing output folder", "eval"): "the report folder is created",
}
COMMANDS = ("fuse", "fuse-dir", "eval")


def _args(row: str, command: str, root: Path) -> list[str]:
    _, out_fuse, out_dir, out_eval = ROWS[row]
    data = root / "data"
    out = {"fuse": out_fuse, "fuse-dir": out_dir, "eval": out_eval}[command]
    out_path = out if out.startswith("/") else str(root / out)
    if command == "fuse":
        frames = [str(data / "br")]
        if row == "missing file":
            frames = [str(data / "br" / "f0.png"), str(data / "br" / "nope.png"), str(data / "br" / "f2.png")]
        elif row == "missing folder":
            frames = [str(root / "no_such_dir")]
        return ["fuse", *frames, "-o", out_path]
    source = str(root / "no_such_dir") if row in ("missing file", "missing folder") else str(data)
    if command == "fuse-dir":
        return ["fuse-dir", source, "-o", out_path]
    # --pairs all: every frame of the scene is used (the default takes the darkest and brightest)
    return ["eval", source, "-o", out_path, "-m", "mertens", "--metrics", "mef_ssim", "--pairs", "all"]


def _snapshot(root: Path) -> dict[str, str]:
    """SHA-256 of every file (hidden ones included) under ``root``."""
    return {str(p.relative_to(root)): hashlib.sha256(p.read_bytes()).hexdigest()
            for p in sorted(root.rglob("*")) if p.is_file()}


@pytest.mark.parametrize("command", COMMANDS)
@pytest.mark.parametrize("row", list(ROWS))
def test_bad_input(tmp_path, row, command):
    _dataset(tmp_path, ROWS[row][0])
    before = _snapshot(tmp_path)
    dirs_before = sorted(p for p in tmp_path.rglob("*") if p.is_dir())
    res = runner.invoke(app, _args(row, command, tmp_path))
    assert "Traceback" not in res.stderr and res.exception is None or isinstance(res.exception, SystemExit)
    after = _snapshot(tmp_path)
    # inputs unchanged, byte for byte (an existing output included)
    assert {k: v for k, v in after.items() if k in before} == before
    if (row, command) in NOT_ERRORS:
        assert res.exit_code == 0, res.stderr
        if row == "alpha":
            assert "warning:" in res.stderr and "alpha channel dropped" in res.stderr
        return
    assert res.exit_code == 2, f"{row} / {command}: exit {res.exit_code}\n{res.stderr}"
    lines = res.stderr.strip().splitlines()
    assert len(lines) == 1 and lines[0].startswith("error: "), res.stderr
    assert res.stdout == ""
    # no file or folder left behind
    assert after.keys() == before.keys(), sorted(set(after) - set(before))
    assert sorted(p for p in tmp_path.rglob("*") if p.is_dir()) == dirs_before


@pytest.mark.parametrize(("row", "command"), [("corrupt", "fuse"), ("NaN", "fuse-dir"), ("corrupt", "eval")])
def test_bad_input_in_a_real_process_prints_one_line(tmp_path, row, command):
    # CliRunner sees Python's stderr only; native libraries (OpenCV's decoders) write to
    # file descriptor 2 directly. A real process shows what a user sees.
    import os
    import subprocess
    import sys

    _dataset(tmp_path, ROWS[row][0])
    env = {**os.environ, "PYTHONPATH": str(Path(__file__).resolve().parents[1] / "src")}
    proc = subprocess.run([sys.executable, "-m", "mefkit", *_args(row, command, tmp_path)],
                          capture_output=True, text=True, env=env, timeout=120)
    assert proc.returncode == 2
    lines = proc.stderr.strip().splitlines()
    assert len(lines) == 1 and lines[0].startswith("error: "), proc.stderr
