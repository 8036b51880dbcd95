"""RAW / DNG input: DNG brackets built at run time with pidng, developed through rawpy.

Oracles: the DNGs are made from a known sRGB scene (tests/dng.py), so the linear frames,
the EXIF exposures and the colours of the fused result are known in advance.
"""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import cv2
import numpy as np
import pytest
import tifffile
from typer.testing import CliRunner

pytest.importorskip("rawpy", reason="rawpy (LibRaw) is not installed: pip install 'mefkit[raw]'")
pytest.importorskip("pidng", reason="pidng is not installed (the test extra builds DNGs with it)")

import mefkit  # noqa: E402
from mefkit import BracketError, ParameterError  # noqa: E402
from mefkit.cli import app  # noqa: E402
from mefkit.io import read_bracket, read_image  # noqa: E402
from mefkit.io.convert import rgb_to_lab  # noqa: E402
from mefkit.io.raw import (KEY, RawOptions, develop, exposure_gain, is_raw, raw_exif, raw_options,  # noqa: E402
                           read_raw, srgb_oetf)

from .dng import NEUTRAL, dng_bracket, mosaic, srgb_to_linear, write_dng  # noqa: E402

runner = CliRunner()
EXAMPLE = Path(mefkit.__file__).parent / "data" / "example" / "coffee_2_mid.jpg"


def _scene() -> np.ndarray:
    """The bundled example's middle frame (600x400 sRGB) as the scene, float in [0, 1]."""
    return cv2.imread(str(EXAMPLE))[:, :, ::-1].astype(np.float32) / 255


@pytest.fixture(scope="module")
def scene() -> np.ndarray:
    return _scene()


@pytest.fixture(scope="module")
def dngs(tmp_path_factory, scene):
    """A 3-frame 12-bit RGGB bracket at x1/4, x1, x4, written in camera order 0, -2, +2 EV."""
    folder = tmp_path_factory.mktemp("dng")
    # names in camera order: the x1 frame first, then the darker and the brighter
    paths = dng_bracket(folder, scene, (0.25, 1.0, 4.0), names=["b_dark.dng", "a_mid.dng", "c_bright.dng"])
    return folder, paths


def _ab_error(image: np.ndarray, reference: np.ndarray) -> float:
    """Mean absolute CIE-Lab a and b difference (over pixels and both channels)."""
    a, b = rgb_to_lab(image), rgb_to_lab(reference)
    return float(np.abs(a[..., 1:] - b[..., 1:]).mean())


def test_pidng_writes_the_exposure_tags_we_read_back(dngs):
    # Oracle: the exposure time, f-number, ISO, capture time and camera written by pidng.
    _, paths = dngs
    for path, factor in zip(paths, (0.25, 1.0, 4.0)):
        exif = raw_exif(path)
        ifd = exif.get_ifd(0x8769)
        assert exif[0x010F] == "MefCam" and exif[0x0110] == "Bracket One"
        assert float(ifd[0x829A]) == pytest.approx(factor / 60, rel=1e-4)
        assert float(ifd[0x829D]) == 8.0 and int(ifd[0x8827]) == 100
        assert ifd[0x9003].startswith("2026:05:01 10:00:0")
        frame = read_raw(path)
        assert frame.exposure == pytest.approx(factor / 60 * 100 / 64, rel=1e-4)


def test_linear_frame_matches_the_scene_under_camera_white_balance(dngs, scene):
    # Oracle: the x1 frame's linear values are the scene's linear sRGB (demosaicking error only).
    _, paths = dngs
    lin = read_raw(paths[1]).linear
    assert lin.shape == scene.shape and lin.dtype == np.float32
    expected = srgb_to_linear(scene)
    assert np.abs(lin - expected).mean() < 0.01
    # channel means agree within 2 %: the as-shot neutral (0.5, 1, 0.7) was undone
    np.testing.assert_allclose(lin.mean(axis=(0, 1)), expected.mean(axis=(0, 1)), rtol=0.02)


def test_daylight_white_balance_keeps_the_camera_cast(dngs, scene):
    # Oracle: without the as-shot multipliers the raw channel sensitivities remain.
    _, paths = dngs
    lin = read_raw(paths[1], RawOptions(white_balance="daylight")).linear
    ratio = lin.mean(axis=(0, 1)) / srgb_to_linear(scene).mean(axis=(0, 1))
    np.testing.assert_allclose(ratio / ratio[1], NEUTRAL, rtol=0.05)


