"""Reference metrics: PSNR, SSIM, MS-SSIM, VIFp.

Oracles:
- hand-computed PSNR cases (and the Y / MATLAB-Y conversions on known colours);
- scikit-image with Wang's settings (SSIM, PSNR), torchmetrics (SSIM, MS-SSIM, VIFp) and
  sewar (VIFp), independent implementations computed at test time, on real images (the
  bundled CC0 example, in every clone; and the SICE pair with ground truth and MEFB
  published fusions, skipped without ``../shared/data``) and on synthetic images, to
  1e-4 (they agree to ~1e-10 in practice);
- properties: identical images score 1 (inf dB); data_range only rescales.

Apples to apples: our SSIM averages the map over 'valid' positions (MATLAB ``filter2``).
skimage computes the map with reflect padding and then crops ``(win_size - 1) // 2 = 5``
pixels on each side before averaging, i.e. exactly the valid positions. With
``gaussian_weights=True, sigma=1.5`` skimage's window is 11x11 (truncate 3.5), the same
normalised Gaussian as ``fspecial('gaussian', 11, 1.5)``. torchmetrics 1.9 also pads by 5
(reflect) but averages the SSIM map WITHOUT cropping (only its contrast-sensitivity term
is cropped), so its SSIM, and the last scale of its MS-SSIM, include reflected borders
(about 3e-4 off on a 600x400 image); the tests therefore take torchmetrics' full SSIM map
(``return_full_image=True``) and crop 5 pixels themselves, and build MS-SSIM from those
torchmetrics terms with ``avg_pool2d`` between scales.
"""

from __future__ import annotations

import math

import numpy as np
import pytest
import torch
from skimage.metrics import peak_signal_noise_ratio, structural_similarity

from mefkit.metrics import REFERENCE_METRICS, ms_ssim, psnr, ssim, vif
from mefkit.metrics.color import to_channels

from .conftest import make_bracket, shared_path

TOL = 1e-4


@pytest.fixture(autouse=True, scope="module")
def one_torch_thread():
    """The torch oracles run on tiny tensors; on a shared, busy CPU torch's thread pool
    makes them 20-50x slower than one thread. Restored afterwards."""
    before = torch.get_num_threads()
    torch.set_num_threads(1)
    yield
    torch.set_num_threads(before)


# --------------------------------------------------------------------------------------
# Test images
# --------------------------------------------------------------------------------------
def _read(path):
    from mefkit.io import read_image

    return read_image(path)[0].astype(np.float64)


@pytest.fixture(scope="module")
def synthetic_pair():
    """A textured 'reference' and a distorted 'fused' version (blur + tone change + noise)."""
    import cv2

    ref = np.mean(make_bracket(208, 240, 3, seed=2), axis=0).astype(np.float64)
    r = np.random.default_rng(3)
    fused = np.clip(0.9 * cv2.GaussianBlur(ref, (5, 5), 1.0) + 0.04 + r.normal(0, 0.02, ref.shape), 0, 1)
    return fused, ref


def _development_pairs():
    """(name, fused, reference) triples from the development data (SICE with ground truth,
    MEFB); skips the calling test when the data is absent."""
    sice = shared_path("sice", "samt_labeled_001")
    gt = _read(sice / "gt.png")
    under, over = _read(sice / "under.png"), _read(sice / "over.png")
    mefb = shared_path("mefb", "Arno", "fused")
    return [
        ("sice_over_vs_gt", over, gt),
        ("sice_mean_vs_gt", (under + over) / 2, gt),
        ("mefb_dem_vs_spd", _read(mefb / "DEM.png"), _read(mefb / "SPD_MEF.png")),
    ]


def _example_pairs():
    """(name, fused, reference) triples from the bundled CC0 example (600x400, in every
    clone): its -2 EV and +2 EV frames, their mean and mefkit's Mertens fusion, each
    against the 0 EV frame."""
    import mefkit

    under, mid, over = (f.astype(np.float64) for f in mefkit.load_frames(mefkit.example_bracket()).frames)
    fused = mefkit.fuse([under, over], order="given").astype(np.float64)
    return [
        ("example_over_vs_mid", over, mid),
        ("example_mean_vs_mid", (under + over) / 2, mid),
        ("example_mertens_vs_mid", fused, mid),
    ]


