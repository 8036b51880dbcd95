"""Dataset readers on tiny synthetic folders of every layout, and on ../shared/data.

Oracles: the layouts' definitions (file names -> frame order, gt and fused entries), the
order of brightness we wrote into the files, and the MANIFEST.md counts of the shared
data (70 MEFB pairs with 4 published results each, 16 MEF-database sequences, 7 SICE
pairs of which 2 have a ground truth).
"""

from __future__ import annotations

import warnings
from pathlib import Path

import cv2
import numpy as np
import pytest

from mefkit.datasets import DatasetError, load_dataset, parse_pairs, select_frames
from tests.conftest import shared_path


def _img(path: Path, level: int, size=(12, 16)) -> Path:
    path.parent.mkdir(parents=True, exist_ok=True)
    cv2.imwrite(str(path), np.full((*size, 3), level, np.uint8))
    return path


def _names(paths) -> list[str]:
    return [p.name for p in paths]


def test_under_over_layout_with_gt_and_fused(tmp_path):
    # MEFB / SICE layout: under.*, over.*, optional gt.*, optional fused/<method>.*
    _img(tmp_path / "A" / "over.jpg", 200)
    _img(tmp_path / "A" / "under.jpg", 20)
    _img(tmp_path / "A" / "fused" / "DEM.jpg", 100)
    _img(tmp_path / "A" / "fused" / "SPD_MEF.jpg", 110)
    _img(tmp_path / "B" / "under.png", 30)
    _img(tmp_path / "B" / "over.png", 220)
    _img(tmp_path / "B" / "gt.png", 128)
    (tmp_path / "B" / "meta.json").write_text("{}")
    ds = load_dataset(tmp_path)
    assert [s.name for s in ds] == ["A", "B"]
    a, b = ds["A"], ds["B"]
    assert _names(a.frames) == ["under.jpg", "over.jpg"] and a.gt is None
    assert sorted(a.fused) == ["DEM", "SPD_MEF"] and a.fused["DEM"].name == "DEM.jpg"
    assert _names(b.frames) == ["under.png", "over.png"] and b.gt.name == "gt.png"
    assert a.layout == b.layout == "under-over" and ds.skipped == []
    assert load_dataset(tmp_path, layout="mefb").layouts == ["under-over"]


def test_numbered_layout_and_pair_choices(tmp_path):
    # Ma's MEF database: 01.png .. NN.png darkest first (MANIFEST), 10 sorts after 9.
    for i in range(1, 11):
        _img(tmp_path / "Seq" / f"{i:02d}.png", 10 * i)
    assert _names(load_dataset(tmp_path)["Seq"].frames) == ["01.png", "10.png"]
    ds = load_dataset(tmp_path, pairs="all")
    assert _names(ds["Seq"].frames) == [f"{i:02d}.png" for i in range(1, 11)]
    assert ds["Seq"].layout == "numbered"
    assert _names(load_dataset(tmp_path, pairs="2,7")["Seq"].frames) == ["02.png", "07.png"]
    assert _names(load_dataset(tmp_path, pairs="1,-2")["Seq"].frames) == ["01.png", "09.png"]


def test_pair_index_out_of_range_skips_scene_by_name(tmp_path):
    for i in range(1, 4):
        _img(tmp_path / "short" / f"{i}.png", 50 * i)
    for i in range(1, 8):
        _img(tmp_path / "long" / f"{i}.png", 30 * i)
    with pytest.warns(UserWarning, match="short"):
        ds = load_dataset(tmp_path, pairs="1,7")
    assert [s.name for s in ds] == ["long"]
    assert ds.skipped[0][0] == "short" and "out of range" in ds.skipped[0][1]


def _sice_release(root: Path) -> None:
    # Official SICE release: Dataset_PartN/<n>/<k>.JPG, reference Dataset_PartN/Label/<n>.JPG.
    for part, seqs in (("Dataset_Part1", (1, 2, 10)), ("Dataset_Part2", (3,))):
        for n in seqs:
            for k in range(1, 8 if n != 2 else 4):
                _img(root / part / str(n) / f"{k}.JPG", 20 * k)
            if n != 10:
                _img(root / part / "Label" / f"{n}.JPG", 120)


