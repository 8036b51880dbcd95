"""Guided filter: agreement with a per-window transcription of He et al., and properties."""

from __future__ import annotations

import numpy as np
import pytest

from mefkit.filters.guided import box_mean, guided_filter


def _window(y: int, x: int, h: int, w: int, r: int) -> tuple[slice, slice]:
    return slice(max(0, y - r), min(h, y + r + 1)), slice(max(0, x - r), min(w, x + r + 1))


def _naive_guided(guide: np.ndarray, src: np.ndarray, r: int, eps: float) -> np.ndarray:
    """He et al. (TPAMI 2013) eqs. 1-9 / 14, window by window, windows clipped to the image."""
    h, w = src.shape
    color = guide.ndim == 3
    a = np.zeros((h, w, 3) if color else (h, w))
    b = np.zeros((h, w))
    for y in range(h):
        for x in range(w):
            sy, sx = _window(y, x, h, w, r)
            pw = src[sy, sx].ravel()
            if color:
                iw = guide[sy, sx].reshape(-1, 3)
                mu = iw.mean(0)
                cov = np.cov(iw.T, bias=True)
                a[y, x] = np.linalg.solve(cov + eps * np.eye(3), (iw * pw[:, None]).mean(0) - mu * pw.mean())
                b[y, x] = pw.mean() - a[y, x] @ mu
            else:
                iw = guide[sy, sx].ravel()
                a[y, x] = (np.mean(iw * pw) - iw.mean() * pw.mean()) / (iw.var() + eps)
                b[y, x] = pw.mean() - a[y, x] * iw.mean()
    out = np.zeros((h, w))
    for y in range(h):
        for x in range(w):
            sy, sx = _window(y, x, h, w, r)
            if color:
                out[y, x] = a[sy, sx].reshape(-1, 3).mean(0) @ guide[y, x] + b[sy, sx].mean()
            else:
                out[y, x] = a[sy, sx].mean() * guide[y, x] + b[sy, sx].mean()
    return out


@pytest.mark.parametrize("color", [False, True])
@pytest.mark.parametrize("r, eps", [(2, 1e-3), (4, 0.3), (9, 1e-6)])
def test_matches_per_window_definition(color, r, eps, rng):
    # Oracle: the paper's equations evaluated per window (an independent, slow code path).
    guide = rng.random((13, 17, 3) if color else (13, 17))
    src = rng.random((13, 17))
    got = guided_filter(guide, src, r, eps)
    assert got.dtype == np.float32 and got.shape == src.shape
    np.testing.assert_allclose(got, _naive_guided(guide, src, r, eps), atol=2e-6)


def test_box_mean_clips_windows_at_border(rng):
    # Oracle: mean over the part of the window inside the image (He's boxfilter ./ N).
    img = rng.random((7, 9))
    got = box_mean(img, 2)
    for y in range(7):
        for x in range(9):
            sy, sx = _window(y, x, 7, 9, 2)
            assert got[y, x] == pytest.approx(img[sy, sx].mean(), abs=1e-12)
    # Multi-channel input is averaged per channel and keeps its shape.
    multi = rng.random((7, 9, 1))
    assert box_mean(multi, 2).shape == (7, 9, 1)


def test_constant_input_is_a_fixed_point(rng):
    # Property: a constant image filters to itself under any guide (a = 0, b = c).
    guide = rng.random((20, 24, 3)).astype(np.float32)
    out = guided_filter(guide, np.full((20, 24), 0.37, np.float32), 5, 1e-4)
    np.testing.assert_allclose(out, 0.37, atol=1e-5)


def test_guide_filters_itself_with_small_eps(rng):
    # Property (He et al. §3.2): with I = p and eps -> 0, a -> 1 and the output is the input.
    img = rng.random((24, 30)).astype(np.float32)
    np.testing.assert_allclose(guided_filter(img, img, 3, 1e-8), img, atol=1e-4)


def test_large_eps_is_a_double_box_mean(rng):
    # Property: eps -> inf gives a -> 0, b -> mean(p), so q = mean(mean(p)).
    guide = rng.random((16, 20)).astype(np.float32)
    src = rng.random((16, 20)).astype(np.float32)
    expect = box_mean(box_mean(src.astype(np.float64), 3), 3)
    np.testing.assert_allclose(guided_filter(guide, src, 3, 1e9), expect, atol=1e-6)


def test_edge_preserving_step(rng):
    # Property: a step edge in the guide is kept sharp in the filtered weight map, while
    # a box filter of the same radius smears it over 2r + 1 pixels.
    guide = np.zeros((20, 40), np.float32)
    guide[:, 20:] = 1.0
    src = guide + 0.05 * rng.standard_normal((20, 40)).astype(np.float32)
    out = guided_filter(guide, src, 6, 1e-3)
    assert out[:, 17].mean() < 0.05 and out[:, 22].mean() > 0.95
    assert np.abs(out - guide).max() < 0.1


def test_multichannel_src_is_filtered_per_channel(rng):
    guide = rng.random((12, 14, 3)).astype(np.float32)
    src = rng.random((12, 14, 2)).astype(np.float32)
    both = guided_filter(guide, src, 2, 0.01)
    for c in range(2):
        np.testing.assert_allclose(both[:, :, c], guided_filter(guide, src[:, :, c], 2, 0.01), atol=1e-6)


def test_rejects_bad_arguments():
    g = np.zeros((8, 8), np.float32)
    with pytest.raises(ValueError, match="eps"):
        guided_filter(g, g, 2, 0.0)
    with pytest.raises(ValueError, match="radius"):
        guided_filter(g, g, -1, 0.1)
    with pytest.raises(ValueError, match="differ"):
        guided_filter(g, np.zeros((8, 9), np.float32), 2, 0.1)
    with pytest.raises(ValueError, match="guide"):
        guided_filter(np.zeros((8, 8, 2), np.float32), g, 2, 0.1)
