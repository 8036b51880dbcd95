"""The CLI and I/O as a new user meets them: one test (or a few) per defect found when
mefkit was tried from a fresh clone with good and bad inputs. Each runs the real CLI
(typer's CliRunner, stderr kept apart; a subprocess where a signal is involved)."""

from __future__ import annotations

import os
import re
import signal
import subprocess
import sys
import textwrap
import time
import warnings
from pathlib import Path

import numpy as np
import pytest
from typer.testing import CliRunner

import mefkit
from mefkit.cli import app
from mefkit.errors import OutputError
from mefkit.io import read_bracket, read_software, write_image

from .conftest import make_bracket

runner = CliRunner()
ROOT = Path(__file__).resolve().parents[1]


def _bracket_dir(root: Path, name: str = "br", h: int = 32, w: int = 48, n: int = 3) -> Path:
    folder = root / name
    folder.mkdir(parents=True)
    for i, frame in enumerate(make_bracket(h, w, n)):
        # plain OpenCV files, as a camera or another tool would write them (no mefkit tag)
        import cv2

        cv2.imwrite(str(folder / f"f{i}.png"), (frame[:, :, ::-1] * 255 + 0.5).astype(np.uint8))
    return folder


def _one_error_line(res) -> str:
    lines = res.stderr.strip().splitlines()
    assert len(lines) == 1, res.stderr
    assert lines[0].startswith("error: ") and "Traceback" not in res.stderr
    return lines[0]


# 1. Unwritable output folder ------------------------------------------------------------

@pytest.mark.parametrize("command", ["fuse", "fuse-dir"])
def test_unwritable_output_is_one_line_error(tmp_path, command):
    src = _bracket_dir(tmp_path / "in")
    target = "/proc/mefkit_out.jpg" if command == "fuse" else "/proc/mefkit_out"
    args = [command, str(src if command == "fuse" else tmp_path / "in"), "-o", target]
    res = runner.invoke(app, args)
    assert res.exit_code == 2
    assert "cannot" in _one_error_line(res)


def test_output_under_a_regular_file_is_one_line_error(tmp_path):
    src = _bracket_dir(tmp_path)
    (tmp_path / "file.txt").write_text("x")
    res = runner.invoke(app, ["fuse", str(src), "-o", str(tmp_path / "file.txt" / "out.jpg")])
    assert res.exit_code == 2
    assert "is not a folder" in _one_error_line(res)


def test_write_image_turns_a_failing_temp_file_into_output_error(tmp_path, monkeypatch):
    # The temporary file is created inside the try: an OS error there is an OutputError.
    import tempfile

    import mefkit.io.write as write_mod

    real = tempfile.mkstemp
    calls = []

    def failing_mkstemp(*args, **kwargs):
        calls.append(kwargs.get("suffix"))
        if kwargs.get("suffix") == ".tmp":  # the probe passes, the write's temp file fails
            raise PermissionError(13, "Permission denied")
        return real(*args, **kwargs)

    monkeypatch.setattr(write_mod.tempfile, "mkstemp", failing_mkstemp)
    with pytest.raises(OutputError, match="cannot write .*Permission denied"):
        write_image(tmp_path / "o.png", np.zeros((4, 4, 3), np.float32))
    assert ".tmp" in calls and list(tmp_path.iterdir()) == []


# 2. A result inside the bracket folder is not a frame -----------------------------------

@pytest.mark.parametrize("suffix", [".jpg", ".png", ".tif"])
def test_outputs_carry_the_mefkit_software_tag(tmp_path, suffix):
    path = write_image(tmp_path / f"o{suffix}", make_bracket(16, 16, 2)[0], method="mertens",
                       bits=8 if suffix == ".jpg" else 16)
    assert read_software(path) == f"mefkit {mefkit.__version__} (mertens)"
    img, bits, _ = mefkit.read_image(path)  # still a normal image
    assert img.shape == (16, 16, 3) and bits == (8 if suffix == ".jpg" else 16)


