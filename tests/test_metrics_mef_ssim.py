"""MEF-SSIM (Ma, Zeng, Wang 2015).

Oracles:
- a literal per-patch transcription of the authors' ``mef_ssim.m`` / ``mef_ms_ssim.m``
  (kept here, slow, for tiny images): the vectorised metric must match it to 1e-10;
- properties derived from the algorithm (spec section 1.5): one exposure scored against
  itself ~1, an affine map of it ~1, invariance to frame order and to a brightness shift
  of the fused image, a constant fused image scores C / (s_r^2 + C) < 1;
- hand-computed MATLAB ``rgb2gray`` on uint8 values.
"""

from __future__ import annotations

import math

import numpy as np
import pytest

from mefkit.metrics import NO_REFERENCE_METRICS, mef_ssim
from mefkit.metrics.mef_ssim import matlab_gray255, mef_ssim_single_scale

from .conftest import make_bracket, shared_path

EPS = np.finfo(np.float64).eps


# --------------------------------------------------------------------------------------
# Literal reference: a line-by-line transcription of mef_ssim.m (loops over patches).
# --------------------------------------------------------------------------------------
def fspecial_gaussian(size: int, sigma: float) -> np.ndarray:
    """MATLAB fspecial('gaussian', size, sigma), built in 2-D as MATLAB does."""
    r = (size - 1) / 2
    y, x = np.mgrid[-r:r + 1, -r:r + 1]
    h = np.exp(-(x * x + y * y) / (2 * sigma * sigma))
    h[h < EPS * h.max()] = 0
    return h / h.sum()


def loop_mef_ssim(seq: np.ndarray, fI: np.ndarray, k_const=0.03, size=11, sigma=1.5):
    """mef_ssim.m, per patch. seq: (H, W, K) gray 0..255; fI: (H, W). Returns (Q, qMap)."""
    window = fspecial_gaussian(size, sigma)
    s1, s2, s3 = seq.shape
    bd = size // 2
    n = size * size
    mu = np.zeros((s1 - 2 * bd, s2 - 2 * bd, s3))
    ed = np.zeros_like(mu)
    for i in range(bd, s1 - bd):
        for j in range(bd, s2 - bd):
            for k in range(s3):
                patch = seq[i - bd:i + bd + 1, j - bd:j + bd + 1, k]
                m = patch.mean()  # filter2(ones(w)/w^2, img, 'valid')
                sigma_sq = (patch * patch).mean() - m * m
                mu[i - bd, j - bd, k] = m
                ed[i - bd, j - bd, k] = math.sqrt(max(n * sigma_sq, 0.0)) + 0.001

    R = np.zeros((s1 - 2 * bd, s2 - 2 * bd))
    for i in range(bd, s1 - bd):
        for j in range(bd, s2 - bd):
            vecs = seq[i - bd:i + bd + 1, j - bd:j + bd + 1, :].reshape(n, s3, order="F")
            denominator = 0.0
            for k in range(s3):
                denominator += np.linalg.norm(vecs[:, k] - mu[i - bd, j - bd, k])
            summed = vecs.sum(axis=1)
            numerator = np.linalg.norm(summed - summed.mean())
            R[i - bd, j - bd] = (numerator + EPS) / (denominator + EPS)
    R[R > 1] = 1 - EPS
    R[R < 0] = 0 + EPS

    p = np.tan(np.pi / 2 * R)
    p[p > 10] = 10
    w_map = (ed / size) ** p[:, :, None] + EPS
    w_map = w_map / w_map.sum(axis=2, keepdims=True)
    max_ed = ed.max(axis=2)

    C = (k_const * 255) ** 2
    q_map = np.zeros_like(R)
    for i in range(bd, s1 - bd):
        for j in range(bd, s2 - bd):
            blocks = seq[i - bd:i + bd + 1, j - bd:j + bd + 1, :]
            r_block = np.zeros((size, size))
            for k in range(s3):
                r_block = r_block + w_map[i - bd, j - bd, k] * (blocks[:, :, k] - mu[i - bd, j - bd, k]) / ed[i - bd, j - bd, k]
            nr = np.linalg.norm(r_block.ravel())
            if nr > 0:
                r_block = r_block / nr * max_ed[i - bd, j - bd]
            f_block = fI[i - bd:i + bd + 1, j - bd:j + bd + 1]
            r_vec, f_vec, g = r_block.ravel(), f_block.ravel(), window.ravel()
            mu1 = np.sum(g * r_vec)
            mu2 = np.sum(g * f_vec)
            sigma1_sq = np.sum(g * (r_vec - mu1) ** 2)
            sigma2_sq = np.sum(g * (f_vec - mu2) ** 2)
            sigma12 = np.sum(g * (r_vec - mu1) * (f_vec - mu2))
            q_map[i - bd, j - bd] = (2 * sigma12 + C) / (sigma1_sq + sigma2_sq + C)
    return q_map.mean(), q_map


