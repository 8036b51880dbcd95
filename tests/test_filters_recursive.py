"""Domain-transform recursive filter (mefkit.filters.recursive)."""

from __future__ import annotations

import math

import numpy as np
import pytest

from mefkit.filters.recursive import recursive_filter, recursive_filter_stack


def _rf_literal(img: np.ndarray, sigma_s: float, sigma_r: float, iterations: int, guide: np.ndarray):
    """Element-by-element transcription of the authors' RF.m (Gastal & Oliveira 2011, v1.0).

    The oracle: plain Python loops over every sample, no vectorisation.
    """
    f = img.astype(np.float64).copy()
    if f.ndim == 2:
        f = f[:, :, None]
    g = guide.astype(np.float64)
    if g.ndim == 2:
        g = g[:, :, None]
    h, w, _ = g.shape
    dhdx = np.ones((h, w))
    dvdy = np.ones((h, w))
    for y in range(h):
        for x in range(w):
            if x > 0:
                dhdx[y, x] += sigma_s / sigma_r * sum(abs(g[y, x, c] - g[y, x - 1, c]) for c in range(g.shape[2]))
            if y > 0:
                dvdy[y, x] += sigma_s / sigma_r * sum(abs(g[y, x, c] - g[y - 1, x, c]) for c in range(g.shape[2]))
    n = iterations
    for i in range(n):
        sig = sigma_s * math.sqrt(3) * 2 ** (n - (i + 1)) / math.sqrt(4**n - 1)
        a = math.exp(-math.sqrt(2) / sig)
        # horizontal: left->right then right->left, each row
        for y in range(h):
            for c in range(f.shape[2]):
                for x in range(1, w):
                    f[y, x, c] += a ** dhdx[y, x] * (f[y, x - 1, c] - f[y, x, c])
                for x in range(w - 2, -1, -1):
                    f[y, x, c] += a ** dhdx[y, x + 1] * (f[y, x + 1, c] - f[y, x, c])
        # vertical: top->bottom then bottom->top, each column
        for x in range(w):
            for c in range(f.shape[2]):
                for y in range(1, h):
                    f[y, x, c] += a ** dvdy[y, x] * (f[y - 1, x, c] - f[y, x, c])
                for y in range(h - 2, -1, -1):
                    f[y, x, c] += a ** dvdy[y + 1, x] * (f[y + 1, x, c] - f[y, x, c])
    return f[:, :, 0] if img.ndim == 2 else f


@pytest.mark.parametrize("channels", [0, 2])
def test_matches_literal_rf(rng, channels):
    # Oracle: the literal per-sample recursion of RF.m above.
    shape = (6, 9) if channels == 0 else (6, 9, channels)
    img = rng.random(shape)
    guide = rng.random((6, 9, 3))
    ours = recursive_filter(img, 10.0, 0.5, 3, guide=guide)
    ref = _rf_literal(img, 10.0, 0.5, 3, guide)
    np.testing.assert_allclose(ours, ref, rtol=0, atol=1e-12)


def test_self_guided_matches_literal(rng):
    # Oracle: RF.m with no joint image uses the image itself as the guide.
    img = rng.random((5, 7))
    np.testing.assert_allclose(recursive_filter(img, 5.0, 0.3, 2), _rf_literal(img, 5.0, 0.3, 2, img), atol=1e-12)


def test_constant_image_unchanged(rng):
    # Property: a normalised smoothing filter leaves a constant unchanged, whatever the guide.
    img = np.full((20, 30), 0.37)
    out = recursive_filter(img, 100.0, 4.0, 3, guide=rng.random((20, 30, 3)))
    np.testing.assert_allclose(out, 0.37, atol=1e-12)


def test_preserves_a_guide_edge_and_smooths_without_one():
    # Property: a step in the guide stops the smoothing; without an edge it spreads.
    img = np.zeros((16, 40))
    img[:, 20:] = 1.0
    edge = recursive_filter(img, 30.0, 0.05, 3)  # guided by the step itself
    assert edge[:, :20].max() < 1e-3 and edge[:, 20:].min() > 1 - 1e-3
    flat_guide = np.zeros((16, 40))
    blurred = recursive_filter(img, 30.0, 0.05, 3, guide=flat_guide)
    assert blurred[:, 19].mean() > 0.3 and blurred[:, 20].mean() < 0.7


def test_reduces_noise_in_flat_region(rng):
    # Property: smoothing lowers the variance of noise where the guide is flat.
    noise = rng.normal(0, 0.1, (32, 32))
    out = recursive_filter(noise, 8.0, 1.0, 3, guide=np.zeros((32, 32)))
    assert out.std() < 0.3 * noise.std()


def test_shape_and_dtype_kept(rng):
    # Property: the output has the input's shape (2-D in, 2-D out; 3-D in, 3-D out).
    assert recursive_filter(rng.random((4, 5)), 2, 1).shape == (4, 5)
    assert recursive_filter(rng.random((4, 5, 3)), 2, 1).shape == (4, 5, 3)


@pytest.mark.parametrize("shape", [(1, 6), (6, 1), (1, 1)])
def test_single_row_or_column_matches_literal(rng, shape):
    # Oracle: the literal RF.m transcription on degenerate sizes (one row or column).
    img = rng.random(shape)
    guide = rng.random(shape + (3,))
    before = img.copy()
    ours = recursive_filter(img, 5.0, 0.5, 3, guide=guide)
    np.testing.assert_array_equal(img, before)  # the input is not filtered in place
    np.testing.assert_allclose(ours, _rf_literal(img, 5.0, 0.5, 3, guide), atol=1e-12)


@pytest.mark.parametrize(
    "kwargs",
    [{"sigma_s": 0}, {"sigma_r": -1}, {"iterations": 0}, {"guide": np.zeros((3, 3))}],
)
def test_bad_parameters_raise(kwargs):
    # Oracle: invalid parameters are rejected at the boundary.
    args = {"sigma_s": 1.0, "sigma_r": 1.0, "iterations": 1, **kwargs}
    with pytest.raises(ValueError):
        recursive_filter(np.zeros((4, 4)), args["sigma_s"], args["sigma_r"], args["iterations"], args.get("guide"))


def test_stack_equals_one_by_one(rng):
    # Oracle: recursive_filter applied to each image with its own guide.
    imgs = rng.random((3, 12, 17))
    guides = [rng.random((12, 17, 3)), rng.random((12, 17)), rng.random((12, 17, 3))]
    out = recursive_filter_stack(imgs, guides, 20.0, 0.7, 3)
    for k in range(3):
        np.testing.assert_allclose(out[k], recursive_filter(imgs[k], 20.0, 0.7, 3, guide=guides[k]), atol=1e-13)


def test_stack_rejects_mismatched_guides(rng):
    # Oracle: one guide of the images' size per image, else ValueError.
    with pytest.raises(ValueError):
        recursive_filter_stack(rng.random((2, 5, 5)), [rng.random((5, 5))], 1.0, 1.0)
    with pytest.raises(ValueError):
        recursive_filter_stack(rng.random((1, 5, 5)), [rng.random((4, 5))], 1.0, 1.0)
