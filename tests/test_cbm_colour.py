"""CBM colour and tone stages: chroma-scale fusion, gamma compensation, Lab round trip."""

from __future__ import annotations

import cv2
import numpy as np
import pytest

from mefkit.methods.cbm.stages import chroma_scale, compose, fuse_chroma, gamma_compensate, gamma_exponent, rgb_to_lab
from mefkit.methods.cbm.stages.chroma import selection_mask
from mefkit.methods.cbm.stages.gamma import GAMMA_MAX, GAMMA_MIN
from mefkit.methods.cbm.stages.lab import lab_to_rgb, lightness


def lab_patch(L: float, a: float, b: float, shape=(8, 10)) -> np.ndarray:
    """A flat Lab image of one known colour."""
    out = np.empty(shape + (3,), np.float32)
    out[...] = (L, a, b)
    return out


def test_lab_matches_opencv_and_cie_white_grey():
    # Oracle: CIE-Lab definitions (white L=100, sRGB mid-grey 0.5 -> L* = 53.39) and
    # OpenCV's own conversion, which we wrap rather than re-implement.
    img = np.random.default_rng(0).random((6, 7, 3)).astype(np.float32)
    np.testing.assert_array_equal(rgb_to_lab(img), cv2.cvtColor(img, cv2.COLOR_RGB2Lab))
    grey = np.full((2, 2, 3), 0.5, np.float32)
    assert lightness(grey)[0, 0] == pytest.approx(0.5339, abs=1e-3)
    assert lightness(np.ones((2, 2, 3), np.float32))[0, 0] == pytest.approx(1.0, abs=1e-4)
    # Round trip within 8-bit precision
    np.testing.assert_allclose(lab_to_rgb(rgb_to_lab(img)), img, atol=2e-3)


def test_chroma_scale_is_ab_distance():
    # Oracle: hand-computed sqrt(3^2 + 4^2) = 5.
    assert chroma_scale(lab_patch(50, 3, -4))[0, 0] == pytest.approx(5.0)


@pytest.mark.parametrize("smoothing", [0.0, 1.0])
def test_select_picks_more_saturated_input_of_known_lab_colour(smoothing):
    # Oracle: two inputs of known Lab colour; select keeps a, b of the one
    # with the larger chroma scale, here the second (C = 50 vs C = 10).
    dull = lab_patch(30, 6, 8)  # C = 10
    vivid = lab_patch(70, -30, 40)  # C = 50
    ab = fuse_chroma([dull, vivid], "select", smoothing)
    np.testing.assert_allclose(ab[..., 0], -30, atol=1e-4)
    np.testing.assert_allclose(ab[..., 1], 40, atol=1e-4)
    # ... whatever the order of the inputs
    ab = fuse_chroma([vivid, dull], "select", smoothing)
    np.testing.assert_allclose(ab, fuse_chroma([dull, vivid], "select", smoothing), atol=1e-4)


def test_select_on_real_rgb_colours_keeps_the_saturated_colour():
    # Oracle: property on sRGB inputs: a saturated red vs a greyish red; the fused
    # colour (with the saturated input's lightness) is the saturated red again.
    vivid = np.zeros((4, 4, 3), np.float32)
    vivid[...] = (0.9, 0.1, 0.1)
    greyish = np.zeros((4, 4, 3), np.float32)
    greyish[...] = (0.5, 0.45, 0.45)
    labs = [rgb_to_lab(greyish), rgb_to_lab(vivid)]
    out = compose(labs, labs[1][..., 0] / 100, chroma="select", smoothing=0, gamma="off")
    np.testing.assert_allclose(out, vivid, atol=3e-3)


def test_weighted_blends_by_chroma_scale():
    # Oracle: hand-computed a = (10*a1 + 50*a2) / 60 for chromas 10 and 50.
    dull, vivid = lab_patch(30, 6, 8), lab_patch(70, -30, 40)
    ab = fuse_chroma([dull, vivid], "weighted")
    np.testing.assert_allclose(ab[..., 0], (10 * 6 + 50 * -30) / 60, atol=1e-3)
    np.testing.assert_allclose(ab[..., 1], (10 * 8 + 50 * 40) / 60, atol=1e-3)
    # two neutral inputs: no colour invented, no 0/0
    ab = fuse_chroma([lab_patch(20, 0, 0), lab_patch(80, 0, 0)], "weighted")
    assert np.isfinite(ab).all() and np.abs(ab).max() < 1e-6


def test_selection_mask_smoothing_only_softens_near_the_boundary():
    # Property: smoothed masks still sum to 1, stay in [0, 1], and equal the hard
    # selection far (> 4 sigma) from the boundary between the two winners.
    c1 = np.zeros((20, 20), np.float32)
    c1[:, :10] = 5.0
    c2 = np.full((20, 20), 2.0, np.float32)
    hard = selection_mask([c1, c2], 0.0)
    soft = selection_mask([c1, c2], 1.0)
    np.testing.assert_allclose(soft.sum(axis=0), 1.0, atol=1e-6)
    assert soft.min() >= 0 and soft.max() <= 1
    np.testing.assert_allclose(soft[:, :, :5], hard[:, :, :5], atol=1e-4)
    np.testing.assert_allclose(soft[:, :, 15:], hard[:, :, 15:], atol=1e-4)
    assert 0 < soft[0, 0, 10] < 1
    # A single speckle pixel is damped by smoothing.
    c1 = np.zeros((9, 9), np.float32)
    c1[4, 4] = 9.0
    assert selection_mask([c1, np.ones_like(c1)], 1.0)[0, 4, 4] < 0.5