def test_cli_fuses_a_dng_bracket_into_a_16bit_tiff_with_the_scene_colours(dngs, scene, tmp_path):
    _, paths = dngs
    out = tmp_path / "fused"  # no extension: RAW in gives a 16-bit TIFF
    res = runner.invoke(app, ["fuse", *map(str, paths), "-o", str(out)])
    assert res.exit_code == 0, res.output
    tif = tmp_path / "fused.tif"
    arr = tifffile.imread(tif)
    assert arr.dtype == np.uint16 and arr.shape == scene.shape
    assert "ordered by exif" in res.output
    fused = arr.astype(np.float32) / 65535
    assert _ab_error(fused, scene) <= 8.0
    # the same result as the Python API
    np.testing.assert_allclose(fused, mefkit.fuse([str(p) for p in paths]), atol=1.5 / 65535)


def test_colour_check_can_fail(dngs, scene):
    # The a/b criterion is not vacuous: the camera's raw colours (daylight multipliers
    # on a sensor whose neutral is (0.5, 1, 0.7)) miss it by far.
    _, paths = dngs
    fused = mefkit.fuse([str(p) for p in paths], raw={"white_balance": "daylight"})
    assert _ab_error(fused, scene) > 8.0


def test_bracket_is_ordered_by_exif_and_developed_with_one_gain(dngs):
    _, paths = dngs
    bracket = read_bracket(paths)
    assert bracket.order_by == "exif" and bracket.bit_depth == 16
    assert [p.name for p in bracket.paths] == ["b_dark.dng", "a_mid.dng", "c_bright.dng"]
    assert bracket.exposure_values == sorted(bracket.exposure_values)
    # one gain for all: the frames keep their 2-stop steps in linear light (unclipped pixels)
    lin = [srgb_to_linear(f) for f in bracket.frames]
    ok = (lin[0] > 0.005) & (lin[1] < 0.2)
    assert np.median(lin[1][ok] / lin[0][ok]) == pytest.approx(4.0, rel=0.05)
    # and the gain is the key of the reference (middle) frame
    assert bracket.raw_gain == pytest.approx(exposure_gain(read_raw(paths[1]).linear), rel=1e-6)


def test_read_image_develops_a_single_raw_file(dngs):
    _, paths = dngs
    img, bits, ev = read_image(paths[1])
    assert bits == 16 and img.dtype == np.float32 and 0.0 <= img.min() and img.max() <= 1.0
    assert ev == pytest.approx(100 / 60 / 64, rel=1e-4)


def test_highlight_modes_differ_on_clipped_frames(dngs):
    # x4 has clipped highlights whose channels clip at different exposures: the modes
    # treat them differently. Unclipped pixels agree up to one scale (blend and
    # reconstruct leave headroom above white; the bracket's common gain absorbs it).
    _, paths = dngs
    clip = read_raw(paths[2], RawOptions(highlight="clip")).linear
    blend = read_raw(paths[2], RawOptions(highlight="blend")).linear
    rec = read_raw(paths[2], RawOptions(highlight="reconstruct")).linear
    assert np.abs(clip - blend).max() > 0.05 and np.abs(clip - rec).max() > 0.05
    # pixels away from any highlight (demosaicking mixes neighbours across edges)
    dark = cv2.erode((clip.max(axis=2) < 0.3).astype(np.uint8), np.ones((9, 9), np.uint8)).astype(bool)
    for other in (blend, rec):
        scale = np.median(other[dark] / np.maximum(clip[dark], 1e-6))
        np.testing.assert_allclose(other[dark], clip[dark] * scale, atol=0.01)


