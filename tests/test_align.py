"""Alignment: known-warp recovery, identity on static frames, fallbacks, sanity check, CLI."""

from __future__ import annotations

import warnings

import cv2
import numpy as np
import pytest
from typer.testing import CliRunner

import mefkit
from mefkit.align import align_frames, check_warp, default_reference
from mefkit.align.bracket import largest_rectangle
from mefkit.align.normalise import luma, match_histogram
from mefkit.cli import app
from mefkit.cli.fuse import expand_optional_values
from mefkit.errors import ParameterError
from mefkit.synth import simulate_bracket
from mefkit.synth_motion import central, move_frame, similarity

runner = CliRunner()


def psnr(a, b):
    return float(10 * np.log10(1 / np.mean((central(a) - central(b)) ** 2)))


@pytest.fixture(scope="module")
def bracket():
    """The bundled example, 300x200 (fast)."""
    frames = mefkit.load_frames(mefkit.example_bracket()).frames
    return [cv2.resize(f, (300, 200), interpolation=cv2.INTER_AREA) for f in frames]


def test_known_similarity_and_perspective_warps_are_recovered(bracket):
    shape = bracket[0].shape[:2]
    truth = [similarity(shape, angle=-1.0, scale=0.99, shift=(-0.02, 0.01)), np.eye(3),
             similarity(shape, angle=1.5, scale=1.01, shift=(0.03, -0.01), perspective=(0.03, 0))]
    moved = [move_frame(f, m) for f, m in zip(bracket, truth)]
    static = mefkit.fuse(bracket)
    assert psnr(mefkit.fuse(moved, order="given"), static) < 25
    result = align_frames(moved)
    assert result.reference == 1
    assert psnr(mefkit.fuse(result.frames, order="given"), static) >= 40
    for w, m in zip(result.warps, truth):
        if w.model == "reference":
            continue
        # the sampling map is the camera motion itself (reference pixel -> moved pixel)
        pts = np.array([[30, 20, 1], [270, 20, 1], [270, 180, 1], [30, 180, 1]], float).T
        got, want = w.matrix @ pts, m @ pts
        assert np.abs(got[:2] / got[2] - want[:2] / want[2]).max() < 0.5


def test_static_frames_are_left_untouched(bracket):
    result = align_frames(bracket)
    assert all(a is b for a, b in zip(result.frames, bracket))
    assert not any(w.resampled for w in result.warps)
    assert np.array_equal(mefkit.fuse(bracket, align=True), mefkit.fuse(bracket))


def test_a_pair_takes_the_frame_with_more_well_exposed_pixels_as_reference(bracket):
    assert default_reference([bracket[0], bracket[1]]) == 1  # the under frame has crushed shadows
    assert default_reference(bracket) == 1
    assert default_reference(bracket + [bracket[2]]) in (1, 2)


def test_long_brackets_chain_through_neighbours(bracket):
    scene = bracket[1]
    frames = simulate_bracket(scene, (-3, -1.5, 0, 1.5, 3), seed=3)
    shape = scene.shape[:2]
    frames[0] = move_frame(frames[0], similarity(shape, angle=1.0, shift=(0.02, 0)))
    frames[4] = move_frame(frames[4], similarity(shape, angle=-1.0, shift=(0, 0.02)))
    result = align_frames(frames)
    assert result.reference == 2
    assert [w.via for w in result.warps] == [1, 2, 2, 2, 3]
    assert result.warps[0].resampled and result.warps[4].resampled
    static = mefkit.fuse(simulate_bracket(scene, (-3, -1.5, 0, 1.5, 3), seed=3), order="given")
    assert psnr(mefkit.fuse(result.frames, order="given"), static) >= 35