def test_chroma_rejects_unknown_mode():
    with pytest.raises(ValueError, match="chroma"):
        fuse_chroma([lab_patch(1, 1, 1)], "max")


@pytest.mark.parametrize("gamma", ["auto", 0.6, 1.6, 2.2])
@pytest.mark.parametrize("mean", [0.15, 0.5, 0.85])
def test_gamma_monotonic_and_in_unit_range(gamma, mean):
    # Property: gamma compensation is monotonic and keeps [0, 1].
    rng = np.random.default_rng(1)
    lum = np.clip(rng.normal(mean, 0.1, (32, 32)), 0, 1).astype(np.float32)
    lum[0, :3] = (0.0, 1.0, mean)
    out = gamma_compensate(lum, gamma)
    assert out.min() >= 0.0 and out.max() <= 1.0
    order = np.argsort(lum, axis=None, kind="stable")
    assert np.all(np.diff(out.ravel()[order]) >= 0)
    assert out[0, 0] == 0.0 and out[0, 1] == 1.0


def test_gamma_auto_moves_mean_to_target_within_bounds():
    # Oracle: hand-computed exponent log(0.5)/log(m); a flat image of mean m is
    # mapped exactly to 0.5 when the exponent is inside [0.6, 1.6].
    lum = np.full((4, 4), 0.4, np.float32)
    g = gamma_exponent(lum)
    assert g == pytest.approx(np.log(0.5) / np.log(0.4))
    np.testing.assert_allclose(gamma_compensate(lum, "auto"), 0.5, atol=1e-6)
    # Very dark / very bright scenes hit the bounds instead of being forced to grey.
    assert gamma_exponent(np.full((4, 4), 0.02, np.float32)) == GAMMA_MIN
    assert gamma_exponent(np.full((4, 4), 0.98, np.float32)) == GAMMA_MAX


def test_gamma_off_is_identity_and_bad_values_rejected():
    lum = np.random.default_rng(2).random((5, 5)).astype(np.float32)
    np.testing.assert_array_equal(gamma_compensate(lum, "off"), lum)
    np.testing.assert_array_equal(gamma_compensate(lum, None), lum)
    for bad in (0, -1.0, "bright"):
        with pytest.raises(ValueError):
            gamma_compensate(lum, bad)


def test_clip_reliability_ramp():
    # Oracle: hand-computed ramp (1 - max) / (1 - 0.9): 1 below 0.9, 0.5 at 0.95, floor at 1.
    from mefkit.methods.cbm.stages.chroma import RELIABILITY_FLOOR, clip_reliability

    img = np.zeros((1, 4, 3), np.float32)
    img[0, :, 0] = (0.5, 0.9, 0.95, 1.0)
    np.testing.assert_allclose(clip_reliability(img)[0], [1.0, 1.0, 0.5, RELIABILITY_FLOOR], atol=1e-5)


def test_clip_guard_keeps_the_unclipped_hue():
    # Oracle: hand-made case. The bright input is clipped yellow (R = G = 1, more chroma
    # than the dark input's true orange); the plain rule copies the clipped hue, the
    # guarded rule keeps the unclipped input's a, b.
    from mefkit.methods.cbm.stages.chroma import clip_reliability

    dark = np.zeros((4, 4, 3), np.float32)
    dark[...] = (0.5, 0.25, 0.05)
    bright = np.zeros((4, 4, 3), np.float32)
    bright[...] = (1.0, 1.0, 0.2)
    labs = [rgb_to_lab(dark), rgb_to_lab(bright)]
    assert chroma_scale(labs[1])[0, 0] > chroma_scale(labs[0])[0, 0]
    plain = fuse_chroma(labs, "select", 0.0)
    np.testing.assert_allclose(plain, labs[1][..., 1:], atol=1e-4)
    rel = [clip_reliability(dark), clip_reliability(bright)]
    guarded = fuse_chroma(labs, "select", 0.0, rel)
    np.testing.assert_allclose(guarded, labs[0][..., 1:], atol=1e-4)


@pytest.mark.parametrize("chroma,smoothing", [("select", 1.0), ("select", 2.5), ("select", 0.0), ("weighted", 1.0)])
def test_compose_in_strips_equals_one_pass(monkeypatch, chroma, smoothing):
    # Strips of 7 rows (with the select mask's halo) against one strip for the whole
    # image: the same colours, and the auto gamma taken from the whole lightness map.
    import importlib

    compose_module = importlib.import_module("mefkit.methods.cbm.stages.compose")
    from mefkit.methods.cbm.stages.chroma import clip_reliability

    rng = np.random.default_rng(1)
    frames = [cv2.GaussianBlur(rng.random((61, 45, 3), np.float32) * s, (0, 0), 2) for s in (0.4, 0.8, 1.3)]
    frames = [np.clip(f, 0, 1) for f in frames]
    labs = [rgb_to_lab(f) for f in frames]
    lum = np.clip(labs[1][..., 0] / 100 * np.linspace(0.5, 1.2, 61, dtype=np.float32)[:, None], 0, 1)
    rel = [clip_reliability(f) for f in frames]
    kw = dict(chroma=chroma, smoothing=smoothing, reliabilities=rel)
    monkeypatch.setattr(compose_module, "STRIP_ROWS", 10_000)
    whole = compose(labs, lum, **kw)
    monkeypatch.setattr(compose_module, "STRIP_ROWS", 7)
    strips = compose(labs, lum, **kw)
    np.testing.assert_allclose(strips, whole, atol=1e-6, rtol=0)
