"""DEM: MATLAB-exact pyramid, the authors' code rules, properties, and the authors' outputs."""

from __future__ import annotations

import numpy as np
import pytest
from scipy.ndimage import correlate1d

import mefkit
from mefkit import pyramid_matlab as pm
from mefkit.methods.dem import RGB_TO_YUV, dem, dem_weights

from .conftest import make_bracket, shared_path

_KERNEL = np.array([1, 4, 6, 4, 1]) / 16


def _matlab_down(img: np.ndarray) -> np.ndarray:
    # Mertens' downsample.m: imfilter(..., 'symmetric') both ways, keep 1:2:end (1-based).
    out = correlate1d(img, _KERNEL, axis=1, mode="reflect")  # scipy 'reflect' == MATLAB 'symmetric'
    out = correlate1d(out, _KERNEL, axis=0, mode="reflect")
    return out[::2, ::2]


def _matlab_up(img: np.ndarray, odd: tuple[int, int]) -> np.ndarray:
    # Mertens' upsample.m: replicate-pad by 1, 4*I on the odd grid, zero-border filter, crop.
    img = np.pad(img, 1, mode="edge")
    r, c = 2 * img.shape[0], 2 * img.shape[1]
    big = np.zeros((r, c))
    big[::2, ::2] = 4 * img
    big = correlate1d(big, _KERNEL, axis=1, mode="constant")
    big = correlate1d(big, _KERNEL, axis=0, mode="constant")
    return big[2 : r - 2 - odd[0], 2 : c - 2 - odd[1]]


@pytest.mark.parametrize("shape", [(9, 11), (10, 12), (37, 64), (5, 5), (2, 3)])
def test_pyramid_matches_matlab_helpers(shape, rng):
    # Oracle: a line-by-line transcription of Mertens' downsample.m / upsample.m.
    img = rng.random(shape)
    down = pm.down(img.astype(np.float32))
    ref_down = _matlab_down(img)
    np.testing.assert_allclose(down, ref_down, atol=1e-6)
    odd = (2 * ref_down.shape[0] - shape[0], 2 * ref_down.shape[1] - shape[1])
    np.testing.assert_allclose(pm.up(down, shape), _matlab_up(ref_down, odd), atol=1e-6)


def test_laplacian_pyramid_is_invertible(rng):
    # Property: collapse(laplacian_pyramid(x)) == x for any level count.
    img = rng.random((45, 61, 3)).astype(np.float32)
    for levels in (1, 2, 5):
        np.testing.assert_allclose(pm.collapse(pm.laplacian_pyramid(img, levels)), img, atol=1e-5)


def test_weights_hand_computed():
    # Oracle: the code's measures on flat frames, by hand. Flat => contrast 0 everywhere,
    # so with the contrast term on, every weight is the epsilon and the prior decides:
    # W_k proportional to mean(Y_k)^2.
    a = np.full((6, 6, 3), 0.2, np.float32)
    b = np.full((6, 6, 3), 0.6, np.float32)
    yuv = [np.einsum("ij,hwj->hwi", RGB_TO_YUV, f) for f in (a, b)]
    w = dem_weights(yuv)
    np.testing.assert_allclose(w[1], 0.6**2 / (0.2**2 + 0.6**2), rtol=1e-4)
    # Without contrast: gray frames have U = V = 0, so weight = E * mean^2.
    w = dem_weights(yuv, contrast_weight=0)
    e = [np.exp(-((y - 0.5) ** 2) / (2 * 0.2**2)) * y**2 for y in (0.2, 0.6)]
    np.testing.assert_allclose(w[1], e[1] / (e[0] + e[1]), rtol=1e-4)


@pytest.mark.parametrize("n", [2, 3, 4])
def test_identical_frames_return_the_frame(n):
    # Property: identical frames blend to themselves; the only change is the authors'
    # rounded YUV->RGB inverse (main.m), which is not the exact inverse of RGB->YUV.
    frame = make_bracket(48, 64, 3, seed=1)[1]
    out = dem([frame] * n)
    assert np.abs(out - frame).max() < 0.01