@pytest.fixture(params=["example", "development"])
def real_pairs(request):
    """``real_pairs(crop=None)`` -> (name, fused, reference) triples of real images: the
    bundled example (always) or the development data (skipped when absent). ``crop`` (a
    pair of slices) keeps the slow library oracles fast."""

    def pairs(crop=None):
        found = _example_pairs() if request.param == "example" else _development_pairs()
        if crop is not None:
            found = [(n, f[crop], r[crop]) for n, f, r in found]
        return found

    return pairs


#: A 256x224 window of the real images (sides divisible by 16 for MS-SSIM).
CROP = (slice(48, 304), slice(160, 384))


def skimage_ssim(fused, reference, channel_axis=-1):
    return structural_similarity(
        fused, reference, gaussian_weights=True, sigma=1.5, use_sample_covariance=False,
        data_range=1.0, channel_axis=channel_axis,
    )


def tm_tensor(channel, dtype=torch.float64):
    """(H, W) array -> (1, 1, H, W) tensor."""
    return torch.from_numpy(np.ascontiguousarray(channel)).to(dtype)[None, None]


# torch's float64 convolutions are ~20x slower than float32 on CPU; float32 SSIM terms are
# accurate to ~1e-6, well inside the 1e-4 tolerance (a wrong border choice costs ~1e-3).
F32 = torch.float32


def tm_ssim_valid(x, y):
    """torchmetrics SSIM map of (1, C, H, W) tensors, cropped to the valid positions, mean."""
    from torchmetrics.functional.image import structural_similarity_index_measure as tm_ssim

    _, full = tm_ssim(x, y, data_range=1.0, return_full_image=True)
    return float(full[..., 5:-5, 5:-5].mean())


def tm_ms_ssim(x, y):
    """MS-SSIM of two (1, 1, H, W) tensors from torchmetrics terms: its (cropped) contrast
    sensitivity at scales 1-4, its SSIM map cropped at scale 5, avg_pool2d between scales."""
    from torch.nn.functional import avg_pool2d
    from torchmetrics.functional.image import structural_similarity_index_measure as tm_ssim

    weights = (0.0448, 0.2856, 0.3001, 0.2363, 0.1333)
    score = 1.0
    for level, w in enumerate(weights):
        if level < 4:
            _, cs = tm_ssim(x, y, data_range=1.0, return_contrast_sensitivity=True)
            score *= float(cs) ** w
            x, y = avg_pool2d(x, 2), avg_pool2d(y, 2)
        else:
            score *= tm_ssim_valid(x, y) ** w
    return score


def tm_ms_ssim_per_channel(fused, reference):
    return float(np.mean([
        tm_ms_ssim(tm_tensor(fused[..., c], F32), tm_tensor(reference[..., c], F32)) for c in range(3)
    ]))


# --------------------------------------------------------------------------------------
# PSNR
# --------------------------------------------------------------------------------------
def test_psnr_hand_computed():
    """Oracle: by hand. One of 4*4*3 values off by 0.5: MSE = 0.25/48, PSNR = 10 log10(192)."""
    ref = np.zeros((4, 4, 3))
    fused = ref.copy()
    fused[1, 2, 0] = 0.5
    assert psnr(fused, ref) == pytest.approx(10 * math.log10(192), abs=1e-12)
    assert psnr(fused * 255, ref * 255, data_range=255) == pytest.approx(10 * math.log10(192), abs=1e-12)
    assert psnr(ref, ref) == math.inf


def test_psnr_color_modes_hand_computed():
    """Oracle: by hand. Gray images (R = G = B) differing by d everywhere: Y diff = d, so
    PSNR_y = 20 log10(1/d); MATLAB's limited-range Y compresses the difference to 219/255 d,
    so PSNR_y_matlab = PSNR_y - 20 log10(219/255) (about +1.32 dB)."""
    ref = np.full((8, 8, 3), 0.3)
    fused = ref + 0.1
    assert psnr(fused, ref, color="y") == pytest.approx(20.0, abs=1e-9)
    assert psnr(fused, ref, color="y_matlab") == pytest.approx(20.0 - 20 * math.log10(219 / 255), abs=1e-9)


