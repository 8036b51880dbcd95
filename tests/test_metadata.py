"""Metadata out: the reference frame's EXIF and ICC profile, Orientation 1, Software and
the source list, through JPEG, PNG and TIFF results (Python API, fuse and fuse-dir).

Oracle: the tags and the profile written into the input frames are read back from the
results by Pillow (and tifffile for TIFF), an independent reader.
"""

from __future__ import annotations

import io

import numpy as np
import pytest
import tifffile
from PIL import Image, ImageCms
from typer.testing import CliRunner

import mefkit
from mefkit.cli import app
from mefkit.io import bracket_metadata, is_mefkit_output, quantize, read_bracket, read_image, write_image
from mefkit.io.embed import jpeg_with_metadata
from mefkit.io.metadata import (OutputMetadata, carried_exif, describe_sources, exposure_text, read_frame_metadata,
                                srgb_profile, sub_ifd)

from .conftest import make_bracket

runner = CliRunner()
EXIF, GPS = 0x8769, 0x8825
GPS_TAGS = {1: "N", 2: (48.0, 51.0, 24.5), 3: "E", 4: (2.0, 21.0, 3.0)}
TIMES = (1 / 240, 1 / 60, 1 / 15)


def _icc() -> bytes:
    """A profile other than mefkit's default sRGB one, to see which one is carried."""
    return ImageCms.ImageCmsProfile(ImageCms.createProfile("LAB")).tobytes()


def _frames(folder, *, orientation: int = 6, icc: bytes | None = None, gps: bool = True):
    """A 3-frame JPEG bracket with camera EXIF, stored rotated (Orientation 6) by default."""
    folder.mkdir(parents=True, exist_ok=True)
    paths = []
    for i, (frame, t) in enumerate(zip(make_bracket(40, 56, 3), TIMES)):
        exif = Image.Exif()
        exif[0x010F] = "Nikon"
        exif[0x0110] = "Z 8"
        exif[0x0112] = orientation
        exif[0x0131] = "Camera firmware 1.0"
        exif[EXIF] = {0x829A: t, 0x829D: 4.0, 0x8827: 100, 0x9003: f"2026:05:01 10:00:0{i}",
                      0xA434: "NIKKOR Z 24-120mm f/4 S", 0xA433: "Nikon", 0x927C: b"private" * 10}
        if gps:
            exif[GPS] = dict(GPS_TAGS)
        stored = np.rot90(quantize(frame, 8), 1) if orientation == 6 else quantize(frame, 8)
        path = folder / f"f{i}.jpg"
        kwargs = {"icc_profile": icc} if icc else {}
        Image.fromarray(np.ascontiguousarray(stored)).save(path, exif=exif, quality=95, **kwargs)
        paths.append(path)
    return paths


def _check(path, *, icc: bytes, frames: int = 3, method: str = "mertens") -> None:
    with Image.open(path) as im:
        exif = im.getexif()
        profile = im.info.get("icc_profile")
        ifd, gps = exif.get_ifd(EXIF), exif.get_ifd(GPS)
    assert exif[0x010F] == "Nikon" and exif[0x0110] == "Z 8"
    assert exif[0x0112] == 1, "orientation must be reset: the pixels are upright"
    assert exif[0x0131].startswith("mefkit ") and f"({method})" in exif[0x0131]
    assert ifd[0x9003] == "2026:05:01 10:00:01"  # the reference (middle) frame's capture time
    assert float(ifd[0x829A]) == pytest.approx(1 / 60)
    assert ifd[0xA434] == "NIKKOR Z 24-120mm f/4 S"
    assert 0x927C not in ifd  # no MakerNote
    assert gps[1] == "N" and [float(v) for v in gps[2]] == [48.0, 51.0, 24.5]
    assert profile == icc
    text = exif[0x010E]
    assert f"fused {frames} frames with {method}" in text and "f0.jpg 1/240 s f/4 ISO 100 -2.0 EV" in text
    assert "f2.jpg 1/15 s f/4 ISO 100 +2.0 EV" in text
    assert is_mefkit_output(path)


