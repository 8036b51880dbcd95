"""Brackets found in a flat folder: capture time, exposure pattern, file number, N per group, strays."""

from __future__ import annotations

import json
import shutil
from pathlib import Path

import cv2
import numpy as np
import pytest
from PIL import Image
from typer.testing import CliRunner

from mefkit.batch.grouping import (GroupSpec, _drop_raw_doubles, group_flat, group_folder, list_frames,
                                   luminance_period, parse_group)
from mefkit.cli import app
from mefkit.errors import BracketError
from mefkit.io.capture import _with_exifread, file_number, parse_exif_time, read_capture

from .batch_shoot import write_shoot

runner = CliRunner()
MINUTES = (0.0, 180.0, 420.0)  # three brackets, minutes apart


def _pixels(path: Path) -> np.ndarray:
    return cv2.imread(str(path), cv2.IMREAD_UNCHANGED)


def _fuse_alone(files: list[Path], out: Path) -> np.ndarray:
    res = runner.invoke(app, ["fuse", *map(str, files), "-o", str(out)])
    assert res.exit_code == 0, res.stderr
    return _pixels(out)


# --- capture information -------------------------------------------------------------------

def test_parse_exif_time_adds_subseconds():
    assert parse_exif_time("1970:01:01 00:01:00", "25") == pytest.approx(60.25)
    assert parse_exif_time(b"1970:01:01 00:00:01\x00", b"5") == pytest.approx(1.5)
    assert parse_exif_time("not a date") is None and parse_exif_time(None) is None


def test_file_number_is_the_last_digits():
    assert file_number("DSC_0042.NEF") == 42
    assert file_number("a7/IMG_12_0007.jpg") == 7
    assert file_number("sunset.jpg") is None


def test_read_capture_reads_what_was_written(tmp_path):
    (f0, f1, f2), = write_shoot(tmp_path, [0.0])
    infos = [read_capture(p) for p in (f0, f1, f2)]
    assert [i.bias for i in infos] == [0.0, -2.0, 2.0]
    assert infos[0].exposure_time == pytest.approx(1 / 60, rel=1e-3)
    assert infos[1].exposure_time == pytest.approx(1 / 240, rel=1e-3)
    # frame 1 starts 1 s after the end of frame 0 (sub-seconds included)
    assert infos[1].time - infos[0].end == pytest.approx(1.0, abs=0.011)
    assert [i.sequence for i in infos] == [1, 2, 3]


def test_exifread_fallback_reads_the_same_values(tmp_path):
    pytest.importorskip("exifread")
    (f0, f1, _), = write_shoot(tmp_path, [0.0])
    for p in (f0, f1):
        a, b = read_capture(p), _with_exifread(p)
        assert b is not None and b.bias == a.bias and b.time == pytest.approx(a.time)
        assert b.exposure_time == pytest.approx(a.exposure_time)


def test_a_file_without_metadata_has_only_its_number(tmp_path):
    p = tmp_path / "IMG_0009.cr3"
    p.write_bytes(b"not a raw file")
    info = read_capture(p)
    assert info.time is None and info.bias is None and info.sequence == 9


# --- --group parsing -------------------------------------------------------------------------

@pytest.mark.parametrize(("text", "spec"), [
    ("auto", GroupSpec("auto")), ("folder", GroupSpec("folder")), ("3", GroupSpec("count", 3)),
    ("gap=30", GroupSpec("gap", gap=30.0)),
])
def test_parse_group(text, spec):
    assert parse_group(text) == spec


@pytest.mark.parametrize(("text", "message"), [
    ("1", "at least 2 frames"), ("gap=-1", "positive number of seconds"), ("gap=x", "positive number"),
    ("time", "use auto, folder"),
])
def test_parse_group_rejects(text, message):
    with pytest.raises(BracketError, match=message):
        parse_group(text)


# --- grouping ------------------------------------------------------------------------------

def test_three_brackets_in_camera_order_are_found(tmp_path):
    truth = write_shoot(tmp_path, MINUTES)
    grouping = group_folder(tmp_path)
    assert [g.frames for g in grouping.brackets] == truth
    assert not grouping.strays
    assert "capture time" in grouping.how and "exposure bias" in grouping.how
    assert "180" not in grouping.brackets[0].reason and "pause" in grouping.brackets[1].reason


def test_back_to_back_brackets_split_by_the_exposure_pattern(tmp_path):
    # Continuous shooting: no pause between brackets; the exposure 0 EV coming round splits them.
    truth = write_shoot(tmp_path, [0.0, 3 * 1.02 + 3.0, 2 * (3 * 1.02 + 3.0)])
    grouping = group_folder(tmp_path)
    assert [g.frames for g in grouping.brackets] == truth
    assert "comes round again" in grouping.brackets[1].reason


