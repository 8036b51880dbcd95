"""DBM (reconstructed): JPEG tables and DCT by hand, block-wise fusion properties."""

from __future__ import annotations

import numpy as np
import pytest
from scipy.fft import idctn

import mefkit
from mefkit.methods.dbm import (
    LUMA_QTABLE,
    adaptive_mu,
    block_quality,
    dbm,
    erf_curve,
    frame_dct,
    quant_table,
)

from .conftest import make_bracket


def test_quant_table_ijg_scaling():
    # Oracle: ITU-T T.81 Table K.1 as printed at Q = 50; IJG scaling by hand at Q = 75
    # (s = 50: floor((16*50 + 50)/100) = 8) and at Q = 10 (s = 500, clipped to 255).
    np.testing.assert_array_equal(quant_table(LUMA_QTABLE, 50), LUMA_QTABLE)
    q75 = quant_table(LUMA_QTABLE, 75)
    assert q75[0, 0] == 8 and q75[0, 1] == 6 and q75[7, 7] == 50
    assert quant_table(LUMA_QTABLE, 10)[7, 0] == 255
    assert quant_table(LUMA_QTABLE, 100).max() == 1


def test_frame_dct_dc_is_eight_times_block_mean():
    # Oracle: JPEG FDCT (orthonormal 8x8) of a flat block: DC = 8 * (value - 128), AC = 0.
    frame = np.full((16, 8, 3), 200 / 255, np.float32)
    coeffs = frame_dct(frame)
    assert coeffs.shape == (3, 2, 1, 8, 8)
    np.testing.assert_allclose(coeffs[0, :, :, 0, 0], 8 * (200 - 128), atol=1e-3)
    np.testing.assert_allclose(coeffs[1:, :, :, 0, 0], 0.0, atol=1e-3)  # gray: Cb = Cr = 128
    ac = coeffs.copy()
    ac[..., 0, 0] = 0
    assert np.abs(ac).max() < 1e-3


def test_frame_dct_pads_by_edge_replication():
    frame = np.zeros((10, 9, 3), np.float32)
    frame[9, :] = 1.0  # last row white; padded rows repeat it
    coeffs = frame_dct(frame)
    assert coeffs.shape[1:3] == (2, 2)
    block = idctn(coeffs[0, 1, 0], norm="ortho") + 128
    np.testing.assert_allclose(block[1:, 0], 255.0, atol=1e-3)


def test_block_quality_counts_surviving_ac():
    # Hand-built blocks: flat -> 0; one AC coefficient of 40 survives quantisation by
    # Q'(0,1) = 6 (Q = 75) -> count 1, l1 = round(40/6) = 7; a coefficient of 2 does not.
    q = quant_table(LUMA_QTABLE, 75)
    coeffs = np.zeros((1, 3, 8, 8), np.float32)
    coeffs[0, :, 0, 0] = 500.0  # DC never counts
    coeffs[0, 1, 0, 1] = 40.0
    coeffs[0, 2, 0, 1] = 2.0
    np.testing.assert_array_equal(block_quality(coeffs, q, "count")[0], [0, 1, 0])
    np.testing.assert_array_equal(block_quality(coeffs, q, "l1")[0], [0, 7, 0])


def test_erf_curve_endpoints_monotone_and_direction():
    # Property of the endpoint-normalised erf: g(0) = 0, g(1) = 1, increasing; an
    # inflection below 0.5 brightens mid-tones, above 0.5 darkens them.
    x = np.linspace(0, 1, 101)
    for mu in (0.25, 0.5, 0.75):
        g = erf_curve(x, mu, 0.3)
        assert g[0] == pytest.approx(0, abs=1e-6) and g[-1] == pytest.approx(1, abs=1e-6)
        assert np.all(np.diff(g) > 0)
    assert erf_curve(np.array([0.4]), 0.25, 0.3)[0] > 0.4
    assert erf_curve(np.array([0.6]), 0.75, 0.3)[0] < 0.6
    assert adaptive_mu(0.1) == 0.25 and adaptive_mu(0.4) == pytest.approx(0.4) and adaptive_mu(0.9) == 0.75


