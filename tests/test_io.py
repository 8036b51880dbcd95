"""Bracket I/O: reading formats, ordering, validation errors, atomic no-clobber writes."""

from __future__ import annotations

import os
import warnings
from pathlib import Path

import cv2
import numpy as np
import pytest
from PIL import Image

import mefkit
from mefkit import BracketError, OutputError
from mefkit.io import as_float_rgb, quantize, read_bracket, read_image, write_image

from .conftest import make_bracket


def _save(path: Path, arr: np.ndarray) -> Path:
    """Write an RGB/gray/RGBA uint8/uint16 array with OpenCV (BGR order on disk)."""
    if arr.ndim == 3 and arr.shape[2] == 3:
        arr = arr[:, :, ::-1]
    elif arr.ndim == 3 and arr.shape[2] == 4:
        arr = arr[:, :, [2, 1, 0, 3]]
    assert cv2.imwrite(str(path), np.ascontiguousarray(arr))
    return path


@pytest.fixture
def pair_files(tmp_path):
    frames = make_bracket(40, 56, 2)
    paths = [_save(tmp_path / f"f{i}.png", quantize(f, 8)) for i, f in enumerate(frames)]
    return frames, paths


def test_read_png_8bit_round_trip(tmp_path):
    # Oracle: a PNG written from known uint8 values reads back as value / 255 exactly.
    arr = np.random.default_rng(0).integers(0, 256, (9, 11, 3), dtype=np.uint8)
    img, bits, ev = read_image(_save(tmp_path / "a.png", arr))
    assert bits == 8 and ev is None
    np.testing.assert_array_equal(img, arr.astype(np.float32) / 255)


@pytest.mark.parametrize("suffix", [".png", ".tif"])
def test_read_16bit_keeps_precision(tmp_path, suffix):
    # Oracle: 16-bit samples survive (values that 8 bits could not represent).
    arr = np.random.default_rng(1).integers(0, 65536, (8, 10, 3), dtype=np.uint16)
    img, bits, _ = read_image(_save(tmp_path / f"a{suffix}", arr))
    assert bits == 16
    np.testing.assert_allclose(img, arr / 65535.0, atol=1e-7)


def test_gray_is_broadcast_to_rgb(tmp_path):
    arr = np.arange(12 * 7, dtype=np.uint8).reshape(12, 7)
    img, _, _ = read_image(_save(tmp_path / "g.png", arr))
    assert img.shape == (12, 7, 3)
    for c in range(3):
        np.testing.assert_array_equal(img[:, :, c], arr / np.float32(255))


def test_alpha_dropped_with_warning(tmp_path):
    arr = np.full((6, 6, 4), 100, np.uint8)
    arr[..., 3] = 7
    path = _save(tmp_path / "rgba.png", arr)
    with pytest.warns(UserWarning, match="alpha channel dropped"):
        img, _, _ = read_image(path)
    assert img.shape == (6, 6, 3)
    np.testing.assert_allclose(img, 100 / 255, atol=1e-7)


def test_exif_orientation_applied(tmp_path):
    # A 16x24 image tagged "rotate 90 CW" (orientation 6) must come back 24x16, upright.
    arr = np.zeros((16, 24, 3), np.uint8)
    arr[:8, :, :] = 255  # white top half
    exif = Image.Exif()
    exif[0x0112] = 6
    path = tmp_path / "rot.jpg"
    Image.fromarray(arr).save(path, exif=exif, quality=100)
    img, _, _ = read_image(path)
    assert img.shape == (24, 16, 3)
    assert img[:, -4:].mean() > 0.9 and img[:, :4].mean() < 0.1  # top half became the right half


def test_order_by_mean_luminance(pair_files):
    frames, paths = pair_files
    b = read_bracket([paths[1], paths[0]])
    assert b.order_by == "luminance"
    assert b.paths == [paths[0], paths[1]]


def test_order_by_exif_beats_luminance(tmp_path):
    # Oracle: EXIF says the brighter-looking file had the shorter exposure, so EXIF order wins.
    def save(name, value, t):
        exif = Image.Exif()
        ifd = exif.get_ifd(0x8769)
        ifd[0x829A], ifd[0x829D], ifd[0x8827] = t, 2.8, 200
        p = tmp_path / name
        Image.fromarray(np.full((8, 8, 3), value, np.uint8)).save(p, exif=exif, quality=95)
        return p

    a = save("a.jpg", 200, 1 / 500)
    b = save("b.jpg", 50, 1 / 30)
    br = read_bracket([b, a])
    assert br.order_by == "exif"
    assert br.paths == [a, b]
    assert br.exposure_values[0] == pytest.approx((1 / 500) * 200 / 2.8**2)


def test_example_bracket_is_exif_ordered():
    br = read_bracket(mefkit.example_bracket())
    assert br.order_by == "exif" and len(br.frames) == 3
    means = [f.mean() for f in br.frames]
    assert means == sorted(means)


def test_folder_input(pair_files):
    _, paths = pair_files
    br = read_bracket(paths[0].parent)
    assert len(br.frames) == 2