def test_long_exposures_more_than_10s_apart_stay_one_bracket(tmp_path):
    # 40 s, 10 s and 160 s exposures: starts 41 s and 52 s apart, 1 s from each end to the next start.
    truth = write_shoot(tmp_path, [0.0, 900.0], base_time=40.0)
    starts = [read_capture(p).time for p in truth[0]]
    assert min(np.diff(starts)) > 10
    grouping = group_folder(tmp_path)
    assert [g.frames for g in grouping.brackets] == truth
    # Measured from the start of the previous frame the pauses would exceed the gap: the end matters.
    assert grouping.brackets[0].reason == "first frame"


def test_a_file_number_jump_splits(tmp_path):
    first = write_shoot(tmp_path, [0.0], evs=(0.0, -2.0))
    second = write_shoot(tmp_path, [2.5], evs=(2.0, -1.0), first_number=9, seeds=[1])
    grouping = group_flat(list_frames(tmp_path))
    assert [g.frames for g in grouping.groups] == first + second
    assert "file number jumps from 2 to 9" in grouping.groups[1].reason


def test_stray_single_frame_is_reported_not_grouped(tmp_path):
    truth = write_shoot(tmp_path, [0.0, 600.0])
    stray = write_shoot(tmp_path, [300.0], evs=(0.0,), first_number=50, seeds=[7])[0]
    grouping = group_folder(tmp_path)
    assert [g.frames for g in grouping.brackets] == truth
    assert [g.frames for g in grouping.strays] == [stray]
    assert "fits no bracket" in grouping.strays[0].reason


def test_without_exif_n_per_group_and_leftover_is_stray(tmp_path):
    truth = write_shoot(tmp_path, MINUTES, exif=False)
    extra = tmp_path / "IMG_0010.jpg"
    shutil.copy(truth[0][0], extra)
    grouping = group_flat(list_frames(tmp_path), GroupSpec("count", 3))
    assert [g.frames for g in grouping.brackets] == truth
    assert [g.frames for g in grouping.strays] == [[extra]]


def test_without_exif_auto_uses_the_brightness_pattern(tmp_path):
    truth = write_shoot(tmp_path, MINUTES, exif=False)
    grouping = group_folder(tmp_path)
    assert [g.frames for g in grouping.brackets] == truth
    assert "brightness" in grouping.how


def test_luminance_period():
    pattern = [0.5, 0.15, 0.85]
    assert luminance_period(pattern * 4) == 3
    assert luminance_period([0.5, 0.2] * 3) == 2
    assert luminance_period([0.5] * 6) is None  # no exposure steps at all
    assert luminance_period(list(np.linspace(0.1, 0.9, 8))) is None  # a ramp does not repeat


def test_without_exif_or_pattern_auto_asks_for_n(tmp_path):
    for i in range(4):
        Image.fromarray(np.full((8, 8, 3), 120, np.uint8)).save(tmp_path / f"f{i}.jpg")
    with pytest.raises(BracketError, match="use --group N"):
        group_folder(tmp_path)


def test_gap_mode_needs_capture_times(tmp_path):
    write_shoot(tmp_path, [0.0], exif=False)
    with pytest.raises(BracketError, match="IMG_0001.jpg: no EXIF capture time"):
        group_folder(tmp_path, GroupSpec("gap", gap=10))


def test_gap_threshold_is_the_users(tmp_path):
    write_shoot(tmp_path, [0.0, 40.0], evs=(0.0, 0.0, 0.0))  # same exposures: time is the only signal
    assert len(group_folder(tmp_path, GroupSpec("gap", gap=30)).brackets) == 2
    assert len(group_folder(tmp_path, GroupSpec("gap", gap=60)).brackets) == 1


def test_raw_extensions_are_frames_and_raw_wins_over_its_jpeg(tmp_path):
    files = write_shoot(tmp_path, [0.0])[0]
    raw = files[0].with_suffix(".dng")
    shutil.copy(files[0], raw)  # Pillow reads by content: the copy keeps its EXIF
    assert raw in list_frames(tmp_path)
    kept, notes = _drop_raw_doubles(list_frames(tmp_path))
    assert files[0] not in kept and raw in kept
    assert notes == [f"IMG_0001.jpg: left out, the RAW {raw.name} is the same frame"]
    for ext in (".cr2", ".cr3", ".nef", ".arw", ".raf", ".orf", ".rw2"):
        (tmp_path / f"X{ext.upper()}").write_bytes(b"raw")
    assert len(list_frames(tmp_path)) == 4 + 7