def matlab_half_downsample(img: np.ndarray) -> np.ndarray:
    """imfilter(img, ones(2)/4, 'symmetric', 'same') then img(1:2:end, 1:2:end), per pixel."""
    h, w = img.shape
    out = np.zeros((h, w))
    for i in range(h):
        for j in range(w):
            acc = 0.0
            for di in (0, 1):
                for dj in (0, 1):
                    ii, jj = i + di, j + dj
                    ii = 2 * h - 1 - ii if ii >= h else ii  # 'symmetric' mirrors the edge pixel
                    jj = 2 * w - 1 - jj if jj >= w else jj
                    acc += img[ii, jj]
            out[i, j] = acc / 4
    return out[::2, ::2]


def loop_mef_ms_ssim(seq, fI, levels=3, weights=(0.0448, 0.2856, 0.3001), size=11, sigma=1.5):
    """mef_ms_ssim.m: per-scale loop scores, 2x2 average downsampling, normalised weights."""
    beta = np.asarray(weights[:levels]) / np.sum(weights[:levels])
    Q = []
    for level in range(levels):
        Q.append(loop_mef_ssim(seq, fI, size=size, sigma=sigma)[0])
        if level < levels - 1:
            seq = np.stack([matlab_half_downsample(seq[:, :, k]) for k in range(seq.shape[2])], axis=2)
            fI = matlab_half_downsample(fI)
    return float(np.prod(np.asarray(Q) ** beta)), Q


# --------------------------------------------------------------------------------------
# Inputs for the comparison: textured gray exposures on 0..255, integer valued like the
# authors' uint8 data, with clipped (flat) regions in the darkest and brightest frames.
# --------------------------------------------------------------------------------------
def gray_stack(h, w, k, seed):
    bracket = make_bracket(h, w, k, seed=seed)
    r = np.random.default_rng(seed)
    seq = np.stack([matlab_gray255(fr) for fr in bracket], axis=2)
    fused = np.clip(np.round(seq.mean(axis=2) + r.normal(0, 6, (h, w))), 0, 255)
    return seq, fused


def vectorised(seq, fused, **kw):
    """The library metric on the same 0..255 gray data (data_range 255, no re-rounding)."""
    frames = [seq[:, :, k] for k in range(seq.shape[2])]
    return mef_ssim(frames, fused, data_range=255.0, round_uint8=False, full=True, **kw)


@pytest.mark.parametrize("k", [2, 3])
def test_single_scale_matches_loop_per_position(k):
    """Oracle: literal mef_ssim.m loop; every q-map value agrees to 1e-10 (K = 2 and 3)."""
    seq, fused = gray_stack(24, 28, k, seed=k)
    q_loop, map_loop = loop_mef_ssim(seq, fused)
    q_vec, map_vec = mef_ssim_single_scale(np.moveaxis(seq, 2, 0), fused)
    assert map_vec.shape == map_loop.shape == (14, 18)
    np.testing.assert_allclose(map_vec, map_loop, rtol=0, atol=1e-10)
    assert abs(q_vec - q_loop) < 1e-10
    score, scales, _ = vectorised(seq, fused, levels=1)
    assert abs(score - q_loop) < 1e-10 and abs(scales[0] - q_loop) < 1e-10


def test_single_scale_matches_loop_on_float_data():
    """Oracle: literal loop, on non-integer random data with random fused image (K = 3)."""
    r = np.random.default_rng(7)
    seq = r.random((24, 28, 3)) * 255 * np.array([0.3, 0.7, 1.0])
    fused = r.random((24, 28)) * 255
    q_loop, map_loop = loop_mef_ssim(seq, fused)
    _, map_vec = mef_ssim_single_scale(np.moveaxis(seq, 2, 0), fused)
    np.testing.assert_allclose(map_vec, map_loop, rtol=0, atol=1e-10)
    # Every exposure flat (non-integer constants) on the left: r = 0 there in the loop.
    seq[:, :16, :] = [200.3, 17.77, 91.1]
    q_loop, map_loop = loop_mef_ssim(seq, fused)
    _, map_vec = mef_ssim_single_scale(np.moveaxis(seq, 2, 0), fused)
    np.testing.assert_allclose(map_vec, map_loop, rtol=0, atol=1e-10)