def test_textureless_frame_falls_back_to_translation_with_a_warning():
    # Two soft blobs: far too few SIFT matches, but median threshold bitmaps lock on.
    yy, xx = np.mgrid[0:200, 0:300].astype(np.float32)
    scene = 0.25 + 0.5 * np.exp(-((xx - 110) ** 2 + (yy - 90) ** 2) / 900) + 0.2 * (xx > 200)
    scene = np.repeat(np.clip(scene, 0, 1)[..., None], 3, axis=2)
    frames = simulate_bracket(scene, (-1, 0), seed=0, shot_noise=0, read_noise=0, quantize=False)
    frames[0] = move_frame(frames[0], similarity((200, 300), shift=(6 / 300, -4 / 200)))
    with pytest.warns(UserWarning, match=r"frame 0: too few reliable features; aligned by translation"):
        result = align_frames(frames, reference=1)
    w = result.warps[0]
    assert w.model == "translation"
    assert abs(w.matrix[0, 2] - 6) < 1 and abs(w.matrix[1, 2] + 4) < 1


@pytest.mark.parametrize("matrix, why", [
    (np.diag([-1.0, 1, 1]), "flipped"),
    (np.diag([2.0, 2, 1]), "scale"),
    (np.array([[1, 0.6, 0], [0, 1, 0], [0, 0, 1.0]]), "shear"),
    (similarity((200, 300), perspective=(0.4, 0)), "perspective"),
    (np.array([[1, 0, 150], [0, 1, 0], [0, 0, 1.0]]), "moves a corner"),
])
def test_degenerate_warps_are_rejected(matrix, why):
    assert why in check_warp(matrix, (200, 300))
    assert check_warp(similarity((200, 300), angle=2, scale=1.02, shift=(0.03, 0.01)), (200, 300)) is None


def test_an_unrelated_frame_gets_a_warning_naming_it(bracket):
    rng = np.random.default_rng(0)
    noise = rng.random(bracket[0].shape).astype(np.float32)
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        result = align_frames([bracket[0], bracket[1], noise], reference=1)
    assert any("frame 2" in str(c.message) for c in caught)
    assert result.warps[2].model in ("translation", "none")


def test_crop_keeps_only_pixels_every_frame_has(bracket):
    shape = bracket[0].shape[:2]
    moved = [bracket[0], bracket[1], move_frame(bracket[2], similarity(shape, angle=2.0, shift=(0.04, 0)))]
    result = align_frames(moved, border="crop")
    t, b, l, r = result.crop
    assert all(f.shape == (b - t, r - l, 3) for f in result.frames)
    assert 0 < b - t < 200 and 0 < r - l < 300
    assert (r - l) * (b - t) > 0.7 * 300 * 200
    filled = align_frames(moved, border="fill")
    assert filled.frames[2].shape == bracket[2].shape and filled.crop is None


def test_fill_gives_the_uncovered_border_the_exposure_mapped_reference(bracket):
    shape = bracket[0].shape[:2]
    moved = [bracket[0], bracket[1], move_frame(bracket[2], similarity(shape, shift=(0.05, 0)))]
    result = align_frames(moved, border="fill")
    # The camera moved right by 15 px: the aligned frame's last columns are uncovered.
    right = result.frames[2][:, -8:]
    mapped_ref = match_histogram(bracket[1], bracket[2])[:, -8:]
    assert np.abs(right - mapped_ref).mean() < 0.03
    # a replicated border would repeat one column instead
    assert np.abs(right - right[:, :1]).mean() > 0.02


def test_largest_rectangle_of_a_rotated_square():
    valid = np.zeros((100, 100), np.uint8)
    cv2.fillConvexPoly(valid, np.array([[50, 5], [95, 50], [50, 95], [5, 50]], np.int32), 1)
    t, b, l, r = largest_rectangle(valid)
    assert valid[t:b, l:r].all()
    assert (b - t) * (r - l) > 0.9 * 45 * 45 * 2 / 2  # the inscribed square is ~45 x 45 * 2 / 2


def test_histogram_matching_undoes_a_tone_curve(bracket):
    y = luma(bracket[1])
    assert np.abs(match_histogram(y**2.0, y) - y).mean() < 0.01


def test_fuse_rejects_bad_stage_options(bracket):
    with pytest.raises(ParameterError, match="align must be"):
        mefkit.fuse(bracket, align="sift9")
    with pytest.raises(ParameterError, match="reference 3 is not a frame"):
        mefkit.fuse(bracket, align=True, reference=3)
    with pytest.raises(ParameterError, match="border"):
        mefkit.fuse(bracket, align=True, border="wrap")


