"""Deghosting: moving objects removed against the reference, static regions unchanged."""

from __future__ import annotations

import cv2
import numpy as np
import pytest

import mefkit
from mefkit.deghost import clean_mask, deghost_frames, flow_warp, inconsistency
from mefkit.synth import simulate_bracket
from mefkit.synth_motion import central, moving_object_bracket, nonrigid_warp


def psnr(a, b, mask):
    return float(10 * np.log10(1 / max(float(np.mean((a[mask] - b[mask]) ** 2)), 1e-12)))


@pytest.fixture(scope="module")
def scene():
    frames = mefkit.load_frames(mefkit.example_bracket()).frames
    return cv2.resize(frames[1], (300, 200), interpolation=cv2.INTER_AREA)


@pytest.fixture(scope="module")
def ghost_case(scene):
    return moving_object_bracket(scene, (-2, 0, 2), [(20, 30), (80, 130), (130, 230)], reference=1, size=40)


def test_a_moving_object_is_removed(ghost_case):
    frames, ideal_frames, ghost = ghost_case
    inner = np.zeros(ghost.shape, bool)
    central(inner)[...] = True
    ideal = mefkit.fuse(ideal_frames, order="given")
    plain = mefkit.fuse(frames, order="given")
    fixed = mefkit.fuse(frames, order="given", deghost=True, reference=1)
    g, rest = ghost & inner, ~ghost & inner
    assert psnr(plain, ideal, g) < 25
    assert psnr(fixed, ideal, g) >= 28
    assert psnr(fixed, ideal, g) > psnr(plain, ideal, g) + 8
    assert psnr(fixed, ideal, rest) >= 36


def test_the_masks_cover_the_object_and_spare_the_background(ghost_case):
    frames, _, ghost = ghost_case
    positions = [(20, 30), (80, 130), (130, 230)]
    result = deghost_frames(frames, 1)
    assert not result.masks[1].any() and result.frames[1] is frames[1]
    for k in (0, 2):
        m = result.masks[k]
        # frame k's object and the reference's object place are both replaced
        for y, x in (positions[k], positions[1]):
            assert m[y:y + 40, x:x + 40].mean() > 0.9
        far = cv2.dilate(ghost.astype(np.uint8), np.ones((31, 31), np.uint8)) == 0
        assert (m[far] > 0).mean() < 0.03


def test_static_brackets_are_left_almost_as_they_are(scene):
    from mefkit.synth import simulate_bracket

    frames = simulate_bracket(scene, (-2, 0, 2), seed=5)
    result = deghost_frames(frames, 1)
    for f, g, m in zip(frames, result.frames, result.masks):
        assert np.array_equal(f[m == 0], g[m == 0])  # untouched wherever the mask is 0
    plain = mefkit.fuse(frames, order="given")
    fixed = mefkit.fuse(result.frames, order="given")
    assert psnr(fixed, plain, np.ones(plain.shape[:2], bool)) >= 45


def test_identical_frames_are_consistent(scene):
    raw = inconsistency(scene, scene)
    assert not raw.any()
    frames = deghost_frames([scene, scene], 0).frames
    assert frames[1] is scene


def test_clean_mask_drops_specks_and_pads_objects():
    raw = np.zeros((60, 60), bool)
    raw[5, 5] = True  # a speck
    raw[30:40, 30:40] = True
    m = clean_mask(raw, radius=3)
    assert m[5, 5] == 0 and m[28, 35] == 1 and m[35, 35] == 1


def test_unknown_deghost_name_is_refused(scene):
    with pytest.raises(ValueError, match="unknown deghosting"):
        deghost_frames([scene, scene], 0, method="nope")
    with pytest.raises(mefkit.MethodError, match="deghost must be"):
        mefkit.fuse([scene, scene], deghost="nope")


@pytest.fixture(scope="module")
def nonrigid_case(scene):
    stack = simulate_bracket(scene, (-2, 0, 2), seed=2)
    moved = [nonrigid_warp(stack[0], 2.0, 1), stack[1], nonrigid_warp(stack[2], 2.0, 2)]
    return stack, moved


def test_flow_leaves_a_static_bracket_untouched(nonrigid_case):
    stack, _ = nonrigid_case
    result = deghost_frames(stack, 1, method="flow")
    for a, b in zip(result.frames, stack):
        np.testing.assert_array_equal(a, b)
    assert not any(m.any() for m in result.masks)


def test_flow_follows_small_nonrigid_motion(nonrigid_case):
    stack, moved = nonrigid_case
    static = central(mefkit.fuse(stack, order="given"))
    every = np.ones(static.shape[:2], bool)
    plain = psnr(central(mefkit.fuse(moved, order="given")), static, every)
    by_flow = psnr(central(mefkit.fuse(moved, order="given", deghost="flow", reference=1)), static, every)
    by_consistency = psnr(central(mefkit.fuse(moved, order="given", deghost="consistency", reference=1)), static, every)
    assert by_flow > plain + 5
    assert by_flow >= by_consistency - 0.5  # as close to the static fusion (small frames: about equal)
    # The flow keeps the frames' own content: far less is replaced by the reference.
    share = {m: np.mean([np.mean(deghost_frames(moved, 1, method=m).masks[i] > 0.5) for i in (0, 2)])
             for m in ("consistency", "flow")}
    assert share["flow"] < 0.8 * share["consistency"]


def test_flow_warp_moves_a_shifted_frame_back(scene):
    ref = scene
    frame = np.roll(scene, (2, -2), axis=(0, 1))  # the same exposure, moved by 2 px
    out, weight = flow_warp(ref, frame, frame)
    inner = np.s_[20:-20, 20:-20]
    assert weight[inner].mean() > 0.5
    assert np.abs(out - ref)[inner].mean() < 0.5 * np.abs(frame - ref)[inner].mean()


def test_nonrigid_warp_displacement_is_bounded():
    h, w = 120, 200
    ramp = np.repeat(np.tile(np.linspace(0, 1, w, dtype=np.float32), (h, 1))[..., None], 3, axis=2)
    np.testing.assert_allclose(nonrigid_warp(ramp, 0.0), ramp, atol=1e-6)
    moved = nonrigid_warp(ramp, 2.0, seed=3)
    shift = np.abs(moved - ramp)[10:-10, 10:-10] * (w - 1)  # x displacement in pixels
    assert 1.0 < shift.max() <= 2.0 + 1e-3
