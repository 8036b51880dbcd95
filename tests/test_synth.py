"""Bracket simulation: exposure ordering, clipping, reproducibility."""

import numpy as np

from mefkit.synth import camera_response, simulate_bracket


def test_zero_ev_without_noise_reproduces_source():
    src = np.random.default_rng(0).random((16, 16, 3)).astype(np.float32)
    (frame,) = simulate_bracket(src, [0.0], shot_noise=0, read_noise=0, quantize=False)
    np.testing.assert_allclose(frame, src, atol=1e-5)


def test_brighter_ev_is_brighter_and_clips():
    src = np.random.default_rng(1).random((16, 16, 3)).astype(np.float32)
    frames = simulate_bracket(src, [-2, 0, 2], seed=3)
    means = [f.mean() for f in frames]
    assert means[0] < means[1] < means[2]
    assert (frames[2] == 1.0).mean() > (frames[1] == 1.0).mean()
    assert all(f.min() >= 0 and f.max() <= 1 for f in frames)


def test_seeded_and_quantised():
    src = np.full((8, 8, 3), 0.5, np.float32)
    a = simulate_bracket(src, [-1, 1], seed=5)
    b = simulate_bracket(src, [-1, 1], seed=5)
    for x, y in zip(a, b):
        np.testing.assert_array_equal(x, y)
        np.testing.assert_allclose(x * 255, np.round(x * 255), atol=1e-4)


def test_camera_response_monotonic():
    v = np.linspace(0, 1, 101, dtype=np.float32)
    out = camera_response(v, contrast=0.3)
    assert np.all(np.diff(out) >= 0) and out[0] == 0 and out[-1] == 1