def test_own_result_in_the_bracket_folder_is_left_out(tmp_path):
    # The example bracket carries EXIF exposures: a result taken as a fourth frame
    # (no EXIF) would also switch the ordering from EXIF to luminance.
    import shutil

    br = tmp_path / "br"
    br.mkdir()
    for p in mefkit.example_bracket():
        shutil.copy(p, br / p.name)
    first = runner.invoke(app, ["fuse", str(br), "-o", str(br / "fused.jpg")])
    assert first.exit_code == 0, first.stderr
    second = runner.invoke(app, ["fuse", str(br), "-o", str(br / "fused2.jpg")])
    assert second.exit_code == 0, second.stderr
    assert "leaving out fused.jpg: written by mefkit" in second.stderr
    assert "fused 3 frames" in second.stderr and "ordered by exif" in second.stderr
    assert [p.name for p in read_bracket(br).paths] == [p.name for p in mefkit.example_bracket()]
    # The earlier result can be replaced (it is not an input); a frame never can.
    again = runner.invoke(app, ["fuse", str(br), "-o", str(br / "fused.jpg"), "--force"])
    assert again.exit_code == 0, again.stderr
    frame = runner.invoke(app, ["fuse", str(br), "-o", str(read_bracket(br).paths[0]), "--force"])
    assert frame.exit_code == 2 and "refusing to overwrite an input" in frame.stderr


# 4. A folder that does not exist -----------------------------------------------------------

def test_missing_folder_says_not_found(tmp_path):
    res = runner.invoke(app, ["fuse", str(tmp_path / "no_such_dir"), "-o", str(tmp_path / "x.jpg")])
    assert res.exit_code == 2
    assert _one_error_line(res) == f"error: {tmp_path / 'no_such_dir'}: file or folder not found"


# 5. Output checks come before the fusion ---------------------------------------------------

@pytest.mark.parametrize(("out", "extra", "message"), [
    ("o.webp", [], "unsupported output format .webp"),
    ("o.jpg", ["--bits", "16"], ".jpg holds only 8-bit data"),
    ("missing/o.jpg", [], "does not exist"),
    ("exists.jpg", [], "already exists"),
])
def test_output_problems_are_found_before_reading(tmp_path, out, extra, message):
    # A corrupt frame would fail the reading: the output's problem is reported instead.
    br = _bracket_dir(tmp_path)
    (br / "f9.png").write_bytes(b"not an image")
    (tmp_path / "exists.jpg").write_bytes(b"keep")
    res = runner.invoke(app, ["fuse", str(br), "-o", str(tmp_path / out), *extra])
    assert res.exit_code == 2
    assert message in _one_error_line(res)
    assert (tmp_path / "exists.jpg").read_bytes() == b"keep"


@pytest.mark.parametrize(("extra", "message"), [
    (["--ext", "jpg", "--bits", "16"], "--ext jpg holds only 8-bit data"),
    (["--ext", "webp"], "unsupported output format 'webp'"),
])
def test_fuse_dir_output_problems_stop_before_any_fusion(tmp_path, monkeypatch, extra, message):
    _bracket_dir(tmp_path / "in", "a")
    _bracket_dir(tmp_path / "in", "b")
    import mefkit.batch.run as run_mod

    def must_not_fuse(*args, **kwargs):
        raise AssertionError("fused although the output options are wrong")

    monkeypatch.setattr(run_mod, "fuse_bracket", must_not_fuse)
    res = runner.invoke(app, ["fuse-dir", str(tmp_path / "in"), "-o", str(tmp_path / "out"), *extra])
    assert res.exit_code == 2
    assert message in _one_error_line(res)
    assert not (tmp_path / "out").exists()


# 6. SIGTERM during the write ----------------------------------------------------------------

def test_sigterm_during_write_cleans_up_and_exits_143(tmp_path):
    br = _bracket_dir(tmp_path)
    out = tmp_path / "out.png"
    ready = tmp_path / "writing"
    # Slow down the write (fsync of the temporary file) so the signal lands inside it.
    script = textwrap.dedent(f"""
        import os, sys, time
        import mefkit.io.write as w
        real_fsync = os.fsync
        def slow_fsync(fd):
            open({str(ready)!r}, "w").close()
            time.sleep(30)
            real_fsync(fd)
        w.os.fsync = slow_fsync
        from mefkit.cli import main
        sys.argv = ["mefkit", "fuse", {str(br)!r}, "-o", {str(out)!r}]
        main()
    """)
    env = {**os.environ, "PYTHONPATH": str(ROOT / "src")}
    proc = subprocess.Popen([sys.executable, "-c", script], env=env, stderr=subprocess.PIPE, text=True)
    deadline = time.time() + 120
    while not ready.exists() and time.time() < deadline and proc.poll() is None:
        time.sleep(0.05)
    assert ready.exists(), proc.stderr.read() if proc.poll() is not None else "write never started"
    assert [p for p in tmp_path.iterdir() if p.name.endswith(".tmp")], "no temporary file during the write"
    proc.send_signal(signal.SIGTERM)
    _, err = proc.communicate(timeout=30)
    assert proc.returncode == 143, err
    assert "terminated" in err and "Traceback" not in err
    assert not out.exists()
    assert not [p for p in tmp_path.iterdir() if p.name.endswith(".tmp")]


