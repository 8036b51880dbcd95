"""The registered ``cbm`` method with the shipped weights."""

from __future__ import annotations

import numpy as np
import pytest

import mefkit
from tests.shipped import weights_path
from mefkit.metrics import mef_ssim


@pytest.fixture(scope="module")
def example():
    frames = mefkit.load_frames(mefkit.example_bracket()).frames
    # keep the test fast: a quarter-size crop of the bundled example is plenty
    return [f[::2, ::2].copy() for f in frames]


def test_shipped_weights_load_and_fuse_the_bundled_example(example):
    # Oracle: property + a weak quality floor. The shipped weights exist, load, and fuse
    # the example's darkest and brightest frames into a valid image that keeps their
    # structure (MEF-SSIM well above a flat grey image's).
    assert weights_path("cbm").is_file(), f"shipped CBM weights missing: {weights_path('cbm')}"
    pair = [example[0], example[-1]]
    fused = mefkit.fuse(pair, method="cbm", order="given")
    assert fused.shape == pair[0].shape and fused.dtype == np.float32
    assert 0.0 <= fused.min() and fused.max() <= 1.0
    flat = np.full_like(fused, 0.5)
    assert mef_ssim(pair, fused) > 0.8
    assert mef_ssim(pair, fused) > mef_ssim(pair, flat) + 0.3


def test_middle_frame_is_used(example):
    # Property: a three-frame bracket is fused whole (the K-frame rule of
    # mefkit.nn.stack_fusion), so the middle exposure changes the result.
    three = mefkit.fuse(example, method="cbm", order="given")
    two = mefkit.fuse([example[0], example[-1]], method="cbm", order="given")
    assert np.abs(three - two).mean() > 1e-3


def test_more_frames_use_darkest_and_brightest(example):
    # Oracle: the method's definition (paper: two inputs); with the K-frame rule capped at
    # two frames, a longer bracket is fused from its darkest and brightest frames.
    three = mefkit.fuse(example, method="cbm", order="given", max_frames=2)
    two = mefkit.fuse([example[0], example[-1]], method="cbm", order="given")
    np.testing.assert_array_equal(three, two)


def test_tiled_inference_matches_whole_image(example):
    # Property: overlapping feathered tiles stay close to one whole-image pass (on
    # average; the U-Net's context differs per tile, so single pixels may differ more).
    pair = [example[0], example[-1]]
    whole = mefkit.fuse(pair, method="cbm", order="given", tile=0)
    tiled = mefkit.fuse(pair, method="cbm", order="given", tile=96, tile_pad=32)
    assert np.abs(whole - tiled).mean() < 0.01


def test_reduced_scale_inference_keeps_full_resolution(example):
    # Property: with the U-Net at a reduced scale (guided upsampling back), the output
    # has full size, stays in [0, 1] and keeps structure as well as full-scale inference
    # to within a small margin.
    pair = [example[0], example[-1]]
    small = mefkit.fuse(pair, method="cbm", order="given", max_mp=0.006)
    full = mefkit.fuse(pair, method="cbm", order="given", max_mp=0)
    assert small.shape == full.shape and 0 <= small.min() and small.max() <= 1
    assert mef_ssim(pair, small) > mef_ssim(pair, full) - 0.05


def test_chroma_and_gamma_options_change_only_what_they_should(example):
    # Property: "off" gamma and "weighted" chroma are accepted and differ from the default;
    # a bad chroma mode or gamma value is a MethodError naming the parameter.
    pair = [example[0], example[-1]]
    base = mefkit.fuse(pair, method="cbm", order="given")
    assert not np.array_equal(base, mefkit.fuse(pair, method="cbm", order="given", chroma="weighted"))
    assert not np.array_equal(base, mefkit.fuse(pair, method="cbm", order="given", gamma="off"))
    with pytest.raises(mefkit.MethodError, match="chroma"):
        mefkit.fuse(pair, method="cbm", chroma="max")
    with pytest.raises(mefkit.MethodError, match="gamma"):
        mefkit.fuse(pair, method="cbm", gamma=-1)


def test_missing_weights_file_is_a_clear_error(example, tmp_path):
    with pytest.raises(mefkit.MethodError, match="weights not found"):
        mefkit.fuse([example[0], example[-1]], method="cbm", weights=str(tmp_path / "none.safetensors"))


def test_stride_aligned_tiles_track_the_whole_pass_more_closely(example):
    # Property: with the context margin a multiple of the U-Net's stride (16), tiles
    # start on the stride grid and pool the same pixel groups as a whole pass; with a
    # margin of 31 they cannot, and the seams differ more from the whole pass.
    from mefkit.methods.cbm import fused_lightness

    under, over = example[0], example[-1]
    whole = fused_lightness(under, over, tile=0, max_mp=0)
    aligned = fused_lightness(under, over, tile=128, tile_pad=32, max_mp=0)
    unaligned = fused_lightness(under, over, tile=128, tile_pad=31, max_mp=0)
    assert aligned.shape == whole.shape
    err_aligned = float(np.mean((aligned - whole) ** 2))
    err_unaligned = float(np.mean((unaligned - whole) ** 2))
    assert err_aligned < 0.7 * err_unaligned
