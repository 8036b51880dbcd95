"""Training losses: differentiable SSIM, L1 + SSIM sum, per-sample weighting."""

from __future__ import annotations

import numpy as np
import pytest
import torch
from skimage.metrics import structural_similarity

from mefkit.train.losses import FusionLoss, rgb_to_gray, ssim_loss, ssim_per_sample, weighted_mean


def test_ssim_loss_zero_for_identical():
    # Property: SSIM(x, x) = 1 exactly up to float rounding.
    x = torch.rand(3, 3, 40, 40)
    assert float(ssim_loss(x, x)) == pytest.approx(0.0, abs=1e-6)


def test_ssim_matches_skimage():
    # Reference implementation: scikit-image with Wang et al.'s settings (Gaussian window
    # sigma 1.5 -> 11 taps at truncate 3.5, population covariance). skimage filters with
    # 'reflect' then crops (win - 1) / 2 pixels per side and averages: that is exactly the
    # mean over our 'valid' positions.
    rng = np.random.default_rng(3)
    a = rng.random((37, 45))
    b = np.clip(a + 0.1 * rng.standard_normal(a.shape), 0, 1)
    ref = structural_similarity(a, b, data_range=1.0, gaussian_weights=True, sigma=1.5, use_sample_covariance=False)
    ours = ssim_per_sample(torch.from_numpy(a)[None, None].float(), torch.from_numpy(b)[None, None].float())
    assert float(ours[0]) == pytest.approx(ref, abs=1e-5)


def test_ssim_is_differentiable():
    x = torch.rand(1, 3, 24, 24, requires_grad=True)
    y = torch.rand(1, 3, 24, 24)
    ssim_loss(x, y).backward()
    assert x.grad is not None and torch.isfinite(x.grad).all() and x.grad.abs().sum() > 0


def test_gray_weights():
    # Hand-computed: BT.601 luma of pure red is 0.299.
    red = torch.zeros(1, 3, 2, 2)
    red[:, 0] = 1
    assert torch.allclose(rgb_to_gray(red), torch.full((1, 1, 2, 2), 0.299))


def test_weighted_mean_hand_case():
    # Hand-computed: (1*1 + 3*3) / (1 + 3) = 2.5; no weights -> plain mean 2.
    v = torch.tensor([1.0, 3.0])
    assert float(weighted_mean(v, torch.tensor([1.0, 3.0]))) == pytest.approx(2.5)
    assert float(weighted_mean(v, None)) == pytest.approx(2.0)
    with pytest.raises(ValueError):
        weighted_mean(v, torch.tensor([1.0, -1.0]))


def test_fusion_loss_terms_and_weights():
    # Hand-computed: L1 of a constant 0.1 offset is 0.1; SSIM term weighted by lambda_ssim;
    # equal per-sample weights give the unweighted loss; weights pick out one sample.
    loss_fn = FusionLoss(lambda_vgg=0.0, lambda_ssim=0.1)
    target = torch.rand(2, 3, 32, 32) * 0.8
    pred = target + 0.1
    pred[1] = target[1]  # sample 1 is perfect: its loss is 0
    terms = loss_fn.per_sample(pred, target)
    assert float(terms["l1"][0]) == pytest.approx(0.1, abs=1e-6)
    assert float(terms["total"][1]) == pytest.approx(0.0, abs=1e-6)
    expected = terms["l1"] + 0.1 * terms["ssim"]
    assert torch.allclose(terms["total"], expected)
    plain, logs = loss_fn(pred, target)
    same, _ = loss_fn(pred, target, weights=torch.tensor([2.0, 2.0]))
    only0, _ = loss_fn(pred, target, weights=torch.tensor([1.0, 0.0]))
    assert float(plain) == pytest.approx(float(same)) == pytest.approx(float(terms["total"].mean()))
    assert float(only0) == pytest.approx(float(terms["total"][0]))
    assert set(logs) == {"l1", "ssim", "loss"}


def test_gaussian_kernel1d_matches_the_metrics_window():
    # Reference: the numpy factor of MATLAB fspecial('gaussian', 11, 1.5) the metrics use.
    from mefkit.metrics.windows import gaussian_kernel1d as numpy_kernel
    from mefkit.metrics.ssim_torch import gaussian_kernel1d

    got = gaussian_kernel1d(11, 1.5, dtype=torch.float64).numpy()
    assert np.allclose(got, numpy_kernel(11, 1.5), atol=1e-15)
    assert abs(got.sum() - 1.0) < 1e-12