# 7. Method parameters are discoverable ------------------------------------------------------

def test_methods_name_prints_parameters():
    res = runner.invoke(app, ["methods", "mertens"])
    assert res.exit_code == 0, res.output
    rows = {line.split("│")[1].strip(): line for line in res.stdout.splitlines() if line.count("│") >= 4}
    assert {"contrast_weight", "saturation_weight", "exposure_weight", "sigma", "levels"} <= set(rows)
    assert re.search(r"levels\s*│\s*int or none\s*│\s*None\s*│\s*Pyramid levels", rows["levels"])
    assert re.search(r"sigma\s*│\s*float\s*│\s*0.2\s*│\s*Well-exposedness", rows["sigma"])
    listing = runner.invoke(app, ["methods"])
    assert "mefkit methods NAME" in listing.stdout
    unknown = runner.invoke(app, ["methods", "zzz"])
    assert unknown.exit_code == 2 and "unknown fusion method 'zzz'" in unknown.stderr


def test_methods_shows_documented_choices():
    res = runner.invoke(app, ["methods", "progressive"])
    assert res.exit_code == 0
    assert "{'auto', 1, 2, 4}" in res.stdout


# 8. A stray image beside the scene folders does not stop eval -------------------------------

@pytest.mark.parametrize("layout", ["auto", "generic"])
def test_eval_ignores_a_stray_image(tmp_path, layout):
    data = tmp_path / "data"
    _bracket_dir(data, "scene1")
    _bracket_dir(data, "scene2")
    write_image(data / "preview.jpg", make_bracket(32, 48, 2)[0])
    res = runner.invoke(app, ["eval", str(data), "-o", str(tmp_path / "rep"), "-m", "mertens",
                              "--metrics", "mef_ssim", "--layout", layout, "--pairs", "all"])
    assert res.exit_code == 0, res.stderr
    assert "preview.jpg: a stray image beside the scene folders, ignored" in res.stderr
    assert "2 cells: 2 computed" in res.stderr


# 9. Progress on long single fusions ----------------------------------------------------------

class _RecordingProgress:
    """Stands in for rich's Progress and records the stage descriptions shown."""

    seen: list[str] = []

    def __init__(self, *args, **kwargs):
        type(self).seen = []

    def __enter__(self):
        return self

    def __exit__(self, *exc):
        return False

    def add_task(self, description, **kwargs):
        self.seen.append(description)
        return 0

    def update(self, task, description=None, **kwargs):
        if description:
            self.seen.append(description)


@pytest.fixture
def tiled_method(monkeypatch):
    """A registered stand-in learned method: an identity network run by ``tiled_apply``
    on the darkest and brightest frames (fast, unlike the real networks on a shared CPU)."""
    import torch

    from mefkit.nn.tiling import tiled_apply
    from mefkit.registry import MethodInfo, _REGISTRY, get_method

    def tiled_mean(frames, *, tile: int = 16):
        pair = torch.from_numpy(np.stack([frames[0], frames[-1]]).mean(0).transpose(2, 0, 1)[None].copy())
        out = tiled_apply(lambda t: t, [pair], tile=tile, tile_pad=4, overlap=4)
        return out[0].numpy().transpose(1, 2, 0)

    get_method("mertens")  # registry discovered before the stand-in joins it
    monkeypatch.setitem(_REGISTRY, "tiled_mean", MethodInfo("tiled_mean", tiled_mean, "test stand-in",
                                                            kind="learned", params=("tile",), frames_used=2))
    return "tiled_mean"


