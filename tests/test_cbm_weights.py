"""CBM variance-driven patch weights, on hand-made patches."""

from __future__ import annotations

import pytest
import torch

from mefkit.methods.cbm.variance_weights import W_MAX, W_MIN, patch_variance, variance_weights


def flat(v: float, n: int = 16) -> torch.Tensor:
    return torch.full((1, 1, n, n), v)


def stripes(lo: float, hi: float, n: int = 16) -> torch.Tensor:
    """Vertical stripes alternating lo/hi: variance ((hi - lo) / 2)^2."""
    x = torch.full((1, 1, n, n), lo)
    x[..., ::2] = hi
    return x


def test_patch_variance_hand_computed():
    # Oracle: stripes of 0.2 / 0.6 have population variance 0.2^2 = 0.04.
    assert patch_variance(stripes(0.2, 0.6)).item() == pytest.approx(0.04, rel=1e-5)
    assert patch_variance(flat(0.3)).item() == pytest.approx(0.0, abs=1e-12)


def test_flat_label_gets_smallest_weight_and_detail_more():
    # Batch: flat label / mild detail / strong detail, same inputs (no exposure gap).
    label = torch.cat([flat(0.5), stripes(0.3, 0.7), stripes(0.1, 0.9)])
    inp = torch.cat([flat(0.3)] * 3)
    w = variance_weights(label, inp, inp)
    assert w[0] == pytest.approx(W_MIN)  # flat label -> the lower bound
    assert w[0] < w[1] < w[2]
    assert torch.all((w >= W_MIN) & (w <= W_MAX))
    # Hand-computed: raw = (0, 0.04, 0.16), batch mean 0.2/3 -> (0, 0.6, 2.4), 0 clipped to 0.25.
    torch.testing.assert_close(w, torch.tensor([0.25, 0.6, 2.4]), rtol=1e-4, atol=1e-4)


def test_larger_exposure_gap_gets_larger_weight():
    # Same label detail; the input pairs differ in variance by 0, 0.01 and 0.09.
    label = torch.cat([stripes(0.4, 0.6)] * 3)
    under = torch.cat([stripes(0.4, 0.6)] * 3)
    over = torch.cat([stripes(0.4, 0.6), flat(0.9), stripes(0.2, 0.8)])
    w = variance_weights(label, under, over)
    assert w[0] < w[1] < w[2]
    # swapping under/over changes nothing (|difference|)
    torch.testing.assert_close(w, variance_weights(label, over, under))


def test_bounds_hold_for_an_outlier_and_all_flat_batch_is_uniform():
    label = torch.cat([stripes(0.0, 1.0)] + [stripes(0.49, 0.51)] * 15)
    inp = torch.cat([flat(0.5)] * 16)
    w = variance_weights(label, inp, inp)
    assert w.max() == pytest.approx(W_MAX) and w.min() >= W_MIN
    w = variance_weights(torch.cat([flat(0.2)] * 4), torch.cat([flat(0.1)] * 4), torch.cat([flat(0.9)] * 4))
    torch.testing.assert_close(w, torch.full((4,), W_MIN))  # equal weights -> plain mean


def test_switching_off_gives_ones():
    label = torch.cat([flat(0.5), stripes(0.1, 0.9)])
    w = variance_weights(label, label, label, enabled=False)
    torch.testing.assert_close(w, torch.ones(2))


def test_weights_carry_no_gradient_and_reject_bad_bounds():
    label = stripes(0.1, 0.9).repeat(2, 1, 1, 1).requires_grad_()
    assert not variance_weights(label, label, label).requires_grad
    with pytest.raises(ValueError):
        variance_weights(label, label, label, bounds=(2.0, 4.0))
    with pytest.raises(ValueError):
        variance_weights(label, label, label, gap_weight=-1)