@pytest.mark.parametrize("ext,bits", [("jpg", 8), ("png", 8), ("png", 16), ("tif", 8), ("tif", 16)])
def test_exif_and_icc_round_trip_through_the_api(tmp_path, ext, bits):
    icc = _icc()
    bracket = read_bracket(_frames(tmp_path / "in", icc=icc))
    fused = mefkit.fuse(bracket)
    out = write_image(tmp_path / f"out.{ext}", fused, bits=bits, method="mertens",
                      metadata=bracket_metadata(bracket, "mertens"))
    _check(out, icc=icc)
    # pixel size tags match the (upright) result, and mefkit reads the pixels back upright
    with Image.open(out) as im:
        ifd = im.getexif().get_ifd(EXIF)
        assert (ifd[0xA002], ifd[0xA003]) == (fused.shape[1], fused.shape[0]) == im.size
    img, depth, _ = read_image(out)
    assert depth == bits and img.shape == fused.shape == (40, 56, 3)
    tol = 0.06 if ext == "jpg" else (1 / 255 if bits == 8 else 1 / 65535)
    assert np.abs(img - fused).mean() < tol


def test_tiff_sub_ifds_are_read_by_tifffile(tmp_path):
    # A second, independent TIFF reader finds the EXIF and GPS sub-IFDs mefkit appends.
    bracket = read_bracket(_frames(tmp_path / "in"))
    out = write_image(tmp_path / "o.tif", mefkit.fuse(bracket), bits=16, metadata=bracket_metadata(bracket, "x"))
    with tifffile.TiffFile(out) as tf:
        tags = tf.pages[0].tags
        assert tags["Make"].value == "Nikon" and tags["Orientation"].value == 1
        assert tags["ExifTag"].value["LensModel"] == "NIKKOR Z 24-120mm f/4 S"
        assert tags["GPSTag"].value["GPSLatitudeRef"] == "N"
        assert tf.pages[0].dtype == np.uint16


@pytest.mark.parametrize("ext", ["jpg", "png", "tif"])
def test_cli_fuse_carries_metadata_and_srgb_when_no_profile(tmp_path, ext):
    paths = _frames(tmp_path / "in")  # no ICC profile in the frames
    out = tmp_path / f"o.{ext}"
    res = runner.invoke(app, ["fuse", *map(str, paths), "-o", str(out), "-q"])
    assert res.exit_code == 0, res.output
    _check(out, icc=srgb_profile())
    assert ImageCms.getProfileDescription(ImageCms.ImageCmsProfile(io.BytesIO(srgb_profile()))).startswith("sRGB")


def test_default_profile_is_the_same_every_time():
    # A fixed creation date: the same result gives the same file.
    srgb_profile.cache_clear()
    first = srgb_profile()
    srgb_profile.cache_clear()
    assert srgb_profile() == first
    assert first[24:36] == bytes([7, 208, 0, 1, 0, 1]) + bytes(6)  # 2000-01-01 00:00:00


def test_cli_fuse_dir_carries_metadata(tmp_path):
    icc = _icc()
    _frames(tmp_path / "shoot" / "hall", icc=icc)
    res = runner.invoke(app, ["fuse-dir", str(tmp_path / "shoot"), "-o", str(tmp_path / "out"), "--ext", "png", "-q"])
    assert res.exit_code == 0, res.output
    _check(tmp_path / "out" / "hall.png", icc=icc)


def test_results_are_still_left_out_of_a_bracket_folder(tmp_path):
    # The Software tag keeps working with camera EXIF around it: a result saved among
    # the frames is not read as a fourth frame.
    paths = _frames(tmp_path / "in", gps=False)
    bracket = read_bracket(paths)
    write_image(tmp_path / "in" / "fused.jpg", mefkit.fuse(bracket), metadata=bracket_metadata(bracket, "mertens"))
    with pytest.warns(UserWarning, match="fused.jpg: written by mefkit"):
        again = read_bracket(tmp_path / "in")
    assert len(again.frames) == 3


def test_frames_without_exif_give_software_and_description_only(tmp_path):
    frames = make_bracket(24, 32, 2)
    bracket = mefkit.load_frames(frames)
    md = bracket_metadata(bracket, "mertens")
    out = write_image(tmp_path / "a.jpg", mefkit.fuse(bracket), metadata=md)
    with Image.open(out) as im:
        exif = im.getexif()
        assert 0x010F not in exif and exif[0x0112] == 1 and exif[0x0131].startswith("mefkit ")
        assert exif[0x010E] == "mefkit fused 2 frames with mertens (reference frame 0): frame 0; frame 1"
        assert im.info["icc_profile"] == srgb_profile()