def test_progress_shows_stages_on_a_terminal_only(tmp_path, monkeypatch, tiled_method):
    import importlib

    app_mod = importlib.import_module("mefkit.cli.app")  # the package's `app` attribute shadows it
    fuse_mod = importlib.import_module("mefkit.cli.fuse")
    br = _bracket_dir(tmp_path)
    monkeypatch.setattr(fuse_mod, "Progress", _RecordingProgress)
    # Not a terminal (CliRunner): no progress display at all.
    runner.invoke(app, ["fuse", str(br), "-o", str(tmp_path / "a.png")])
    assert _RecordingProgress.seen == []
    monkeypatch.setattr(app_mod.console, "_force_terminal", True)
    res = runner.invoke(app, ["fuse", str(br), "-o", str(tmp_path / "b.png"), "-m", tiled_method])
    assert res.exit_code == 0, res.stderr
    seen = _RecordingProgress.seen
    assert seen[0] == "reading" and seen[1] == f"fusing with {tiled_method}" and seen[-1] == "writing b.png"
    tiles = [s for s in seen if ": tile " in s]
    total = int(tiles[-1].rsplit("/", 1)[1])
    assert total > 1 and tiles == [f"fusing with {tiled_method}: tile {i}/{total}" for i in range(1, total + 1)]
    # --quiet on a terminal: no display, no summary line.
    _RecordingProgress.seen = []
    quiet = runner.invoke(app, ["fuse", str(br), "-o", str(tmp_path / "c.png"), "--quiet"])
    assert quiet.exit_code == 0 and _RecordingProgress.seen == [] and quiet.stderr == ""


def test_tiled_apply_reports_each_tile():
    import torch

    from mefkit.nn.tiling import tiled_apply
    from mefkit.progress import report_tiles

    x = torch.rand(1, 3, 40, 70)
    calls = []
    out = tiled_apply(lambda t: t, [x], tile=16, tile_pad=4, overlap=4, progress=lambda d, n: calls.append((d, n)))
    torch.testing.assert_close(out, x)
    total = calls[0][1]
    assert total > 1 and calls == [(i + 1, total) for i in range(total)]
    heard = []
    with report_tiles(lambda d, n: heard.append(d)):
        tiled_apply(lambda t: t, [x], tile=16, tile_pad=4, overlap=4)
    assert heard == list(range(1, total + 1))


# 10. Messages state the actual problem ---------------------------------------------------------

def test_bits_12_says_bits_must_be_8_or_16(tmp_path):
    br = _bracket_dir(tmp_path)
    res = runner.invoke(app, ["fuse", str(br), "-o", str(tmp_path / "o.png"), "--bits", "12"])
    assert res.exit_code == 2
    assert _one_error_line(res) == "error: --bits must be 8 or 16, got 12"


@pytest.mark.parametrize("force", [[], ["--force"]])
def test_output_that_is_a_folder_says_so(tmp_path, force):
    br = _bracket_dir(tmp_path)
    out = tmp_path / "existing_dir"
    out.mkdir()
    res = runner.invoke(app, ["fuse", str(br), "-o", str(out) + "/", *force])
    assert res.exit_code == 2
    assert "is a folder; give an output file name" in _one_error_line(res)


def test_summary_counts_the_frames_a_method_used(tmp_path, tiled_method):
    br = _bracket_dir(tmp_path, n=4)
    res = runner.invoke(app, ["fuse", str(br), "-o", str(tmp_path / "o.png"), "-m", tiled_method])
    assert res.exit_code == 0, res.stderr
    assert "fused the darkest and brightest of 4 frames" in res.stderr
    res = runner.invoke(app, ["fuse", str(br), "-o", str(tmp_path / "m.png")])
    assert "fused 4 frames" in res.stderr
    # The learned methods use every frame up to their cap (max_frames), so none
    # declares a fixed count; the summary line reports their frame rule instead
    # (tests/test_learned_multiframe.py).
    assert {m: mefkit.registry.get_method(m).frames_used for m in ("progressive", "cbm", "mitm")} == {
        "progressive": None, "cbm": None, "mitm": None}


# 11. Wrong frame order under --keep-order -------------------------------------------------------