def test_y_conversions_on_known_colours():
    """Oracle: BT.601 weights and MATLAB rgb2ycbcr: white -> 235/255, black -> 16/255, pure
    green -> 0.587 (full range) and (16 + 128.553)/255 (limited range)."""
    img = np.array([[[1.0, 1.0, 1.0], [0.0, 0.0, 0.0], [0.0, 1.0, 0.0]]])
    np.testing.assert_allclose(to_channels(img, "y", 1.0)[0, 0], [1.0, 0.0, 0.587], atol=1e-12)
    np.testing.assert_allclose(
        to_channels(img, "y_matlab", 1.0)[0, 0], [235 / 255, 16 / 255, (16 + 128.553) / 255], atol=1e-12
    )
    np.testing.assert_allclose(to_channels(img * 255, "y_matlab", 255.0)[0, 0], [235, 16, 144.553], atol=1e-9)


def test_psnr_matches_skimage_synthetic(synthetic_pair):
    """Oracle: skimage.metrics.peak_signal_noise_ratio (RGB, data_range=1)."""
    fused, ref = synthetic_pair
    assert psnr(fused, ref) == pytest.approx(peak_signal_noise_ratio(ref, fused, data_range=1.0), abs=TOL)


def test_psnr_matches_skimage_real(real_pairs):
    """Oracle: skimage PSNR on real images, RGB and on the Y channel."""
    for name, fused, ref in real_pairs():
        assert psnr(fused, ref) == pytest.approx(peak_signal_noise_ratio(ref, fused, data_range=1.0), abs=TOL), name
        fy, ry = to_channels(fused, "y", 1.0)[0], to_channels(ref, "y", 1.0)[0]
        assert psnr(fused, ref, color="y") == pytest.approx(
            peak_signal_noise_ratio(ry, fy, data_range=1.0), abs=TOL
        ), name


# --------------------------------------------------------------------------------------
# SSIM
# --------------------------------------------------------------------------------------
def test_ssim_matches_skimage_synthetic(synthetic_pair):
    """Oracle: skimage with Wang's settings, per-channel mean (channel_axis=-1), and on Y."""
    fused, ref = synthetic_pair
    assert ssim(fused, ref) == pytest.approx(skimage_ssim(fused, ref), abs=TOL)
    fy, ry = to_channels(fused, "y", 1.0)[0], to_channels(ref, "y", 1.0)[0]
    assert ssim(fused, ref, color="y") == pytest.approx(skimage_ssim(fy, ry, channel_axis=None), abs=TOL)


def test_ssim_map_is_skimage_map_cropped(synthetic_pair):
    """Oracle: skimage's full SSIM map with 5 pixels cropped per side equals our 'valid' map."""
    from mefkit.metrics.ssim import ssim_maps

    fused, ref = synthetic_pair
    _, full = structural_similarity(
        ref[..., 1], fused[..., 1], gaussian_weights=True, sigma=1.5, use_sample_covariance=False,
        data_range=1.0, full=True,
    )
    ours, _ = ssim_maps(fused[..., 1], ref[..., 1], 1.0)
    np.testing.assert_allclose(ours, full[5:-5, 5:-5], rtol=0, atol=1e-9)


def test_ssim_matches_skimage_real(real_pairs):
    """Oracle: skimage (Wang settings) on whole real images, RGB and Y, to 1e-4."""
    for name, fused, ref in real_pairs():
        assert ssim(fused, ref) == pytest.approx(skimage_ssim(fused, ref), abs=TOL), name
        fy, ry = to_channels(fused, "y", 1.0)[0], to_channels(ref, "y", 1.0)[0]
        assert ssim(fused, ref, color="y") == pytest.approx(skimage_ssim(fy, ry, channel_axis=None), abs=TOL), name


def test_ssim_matches_torchmetrics_real(real_pairs):
    """Oracle: torchmetrics' SSIM map (cropped to valid positions) on real crops, to 1e-4."""
    t = lambda a: torch.from_numpy(np.ascontiguousarray(np.moveaxis(a, -1, 0))).to(F32)[None]  # noqa: E731
    for name, fused, ref in real_pairs(CROP):
        assert ssim(fused, ref) == pytest.approx(tm_ssim_valid(t(fused), t(ref)), abs=TOL), name


