"""MEF-SSIMd (Fang, Zhu, Ma, Wang, Li, IEEE TIP 2020) against the authors' code run in Octave."""

from __future__ import annotations

import json
from pathlib import Path

import cv2
import numpy as np
import pytest

from mefkit.evaluation.summary import metric_title
from mefkit.metrics import NO_REFERENCE_METRICS, mef_ssim_d
from mefkit.metrics.mef_ssim_d import histogram_match, matlab_disk, mef_ssim_d_gray, static_regions

DATA = Path(__file__).parent / "data"
REFERENCE = json.loads((DATA / "mef_ssimd_reference.json").read_text())
CASES = [(b, label) for b, entry in REFERENCE["brackets"].items() for label in entry["fused"]]


def load_bracket(name: str) -> np.ndarray:
    d = DATA / "mef_ssimd" / name
    paths = sorted(d.glob("frame_*.png"), key=lambda p: int(p.stem.split("_")[1]))
    return np.stack([cv2.imread(str(p), cv2.IMREAD_GRAYSCALE) for p in paths])


def load_fused(name: str, label: str) -> np.ndarray:
    return cv2.imread(str(DATA / "mef_ssimd" / name / f"fused_{label}.png"), cv2.IMREAD_GRAYSCALE)


@pytest.mark.parametrize("bracket,label", CASES)
def test_matches_authors_code_in_octave(bracket, label):
    expected = REFERENCE["brackets"][bracket]["fused"][label]
    seq, fused = load_bracket(bracket), load_fused(bracket, label)
    score, q_map, _ = mef_ssim_d_gray(seq.astype(np.float64), fused.astype(np.float64))
    assert q_map.size == expected["map_size"]
    assert abs(score - expected["score"]) <= 1e-6
    assert abs(q_map.mean() - expected["map_mean"]) <= 1e-6
    # The public entry point on 8-bit gray arrays gives the same score.
    assert mef_ssim_d(list(seq), fused, data_range=255) == pytest.approx(score, abs=1e-12)


def test_reference_cases_cover_static_and_dynamic_regions():
    static = {b: static_regions(load_bracket(b).astype(np.float64), c=(0.03 * 255) ** 2).mean()
              for b in REFERENCE["brackets"]}
    assert static["example"] > 0.99  # a tripod bracket: nothing moves
    assert all(0.2 < static[b] < 0.9 for b in static if b.startswith("moved"))


def test_ghost_scores_below_ghost_free_fusion():
    for bracket, entry in REFERENCE["brackets"].items():
        if "ghosted" in entry["fused"]:
            seq = load_bracket(bracket).astype(np.float64)
            ghosted = mef_ssim_d_gray(seq, load_fused(bracket, "ghosted").astype(np.float64))[0]
            ideal = mef_ssim_d_gray(seq, load_fused(bracket, "ideal").astype(np.float64))[0]
            assert ideal > ghosted + 0.05


def test_frame_order_does_not_matter():
    seq = load_bracket("moved3")
    fused = load_fused("moved3", "ghosted")
    a = mef_ssim_d(list(seq), fused, data_range=255)
    b = mef_ssim_d(list(seq[::-1]), fused, data_range=255)
    assert a == pytest.approx(b, abs=1e-12)


def test_matlab_disk_radius_11_is_the_octagon():
    disk = matlab_disk(11)
    yy, xx = np.mgrid[-10:11, -10:11]
    assert disk.shape == (21, 21)
    np.testing.assert_array_equal(disk, (np.abs(xx) + np.abs(yy) <= 14).astype(np.uint8))
    assert disk.sum() == 357


def test_matlab_disk_small_radius_is_euclidean():
    yy, xx = np.mgrid[-2:3, -2:3]
    np.testing.assert_array_equal(matlab_disk(2), (xx * xx + yy * yy <= 4).astype(np.uint8))
    with pytest.raises(ValueError, match="radius"):
        matlab_disk(0)


def test_histogram_match_hand_computed():
    # c0 = (2, 4) for levels 0, 1; target cumulative 3 from level 5, 4 from level 9. Level 0
    # (tolerance 0, first level) needs c1 >= 2 -> 5; level 1 (tolerance 1) needs c1 >= 3 -> 5.
    image = np.array([[0, 0, 1, 1]], np.uint8)
    target = np.array([[5, 5, 5, 9]], np.uint8)
    np.testing.assert_array_equal(histogram_match(image, target), [[5, 5, 5, 5]])
    # One pixel per level: level a needs c1 >= c0(a) - 1/2, so the map is the rank order.
    image = np.array([[3, 1, 2, 0]], np.uint8)
    target = np.array([[40, 10, 30, 20]], np.uint8)
    np.testing.assert_array_equal(histogram_match(image, target), [[40, 20, 30, 10]])


def test_histogram_match_to_itself_is_identity():
    img = np.random.default_rng(0).integers(0, 256, (40, 50)).astype(np.uint8)
    np.testing.assert_array_equal(histogram_match(img, img), img)
    with pytest.raises(ValueError, match="uint8"):
        histogram_match(img.astype(np.float64), img)


def test_static_regions_find_the_moved_object():
    rng = np.random.default_rng(1)
    base = cv2.GaussianBlur(rng.random((80, 100)) * 255, (0, 0), 2)
    moved = base.copy()
    moved[30:60, 40:70] = rng.random((30, 30)) * 255  # new content in one frame
    static = static_regions(np.stack([base, moved]), c=(0.03 * 255) ** 2)
    assert static[5:15, 5:15].all()  # far from the change (valid coordinates)
    assert not static[30:40, 40:50].all()


def test_static_bracket_has_no_dynamic_term():
    rng = np.random.default_rng(2)
    base = cv2.GaussianBlur(rng.random((60, 70)) * 200 + 20, (0, 0), 1.5)
    seq = np.stack([np.round(base * 0.5), np.round(base)])  # same scene, no clipping
    score, q_map, static = mef_ssim_d_gray(seq, base)
    assert static.all()
    assert score == pytest.approx(q_map.mean(), abs=1e-12)
    assert score > 0.95


def test_one_frame_and_identity():
    frame = load_bracket("moved2")[0]
    score = mef_ssim_d([frame], frame, data_range=255)
    assert score == pytest.approx(1.0, abs=1e-9)


def test_bad_input():
    a = np.zeros((40, 40))
    with pytest.raises(ValueError, match="at least one"):
        mef_ssim_d([], a)
    with pytest.raises(ValueError, match="sizes must match"):
        mef_ssim_d([np.zeros((30, 40))], a)
    with pytest.raises(ValueError, match="smaller than"):
        mef_ssim_d([np.zeros((8, 40))], np.zeros((8, 40)))
    with pytest.raises(ValueError, match="NaN|finite"):
        mef_ssim_d([a], np.full((40, 40), np.nan))


def test_registered_for_eval():
    assert NO_REFERENCE_METRICS["mef_ssim_d"] is mef_ssim_d
    assert metric_title("mef_ssim_d") == "MEF-SSIMd"