def test_sice_release_layout_pairs_explicit(tmp_path):
    _sice_release(tmp_path)
    with warnings.catch_warnings(record=True) as rec:
        warnings.simplefilter("always")
        ds = load_dataset(tmp_path, pairs="1,7")
    assert sorted(str(w.message).split(":")[1].strip().split()[-1] for w in rec) == [
        "Dataset_Part1/10", "Dataset_Part1/2"]
    # Sequence 2 has 3 frames (index 7 missing), sequence 10 has no label: both skipped by name.
    assert [s.name for s in ds] == ["Dataset_Part1/1", "Dataset_Part2/3"]
    assert dict(ds.skipped).keys() == {"Dataset_Part1/2", "Dataset_Part1/10"}
    s = ds["Dataset_Part1/1"]
    assert _names(s.frames) == ["1.JPG", "7.JPG"] and s.gt.name == "1.JPG" and s.gt.parent.name == "Label"
    assert s.layout == "sice-release" and len(s.all_frames) == 7
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        extremes = load_dataset(tmp_path / "Dataset_Part1", layout="sice-release")
    assert [_names(s.frames) for s in extremes] == [["1.JPG", "7.JPG"], ["1.JPG", "3.JPG"]]
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        every = load_dataset(tmp_path, pairs="all")
    assert len(every["Dataset_Part1/2"].frames) == 3


def test_generic_layout_orders_by_names_then_luminance(tmp_path):
    # Exposure words order without decoding; otherwise the brightness we wrote decides.
    _img(tmp_path / "words" / "b_over.png", 30)  # a name beats pixel values
    _img(tmp_path / "words" / "a_under.png", 200)
    _img(tmp_path / "words" / "c_mid.png", 100)
    _img(tmp_path / "ev" / "shotEV+2.png", 200)
    _img(tmp_path / "ev" / "shotEV-2.png", 20)
    _img(tmp_path / "ev" / "shotEV0.png", 90)
    _img(tmp_path / "plain" / "IMG_3.jpg", 40)
    _img(tmp_path / "plain" / "IMG_1.jpg", 180)
    _img(tmp_path / "plain" / "IMG_2.jpg", 90)
    _img(tmp_path / "plain" / "gt.png", 120)
    ds = load_dataset(tmp_path, pairs="all")
    assert _names(ds["words"].frames) == ["a_under.png", "c_mid.png", "b_over.png"]
    assert ds["words"].ordered_by == "name"
    assert _names(ds["ev"].frames) == ["shotEV-2.png", "shotEV0.png", "shotEV+2.png"]
    plain = ds["plain"]
    assert _names(plain.frames) == ["IMG_3.jpg", "IMG_2.jpg", "IMG_1.jpg"]
    assert plain.ordered_by == "luminance" and plain.gt.name == "gt.png"
    assert {s.layout for s in ds} == {"generic"}


def _exif_jpeg(path: Path, level: int, seconds: float) -> None:
    from PIL import Image

    path.parent.mkdir(parents=True, exist_ok=True)
    exif = Image.Exif()
    ifd = exif.get_ifd(0x8769)  # EXIF sub-IFD: exposure time, f-number, ISO
    ifd[0x829A], ifd[0x829D], ifd[0x8827] = seconds, 4.0, 100
    Image.fromarray(np.full((12, 16, 3), level, np.uint8)).save(path, exif=exif)


def test_generic_layout_prefers_exif_over_luminance(tmp_path):
    # EXIF says DSC_2 (1/8 s) < DSC_1 (1/2 s) < DSC_3 (2 s) although the pixels say otherwise.
    _exif_jpeg(tmp_path / "s" / "DSC_1.jpg", 10, 0.5)
    _exif_jpeg(tmp_path / "s" / "DSC_2.jpg", 200, 0.125)
    _exif_jpeg(tmp_path / "s" / "DSC_3.jpg", 100, 2.0)
    scene = load_dataset(tmp_path, pairs="all")["s"]
    assert _names(scene.frames) == ["DSC_2.jpg", "DSC_1.jpg", "DSC_3.jpg"] and scene.ordered_by == "exif"