@pytest.mark.parametrize("n", [2, 3, 4])
@pytest.mark.parametrize("upsample", ["bilinear", "none"])
def test_identical_frames_without_tone_curve_return_the_frame(n, upsample):
    # Property: normalised weights over identical frames reproduce the frame; only the
    # (rounded) JFIF colour constants separate the round trip from identity.
    frame = make_bracket(40, 52, 3, seed=1)[1]
    out = dbm([frame] * n, erf_apply="none", weight_upsample=upsample)
    assert np.abs(out - frame).max() < 2e-3


def test_identical_frames_with_tone_curve_follow_the_curve():
    # With the erf curve on (the default), a dark frame comes back brighter: the method
    # re-tones luminance by design.
    frame = make_bracket(40, 52, 3, seed=1)[0]
    out = dbm([frame, frame])
    assert out.mean() > frame.mean() + 0.02


def test_dct_pure_fusion_is_one_convex_blend_per_block():
    # Property (linearity of the DCT): with weight_upsample="none" and no tone curve, each
    # 8x8 block of the result is a*A + (1-a)*B for one a in [0, 1] per block.
    a, b = make_bracket(32, 48, 2, seed=3)
    out = dbm([a, b], erf_apply="none", weight_upsample="none")
    for by in range(4):
        for bx in range(6):
            sl = (slice(8 * by, 8 * by + 8), slice(8 * bx, 8 * bx + 8))
            d = (a[sl] - b[sl]).ravel()
            r = (out[sl] - b[sl]).ravel()
            alpha = float(d @ r / (d @ d))
            assert -1e-3 <= alpha <= 1 + 1e-3
            assert np.abs(r - alpha * d).max() < 2e-3


def test_hard_selection_copies_one_frame_per_block():
    a, b = make_bracket(32, 48, 2, seed=4)
    out = dbm([a, b], hard=True, erf_apply="none", weight_upsample="none")
    for by in range(4):
        for bx in range(6):
            sl = (slice(8 * by, 8 * by + 8), slice(8 * bx, 8 * bx + 8))
            assert min(np.abs(out[sl] - a[sl]).max(), np.abs(out[sl] - b[sl]).max()) < 2e-3


@pytest.mark.parametrize("n", [2, 3, 4])
def test_output_range_determinism_and_order(n):
    frames = make_bracket(40, 56, n, seed=n)
    out = mefkit.fuse(frames, method="dbm")
    assert out.shape == frames[0].shape and out.min() >= 0.0 and out.max() <= 1.0
    np.testing.assert_array_equal(out, mefkit.fuse(frames, method="dbm"))
    # Property: soft weights are symmetric in the frames.
    np.testing.assert_allclose(dbm(frames[::-1]), dbm(frames), atol=1e-5)


@pytest.mark.parametrize("kw", [{"erf_apply": "pixel"}, {"measure": "l1"}, {"power": 2.0}, {"erf_mu": 0.4}])
def test_options_run_and_stay_in_range(kw):
    frames = make_bracket(36, 44, 2, seed=6)
    out = mefkit.fuse(frames, method="dbm", **kw)
    assert out.min() >= 0.0 and out.max() <= 1.0
    assert np.abs(out - mefkit.fuse(frames, method="dbm")).max() > 1e-4  # the option acts


def test_rejects_bad_parameters():
    frames = make_bracket(32, 32, 2)
    for kw, msg in (
        ({"quality": 0}, "quality"),
        ({"measure": "max"}, "measure"),
        ({"weight_upsample": "nearest"}, "weight_upsample"),
        ({"erf_apply": "ac"}, "erf_apply"),
        ({"erf_mu": 1.5}, "erf_mu"),
    ):
        with pytest.raises(mefkit.errors.MethodError, match=msg):
            mefkit.fuse(frames, method="dbm", **kw)
