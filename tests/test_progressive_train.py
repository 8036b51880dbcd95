"""Training the progressive fusion through the engine: loss goes down, phase 1 stays frozen."""

from __future__ import annotations

import cv2
import numpy as np
import pytest

torch = pytest.importorskip("torch")

from mefkit.train.checkpoint import load_weights  # noqa: E402
from mefkit.train.config import DataConfig, LossConfig, OptimConfig, TrainConfig  # noqa: E402
from mefkit.train.engine import Trainer  # noqa: E402
from mefkit.methods.progressive.task import build_task, export_weights, load_phase1  # noqa: E402
from mefkit.errors import MefkitError  # noqa: E402

TINY = {"unet": {"base": 4, "max_ch": 16, "growth": 4, "dense_layers": 1}, "amnet": {"feats": 4, "growth": 4, "layers": 2, "blocks": 1}}


pytestmark = pytest.mark.usefixtures("one_torch_thread")


@pytest.fixture
def image_dir(tmp_path):
    """Two small well-exposed images for simulated brackets."""
    folder = tmp_path / "images"
    folder.mkdir()
    yy, xx = np.mgrid[0:64, 0:64].astype(np.float32)
    for k in range(2):
        img = 0.5 + 0.4 * np.sin(xx / (4 + k))[..., None] * np.cos(yy / 6)[..., None] * np.array([1, 0.8, 0.6])
        cv2.imwrite(str(folder / f"img{k}.png"), np.clip(img * 255, 0, 255).astype(np.uint8))
    return folder


def _cfg(out, image_dir, phase, steps, lr=2e-3, extra=None, residual=True):
    return TrainConfig(
        task=f"progressive-phase{phase}",
        out=str(out),
        steps=steps,
        batch=4,
        seed=3,
        device="cpu",
        checkpoint_every=0,
        val_every=0,
        progress=False,
        optim=OptimConfig(lr=lr, betas=(0.9, 0.999)),
        loss=LossConfig(lambda_vgg=0.0, lambda_ssim=0.1),
        data=DataConfig(synthetic=str(image_dir), crop=32, val_scenes=0),
        task_params={"phase": phase, **TINY, **(extra or {}), "unet": {**TINY["unet"], "residual": residual}},
    )


def _fixed_batch(task, cfg):
    data = task.build_data(cfg)
    items = [data.train[k] for k in range(4)]
    return {k: torch.stack([it[k] for it in items]) for k in ("under", "over", "label")}


def _phase1_task(tmp_path, image_dir, extra):
    """A set-up phase-1 task with ``extra`` task parameters, its fixed batch and fresh models."""
    cfg = _cfg(tmp_path / "p1", image_dir, 1, 1, extra=extra)
    task = build_task(cfg.task_params)
    task.setup(cfg, torch.device("cpu"))
    return task, _fixed_batch(task, cfg), task.build_models()


@pytest.mark.slow
def test_a_few_phase1_steps_lower_the_loss(tmp_path, image_dir):
    # Property: 10 Adam steps on simulated pairs lower the task loss on a fixed batch
    # (compared with the engine's initial weights, rebuilt from the same seed).
    cfg = _cfg(tmp_path / "p1", image_dir, phase=1, steps=10, lr=1e-2, residual=False)
    task = build_task(cfg.task_params)
    task.setup(cfg, torch.device("cpu"))
    batch = _fixed_batch(task, cfg)
    torch.manual_seed(cfg.seed)  # the engine seeds like this right before build_models
    models = task.build_models()
    with torch.no_grad():
        before = float(task.loss(models, batch)[0])
    Trainer(build_task(cfg.task_params), cfg).fit()
    load_weights(models["unet"], tmp_path / "p1" / "unet.safetensors")
    with torch.no_grad():
        after = float(task.loss(models, batch)[0])
    assert after < 0.8 * before


