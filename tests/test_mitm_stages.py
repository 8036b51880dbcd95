"""MITM fusion stages (mefkit.methods.mitm.stages.middle / bridge / retinex / pipeline / translate)."""

from __future__ import annotations

import numpy as np
import pytest

from mefkit.methods.mitm.stages import bridge, middle, retinex, surround, translate
from mefkit.methods.mitm.stages import pipeline as stages
from tests.conftest import make_bracket


def test_flat_mid_grey_pair_is_a_fixed_point():
    # Oracle: hand-computed case. With LE = HE = HE' = LE' = a flat image of lightness
    # 0.5: ME = HM = ML = base = that image, every SSR layer is 0, the stretched detail is
    # 0.5 (flat plane), so the output lightness 0.5 * 0.5 + 0.5 * 0.5 equals the input's
    # and the image comes back unchanged.
    grey = np.float32(0.46633)  # sRGB value with L* = 50.0
    img = np.full((24, 30, 3), grey, np.float32)
    assert surround.lightness(img)[0, 0] == pytest.approx(0.5, abs=1e-4)
    out = stages.run_stages(img, img, img, img)
    np.testing.assert_allclose(out.middle, img, atol=1e-6)
    np.testing.assert_allclose(out.detail, 0.5, atol=1e-6)
    np.testing.assert_allclose(out.output, img, atol=2e-4)


def test_middle_exposure_lies_between_its_sources():
    # Oracle: property. ME is a per-pixel convex combination of LE, HE, HE', LE', so it
    # lies within their per-pixel min and max.
    le, _, he = make_bracket(32, 40, 3)
    r = np.random.default_rng(0)
    he_t = np.clip(he + 0.05 * r.standard_normal(he.shape), 0, 1).astype(np.float32)
    le_t = np.clip(le + 0.05 * r.standard_normal(le.shape), 0, 1).astype(np.float32)
    me, switch = middle.middle_exposure(le, he, he_t, le_t)
    stack = np.stack([le, he, he_t, le_t])
    assert (me >= stack.min(0) - 1e-6).all() and (me <= stack.max(0) + 1e-6).all()
    assert switch.min() >= 0 and switch.max() <= 1


def test_high_mid_and_mid_low_follow_the_map():
    # Oracle: hand-computed cases of HM = T ME + (1 - T) HE and ML = T LE + (1 - T) ME.
    le, me, he = (np.full((4, 5, 3), v, np.float32) for v in (0.1, 0.5, 0.9))
    ones, zeros = np.ones((4, 5), np.float32), np.zeros((4, 5), np.float32)
    np.testing.assert_allclose(bridge.high_mid(me, he, ones), me)
    np.testing.assert_allclose(bridge.high_mid(me, he, zeros), he)
    np.testing.assert_allclose(bridge.mid_low(me, le, ones), le)
    np.testing.assert_allclose(bridge.mid_low(me, le, zeros), me)
    np.testing.assert_allclose(bridge.high_mid(me, he, 0.25 * ones), 0.25 * 0.5 + 0.75 * 0.9, rtol=1e-6)
    with pytest.raises(ValueError, match="tsmap"):
        bridge.high_mid(me, he, np.ones((3, 3), np.float32))


def test_ssr_hand_computed():
    # Oracle: hand computation. A flat plane equals its surround: SSR = 0. A step edge
    # gives a positive response on the bright side and a negative one on the dark side.
    np.testing.assert_allclose(retinex.ssr(np.full((10, 12), 0.3, np.float32), 3.0), 0, atol=1e-6)
    step = np.zeros((20, 40), np.float32)
    step[:, 20:] = 0.8
    step[:, :20] = 0.2
    r = retinex.ssr(step, 4.0)
    assert r[10, 21] > 0 and r[10, 18] < 0


def test_clip_stretch_and_recolour():
    # Oracle: hand-computed cases. The stretch sends the 1st / 99th percentiles to 0 / 1;
    # recolouring with L_out = L_base returns the base image.
    ramp = np.linspace(0, 1, 101, dtype=np.float32)[None].repeat(3, 0)
    out = retinex.clip_stretch(ramp)
    assert out.min() == 0 and out.max() == 1
    assert out[0, 50] == pytest.approx(0.5, abs=1e-6)
    base = make_bracket(16, 16, 1)[0]
    light = surround.lightness(base)
    np.testing.assert_allclose(retinex.recolour(base, light, light), base, atol=1e-6)
    with pytest.raises(ValueError):
        retinex.clip_stretch(ramp, (50, 10))


def test_curve_translator_recovers_a_monotone_tone_change():
    # Oracle: property. An exposure change by a monotone per-channel curve is exactly what
    # histogram matching inverts: translating LE to HE = c(LE) gives c(LE) back.
    le = np.random.default_rng(4).random((40, 50, 3)).astype(np.float32) * 0.5  # no ties
    he = np.clip(le ** 0.5, 0, 1).astype(np.float32)
    np.testing.assert_allclose(translate.curve_translate(le, he), he, atol=0.02)


def test_stages_shapes_and_ranges_on_a_bracket():
    # Oracle: property. Every stage image keeps the input size and lies in [0, 1].
    le, _, he = make_bracket(33, 47, 3)
    he_t, le_t = translate.translate_pair(le, he, translator="curve")
    s = stages.run_stages(le, he, he_t, le_t)
    for name in ("middle", "high_mid", "mid_low", "base", "output"):
        img = getattr(s, name)
        assert img.shape == le.shape, name
        assert img.min() >= 0 and img.max() <= 1, name
    assert len(s.scale_maps) == 3
    with pytest.raises(ValueError, match="retinex_share"):
        stages.FusionParams(retinex_share=2)