@pytest.mark.parametrize(
    "case, match",
    [
        ("one", "at least two frames"),
        ("missing", "file not found"),
        ("corrupt", "cannot decode"),
        ("empty", "file is empty"),
        ("size", "differs from"),
        ("duplicate", "given more than once"),
        ("emptydir", "no JPEG, PNG, TIFF or RAW"),
    ],
)
def test_bad_brackets_name_file_and_problem(tmp_path, pair_files, case, match):
    _, paths = pair_files
    if case == "one":
        args = [paths[0]]
    elif case == "missing":
        args = [paths[0], tmp_path / "nope.jpg"]
    elif case == "corrupt":
        bad = tmp_path / "bad.jpg"
        bad.write_bytes(b"\xff\xd8\xff\xe0 not really a jpeg")
        args = [paths[0], bad]
    elif case == "empty":
        bad = tmp_path / "empty.png"
        bad.write_bytes(b"")
        args = [paths[0], bad]
    elif case == "size":
        other = _save(tmp_path / "small.png", np.zeros((10, 10, 3), np.uint8))
        args = [paths[0], other]
    elif case == "duplicate":
        args = [paths[0], paths[0]]
    else:
        d = tmp_path / "emptydir"
        d.mkdir()
        args = [d]
    with pytest.raises(BracketError, match=match) as info:
        read_bracket(args)
    if case in ("missing", "corrupt", "empty", "size"):
        assert Path(str(args[-1])).name in str(info.value)


@pytest.mark.parametrize(
    "arr, match",
    [
        (np.full((8, 8, 3), np.nan, np.float32), "NaN"),
        (np.full((8, 8, 3), 1.5, np.float32), r"\[0, 1\]"),
        (np.zeros((8, 8, 2), np.float32), "shape"),
        (np.zeros((8, 8, 3), np.int32), "dtype"),
    ],
)
def test_bad_arrays(arr, match):
    with pytest.raises(BracketError, match=match):
        as_float_rgb(arr, name="frame 1")


def test_write_8_and_16_bit_round_trip(tmp_path):
    img = np.random.default_rng(3).random((9, 13, 3)).astype(np.float32)
    p8 = write_image(tmp_path / "o.png", img, bits=8)
    p16 = write_image(tmp_path / "o.tif", img, bits=16)
    r8, b8, _ = read_image(p8)
    r16, b16, _ = read_image(p16)
    assert (b8, b16) == (8, 16)
    assert np.abs(r8 - img).max() <= 0.5 / 255 + 1e-6
    assert np.abs(r16 - img).max() <= 0.5 / 65535 + 1e-6


def test_write_refuses_existing_and_inputs(tmp_path, pair_files):
    _, paths = pair_files
    img = np.zeros((4, 4, 3), np.float32)
    out = tmp_path / "o.png"
    out.write_bytes(b"precious")
    with pytest.raises(OutputError, match="already exists"):
        write_image(out, img)
    assert out.read_bytes() == b"precious"
    with pytest.raises(OutputError, match="input"):
        write_image(paths[0], img, force=True, inputs=paths)
    write_image(out, img, force=True)
    assert out.read_bytes() != b"precious"


@pytest.mark.parametrize(
    "name, bits, match",
    [("o.jpg", 16, "holds only 8-bit data"), ("o.png", 12, "bits must be 8 or 16, got 12"), ("o.bmp", 8, "unsupported output format")],
)
def test_write_rejects_bad_format(tmp_path, name, bits, match):
    with pytest.raises(OutputError, match=match):
        write_image(tmp_path / name, np.zeros((4, 4, 3), np.float32), bits=bits)
    assert not (tmp_path / name).exists()


def test_write_nan_leaves_no_file(tmp_path):
    img = np.zeros((4, 4, 3), np.float32)
    img[1, 1, 1] = np.nan
    with pytest.raises(OutputError, match="NaN"):
        write_image(tmp_path / "o.png", img)
    assert os.listdir(tmp_path) == []


def test_write_is_atomic_on_encode_failure(tmp_path, monkeypatch):
    # If writing the bytes fails midway, neither the target nor a temp file remains.
    import mefkit.io.write as w

    def boom(*a, **k):
        raise OSError(28, "No space left on device")

    monkeypatch.setattr(w.os, "fsync", boom)
    with pytest.raises(OutputError, match="No space left"):
        write_image(tmp_path / "o.png", np.zeros((4, 4, 3), np.float32))
    assert os.listdir(tmp_path) == []


def test_jpeg_quality_changes_size(tmp_path):
    img = np.random.default_rng(5).random((64, 64, 3)).astype(np.float32)
    lo = write_image(tmp_path / "lo.jpg", img, quality=30).stat().st_size
    hi = write_image(tmp_path / "hi.jpg", img, quality=98).stat().st_size
    assert lo < hi


def test_warnings_do_not_leak_state():
    # The library must not install warning filters globally on import.
    before = list(warnings.filters)
    import importlib

    importlib.reload(mefkit)
    assert list(warnings.filters) == before


def test_written_file_has_umask_permissions(tmp_path):
    # Oracle: a file created by open() in the same folder gets the same mode.
    ref = tmp_path / "ref.txt"
    ref.write_text("x")
    out = write_image(tmp_path / "o.png", np.zeros((4, 4, 3), np.float32))
    assert (out.stat().st_mode & 0o777) == (ref.stat().st_mode & 0o777)