def test_phase2_trains_amnet_and_leaves_phase1_unchanged(tmp_path, image_dir):
    # Property (decoupled training): after phase 2, the frozen UNet's weights equal
    # the phase-1 file bit for bit, and AMNet's weights moved.
    Trainer(build_task(_cfg(tmp_path / "p1", image_dir, 1, 3).task_params), _cfg(tmp_path / "p1", image_dir, 1, 3)).fit()
    p1 = tmp_path / "p1" / "unet.safetensors"
    cfg2 = _cfg(tmp_path / "p2", image_dir, 2, 3, extra={"phase1_weights": str(p1)})
    task2 = build_task(cfg2.task_params)
    Trainer(task2, cfg2).fit()
    reference = load_phase1(p1)
    ckpt = torch.load(tmp_path / "p2" / "checkpoint.pt", weights_only=False)
    assert set(ckpt["models"]) == {"amnet"}  # phase 1 is not trained, not checkpointed
    torch.manual_seed(cfg2.seed)
    fresh_amnet = task2.build_models()["amnet"].state_dict()
    moved = [not torch.equal(v, fresh_amnet[k]) for k, v in ckpt["models"]["amnet"].items()]
    assert any(moved)
    # The frozen model used during phase 2 is rebuilt from the file; the file is unchanged
    # and a reload equals the original, also when given the phase-1 run folder.
    again = load_phase1(p1)
    for (k, a), (_, b) in zip(again.state_dict().items(), load_phase1(tmp_path / "p1").state_dict().items()):
        assert torch.equal(a, b), k
    for (k, a), (_, b) in zip(reference.state_dict().items(), again.state_dict().items()):
        assert torch.equal(a, b), k
    # And the combined export runs both phases.
    out = export_weights(p1, tmp_path / "p2" / "amnet.safetensors", tmp_path / "both.safetensors")
    from mefkit.methods.progressive import load_weights as load_combined

    model = load_combined(out)
    for k, v in reference.state_dict().items():
        assert torch.equal(model.unet.state_dict()[k], v), k
    x = torch.rand(1, 3, 20, 24)
    with torch.no_grad():
        assert model(x * 0.3, x * 0.3 + 0.6, phase=2).shape == (1, 3, 20, 24)


def test_phase2_frozen_unet_has_no_gradient_and_eval_mode(tmp_path, image_dir):
    # Property: in a phase-2 step the UNet gets no gradient (frozen), AMNet does.
    Trainer(build_task(_cfg(tmp_path / "p1", image_dir, 1, 2).task_params), _cfg(tmp_path / "p1", image_dir, 1, 2)).fit()
    cfg2 = _cfg(tmp_path / "p2", image_dir, 2, 1, extra={"phase1_weights": str(tmp_path / "p1" / "unet.safetensors")})
    task = build_task(cfg2.task_params)
    task.setup(cfg2, torch.device("cpu"))
    from mefkit.train.checkpoint import freeze

    models = {**task.build_models(), **{k: freeze(m) for k, m in task.build_frozen().items()}}
    loss, _ = task.loss(models, _fixed_batch(task, cfg2))
    loss.backward()
    assert all(p.grad is None for p in models["unet"].parameters())
    assert not models["unet"].training
    assert any(p.grad is not None and p.grad.abs().sum() > 0 for p in models["amnet"].parameters())


def test_phase2_without_phase1_weights_is_refused():
    with pytest.raises(MefkitError, match="phase1_weights"):
        build_task({"phase": 2})
    with pytest.raises(ValueError, match="phase must be"):
        build_task({"phase": 3})


def test_mef_ssim_loss_oracles():
    # Hand-derived: if the fused image IS the exposure with the larger local variance
    # everywhere, every q = (2 var + C2) / (2 var + C2) = 1, so the loss is 0; a flat
    # fused image has no structure (loss > 0); the frame order does not matter.
    from mefkit.train.losses import mef_ssim_loss

    g = torch.Generator().manual_seed(0)
    over = torch.rand(2, 3, 32, 40, generator=g)
    under = 0.5 * over  # a quarter of the variance at every position
    assert torch.allclose(mef_ssim_loss([under, over], over), torch.zeros(2), atol=1e-5)
    flat = mef_ssim_loss([under, over], torch.full_like(over, 0.5))
    assert (flat > 0.5).all()
    assert torch.allclose(mef_ssim_loss([under, over], under), mef_ssim_loss([over, under], under))


def test_lambda_mef_adds_the_structure_term(tmp_path, image_dir):
    # Property: with lambda_mef the task loss is the engine loss plus lambda * term.
    task, batch, models = _phase1_task(tmp_path, image_dir, {"lambda_mef": 0.5})
    with torch.no_grad():
        loss, logs = task.loss(models, batch)
        base, _ = task.criterion(task.forward(models, batch), batch["label"])
    assert abs(float(loss) - (float(base) + 0.5 * logs["mef"])) < 1e-5