def test_subfolders_are_one_bracket_each(tmp_path):
    write_shoot(tmp_path / "a", [0.0])
    write_shoot(tmp_path / "b", [0.0])
    grouping = group_folder(tmp_path)
    assert [g.name for g in grouping.brackets] == ["a", "b"] and grouping.brackets[0].sources == [tmp_path / "a"]
    with pytest.raises(BracketError, match="can be grouped with --group auto"):
        group_folder(tmp_path / "a", GroupSpec("folder"))


# --- the command ---------------------------------------------------------------------------

def test_fuse_dir_flat_folder_gives_one_result_per_bracket(tmp_path):
    truth = write_shoot(tmp_path / "shoot", MINUTES)
    out = tmp_path / "out"
    res = runner.invoke(app, ["fuse-dir", str(tmp_path / "shoot"), "-o", str(out), "--ext", "png"])
    assert res.exit_code == 0, res.stderr
    results = sorted(out.glob("*.png"))
    assert [p.name for p in results] == ["IMG_0001-0003.png", "IMG_0004-0006.png", "IMG_0007-0009.png"]
    for k, (files, result) in enumerate(zip(truth, results)):
        assert np.array_equal(_pixels(result), _fuse_alone(files, tmp_path / f"alone{k}.png"))
    assert not np.array_equal(_pixels(results[0]), _pixels(results[1]))  # three different scenes
    manifest = json.loads((out / "manifest.json").read_text())
    rows = manifest["brackets"]
    assert [r["status"] for r in rows] == ["fused"] * 3
    assert rows[1]["frames"] == ["IMG_0005.jpg", "IMG_0004.jpg", "IMG_0006.jpg"]  # as fused: darkest first
    assert rows[0]["output"] == "IMG_0001-0003.png" and rows[0]["method"] == "mertens" and rows[0]["seconds"] > 0


def test_fuse_dir_without_exif_group_3(tmp_path):
    truth = write_shoot(tmp_path / "shoot", MINUTES, exif=False)
    out = tmp_path / "out"
    res = runner.invoke(app, ["fuse-dir", str(tmp_path / "shoot"), "-o", str(out), "--ext", "png", "--group", "3"])
    assert res.exit_code == 0, res.stderr
    results = sorted(out.glob("*.png"))
    assert len(results) == 3
    for k, (files, result) in enumerate(zip(truth, results)):
        assert np.array_equal(_pixels(result), _fuse_alone(files, tmp_path / f"alone{k}.png"))


def test_fuse_dir_reports_a_stray_and_does_not_fuse_it(tmp_path):
    write_shoot(tmp_path / "shoot", [0.0, 600.0])
    write_shoot(tmp_path / "shoot", [300.0], evs=(0.0,), first_number=50, seeds=[7])
    out = tmp_path / "out"
    res = runner.invoke(app, ["fuse-dir", str(tmp_path / "shoot"), "-o", str(out)])
    assert res.exit_code == 0, res.stderr
    assert "2 fused, 0 skipped, 0 failed, 1 stray frame not fused" in res.stderr
    assert "stray" in res.stderr and "IMG_0050.jpg" in res.stderr
    assert sorted(p.name for p in out.glob("*.jpg")) == ["IMG_0001-0003.jpg", "IMG_0004-0006.jpg"]
    rows = json.loads((out / "manifest.json").read_text())["brackets"]
    assert [r["status"] for r in rows] == ["fused", "stray", "fused"]
    assert rows[1]["frames"] == ["IMG_0050.jpg"] and rows[1]["output"] is None


def test_dry_run_prints_groups_and_reasons_and_writes_nothing(tmp_path):
    write_shoot(tmp_path / "shoot", MINUTES)
    out = tmp_path / "out"
    res = runner.invoke(app, ["fuse-dir", str(tmp_path / "shoot"), "-o", str(out), "--dry-run"])
    assert res.exit_code == 0, res.stderr
    assert not out.exists()
    lines = res.stdout.splitlines()
    assert lines[0].startswith("flat folder split by capture time + exposure bias + file sequence") and "3 brackets" in lines[0]
    heads = [line for line in lines if line.startswith("bracket")]
    assert len(heads) == 3 and "first frame" in heads[0] and "pause" in heads[1]
    assert "IMG_0005.jpg  2026-05-01 10:03:01." in res.stdout and "-2 EV" in res.stdout