@pytest.mark.parametrize("method", ["mertens", "tiled_mean"])
def test_keep_order_warns_when_frames_are_not_darkest_first(tmp_path, tiled_method, method):
    # Methods are called with frames darkest first: --keep-order with another order
    # warns, naming the order the exposures suggest.
    br = _bracket_dir(tmp_path)
    frames = [str(br / n) for n in ("f2.png", "f0.png", "f1.png")]
    res = runner.invoke(app, ["fuse", *frames, "--keep-order", "-o", str(tmp_path / "o.png"), "-m", method])
    assert res.exit_code == 0, res.stderr
    assert ("warning: frames are not ordered darkest first; by luminance the order is f0.png, f1.png, f2.png "
            "(drop --keep-order to use it)" in res.stderr)
    ok = runner.invoke(app, ["fuse", *sorted(frames), "--keep-order", "-o", str(tmp_path / "p.png"), "-m", method])
    assert ok.exit_code == 0 and "not ordered darkest first" not in ok.stderr
    auto = runner.invoke(app, ["fuse", *frames, "-o", str(tmp_path / "q.png"), "-m", method])
    assert auto.exit_code == 0 and "not ordered darkest first" not in auto.stderr


def test_api_given_order_warns_when_not_darkest_first():
    frames = make_bracket(16, 16, 3)[::-1]  # brightest first
    with pytest.warns(UserWarning, match="by luminance the order is frame 2, frame 1, frame 0"):
        mefkit.fuse(frames, order="given")
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        mefkit.fuse(frames[::-1], order="given")  # darkest first
        mefkit.fuse(frames)  # order="auto" sorts them


# 12. Alpha dropped in the API warns as for files ---------------------------------------------------

def test_api_warns_when_alpha_is_dropped():
    frames = [np.concatenate([f, np.ones_like(f[..., :1])], axis=2) for f in make_bracket(16, 16, 2)]
    with pytest.warns(UserWarning, match="frame 0: alpha channel dropped") as caught:
        out = mefkit.fuse(frames)
    assert sorted(str(w.message) for w in caught) == ["frame 0: alpha channel dropped", "frame 1: alpha channel dropped"]
    assert out.shape == (16, 16, 3)
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        mefkit.fuse([f[..., :3] for f in frames])  # no alpha, no warning


# 13. Training papercuts ------------------------------------------------------------------------------

def test_train_commands_name_label_options_alike():
    def options(*cmd):
        return set(re.findall(r"--[a-z][a-z-]+", runner.invoke(app, [*cmd, "--help"], terminal_width=200).stdout))

    labels, progressive = options("train", "labels"), options("train", "progressive")
    wanted = {"--label-cache", "--label-methods", "--skip-label-methods"}
    assert wanted <= labels and wanted <= progressive
    assert not {"--cache", "--methods", "--skip"} & labels


@pytest.mark.parametrize(("n_stacks", "expected"), [(1, 0), (2, 1), (5, 1), (10, 2), (20, 4), (74, 4), (500, 4)])
def test_validation_share_scales_with_the_data(n_stacks, expected):
    from mefkit.train.data import split_validation, validation_count
    from mefkit.train.stacks import Stack

    assert validation_count(n_stacks, 4) == expected
    stacks = [Stack(source="src", scene=f"scene{i}", frames=()) for i in range(n_stacks)]
    train, val = split_validation(stacks, 4)
    assert len(val) == expected and len(train) == n_stacks - expected


def test_weights_are_written_with_the_usual_file_mode(tmp_path):
    import torch

    from mefkit.io import default_file_mode
    from mefkit.methods.cbm.unet import CBMUNet, save_cbm_unet
    from mefkit.nn.weights import save_weights

    from mefkit.methods.mitm.translator import Translator, TranslatorConfig, save_translators

    save_weights(tmp_path / "unet.safetensors", torch.nn.Linear(2, 2))
    save_cbm_unet(CBMUNet(base=2, depth=1), tmp_path / "cbm.safetensors")
    small = TranslatorConfig(width=4, n_blocks=1)
    save_translators(tmp_path / "mitm.safetensors", Translator(small), Translator(small))
    for name in ("unet.safetensors", "cbm.safetensors", "mitm.safetensors"):
        assert (tmp_path / name).stat().st_mode & 0o777 == default_file_mode() == 0o666 & ~_umask()


def _umask() -> int:
    mask = os.umask(0o022)
    os.umask(mask)
    return mask


# 14. README gaps --------------------------------------------------------------------------------------