@pytest.mark.parametrize("k", [2, 3])
def test_multi_scale_matches_loop_small_window(k):
    """Oracle: mef_ms_ssim.m transcription, 3 scales, 5x5 window, odd and even sides (24x27 -> 12x14 -> 6x7)."""
    seq, fused = gray_stack(24, 27, k, seed=10 + k)
    ref, ref_scales = loop_mef_ms_ssim(seq, fused, size=5, sigma=1.0)
    score, scales, maps = vectorised(seq, fused, window_size=5, sigma=1.0)
    assert [m.shape for m in maps] == [(20, 23), (8, 10), (2, 3)]
    np.testing.assert_allclose(scales, ref_scales, rtol=0, atol=1e-10)
    assert abs(score - ref) < 1e-10


def test_multi_scale_matches_loop_default_window():
    """Oracle: mef_ms_ssim.m transcription with the defaults (11x11, 3 scales), 44x46, K = 2."""
    seq, fused = gray_stack(44, 46, 2, seed=3)
    ref, ref_scales = loop_mef_ms_ssim(seq, fused)
    score, scales, _ = vectorised(seq, fused)
    np.testing.assert_allclose(scales, ref_scales, rtol=0, atol=1e-10)
    assert abs(score - ref) < 1e-10


def test_downsampling_matches_matlab_imfilter():
    """Oracle: the per-pixel imfilter 'symmetric' transcription, on odd and even sides."""
    from mefkit.metrics.windows import downsample2

    img = np.random.default_rng(0).random((7, 10))
    np.testing.assert_allclose(downsample2(img), matlab_half_downsample(img), rtol=0, atol=1e-15)


def test_rgb2gray_on_uint8_hand_computed():
    """Oracle: hand computation of MATLAB rgb2gray(uint8([10 200 30])) = round(123.8186) = 124."""
    px = np.array([[[10, 200, 30]]], dtype=np.float64) / 255.0
    assert matlab_gray255(px)[0, 0] == 124.0
    exact = 0.298936021293776 * 10 + 0.587043074451121 * 200 + 0.114020904255103 * 30
    assert matlab_gray255(px, round_uint8=False)[0, 0] == pytest.approx(exact, abs=1e-9)
    # Rounding to uint8 first: 0.5/255 -> 1 (half away from zero), not 0 (banker's rounding).
    assert matlab_gray255(np.array([[0.5 / 255]]))[0, 0] == 1.0


# --------------------------------------------------------------------------------------
# Properties (spec section 1.5)
# --------------------------------------------------------------------------------------
@pytest.fixture(scope="module")
def bracket():
    return make_bracket(96, 112, 3, seed=5)


def test_single_exposure_against_itself_is_one(bracket):
    """Property: K = 1 and fused = that exposure gives q ~ 1 everywhere (only the +0.001 on ed differs)."""
    for frame in bracket:
        assert mef_ssim([frame], frame) == pytest.approx(1.0, abs=1e-6)


def test_shifted_and_scaled_single_exposure(bracket):
    """Properties: fused = x + b scores ~1 (no luminance term); fused = a x + b with a != 1
    scores the contrast term (2a + C/s^2) / (1 + a^2 + C/s^2) < 1, since the desired patch
    has x's contrast. (Spec 1.5 says any a > 0 gives ~1; that holds for the structure only.)"""
    x = bracket[1].astype(np.float64)
    assert mef_ssim([x], x + 0.05, round_uint8=False) == pytest.approx(1.0, abs=1e-6)
    lower = mef_ssim([x], 0.2 + 0.7 * x, round_uint8=False)
    assert lower < 0.99
    assert mef_ssim([x], 0.2 + 0.9 * x, round_uint8=False) > lower  # closer contrast, closer to 1


def test_frame_order_does_not_matter(bracket):
    """Property: the metric is symmetric in the exposures (sum/max over k only)."""
    fused = np.mean(bracket, axis=0)
    a = mef_ssim(bracket, fused)
    assert mef_ssim(bracket[::-1], fused) == pytest.approx(a, abs=1e-12)
    assert mef_ssim([bracket[1], bracket[2], bracket[0]], fused) == pytest.approx(a, abs=1e-12)


def test_brightness_shift_of_fused_does_not_matter(bracket):
    """Property: no luminance term; adding a constant to the fused image changes nothing."""
    fused = 0.6 * np.mean(bracket, axis=0, dtype=np.float64)  # float64: the shift itself is exact
    a = mef_ssim(bracket, fused, round_uint8=False)
    b = mef_ssim(bracket, fused + 0.3, round_uint8=False)
    assert b == pytest.approx(a, abs=1e-10)
    # With the demo's uint8 rounding, a shift by a whole number of gray levels is exact too.
    assert mef_ssim(bracket, fused + 20 / 255) == pytest.approx(mef_ssim(bracket, fused), abs=1e-10)