@pytest.mark.parametrize("n", [2, 3, 4])
def test_output_range_and_determinism(n):
    frames = make_bracket(40, 56, n, seed=n)
    out = mefkit.fuse(frames, method="dem")
    assert out.shape == frames[0].shape and out.dtype == np.float32
    assert out.min() >= 0.0 and out.max() <= 1.0
    np.testing.assert_array_equal(out, mefkit.fuse(frames, method="dem"))


def test_detail_boost_applies_to_darker_half_only():
    # Oracle: the code's rule i <= ceil(N/2) - 1 (1-based). N = 2: no frame gets the boost,
    # so detail_gain has no effect; N = 3: frame 1 gets it, so it changes the result.
    two = make_bracket(64, 64, 2, seed=3)
    np.testing.assert_array_equal(dem(two, detail_gain=0.0), dem(two))
    three = make_bracket(64, 64, 3, seed=3)
    assert np.abs(dem(three, detail_gain=0.0) - dem(three)).max() > 1e-3


def test_brighter_prior_favours_brighter_frame():
    # Property of the mean(Y)^2 prior: raising its exponent moves the result toward the
    # brighter frame.
    frames = make_bracket(48, 48, 2, seed=5)
    flat = dem(frames, prior_exponent=0.0).mean()
    assert dem(frames, prior_exponent=2.0).mean() > flat
    assert dem(frames, prior_exponent=4.0).mean() > dem(frames, prior_exponent=2.0).mean()


def test_rejects_bad_parameters():
    frames = make_bracket(32, 32, 2)
    with pytest.raises(mefkit.errors.MethodError, match="levels"):
        mefkit.fuse(frames, method="dem", levels=9)
    with pytest.raises(mefkit.errors.MethodError, match="sigma"):
        mefkit.fuse(frames, method="dem", sigma=0)


#: A mix of lossless (png) and JPEG MEFB pairs, small enough to run in a few seconds;
#: the JPEG ones are the lowest-PSNR pairs (their references were re-encoded by MATLAB).
FAITHFUL_SUBSET = ("507", "Arno", "Memorial", "Studio", "Chair", "Igloo", "Door", "Window2")


@pytest.mark.data
@pytest.mark.slow
def test_matches_authors_outputs_on_mefb():
    # Oracle: the authors' DEM outputs published by MEFB (thresholds: mean PSNR
    # >= 30 dB, mean MEF-SSIM within 0.01). Lossless references must agree far closer.
    from mefkit.io import read_image
    from mefkit.metrics import mef_ssim, psnr

    root = shared_path("mefb")
    psnrs, ours_q, theirs_q = [], [], []
    for name in FAITHFUL_SUBSET:
        scene = root / name
        under = read_image(next(scene.glob("under.*")))[0]
        over = read_image(next(scene.glob("over.*")))[0]
        ref_path = next((scene / "fused").glob("DEM.*"))
        ref = read_image(ref_path)[0]
        out = np.round(mefkit.fuse([under, over], method="dem", order="given") * 255) / 255
        p = psnr(out, ref)
        if ref_path.suffix == ".png":
            assert p > 45.0, f"{name}: {p:.2f} dB against a lossless reference"
        psnrs.append(p)
        ours_q.append(mef_ssim([under, over], out))
        theirs_q.append(mef_ssim([under, over], ref))
    assert np.mean(psnrs) >= 30.0
    assert abs(np.mean(ours_q) - np.mean(theirs_q)) <= 0.01


def test_frame_order_does_not_matter():
    # Oracle: main.m sorts the exposures by mean intensity before fusing, so any input
    # order gives the same result (N = 3, where the order decides the detail boost).
    frames = make_bracket(48, 64, 3, seed=8)
    np.testing.assert_array_equal(dem(frames[::-1]), dem(frames))
    np.testing.assert_array_equal(dem([frames[1], frames[2], frames[0]]), dem(frames))