def test_cli_raw_options_are_checked_and_passed(dngs, tmp_path):
    _, paths = dngs
    bad = runner.invoke(app, ["fuse", *map(str, paths), "-o", str(tmp_path / "x.tif"), "--raw-wb", "tungsten"])
    assert bad.exit_code == 2 and "white balance must be one of camera, auto, daylight" in bad.output
    bad = runner.invoke(app, ["fuse", *map(str, paths), "-o", str(tmp_path / "x.tif"), "--raw-highlight", "x"])
    assert bad.exit_code == 2 and "highlight mode" in bad.output
    out = tmp_path / "day.png"
    ok = runner.invoke(app, ["fuse", *map(str, paths), "-o", str(out), "--raw-wb", "daylight",
                             "--raw-highlight", "blend"])
    assert ok.exit_code == 0, ok.output
    got = read_image(out)[0]
    want = mefkit.fuse([str(p) for p in paths], raw=RawOptions("daylight", "blend"))
    np.testing.assert_allclose(got, want, atol=1.5 / 65535)


def test_raw_options_validation():
    assert raw_options(None) == RawOptions()
    assert raw_options({"white_balance": "auto"}) == RawOptions("auto", "clip")
    with pytest.raises(ParameterError, match="unknown RAW option 'gamma'"):
        raw_options({"gamma": 2})
    with pytest.raises(ParameterError, match="highlight mode"):
        RawOptions(highlight="magenta")


@pytest.mark.parametrize("kind", ["truncated", "garbage", "empty"])
def test_corrupt_dng_is_a_one_line_error_naming_the_file(dngs, tmp_path, kind):
    _, paths = dngs
    bad = tmp_path / "broken.dng"
    data = paths[0].read_bytes()
    bad.write_bytes({"truncated": data[:3000], "garbage": b"not a raw file at all" * 10, "empty": b""}[kind])
    with pytest.raises(BracketError, match=r"broken\.dng: "):
        read_bracket([bad, paths[1]])
    # the command, in its own process so that LibRaw's C-level messages would show
    env = {**os.environ, "PYTHONPATH": str(Path(mefkit.__file__).parents[1])}
    proc = subprocess.run([sys.executable, "-m", "mefkit", "fuse", str(bad), str(paths[1]), "-o",
                           str(tmp_path / "o.tif")], capture_output=True, text=True, env=env, timeout=120)
    assert proc.returncode == 2
    lines = proc.stderr.strip().splitlines()
    assert len(lines) == 1 and lines[0].startswith("error: ") and "broken.dng" in lines[0], proc.stderr
    assert not (tmp_path / "o.tif").exists()


def test_raw_and_jpeg_cannot_be_mixed(dngs, tmp_path):
    _, paths = dngs
    jpg = tmp_path / "x.jpg"
    cv2.imwrite(str(jpg), (_scene() * 255).astype(np.uint8))
    with pytest.raises(BracketError, match=r"x\.jpg: a bracket of RAW files cannot include"):
        read_bracket([paths[0], jpg])


def test_folder_of_raw_plus_jpeg_uses_the_raw_files(dngs, tmp_path):
    folder, paths = dngs
    mixed = tmp_path / "mixed"
    mixed.mkdir()
    for p in paths:
        (mixed / p.name).write_bytes(p.read_bytes())
        cv2.imwrite(str(mixed / (p.stem + ".jpg")), np.zeros((400, 600, 3), np.uint8))
    with pytest.warns(UserWarning, match="using its 3 RAW files"):
        bracket = read_bracket(mixed)
    assert all(is_raw(p) for p in bracket.paths) and len(bracket.paths) == 3


def test_fuse_dir_writes_tif_for_raw_brackets(dngs, tmp_path):
    _, paths = dngs
    src = tmp_path / "shoot"
    (src / "room").mkdir(parents=True)
    for p in paths:
        (src / "room" / p.name).write_bytes(p.read_bytes())
    res = runner.invoke(app, ["fuse-dir", str(src), "-o", str(tmp_path / "out"), "-q"])
    assert res.exit_code == 0, res.output
    arr = tifffile.imread(tmp_path / "out" / "room.tif")
    assert arr.dtype == np.uint16 and arr.ndim == 3


def test_missing_rawpy_names_the_extra(dngs, monkeypatch):
    _, paths = dngs
    monkeypatch.setitem(sys.modules, "rawpy", None)  # import rawpy now raises ImportError
    with pytest.raises(BracketError, match=r"a_mid\.dng: reading RAW files needs rawpy.*mefkit\[raw\]"):
        read_raw(paths[1])