def test_ssim_wang_downsampling(real_pairs):
    """Oracle: ssim.m's automatic scaling for a 600x400 image is f = round(400/256) = 2, i.e.
    skimage on 2x2 block means (and f = 1 below 384 pixels: no change)."""
    name, fused, ref = real_pairs()[0]
    block = lambda a: a.reshape(a.shape[0] // 2, 2, a.shape[1] // 2, 2, 3).mean(axis=(1, 3))  # noqa: E731
    assert ssim(fused, ref, downsample=True) == pytest.approx(skimage_ssim(block(fused), block(ref)), abs=TOL)
    small_f, small_r = fused[:300, :300], ref[:300, :300]
    assert ssim(small_f, small_r, downsample=True) == ssim(small_f, small_r)


@pytest.mark.parametrize("f", [2, 3, 4])
def test_ssim_m_box_decimation_matches_literal_imfilter(f):
    """Oracle: a per-pixel transcription of imfilter(ones(f)/f^2, 'symmetric', 'same') with
    MATLAB's kernel anchor floor((f+1)/2), then (1:f:end); odd and even sides."""
    from mefkit.metrics.ssim import box_decimate, wang_scale_factor

    img = np.random.default_rng(f).random((11, 14))
    h, w = img.shape
    a = (f + 1) // 2 - 1
    mirror = lambda i, n: -i - 1 if i < 0 else (2 * n - 1 - i if i >= n else i)  # noqa: E731
    same = np.zeros_like(img)
    for i in range(h):
        for j in range(w):
            same[i, j] = np.mean([img[mirror(i - a + t, h), mirror(j - a + u, w)] for t in range(f) for u in range(f)])
    np.testing.assert_allclose(box_decimate(img, f), same[::f, ::f], rtol=0, atol=1e-14)
    # f from the image size: round(min/256), MATLAB rounding (640 -> 2.5 -> 3).
    assert [wang_scale_factor((n, 1000)) for n in (383, 384, 639, 640)] == [1, 2, 2, 3]


# --------------------------------------------------------------------------------------
# MS-SSIM
# --------------------------------------------------------------------------------------
def test_ms_ssim_matches_torchmetrics_synthetic(synthetic_pair):
    """Oracle: MS-SSIM from torchmetrics terms (Wang's 5 weights, Gaussian 11/1.5) per channel, averaged."""
    fused, ref = synthetic_pair  # 208x240: every scale even (208 = 16 * 13, 240 = 16 * 15)
    assert ms_ssim(fused, ref) == pytest.approx(tm_ms_ssim_per_channel(fused, ref), abs=TOL)


def test_ms_ssim_matches_torchmetrics_real(real_pairs):
    """Oracle: MS-SSIM from torchmetrics terms on real crops (sides divisible by 16)."""
    for name, fused, ref in real_pairs(CROP):
        assert ms_ssim(fused, ref) == pytest.approx(tm_ms_ssim_per_channel(fused, ref), abs=TOL), name


# --------------------------------------------------------------------------------------
# VIFp
# --------------------------------------------------------------------------------------
def test_vif_matches_sewar_and_torchmetrics_synthetic(synthetic_pair):
    """Oracle: sewar.full_ref.vifp(GT, P) and torchmetrics VIF on 0..255 data."""
    from sewar.full_ref import vifp
    from torchmetrics.functional.image import visual_information_fidelity as tm_vif

    fused, ref = synthetic_pair
    fy, ry = to_channels(fused, "y", 1.0)[0], to_channels(ref, "y", 1.0)[0]
    ours = vif(fused, ref)  # default colour "y"
    assert ours == pytest.approx(vifp(ry * 255, fy * 255), abs=TOL)
    assert ours == pytest.approx(float(tm_vif(tm_tensor(fy * 255), tm_tensor(ry * 255))), abs=TOL)
    assert vif(fused, ref, color="rgb") == pytest.approx(vifp(ref * 255, fused * 255), abs=TOL)


@pytest.mark.slow
def test_vif_matches_sewar_real(real_pairs):
    """Oracle: sewar vifp on real crops (Y and per-channel RGB), at 0..255."""
    from sewar.full_ref import vifp

    for name, fused, ref in real_pairs(CROP):
        fy, ry = to_channels(fused, "y", 1.0)[0], to_channels(ref, "y", 1.0)[0]
        assert vif(fused, ref) == pytest.approx(vifp(ry * 255, fy * 255), abs=TOL), name
        assert vif(fused, ref, color="rgb") == pytest.approx(vifp(ref * 255, fused * 255), abs=TOL), name


def test_vif_scaling_to_255_is_pinned(synthetic_pair):
    """Property + oracle: VIFp's noise variance (2) assumes 0..255, so [0, 1] inputs are
    rescaled: the score is the same for data_range 1 and 255, equals sewar on x * 255, and
    differs clearly from sewar fed raw [0, 1] values."""
    from sewar.full_ref import vifp

    fused, ref = synthetic_pair
    a = vif(fused, ref, color="rgb")
    assert vif(fused * 255, ref * 255, data_range=255, color="rgb") == pytest.approx(a, abs=1e-12)
    assert a == pytest.approx(vifp(ref * 255, fused * 255), abs=TOL)
    assert abs(a - vifp(ref, fused)) > 0.05


def test_vif_argument_order(real_pairs):
    """Property: VIF is asymmetric; the reference is the second argument (VIFp(ref, dist))."""
    from sewar.full_ref import vifp

    name, fused, ref = real_pairs(CROP)[0]
    fy, ry = to_channels(fused, "y", 1.0)[0] * 255, to_channels(ref, "y", 1.0)[0] * 255
    assert abs(vifp(ry, fy) - vifp(fy, ry)) > 1e-3
    assert vif(fused, ref) == pytest.approx(vifp(ry, fy), abs=TOL)


# --------------------------------------------------------------------------------------
# Properties shared by all reference metrics, and input validation
# --------------------------------------------------------------------------------------
@pytest.mark.parametrize("name", ["ssim", "ms_ssim", "vif"])
@pytest.mark.parametrize("color", ["rgb", "y", "y_matlab"])
def test_identical_images_score_one(synthetic_pair, name, color):
    """Property: a perfect result scores exactly 1."""
    _, ref = synthetic_pair
    # VIFp's g = s12 / (s1 + 1e-10) leaves 1 - 1e-11.
    assert REFERENCE_METRICS[name](ref, ref, color=color) == pytest.approx(1.0, abs=1e-9)


def test_registry_of_reference_metrics():
    from mefkit.metrics.color_shift import lightness_offset, reference_lightness

    assert REFERENCE_METRICS == {"psnr": psnr, "ssim": ssim, "ms_ssim": ms_ssim, "vif": vif,
                                 "gt_l": reference_lightness, "dl_gt": lightness_offset}


@pytest.mark.parametrize("name", ["psnr", "ssim", "ms_ssim", "vif"])
def test_validation(name, synthetic_pair):
    fn = REFERENCE_METRICS[name]
    fused, ref = synthetic_pair
    with pytest.raises(ValueError, match=r"same shape.*\(208, 240, 3\).*\(208, 200, 3\)"):
        fn(fused, ref[:, :200])
    bad = fused.copy()
    bad[0, 0, 0] = np.nan
    with pytest.raises(ValueError, match=r"fused of shape \(208, 240, 3\) contains NaN"):
        fn(bad, ref)
    with pytest.raises(ValueError, match=r"reference must be \(H, W\) or \(H, W, 3\), got shape \(208, 240, 4\)"):
        fn(fused, np.concatenate([ref, ref[..., :1]], axis=2))
    with pytest.raises(ValueError, match="color"):
        fn(fused, ref, color="lab")
    with pytest.raises(ValueError, match="data_range"):
        fn(fused, ref, data_range=-1)
    with pytest.raises(ValueError, match="reference is an integer array.*data_range=255"):
        fn(fused, (ref * 255).astype(np.uint8))
    if name != "psnr":
        with pytest.raises(ValueError, match=r"fused of shape \(9, 9, 3\) is too small"):
            fn(fused[:9, :9], ref[:9, :9])


def test_too_small_for_multiscale(synthetic_pair):
    fused, ref = synthetic_pair
    with pytest.raises(ValueError, match=r"fused of shape \(150, 240, 3\) is too small.*176x176"):
        ms_ssim(fused[:150], ref[:150])
    with pytest.raises(ValueError, match=r"fused of shape \(40, 240, 3\) is too small.*41x41"):
        vif(fused[:40], ref[:40])