def test_malformed_folders_are_skipped_by_name(tmp_path):
    _img(tmp_path / "good" / "under.png", 20)
    _img(tmp_path / "good" / "over.png", 200)
    _img(tmp_path / "no_over" / "under.png", 20)
    _img(tmp_path / "no_over" / "fused" / "X.png", 20)
    _img(tmp_path / "one_frame" / "frame.png", 20)
    (tmp_path / "empty_file").mkdir()
    _img(tmp_path / "empty_file" / "a.png", 20)
    (tmp_path / "empty_file" / "b.png").write_bytes(b"")
    (tmp_path / "no_images").mkdir()
    (tmp_path / "no_images" / "notes.txt").write_text("x")
    _img(tmp_path / "dup" / "under.png", 20)
    _img(tmp_path / "dup" / "under.jpg", 20)
    _img(tmp_path / "dup" / "over.png", 200)
    with warnings.catch_warnings(record=True) as rec:
        warnings.simplefilter("always")
        ds = load_dataset(tmp_path)
    assert [s.name for s in ds] == ["good"]
    skipped = dict(ds.skipped)
    assert set(skipped) == {"no_over", "one_frame", "empty_file", "no_images", "dup"}
    assert "no over" in skipped["no_over"] and "empty" in skipped["empty_file"]
    assert "two files" in skipped["dup"]
    assert all(any(name in str(w.message) for w in rec) for name in skipped)


def test_nested_groups_get_prefixed_names(tmp_path):
    _img(tmp_path / "mefb" / "Arno" / "under.png", 20)
    _img(tmp_path / "mefb" / "Arno" / "over.png", 200)
    for i in (1, 2, 3):
        _img(tmp_path / "stacks" / "src" / "S1" / f"{i:02d}.jpg", 60 * i)
    (tmp_path / "mefb" / "MANIFEST.md").write_text("# manifest")
    ds = load_dataset(tmp_path)
    assert [s.name for s in ds] == ["mefb/Arno", "stacks/src/S1"]
    assert ds.layouts == ["numbered", "under-over"]


def test_forced_layout_mismatch_is_skipped(tmp_path):
    for i in (1, 2):
        _img(tmp_path / "num" / f"{i}.png", 60 * i)
    _img(tmp_path / "uo" / "under.png", 20)
    _img(tmp_path / "uo" / "over.png", 200)
    with pytest.warns(UserWarning, match="num"):
        ds = load_dataset(tmp_path, layout="under-over")
    assert [s.name for s in ds] == ["uo"]


@pytest.mark.parametrize("kwargs, match", [
    ({"layout": "nope"}, "unknown dataset layout"),
    ({"pairs": "1"}, "at least two"),
    ({"pairs": "0,3"}, "1-based"),
    ({"pairs": "middle"}, "pairs must be"),
])
def test_bad_arguments_raise(tmp_path, kwargs, match):
    _img(tmp_path / "s" / "under.png", 20)
    _img(tmp_path / "s" / "over.png", 200)
    with pytest.raises(DatasetError, match=match):
        load_dataset(tmp_path, **kwargs)


def test_missing_or_empty_root_raises(tmp_path):
    with pytest.raises(DatasetError, match="not a folder"):
        load_dataset(tmp_path / "absent")
    with pytest.raises(DatasetError, match="no scene"):
        load_dataset(tmp_path)


def test_select_frames_hand_cases():
    frames = list("abcdefg")
    assert select_frames(frames, "under-over") == ("a", "g")
    assert select_frames(frames, parse_pairs("7,1")) == ("a", "g")  # kept darkest first
    assert select_frames(frames, "all") == tuple(frames)
    with pytest.raises(ValueError, match="same frame"):
        select_frames(frames, "1,-7")


def test_shared_mefb_matches_manifest():
    ds = load_dataset(shared_path("mefb"))
    assert len(ds) == 70 and ds.skipped == []
    assert all(sorted(s.fused) == ["DEM", "DSIFT_EF", "MEFNet", "SPD_MEF"] for s in ds)
    assert all(_names(s.frames)[0].startswith("under.") and s.gt is None for s in ds)


def test_shared_sice_and_mef_database_match_manifests():
    sice = load_dataset(shared_path("sice"))
    assert len(sice) == 7 and sorted(s.name for s in sice if s.gt) == ["samt_labeled_001", "samt_labeled_002"]
    madb = load_dataset(shared_path("mef_database"), pairs="all")
    assert len(madb) == 16 and len(madb["MadisonCapitol"].frames) == 30
    assert _names(madb["Cave"].frames) == ["01.png", "02.png", "03.png", "04.png"]
