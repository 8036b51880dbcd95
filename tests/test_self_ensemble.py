"""Geometric self-ensemble (mefkit.nn.self_ensemble): pass counts and the flipped mean."""

from __future__ import annotations

import numpy as np
import pytest

torch = pytest.importorskip("torch")

from mefkit.nn.self_ensemble import flip_count, flip_ensemble  # noqa: E402


def test_auto_count_spends_only_the_megapixel_budget():
    # Hand-computed with a 1 MP budget: 0.12 MP fits 4 passes, 0.48 MP fits 2, 0.6 MP
    # fits 1, and a 12 MP bracket runs at 1 MP (one pass). No budget: one pass.
    assert flip_count(300, 400, 1.0) == 4
    assert flip_count(600, 800, 1.0) == 2
    assert flip_count(600, 1000, 1.0) == 1
    assert flip_count(3000, 4000, 1.0) == 1
    assert flip_count(300, 400, None) == 1 and flip_count(300, 400, 0) == 1
    assert flip_count(3000, 4000, 1.0, flips=4) == 4 and flip_count(10, 10, 1.0, flips=1) == 1


@pytest.mark.parametrize("bad", [3, 0, "two", None])
def test_bad_counts_are_refused(bad):
    with pytest.raises(ValueError, match="flips"):
        flip_count(10, 10, 1.0, flips=bad)
    if isinstance(bad, int):
        with pytest.raises(ValueError, match="1, 2 or 4"):
            flip_ensemble(lambda x: x, bad)


def test_mirror_symmetric_network_is_unchanged():
    # Oracle: a per-pixel network commutes with mirroring, so every ensemble equals it.
    def net(a, b):
        return torch.sigmoid(2 * a - b)

    g = torch.Generator().manual_seed(0)
    a, b = torch.rand(1, 3, 5, 7, generator=g), torch.rand(1, 3, 5, 7, generator=g)
    for n in (1, 2, 4):
        assert torch.allclose(flip_ensemble(net, n)(a, b), net(a, b), atol=1e-6)
    assert flip_ensemble(net, 1) is net


def test_position_dependent_output_is_averaged_over_the_mirrorings():
    # Hand-computed: a network adding its column index (0..W-1) and row index (0..H-1)
    # gives, averaged over left-right mirroring, column term (W-1)/2 everywhere; over
    # all four mirrorings, both terms become their means.
    def net(x):
        h, w = x.shape[-2:]
        cols = torch.arange(w, dtype=x.dtype).view(1, 1, 1, w)
        rows = torch.arange(h, dtype=x.dtype).view(1, 1, h, 1)
        return x + cols + 10 * rows

    x = torch.rand(1, 2, 4, 6, generator=torch.Generator().manual_seed(1))
    rows = 10 * torch.arange(4, dtype=x.dtype).view(1, 1, 4, 1)
    assert torch.allclose(flip_ensemble(net, 2)(x), x + 2.5 + rows, atol=1e-5)
    assert torch.allclose(flip_ensemble(net, 4)(x), x + 2.5 + 15.0, atol=1e-5)
    assert np.isclose(float(flip_ensemble(net, 4)(x).mean() - x.mean()), 17.5, atol=1e-5)