def test_large_icc_profile_spans_several_jpeg_segments(tmp_path):
    # A profile over one APP2 segment (65519 bytes) is split and put back together.
    big = bytes(range(256)) * 300  # 76800 bytes; readers reassemble without parsing it
    arr = np.zeros((8, 8, 3), np.uint8)
    data = tmp_path / "plain.jpg"
    Image.fromarray(arr).save(data)
    out = jpeg_with_metadata(data.read_bytes(), Image.Exif(), big)
    (tmp_path / "big.jpg").write_bytes(out)
    with Image.open(tmp_path / "big.jpg") as im:
        assert im.info["icc_profile"] == big


def test_exif_too_large_for_a_jpeg_segment_is_left_out_with_a_warning(tmp_path):
    exif = Image.Exif()
    exif[0x013B] = "x" * 70000  # Artist
    md = OutputMetadata(exif, srgb_profile(), None)
    with pytest.warns(UserWarning, match="does not fit a JPEG segment"):
        out = write_image(tmp_path / "a.jpg", np.zeros((4, 4, 3), np.float32), metadata=md, method="m")
    with Image.open(out) as im:
        assert 0x013B not in im.getexif() and im.info["icc_profile"] == srgb_profile()
    assert is_mefkit_output(out)
    # PNG holds it
    out = write_image(tmp_path / "a.png", np.zeros((4, 4, 3), np.float32), metadata=md)
    with Image.open(out) as im:
        assert im.getexif()[0x013B] == "x" * 70000


def test_carried_exif_moves_tiff_ep_tags_and_drops_private_ones():
    src = Image.Exif()
    src[0x010F] = "Cam"
    src[0x829A] = 0.5  # ExposureTime in IFD0, as TIFF/EP files (DNG) hold it
    src[0x0100] = 4000  # ImageWidth: not carried
    src[EXIF] = {0x927C: b"maker", 0x9003: "2026:01:01 00:00:00", 0xA002: 4000}
    out = carried_exif(src)
    assert out[0x010F] == "Cam" and 0x0100 not in out and 0x829A not in out
    assert sub_ifd(out, EXIF) == {0x829A: 0.5, 0x9003: "2026:01:01 00:00:00"}


def test_exposure_text_and_description():
    exif = Image.Exif()
    exif[EXIF] = {0x829A: 2.0, 0x829D: 5.6, 0x8827: 400}
    assert exposure_text(exif) == "2 s f/5.6 ISO 400"
    assert exposure_text(Image.Exif()) == ""
    text = describe_sources(["a.jpg", "b.jpg"], [Image.Exif(), exif], "dem", [1.0, 4.0], 1)
    assert text == "mefkit fused 2 frames with dem (reference b.jpg): a.jpg -2.0 EV; b.jpg 2 s f/5.6 ISO 400 +0.0 EV"


def test_read_frame_metadata_of_unreadable_file_is_empty(tmp_path):
    bad = tmp_path / "x.jpg"
    bad.write_bytes(b"nope")
    md = read_frame_metadata(bad)
    assert len(md.exif) == 0 and md.icc is None


def test_raw_frames_carry_their_exif_and_srgb(tmp_path):
    pytest.importorskip("rawpy", reason="rawpy (LibRaw) is not installed: pip install 'mefkit[raw]'")
    pytest.importorskip("pidng", reason="pidng is not installed")
    from .dng import dng_bracket

    scene = np.clip(make_bracket(64, 96, 3)[1], 0, 1)
    paths = dng_bracket(tmp_path, scene)
    out = tmp_path / "o.jpg"
    res = runner.invoke(app, ["fuse", *map(str, paths), "-o", str(out), "-q"])
    assert res.exit_code == 0, res.output
    with Image.open(out) as im:
        exif = im.getexif()
        assert exif[0x010F] == "MefCam" and exif[0x0112] == 1
        assert float(exif.get_ifd(EXIF)[0x829A]) == pytest.approx(1 / 60)
        assert "frame_0.dng 1/240 s f/8 ISO 100 -2.0 EV" in exif[0x010E]
        assert im.info["icc_profile"] == srgb_profile()


def test_unwritable_exif_value_falls_back_to_the_software_field(tmp_path):
    exif = Image.Exif()
    exif[EXIF] = {0x829A: object()}  # a value no EXIF writer can encode
    md = OutputMetadata(exif, None, None)
    for ext in ("jpg", "png", "tif"):
        with pytest.warns(UserWarning, match="camera metadata could not be written"):
            out = write_image(tmp_path / f"a.{ext}", np.zeros((4, 4, 3), np.float32), metadata=md, method="m")
        assert is_mefkit_output(out)
