"""MITM switching maps, lightness and surround (mefkit.methods.mitm.stages.smap / surround / torch_maps)."""

from __future__ import annotations

import math

import cv2
import numpy as np
import pytest
import torch
from hypothesis import given, settings
from hypothesis import strategies as st
from hypothesis.extra.numpy import arrays

from mefkit.methods.mitm.stages import smap, surround, torch_maps


def _smooth_image(h=48, w=64, seed=0):
    r = np.random.default_rng(seed)
    img = cv2.GaussianBlur(r.random((h, w, 3)).astype(np.float32), (0, 0), 3)
    return np.clip((img - img.min()) / (img.max() - img.min()), 0, 1).astype(np.float32)


@settings(max_examples=40, deadline=None)
@given(
    arrays(np.float32, (6, 7), elements=st.floats(0, 1, width=32)),
    arrays(np.float32, (6, 7), elements=st.floats(0, 1, width=32)),
)
def test_map_in_unit_range_and_monotonic_in_surround(a, b):
    # Oracle: property. The sigmoid of the surround lies in [0, 1] and is non-decreasing.
    lo, hi = np.minimum(a, b), np.maximum(a, b)
    m_lo = smap.switching_map_from_surround(lo)
    m_hi = smap.switching_map_from_surround(hi)
    assert m_lo.min() >= 0 and m_hi.max() <= 1
    assert (m_hi >= m_lo).all()


def test_map_hand_computed_values():
    # Oracle: hand computation of 1 / (1 + exp(-k (s - tau))) with k = 10, tau = 0.5.
    s = np.array([0.5, 0.5 + math.log(3) / 10, 0.0, 1.0], np.float32)
    expected = [0.5, 0.75, 1 / (1 + math.exp(5)), 1 / (1 + math.exp(-5))]
    np.testing.assert_allclose(smap.switching_map_from_surround(s), expected, atol=1e-6)


@pytest.mark.parametrize("sigma", [2.0, 30.0])
def test_image_maps_monotonic_in_brightness(sigma):
    # Oracle: property. A brighter image (every channel >= the original) has a brighter
    # surround (lightness is increasing, the Gaussian is a positive average), so its map
    # is >= the original's at every pixel.
    img = _smooth_image()
    brighter = np.clip(img * 1.4 + 0.05, 0, 1)
    m0 = smap.switching_map(img, sigma)
    m1 = smap.switching_map(brighter, sigma)
    assert m0.min() >= 0 and m1.max() <= 1
    assert (m1 >= m0 - 1e-6).all()
    assert m1.mean() > m0.mean()


def test_multiscale_maps_scale_with_size_and_are_constant_on_flat_images():
    # Oracle: hand computation. A flat image of lightness L gives the map sigmoid(10 (L - .5))
    # at every scale; three scales (15, 80, 250 px at a 512 short side) give three maps.
    flat = np.full((40, 60, 3), 0.7, np.float32)
    light = float(surround.lightness(flat)[0, 0])
    maps = smap.multiscale_maps(flat)
    assert len(maps) == 3
    for m in maps:
        np.testing.assert_allclose(m, 1 / (1 + math.exp(-10 * (light - 0.5))), atol=1e-5)
    assert surround.scaled_sigma(80, (256, 400)) == pytest.approx(40.0)
    assert surround.scaled_sigma(80, (256, 400), reference_size=None) == 80.0


def test_lightness_matches_opencv_lab():
    # Oracle: reference implementation, OpenCV's RGB2Lab (its float sRGB curve is an
    # approximation, hence the 0.3 L* tolerance), plus CIELAB's fixed points.
    img = np.random.default_rng(1).random((20, 30, 3)).astype(np.float32)
    ours = surround.lightness(img) * 100
    cv = cv2.cvtColor(img, cv2.COLOR_RGB2Lab)[:, :, 0]
    assert np.abs(ours - cv).max() < 0.3
    assert surround.lightness(np.ones((2, 2, 3), np.float32))[0, 0] == pytest.approx(1.0, abs=1e-6)
    assert surround.lightness(np.zeros((2, 2, 3), np.float32))[0, 0] == pytest.approx(0.0, abs=1e-6)


@pytest.mark.parametrize("sigma", [12.0, 40.0, 120.0])
def test_large_sigma_surround_matches_direct_blur(sigma):
    # Oracle: reference implementation, OpenCV's direct Gaussian at the full sigma; the
    # downscaled path may differ by a small fraction of the plane's range.
    plane = surround.lightness(_smooth_image(160, 200, seed=3))
    direct = cv2.GaussianBlur(plane, (0, 0), sigma, borderType=cv2.BORDER_REFLECT)
    fast = surround.surround(plane, sigma)
    assert np.abs(fast - direct).max() < 0.01 * (plane.max() - plane.min())


def test_torch_twin_matches_numpy():
    # Oracle: reference implementation, the NumPy definitions used at inference.
    img = np.random.default_rng(2).random((37, 53, 3)).astype(np.float32)
    t = torch.from_numpy(img.transpose(2, 0, 1))[None]
    np.testing.assert_allclose(torch_maps.lightness(t)[0, 0].numpy(), surround.lightness(img), atol=1e-5)
    np.testing.assert_allclose(torch_maps.input_map(t)[0, 0].numpy(), smap.input_map(img), atol=1e-5)
    plane = surround.lightness(img)
    blurred = torch_maps.gaussian_blur(torch.from_numpy(plane)[None, None], 30.0)[0, 0].numpy()
    ref = cv2.GaussianBlur(plane, (0, 0), 30.0, borderType=cv2.BORDER_REFLECT)
    np.testing.assert_allclose(blurred, ref, atol=1e-4)


def test_bad_parameters_raise():
    with pytest.raises(ValueError, match="slope"):
        smap.switching_map_from_surround(np.zeros(3), slope=0)
    with pytest.raises(ValueError, match="sigma"):
        surround.surround(np.zeros((4, 4), np.float32), 0)