def test_constant_fused_scores_below_one(bracket):
    """Property: s_f = s_rf = 0 so q = C / (s_r^2 + C) < 1 where the desired patch has texture."""
    score, scales, maps = mef_ssim(bracket, np.full_like(bracket[0], 0.5), full=True)
    assert score < 0.5
    assert all(m.max() <= 1.0 for m in maps)
    # Hand value: at every position q = C / (s_r^2 + C), so q in (0, 1].
    assert all(0 < s < 1 for s in scales)


def test_better_fusion_scores_higher(bracket):
    """Property (sanity): the mean of the bracket beats its darkest frame alone."""
    assert mef_ssim(bracket, np.mean(bracket, axis=0)) > mef_ssim(bracket, bracket[0])


def test_registry_entry_and_scale_weights(bracket):
    """The public dict holds this metric; the score is prod Q_l^beta_l with beta normalised (mef_ms_ssim.m)."""
    assert NO_REFERENCE_METRICS["mef_ssim"] is mef_ssim
    fused = np.mean(bracket, axis=0)
    score, scales, _ = mef_ssim(bracket, fused, full=True)
    beta = np.array([0.0448, 0.2856, 0.3001]) / 0.6305
    assert score == pytest.approx(float(np.prod(np.asarray(scales) ** beta)), abs=1e-12)


# --------------------------------------------------------------------------------------
# Input validation
# --------------------------------------------------------------------------------------
def test_rejects_bad_inputs(bracket):
    fused = np.mean(bracket, axis=0)
    with pytest.raises(ValueError, match="frames"):
        mef_ssim([], fused)
    with pytest.raises(ValueError, match=r"frames\[1\].*\(96, 100, 3\)"):
        mef_ssim([bracket[0], bracket[1][:, :100]], fused)
    bad = fused.copy()
    bad[3, 3, 0] = np.nan
    with pytest.raises(ValueError, match="fused.*NaN"):
        mef_ssim(bracket, bad)
    with pytest.raises(ValueError, match=r"\(40, 50, 3\) is too small"):
        mef_ssim([b[:40, :50] for b in bracket], fused[:40, :50])
    with pytest.raises(ValueError, match="frames\\[0\\].*shape"):
        mef_ssim([np.zeros((96, 112, 4))], fused)
    with pytest.raises(ValueError, match="levels"):
        mef_ssim(bracket, fused, levels=0)
    with pytest.raises(ValueError, match="window_size"):
        mef_ssim(bracket, fused, window_size=4)
    with pytest.raises(ValueError, match="data_range"):
        mef_ssim(bracket, fused, data_range=0)


# --------------------------------------------------------------------------------------
# Real data and speed
# --------------------------------------------------------------------------------------
def _mefb_scene(name):
    from mefkit.io import read_image

    scene = shared_path("mefb", name)
    under, over = (read_image(next(scene.glob(f"{n}.*")))[0] for n in ("under", "over"))
    fused = {p.stem: read_image(p)[0] for p in sorted((scene / "fused").glob("*"))}
    return under, over, fused


def test_matches_loop_on_real_crop():
    """Oracle: literal mef_ssim.m loop on a real 8-bit crop (MEFB 'Arno', with the SPD-MEF
    result as fused image), through the demo's uint8 rgb2gray conversion; includes clipped
    flat patches."""
    under, over, fused = _mefb_scene("Arno")
    crop = (slice(110, 150), slice(250, 294))  # ~30% of the patches are clipped flat in "over"
    frames = [under[crop], over[crop]]
    f = fused["SPD_MEF"][crop]
    seq = np.stack([matlab_gray255(fr) for fr in frames], axis=2)
    q_loop, _ = loop_mef_ssim(seq, matlab_gray255(f))
    assert abs(mef_ssim(frames, f, levels=1) - q_loop) < 1e-10


def test_mefb_published_fusions_beat_the_dark_input():
    """Property on real data (MEFB 'Arno', '507'): every published fusion scores in (0, 1]
    and above the under-exposed input alone. (The over-exposed input alone can score
    high on two-frame brackets, a known trait of MEF-SSIM, so it is not compared.)"""
    for name in ("Arno", "507"):
        under, over, fused = _mefb_scene(name)
        frames = [under, over]
        dark = mef_ssim(frames, under)
        for method, image in fused.items():
            assert dark < mef_ssim(frames, image) <= 1.0, (name, method)