def test_readme_documents_data_variable_and_complete_layout():
    readme = (ROOT / "README.md").read_text()
    assert "MEFKIT_DATA" in readme
    layout = readme[readme.index("## Layout"):]
    pkg = ROOT / "src" / "mefkit"
    for entry in sorted(pkg.iterdir()):
        if entry.name.startswith(("_", ".")) and entry.name != "__main__.py":
            continue
        name = entry.name + ("/" if entry.is_dir() else "")
        assert f"`{name}`" in layout or f"`src/mefkit/{name}`" in layout, f"{name} missing from the layout table"


def test_first_command_output_is_git_ignored():
    ignored = subprocess.run(["git", "check-ignore", "-q", "fused.jpg"], cwd=ROOT)
    assert ignored.returncode == 0


# Found when tried on the development data ---------------------------------------------------

def test_fuse_on_a_folder_of_brackets_points_to_fuse_dir(tmp_path):
    _bracket_dir(tmp_path / "shoots", "a")
    _bracket_dir(tmp_path / "shoots", "b")
    res = runner.invoke(app, ["fuse", str(tmp_path / "shoots"), "-o", str(tmp_path / "o.jpg")])
    assert res.exit_code == 2
    assert "its 2 sub-folders hold images: for one bracket per sub-folder use mefkit fuse-dir" in _one_error_line(res)


def test_fuse_dir_on_one_bracket_says_its_images_are_not_fused(tmp_path):
    br = _bracket_dir(tmp_path, "scene")
    _bracket_dir(br, "fused")  # e.g. MEFB's published results beside the frames
    res = runner.invoke(app, ["fuse-dir", str(br), "-o", str(tmp_path / "out")])
    assert "its own 3 images are not fused" in res.stderr and "use mefkit fuse" in res.stderr


def test_unavailable_device_is_one_line_before_reading(tmp_path):
    import torch

    if torch.cuda.is_available():
        pytest.skip("this machine has CUDA")
    br = _bracket_dir(tmp_path)
    (br / "f9.png").write_bytes(b"corrupt: must not be read first")
    for device, why in (("cuda", "CUDA is not available here"), ("gpu", "is not a torch device")):
        res = runner.invoke(app, ["fuse", str(br), "-o", str(tmp_path / "o.jpg"), "-m", "cbm", "-p", f"device={device}"])
        assert res.exit_code == 2
        assert why in _one_error_line(res)


def test_eval_leaves_out_a_result_saved_in_a_scene_folder(tmp_path):
    data = tmp_path / "data"
    scene = _bracket_dir(data, "scene1")
    assert runner.invoke(app, ["fuse", str(scene), "-o", str(scene / "fused.jpg")]).exit_code == 0
    res = runner.invoke(app, ["eval", str(data), "-o", str(tmp_path / "rep"), "-m", "mertens",
                              "--metrics", "mef_ssim", "--pairs", "all"])
    assert res.exit_code == 0, res.stderr
    assert "scene1/fused.jpg: written by mefkit (a fused result, not a frame), left out" in res.stderr
    from mefkit.datasets import load_dataset

    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        assert [p.name for p in load_dataset(data, pairs="all").scenes[0].frames] == ["f0.png", "f1.png", "f2.png"]


@pytest.mark.parametrize("command", ["fuse-dir", "eval"])
def test_nothing_fusable_is_exit_2_listing_each_failure(tmp_path, command):
    # Several bad brackets: each failure is listed, then one error line; exit 2 and no
    # output folder left behind. One bad bracket among good ones stays exit 1.
    import cv2

    for name in ("a", "b"):
        # frames of two sizes: eval's loader accepts the scene, its cell then fails
        br = _bracket_dir(tmp_path / "data", name)
        cv2.imwrite(str(br / "f1.png"), np.zeros((30, 48, 3), np.uint8))
    out = tmp_path / "out"
    extra = ["-m", "mertens", "--metrics", "mef_ssim", "--pairs", "all"] if command == "eval" else []
    res = runner.invoke(app, [command, str(tmp_path / "data"), "-o", str(out), *extra])
    assert res.exit_code == 2, res.stderr
    lines = res.stderr.strip().splitlines()
    assert len([line for line in lines if line.lstrip().startswith("failed")]) == 2
    assert lines[-1].startswith("error: none of the 2")
    assert not out.exists()
    _bracket_dir(tmp_path / "data", "c")
    res = runner.invoke(app, [command, str(tmp_path / "data"), "-o", str(out), *extra])
    assert res.exit_code == 1 and out.exists()
