"""The differentiable MEF-SSIM against the reference metric (``mefkit.metrics.mef_ssim``)."""

from __future__ import annotations

import numpy as np
import pytest
import torch

import mefkit
from mefkit.example import example_bracket
from mefkit.metrics import mef_ssim
from mefkit.metrics.mef_ssim_torch import mef_ssim_torch

pytestmark = pytest.mark.usefixtures("one_torch_thread")


def _tensor(image: np.ndarray) -> torch.Tensor:
    return torch.from_numpy(np.ascontiguousarray(image, dtype=np.float32)).permute(2, 0, 1)[None]


@pytest.fixture(scope="module")
def bracket() -> list[np.ndarray]:
    """The bundled example bracket (3 real exposures), cropped to an odd-sized 141 x 187 patch."""
    frames = mefkit.read_bracket(example_bracket()).frames
    return [f[40:181, 60:247] for f in frames]


@pytest.mark.parametrize("levels", [1, 2, 3])
@pytest.mark.parametrize("pick", [(0, 2), (0, 1, 2)])
def test_matches_the_reference_metric(bracket, levels, pick):
    # Reference implementation's output on the same input: the numpy metric (itself
    # checked against the authors' per-patch loop) with round_uint8=False, since the
    # torch version scores the float values. Fusions of different quality and a
    # frame itself as the "fused" image (the reference's flat-patch handling).
    frames = [bracket[k] for k in pick]
    for fused in (mefkit.fuse(frames, method="mertens"), np.mean(frames, axis=0), frames[-1]):
        want = mef_ssim(frames, fused, round_uint8=False, levels=levels)
        got = mef_ssim_torch([_tensor(f) for f in frames], _tensor(fused), levels=levels)
        assert got.shape == (1,)
        assert abs(float(got) - want) < 1e-9


def test_batch_items_are_scored_independently(bracket):
    under, over = _tensor(bracket[0]), _tensor(bracket[2])
    fused_a, fused_b = _tensor(mefkit.fuse([bracket[0], bracket[2]], method="mertens")), 0.5 * (under + over)
    both = mef_ssim_torch([torch.cat([under, under]), torch.cat([over, over])], torch.cat([fused_a, fused_b]))
    one = [mef_ssim_torch([under, over], f) for f in (fused_a, fused_b)]
    assert torch.allclose(both, torch.cat(one), atol=1e-12)


def test_gradient_ascent_raises_the_score(bracket):
    # Property: the score is differentiable in the fused image and one small step up
    # its gradient improves it; the exposures get no gradient.
    under, over = _tensor(bracket[0]).requires_grad_(), _tensor(bracket[2])
    fused = (0.5 * (under.detach() + over)).requires_grad_()
    score = mef_ssim_torch([under, over], fused)
    score.sum().backward()
    assert under.grad is None and torch.isfinite(fused.grad).all()
    stepped = (fused + 1e-3 * fused.grad / fused.grad.abs().max()).detach()
    assert float(mef_ssim_torch([under, over], stepped)) > float(score.detach())


def test_bad_arguments_are_refused(bracket):
    under, over = _tensor(bracket[0]), _tensor(bracket[2])
    with pytest.raises(ValueError, match="at least one exposure"):
        mef_ssim_torch([], over)
    with pytest.raises(ValueError, match="shape"):
        mef_ssim_torch([under[..., :100, :100], over], over)
    with pytest.raises(ValueError, match="levels"):
        mef_ssim_torch([under, over], over, levels=4)
    with pytest.raises(ValueError, match="at least 44"):
        mef_ssim_torch([under[..., :40, :], over[..., :40, :]], over[..., :40, :], levels=3)