def test_srgb_oetf_known_values():
    # IEC 61966-2-1: 0 -> 0, 1 -> 1, the linear segment's end 0.0031308 -> 0.04045,
    # middle grey 0.18 -> 0.4614; values beyond [0, 1] clip.
    got = srgb_oetf(np.array([0.0, 0.0031308, 0.18, 1.0, 2.0, -1.0]))
    np.testing.assert_allclose(got, [0.0, 0.04045, 0.46135, 1.0, 1.0, 0.0], atol=2e-5)


def test_exposure_gain_puts_the_reference_at_the_key():
    flat = np.full((64, 64, 3), 0.045, np.float32)
    assert exposure_gain(flat) == pytest.approx(KEY / 0.045, rel=1e-5)
    # clipped pixels are left out of the mean; an all-clipped frame keeps gain 1
    half = flat.copy()
    half[:32] = 1.0
    assert exposure_gain(half) == pytest.approx(KEY / 0.045, rel=1e-5)
    assert exposure_gain(np.ones((8, 8, 3), np.float32)) == 1.0
    # the gain is bounded
    assert exposure_gain(np.full((8, 8, 3), 1e-3, np.float32)) == 16.0


def test_develop_uses_one_gain_for_all_frames():
    rng = np.random.default_rng(0)
    base = rng.uniform(0.01, 0.05, (16, 16, 3)).astype(np.float32)
    frames, gain = develop([base, base * 4], reference=0)
    assert gain == pytest.approx(exposure_gain(base))
    np.testing.assert_allclose(frames[0], srgb_oetf(base * gain), atol=1e-6)
    np.testing.assert_allclose(frames[1], srgb_oetf(base * 4 * gain), atol=1e-6)


def test_write_dng_helper_round_trips_raw_values(tmp_path):
    # The helper itself: LibRaw reads back the mosaic written (black level subtracted).
    import rawpy

    lin = np.full((64, 64, 3), 0.25)  # LibRaw refuses images under about 22 pixels a side
    path = write_dng(tmp_path / "flat.dng", mosaic(lin), exposure_time=0.01)
    with rawpy.imread(str(path)) as raw:
        values = raw.raw_image_visible.astype(int)
        assert raw.white_level == 4095
    assert values[0, 0] == round(256 + 0.25 * 0.5 * (4095 - 256))
    assert values[0, 1] == round(256 + 0.25 * (4095 - 256))


def test_libraw_messages_are_caught_and_other_output_passes(capfd):
    # What LibRaw prints about the file becomes the error's reason; anything else written
    # on the C-level stderr meanwhile (a progress display) still reaches the terminal.
    from mefkit.io.raw import _libraw_messages

    with _libraw_messages("/x/a.dng") as lines:
        os.write(2, b"/x/a.dng: Unexpected end of file\nprogress 3/10\n")
    assert lines == ["Unexpected end of file"]
    assert capfd.readouterr().err == "progress 3/10\n"


def test_develop_table_for_uint16_equals_the_formula():
    # LibRaw's uint16 frames go through a lookup table; it must equal the float path.
    rng = np.random.default_rng(1)
    rgb16 = rng.integers(0, 65536, (32, 32, 3), dtype=np.uint16)
    dark16 = (rgb16 // 4).astype(np.uint16)
    by_table, gain = develop([dark16, rgb16], reference=1)
    by_formula, gain_f = develop([dark16 / np.float32(65535), rgb16 / np.float32(65535)], reference=1)
    assert gain == pytest.approx(gain_f, rel=1e-6)
    for a, b in zip(by_table, by_formula):
        assert a.dtype == np.float32 and a.shape == (32, 32, 3)
        np.testing.assert_allclose(a, b, atol=2e-6)


def test_raw_without_tiff_exif_takes_the_preview_and_libraw_values(monkeypatch, dngs):
    # A RAW that is not TIFF-structured (CR3, RAF): the EXIF comes from LibRaw (and the
    # embedded preview when there is one), also when the file is not open yet.
    import mefkit.io.raw as raw_module

    _, paths = dngs
    monkeypatch.setattr(raw_module, "_tiff_exif", lambda data: None)
    exif = raw_exif(paths[2])
    ifd = exif.get_ifd(0x8769)
    assert float(ifd[0x829A]) == pytest.approx(4 / 60, rel=1e-4) and float(ifd[0x829D]) == 8.0