def test_bare_align_and_deghost_take_the_default_name():
    assert expand_optional_values(["fuse", "a.jpg", "--align", "-o", "x.jpg"]) == \
        ["fuse", "a.jpg", "--align", "features", "-o", "x.jpg"]
    assert expand_optional_values(["fuse", "--align", "mtb", "--deghost"]) == \
        ["fuse", "--align", "mtb", "--deghost", "consistency"]
    assert expand_optional_values(["fuse", "--deghost", "a.jpg"]) == ["fuse", "--deghost", "consistency", "a.jpg"]


def test_cli_align_verbose_prints_the_transforms(bracket, tmp_path):
    shape = bracket[0].shape[:2]
    paths = []
    for i, f in enumerate([bracket[0], bracket[1], move_frame(bracket[2], similarity(shape, angle=1.0))]):
        paths.append(tmp_path / f"f{i}.png")
        cv2.imwrite(str(paths[-1]), np.round(f[..., ::-1] * 65535).astype(np.uint16))
    out = tmp_path / "out.png"
    res = runner.invoke(app, ["fuse", *map(str, paths), "-o", str(out), *expand_optional_values(
        ["--align", "--deghost", "--reference", "1", "--verbose"])])
    assert res.exit_code == 0, res.output
    assert "align: frame 2: " in res.output and "rotation" in res.output
    assert "deghost: frame 0" in res.output and out.exists()
    res = runner.invoke(app, ["fuse", *map(str, paths), "-o", str(tmp_path / "o2.png"), "--align", "nope"])
    assert res.exit_code == 2 and "align must be" in res.output
    res = runner.invoke(app, ["fuse", *map(str, paths), "-o", str(tmp_path / "o3.png"), "--align", "features",
                              "--reference", "5"])
    assert res.exit_code == 2 and "reference 5 is not a frame" in res.output
    assert not (tmp_path / "o3.png").exists()


def test_cli_fuse_dir_takes_the_options(bracket, tmp_path):
    folder = tmp_path / "in" / "scene"
    folder.mkdir(parents=True)
    for i, f in enumerate(bracket):  # plain files (write_image marks its files as mefkit results)
        cv2.imwrite(str(folder / f"f{i}.png"), np.round(f[..., ::-1] * 255).astype(np.uint8))
    res = runner.invoke(app, ["fuse-dir", str(tmp_path / "in"), "-o", str(tmp_path / "out"), "--align", "mtb",
                              "--deghost", "consistency", "--verbose"])
    assert res.exit_code == 0, res.output
    assert "align: frame 0: translation" in res.output
    assert (tmp_path / "out" / "scene.jpg").exists()


@pytest.fixture(scope="module")
def moved_bracket(bracket):
    """A 100 x 150 bracket with its bright frame moved (small: the learned methods run too)."""
    small = [cv2.resize(f, (150, 100), interpolation=cv2.INTER_AREA) for f in bracket]
    moved = [small[0], small[1], move_frame(small[2], similarity((100, 150), angle=1.0, shift=(0.03, 0)))]
    from mefkit.prepare import prepare_frames

    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        return moved, prepare_frames(moved, align=True, deghost=True)


@pytest.mark.parametrize("method", [info.name for info in mefkit.registry.method_infos()])
def test_every_method_receives_the_prepared_frames(method, moved_bracket, monkeypatch):
    """The stages run in ``fuse`` before the method, whichever it is: the method is
    handed exactly the aligned, deghosted frames (recorded instead of fused, so the
    learned methods cost nothing here; they fuse any frames they are given)."""
    from dataclasses import replace

    from mefkit import registry

    moved, prep = moved_bracket
    assert prep.alignment.warps[2].resampled
    seen = []

    def record(frames, **_):
        seen.append(list(frames))
        return frames[0]

    info = registry.get_method(method)
    monkeypatch.setitem(registry._REGISTRY, method, replace(info, fn=record))
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        mefkit.fuse(moved, method, order="given", align=True, deghost=True)
    assert len(seen) == 1 and len(seen[0]) == 3
    for got, want in zip(seen[0], prep.frames):
        np.testing.assert_array_equal(got, want)
