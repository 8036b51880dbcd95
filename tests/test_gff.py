"""GFF: agreement with a transcription of the public MATLAB re-implementation, and properties."""

from __future__ import annotations

import numpy as np
import pytest
from scipy.ndimage import correlate, uniform_filter

import mefkit
from mefkit.methods.gff import gff

from .conftest import make_bracket


def _he_boxfilter(img: np.ndarray, r: int) -> np.ndarray:
    # He's boxfilter.m: cumulative sums along rows then columns (window clipped at borders).
    h, w = img.shape
    c = np.cumsum(np.pad(img, ((1, 0), (0, 0))), axis=0)
    rows = np.empty_like(img)
    for y in range(h):
        rows[y] = c[min(h, y + r + 1)] - c[max(0, y - r)]
    c = np.cumsum(np.pad(rows, ((0, 0), (1, 0))), axis=1)
    out = np.empty_like(img)
    for x in range(w):
        out[:, x] = c[:, min(w, x + r + 1)] - c[:, max(0, x - r)]
    return out


def _he_guided(i: np.ndarray, p: np.ndarray, r: int, eps: float) -> np.ndarray:
    # He's guidedfilter.m (gray guide), as shipped with msrt92/Deghosting-Image-Fusion.
    n = _he_boxfilter(np.ones_like(i), r)
    mi, mp = _he_boxfilter(i, r) / n, _he_boxfilter(p, r) / n
    cov = _he_boxfilter(i * p, r) / n - mi * mp
    var = _he_boxfilter(i * i, r) / n - mi * mi
    a = cov / (var + eps)
    b = mp - a * mi
    return _he_boxfilter(a, r) / n * i + _he_boxfilter(b, r) / n


def _reference_gff(frames: list[np.ndarray]) -> np.ndarray:
    """``GFF.m`` of msrt92/Deghosting-Image-Fusion in float64, with its uint8 rounding of the
    weights replaced by clipping to [0, 1] (what mefkit does; the paper has neither)."""
    gray = [f @ np.array([0.2989, 0.5870, 0.1140]) for f in frames]
    lap = np.array([[0, 1, 0], [1, -4, 1], [0, 1, 0]], float)
    x = np.arange(-5, 6)
    g1 = np.exp(-(x**2) / (2 * 5.0**2))
    gk = np.outer(g1, g1) / np.outer(g1, g1).sum()  # fspecial('gaussian', 11, 5)
    sal = np.stack([correlate(np.abs(correlate(g, lap, mode="nearest")), gk, mode="nearest") for g in gray])
    win = np.argmax(sal, axis=0)
    out = np.zeros_like(frames[0], dtype=float)
    wb = np.stack([_he_guided(g, (win == k).astype(float), 45, 0.3) for k, g in enumerate(gray)])
    wd = np.stack([_he_guided(g, (win == k).astype(float), 7, 1e-6) for k, g in enumerate(gray)])
    for w in (wb, wd):
        np.clip(w, 0, 1, out=w)
        w += 1e-12
        w /= w.sum(0)
    for k, f in enumerate(frames):
        base = uniform_filter(f, size=(31, 31, 1), mode="nearest")
        out += base * wb[k][:, :, None] + (f - base) * wd[k][:, :, None]
    return out


def test_matches_matlab_reimplementation_gray_guide():
    # Oracle: an independent float64 transcription of the public GFF.m (gray guide).
    frames = make_bracket(40, 52, 3, seed=2)
    ref = _reference_gff([f.astype(np.float64) for f in frames])
    np.testing.assert_allclose(gff(frames), ref, atol=1e-5)  # default guide: gray


def test_colour_guide_differs_little_from_gray_guide():
    # Property: the colour guided filter refines the same one-hot maps; on a natural-ish
    # bracket the two guides give close results (they differ only at colour edges).
    frames = make_bracket(48, 64, 2, seed=4)
    diff = np.abs(gff(frames, guide="color") - gff(frames, guide="gray"))
    assert diff.mean() < 0.01


@pytest.mark.parametrize("n", [2, 3, 4])
def test_identical_frames_return_the_frame(n):
    # Property: with identical frames the argmax picks frame 0 everywhere, its refined
    # weights are 1, and base + detail = the frame.
    frame = make_bracket(48, 64, 3, seed=1)[1]
    np.testing.assert_allclose(gff([frame] * n), frame, atol=1e-4)


@pytest.mark.parametrize("n", [2, 3, 4])
def test_output_range_and_determinism(n):
    frames = make_bracket(40, 56, n, seed=n)
    out = mefkit.fuse(frames, method="gff")
    assert out.shape == frames[0].shape and out.min() >= 0.0 and out.max() <= 1.0
    np.testing.assert_array_equal(out, mefkit.fuse(frames, method="gff"))


def test_takes_texture_from_the_frame_that_has_it(rng):
    # Property (the saliency rule): frame A is textured on the left and flat on the right,
    # frame B the reverse; the fused image follows A on the left and B on the right.
    h, w = 64, 128
    tex = 0.5 + 0.3 * rng.standard_normal((h, w, 3)).clip(-1, 1).astype(np.float32)
    flat = np.full((h, w, 3), 0.5, np.float32)
    a = np.concatenate([tex[:, : w // 2], flat[:, w // 2 :]], axis=1)
    b = np.concatenate([flat[:, : w // 2], tex[:, w // 2 :]], axis=1)
    out = gff([a, b])
    left, right = slice(8, w // 2 - 16), slice(w // 2 + 16, w - 8)
    assert np.abs(out[:, left] - a[:, left]).mean() < 0.03
    assert np.abs(out[:, right] - b[:, right]).mean() < 0.03


def test_rejects_bad_parameters():
    frames = make_bracket(32, 32, 2)
    with pytest.raises(mefkit.errors.MethodError, match="guide"):
        mefkit.fuse(frames, method="gff", guide="lab")
    with pytest.raises(mefkit.errors.MethodError, match="average_size"):
        mefkit.fuse(frames, method="gff", average_size=30)
    with pytest.raises(mefkit.errors.MethodError, match="eps"):
        mefkit.fuse(frames, method="gff", detail_eps=0)