def test_multiscale_mef_ssim_loss_oracles():
    # Hand-derived: the fused image equal to the higher-variance exposure scores 0 at
    # every scale (2x2 means keep "over = 2 * under" exact), so the weighted sum is 0;
    # one scale equals the single-scale call; a flat image scores worse at 3 scales;
    # more scales than the metric has, or images smaller than the window, are refused.
    from mefkit.train.losses import mef_ssim_loss

    g = torch.Generator().manual_seed(1)
    over = torch.rand(2, 3, 48, 48, generator=g)
    under = 0.5 * over
    assert torch.allclose(mef_ssim_loss([under, over], over, scales=3), torch.zeros(2), atol=1e-5)
    assert torch.equal(mef_ssim_loss([under, over], under, scales=1), mef_ssim_loss([under, over], under))
    assert (mef_ssim_loss([under, over], torch.full_like(over, 0.5), scales=3) > 0.5).all()
    with pytest.raises(ValueError, match="scales"):
        mef_ssim_loss([under, over], over, scales=4)
    with pytest.raises(ValueError, match="at least 11"):
        mef_ssim_loss([under[..., :30, :30], over[..., :30, :30]], over[..., :30, :30], scales=3)


def test_mef_ssim_loss_gradient_flows_to_the_fused_image():
    # Property: the term is differentiable in the prediction (it is a training loss).
    from mefkit.train.losses import mef_ssim_loss

    g = torch.Generator().manual_seed(2)
    over = torch.rand(1, 3, 48, 48, generator=g)
    fused = torch.full_like(over, 0.5).requires_grad_(True)
    fused.data += 0.01 * torch.rand(fused.shape, generator=g)
    mef_ssim_loss([0.5 * over, over], fused, scales=3).sum().backward()
    assert fused.grad is not None and fused.grad.abs().sum() > 0


def test_init_weights_starts_phase2_from_a_trained_amnet(tmp_path, image_dir):
    # Property (fine-tuning): with init_weights, build_models returns an AMNet equal to
    # the given file (engine export or combined file), trainable; without it, a fresh init.
    p1cfg = _cfg(tmp_path / "p1", image_dir, 1, 1)
    Trainer(build_task(p1cfg.task_params), p1cfg).fit()
    p1 = tmp_path / "p1" / "unet.safetensors"
    cfg2 = _cfg(tmp_path / "p2", image_dir, 2, 2, extra={"phase1_weights": str(p1)})
    Trainer(build_task(cfg2.task_params), cfg2).fit()
    p2 = tmp_path / "p2" / "amnet.safetensors"
    combined = export_weights(p1, p2, tmp_path / "both.safetensors")
    trained = load_weights(build_task(cfg2.task_params).build_models()["amnet"], p2, name="amnet").state_dict()
    for source in (p2, combined, tmp_path / "p2" / "checkpoint.pt"):
        task = build_task({**cfg2.task_params, "init_weights": str(source)})
        amnet = task.build_models()["amnet"]
        assert all(p.requires_grad for p in amnet.parameters())
        for k, v in trained.items():
            assert torch.equal(amnet.state_dict()[k], v), (source.name, k)
    fresh = build_task(cfg2.task_params).build_models()["amnet"].state_dict()
    assert any(not torch.equal(fresh[k], v) for k, v in trained.items())
    with pytest.raises(MefkitError, match="not found"):
        build_task({**cfg2.task_params, "init_weights": str(tmp_path / "missing.safetensors")}).build_models()


def test_mef_form_metric_uses_the_metric_itself(tmp_path, image_dir):
    # With mef_form "metric" the logged term is 1 - the reference metric's score of the
    # prediction against the batch's pairs (mean over the batch, round_uint8=False);
    # an unknown form is refused when the task is built.
    from mefkit.metrics import mef_ssim

    task, batch, models = _phase1_task(tmp_path, image_dir, {"lambda_mef": 0.5, "mef_scales": 2, "mef_form": "metric"})
    with torch.no_grad():
        _, logs = task.loss(models, batch)
        pred = task.forward(models, batch)
    hwc = lambda t: t.permute(1, 2, 0).double().numpy()  # noqa: E731
    want = np.mean([1 - mef_ssim([hwc(batch["under"][i]), hwc(batch["over"][i])], hwc(pred[i]),
                                 round_uint8=False, levels=2) for i in range(len(pred))])
    assert abs(logs["mef"] - want) < 1e-6
    with pytest.raises(MefkitError, match="mef_form"):
        build_task({"phase": 1, "mef_form": "exact"})
