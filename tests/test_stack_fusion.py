"""K-frame machinery of the learned methods (mefkit.nn.stack_fusion), without networks."""

from __future__ import annotations

import numpy as np
import pytest

from mefkit.nn.stack_fusion import (
    DESIGNS,
    StackPlan,
    exposure_blend,
    exposure_order,
    frames_note,
    fuse_stack,
    fuse_stack_small,
    select_frames,
)


def _flat_stack(levels):
    """Flat frames whose mean luminance is each value of ``levels`` (any order)."""
    return [np.full((6, 8, 3), v, np.float32) for v in np.float32(levels)]


def test_exposure_order_ignores_the_given_order(rng):
    levels = [float(v) for v in np.float32([0.5, 0.1, 0.9, 0.3])]
    frames = _flat_stack(levels)
    order = exposure_order(frames)
    assert [levels[i] for i in order] == sorted(levels)
    perm = rng.permutation(len(frames))
    shuffled = [frames[i] for i in perm]
    assert [float(shuffled[i][0, 0, 0]) for i in exposure_order(shuffled)] == sorted(levels)


def test_select_frames_keeps_extremes_spreads_in_log_luminance_and_is_order_free(rng):
    # Oracle: 30 frames one third of a stop apart (log-uniform luminance), capped at 5:
    # the extremes and the frames nearest to 1/4, 1/2, 3/4 of the log range, i.e. ranks
    # 0, 7 (7.25), 14 (14.5, tie to the darker), 22 (21.75), 29.
    levels = [float(v) for v in np.float32([0.01 * 2 ** (k / 3) for k in range(30)])]
    frames = _flat_stack(levels)
    plan = select_frames(frames, 5)
    assert [levels.index(float(frames[i][0, 0, 0])) for i in plan.used] == [0, 7, 14, 22, 29]
    perm = rng.permutation(30)
    shuffled = [frames[i] for i in perm]
    again = select_frames(shuffled, 5)
    assert [float(shuffled[i][0, 0, 0]) for i in again.used] == [float(frames[i][0, 0, 0]) for i in plan.used]
    assert "used 5 of 30 frames" in plan.describe()
    # At or under the cap, or with no cap, every frame is used.
    assert len(select_frames(frames, 0).used) == 30
    assert select_frames(frames[:4], 5).describe() == "used all 4 frames"
    with pytest.raises(ValueError, match="max_frames"):
        select_frames(frames, 1)


def _mean_pair(a, b):
    return 0.5 * (a + b)


@pytest.mark.parametrize("design", DESIGNS)
def test_two_frames_are_the_pair_fusion_for_every_design(design):
    # Oracle: with two frames every design is the pair fusion itself.
    frames = _flat_stack([0.2, 0.7])
    frames[0][2:4, 3:5] = 0.05
    got = fuse_stack_small(_mean_pair, frames, design)
    assert np.array_equal(got, _mean_pair(*frames))


def test_chain_uses_every_frame_and_tree_counts_its_passes():
    # Property: the chain runs K - 1 neighbour pairs, the tree K (K - 1) / 2; extremes one.
    calls = []

    def counting(a, b):
        calls.append(1)
        return _mean_pair(a, b)

    frames = [np.full((16, 16, 3), v, np.float32) for v in (0.1, 0.3, 0.5, 0.7, 0.9)]
    for design, passes in (("extremes", 1), ("chain", 4), ("chain_results", 4), ("tree", 10)):
        calls.clear()
        out = fuse_stack_small(counting, frames, design)
        assert len(calls) == passes and out.shape == frames[0].shape
    with pytest.raises(ValueError, match="design"):
        fuse_stack_small(counting, frames, "star")


def test_exposure_blend_of_one_channel_maps_and_of_equal_images():
    # Oracle: blending identical images returns them (weights sum to 1); a lightness
    # map (one channel) keeps its shape.
    img = np.random.default_rng(0).random((20, 24, 3)).astype(np.float32)
    assert np.allclose(exposure_blend([img, img, img]), img, atol=1e-5)
    lum = img[..., :1]
    out = exposure_blend([lum, lum])
    assert out.shape == lum.shape and np.allclose(out, lum, atol=1e-5)


def test_fuse_stack_upsamples_once_and_keeps_gray_gray():
    # Property: a working size below the frames' gives a full-size result; a gray
    # bracket through a gray-preserving pair fusion stays gray after the guided
    # upsampling; the result is in [0, 1].
    rng = np.random.default_rng(3)
    g = rng.random((61, 47)).astype(np.float32)
    frames = [np.repeat(np.clip(g * s, 0, 1)[..., None], 3, -1) for s in (0.3, 0.6, 1.0, 1.6)]
    out = fuse_stack(_mean_pair, frames, max_mp=0.001, design="chain")
    assert out.shape == frames[0].shape and 0 <= out.min() and out.max() <= 1
    assert np.abs(out - out.mean(axis=-1, keepdims=True)).max() < 1e-4


def test_frames_note_reports_the_cap_only_for_methods_that_have_one():
    frames = _flat_stack([0.01 * 2 ** (k / 3) for k in range(12)])

    def capped(frames, *, max_frames=5, stack="chain"):
        return frames[0]

    def plain(frames):
        return frames[0]

    assert frames_note(capped, frames, {}) .startswith("used 5 of 12 frames")
    assert frames_note(capped, frames, {"max_frames": 0}) == "used all 12 frames"
    assert frames_note(capped, frames, {"stack": "extremes"}).startswith("used 2 of 12 frames")
    assert frames_note(plain, frames, {}) is None
    assert isinstance(select_frames(frames, 3), StackPlan)


def test_chain_takes_each_region_from_the_pair_whose_frames_expose_it():
    # Property: three nearly flat frames (dark, mid, bright) where on the left only the
    # mid frame is well exposed; the pair fusion returns a marker per pair (0.2 for the dark pair, 0.8 for
    # the bright one). Both pairs contain the mid frame, so they weigh about equally,
    # while with the extremes alone the mid frame would be lost; a pixel well exposed
    # only in the bright frame takes the bright pair's marker.
    texture = 0.015 * np.sin(np.arange(32, dtype=np.float32) * 1.3)[:, None, None]  # contrast to weigh
    frames = [np.full((32, 256, 3), v, np.float32) for v in (0.02, 0.5, 0.98)]
    frames[2][:, 128:] = 0.5  # right half: well exposed in the bright frame, clipped in the mid one
    frames[1][:, 128:] = 0.98
    frames = [np.clip(f + texture, 0, 1) for f in frames]

    def marker(a, b):
        return np.full_like(a, 0.2 if a.mean() < 0.3 else 0.8)

    tint = np.array([1.0, 0.9, 0.8], np.float32)
    for bracket in ([f * tint for f in frames], frames):  # colour, then gray (no saturation term)
        out = fuse_stack_small(marker, bracket, "chain")
        assert abs(float(out[:, :96].mean()) - 0.5) < 0.05
        assert float(out[:, 160:].mean()) > 0.75