def test_fuse_dir_rerun_skips_finished_brackets_and_keeps_their_manifest_rows(tmp_path):
    write_shoot(tmp_path / "shoot", MINUTES[:2])
    out = tmp_path / "out"
    assert runner.invoke(app, ["fuse-dir", str(tmp_path / "shoot"), "-o", str(out)]).exit_code == 0
    first = json.loads((out / "manifest.json").read_text())["brackets"]
    (out / "IMG_0004-0006.jpg").unlink()
    stamp = (out / "IMG_0001-0003.jpg").stat().st_mtime_ns
    res = runner.invoke(app, ["fuse-dir", str(tmp_path / "shoot"), "-o", str(out)])
    assert res.exit_code == 0 and "1 fused, 1 skipped" in res.stderr
    assert (out / "IMG_0001-0003.jpg").stat().st_mtime_ns == stamp
    rows = json.loads((out / "manifest.json").read_text())["brackets"]
    assert [r["status"] for r in rows] == ["skipped", "fused"]
    assert rows[0]["seconds"] == first[0]["seconds"]


def test_bad_group_value_is_one_line(tmp_path):
    write_shoot(tmp_path / "shoot", [0.0])
    res = runner.invoke(app, ["fuse-dir", str(tmp_path / "shoot"), "-o", str(tmp_path / "out"), "--group", "x"])
    assert res.exit_code == 2 and res.stderr.strip().startswith("error: --group 'x'")
    assert not (tmp_path / "out").exists()


def test_only_strays_is_an_error(tmp_path):
    write_shoot(tmp_path / "shoot", [0.0, 300.0], evs=(0.0,))
    res = runner.invoke(app, ["fuse-dir", str(tmp_path / "shoot"), "-o", str(tmp_path / "out")])
    assert res.exit_code == 2 and "no bracket found; its 2 frames fit no bracket" in res.stderr
    assert not (tmp_path / "out").exists()


def test_capture_info_end_and_stops(tmp_path):
    from mefkit.io.capture import CaptureInfo

    info = CaptureInfo(tmp_path / "a.jpg", time=100.0, exposure_time=30.0, exposure=0.25)
    assert info.end == 130.0 and info.stops == -2.0
    assert CaptureInfo(tmp_path / "a.jpg").end is None and CaptureInfo(tmp_path / "a.jpg", time=5.0).end == 5.0


def test_sub_brackets_leave_out_folders_of_mefkit_results(tmp_path):
    from mefkit.batch.grouping import sub_brackets
    from mefkit.io import write_image

    write_shoot(tmp_path / "a", [0.0])
    (tmp_path / "results").mkdir()
    write_image(tmp_path / "results" / "r.jpg", np.zeros((8, 8, 3), np.float32))
    (tmp_path / ".hidden").mkdir()
    write_shoot(tmp_path / ".hidden", [0.0])
    assert sub_brackets(tmp_path) == [tmp_path / "a"]


def test_flat_folder_of_dng_brackets(tmp_path):
    # Camera RAW in a flat folder: capture time and exposure read from the DNGs' EXIF
    # (no exposure bias: the relative exposure t x ISO / N^2 gives the pattern).
    pytest.importorskip("pidng", reason="needs pidng (test extra) to write DNG files")
    pytest.importorskip("rawpy", reason="needs rawpy (raw extra) to read DNG files")
    from .conftest import make_bracket
    from .dng import mosaic, srgb_to_linear, write_dng

    shoot = tmp_path / "card"
    shoot.mkdir()
    truth, number = [], 1
    for b, minute in enumerate((0, 5)):
        lin = srgb_to_linear(make_bracket(32, 48, 3, seed=b)[1])
        files = []
        for k, gain in enumerate((1.0, 0.25, 4.0)):  # camera order 0, -2, +2 EV
            path = shoot / f"IMG_{number:04d}.dng"
            write_dng(path, mosaic(lin * gain), exposure_time=gain / 60, when=f"2026:05:01 10:{minute:02d}:0{k}")
            files.append(path)
            number += 1
        truth.append(files)
    infos = [read_capture(p) for p in truth[0]]
    assert all(i.time is not None for i in infos) and infos[1].exposure_time == pytest.approx(1 / 240, rel=1e-3)
    grouping = group_folder(shoot)
    assert [g.frames for g in grouping.brackets] == truth
    out = tmp_path / "out"
    res = runner.invoke(app, ["fuse-dir", str(shoot), "-o", str(out), "-q"])
    assert res.exit_code == 0, res.stderr
    assert sorted(p.name for p in out.glob("*.tif")) == ["IMG_0001-0003.tif", "IMG_0004-0006.tif"]
