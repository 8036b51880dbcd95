"""The training engine: loss goes down, exact resume, frozen sub-models, config, signals, DDP."""

from __future__ import annotations

import csv
import json
import os
import signal

import numpy as np
import pytest
import torch

from mefkit.errors import MefkitError
from mefkit.train.config import DataConfig, LossConfig, OptimConfig, TrainConfig, load_config
from mefkit.train.data import DataBundle, TrainPairs, ValPairs
from mefkit.train.engine import Trainer
from mefkit.train.example_task import TinyFusionNet, TinyFusionTask
from tests.conftest import make_bracket


class ArraySource:
    """Random crops of one small in-memory bracket (fast, no files)."""

    name = "array"

    def __init__(self, seed: int = 0):
        frames = make_bracket(48, 48, n=3, seed=seed)
        self.images = {"under": frames[0], "over": frames[2], "label": frames[1]}

    def __len__(self) -> int:
        return 1

    def sample(self, rng, crop, flips, with_mid):
        from mefkit.train.data import _crop_all

        return _crop_all(dict(self.images), rng, crop, flips)


class ArrayTask(TinyFusionTask):
    """The toy task on in-memory data, plus a validation pair."""

    def build_data(self, cfg, on_progress=None):
        src = ArraySource()
        val = ValPairs([("whole", {k: v.copy() for k, v in src.images.items()})])
        return DataBundle(TrainPairs([(src, 1.0)], seed=cfg.seed, crop=cfg.data.crop), val, {})


def _cfg(out, steps, **kw) -> TrainConfig:
    base = dict(task="tiny", out=str(out), steps=steps, batch=2, seed=5, device="cpu", checkpoint_every=100,
                val_every=0, log_every=1, progress=False, data=DataConfig(crop=24),
                loss=LossConfig(lambda_vgg=0.0, lambda_ssim=0.1), optim=OptimConfig(lr=1e-3),
                task_params={"width": 4})
    base.update(kw)
    return TrainConfig(**base)


def _state(out):
    return torch.load(os.path.join(out, "checkpoint.pt"), weights_only=False)


@pytest.mark.slow  # the first optimiser in a process imports torch._dynamo (seconds); the steps are fast
def test_few_steps_lower_the_loss(tmp_path):
    # Property: on one fixed batch (crop = the whole 48x48 image, no flips), Adam at lr 1e-2
    # must reduce L1 + SSIM over 25 steps.
    class FixedCrop(ArrayTask):
        def build_data(self, cfg, on_progress=None):
            return DataBundle(TrainPairs([(ArraySource(), 1.0)], seed=cfg.seed, crop=48, flips=False), None, {})

    task = FixedCrop({"width": 8})
    cfg = _cfg(tmp_path / "run", 25, optim=OptimConfig(lr=1e-2), task_params={"width": 8})
    Trainer(task, cfg).fit()
    with open(tmp_path / "run" / "log.csv", newline="") as fh:
        losses = [float(r["loss"]) for r in csv.DictReader(fh)]
    assert len(losses) == 25
    assert np.mean(losses[-5:]) < 0.8 * np.mean(losses[:3])


def test_resume_is_exact(tmp_path):
    # Oracle: an uninterrupted 6-step run. 3 steps + resume to 6 must give bit-identical
    # model and optimizer tensors, and the same log rows.
    Trainer(ArrayTask({"width": 4}), _cfg(tmp_path / "full", 6)).fit()
    Trainer(ArrayTask({"width": 4}), _cfg(tmp_path / "split", 3)).fit()
    Trainer(ArrayTask({"width": 4}), _cfg(tmp_path / "split", 6), resume=True).fit()
    a, b = _state(tmp_path / "full"), _state(tmp_path / "split")
    assert a["step"] == b["step"] == 6
    for k, v in a["models"]["net"].items():
        assert torch.equal(v, b["models"]["net"][k]), k
    for k, st in a["optimizer"]["state"].items():
        for name in ("exp_avg", "exp_avg_sq"):
            assert torch.equal(st[name], b["optimizer"]["state"][k][name])
    full_log = (tmp_path / "full" / "log.csv").read_text().splitlines()
    split_log = (tmp_path / "split" / "log.csv").read_text().splitlines()
    strip = lambda rows: [r.split(",")[:1] + r.split(",")[2:] for r in rows]  # noqa: E731 - drop time
    assert strip(full_log) == strip(split_log)


def test_sigterm_stops_saves_and_resumes_exactly(tmp_path):
    # Oracle: the uninterrupted run. A SIGTERM during step 2 finishes that step, writes the
    # checkpoint at step 2 and stops; resuming to 5 steps matches 5 uninterrupted steps.
    class KillAtStep2(ArrayTask):
        calls = 0

        def loss(self, models, batch):
            KillAtStep2.calls += 1
            if KillAtStep2.calls == 2:
                os.kill(os.getpid(), signal.SIGTERM)
            return super().loss(models, batch)

    Trainer(ArrayTask({"width": 4}), _cfg(tmp_path / "full", 5)).fit()
    result = Trainer(KillAtStep2({"width": 4}), _cfg(tmp_path / "killed", 5)).fit()
    assert result.interrupted and result.step == 2
    assert _state(tmp_path / "killed")["step"] == 2
    assert not (tmp_path / "killed" / "net.safetensors").exists()  # weights export only when finished
    Trainer(ArrayTask({"width": 4}), _cfg(tmp_path / "killed", 5), resume=True).fit()
    a, b = _state(tmp_path / "full"), _state(tmp_path / "killed")
    for k, v in a["models"]["net"].items():
        assert torch.equal(v, b["models"]["net"][k]), k


def test_frozen_submodel_unchanged(tmp_path):
    # Property: a frozen sub-model's weights are bit-identical after training, have no
    # gradient and stay in eval mode, while the trained model changes.
    Trainer(ArrayTask({"width": 4}), _cfg(tmp_path / "p1", 2)).fit()
    p1 = str(tmp_path / "p1" / "net.safetensors")
    before = TinyFusionNet(4)
    from mefkit.train.checkpoint import load_weights

    load_weights(before, p1)
    seen = {}

    class Phase2(ArrayTask):
        def loss(self, models, batch):
            seen["teacher"] = models["teacher"]
            seen["training"] = models["teacher"].training
            seen["grad"] = any(p.requires_grad for p in models["teacher"].parameters())
            return super().loss(models, batch)

    task = Phase2({"width": 4, "frozen_weights": p1})
    Trainer(task, _cfg(tmp_path / "p2", 3, task_params={"width": 4, "frozen_weights": p1})).fit()
    assert (seen["training"], seen["grad"]) == (False, False)
    after = _state(tmp_path / "p2")
    assert "teacher" not in after["models"]  # frozen models are not checkpointed as trained ones
    teacher_now = seen["teacher"].state_dict()
    for k, v in before.state_dict().items():
        assert torch.equal(v, teacher_now[k]), k
    trained = after["models"]["net"]
    assert any(not torch.equal(trained[k], v) for k, v in before.state_dict().items())


def test_config_saved_and_checks(tmp_path):
    # Property: config.json round-trips to the same dataclass; a second run into the same folder
    # is refused without --resume; a resume that changes the result-defining config is refused.
    cfg = _cfg(tmp_path / "run", 2)
    Trainer(ArrayTask({"width": 4}), cfg).fit()
    saved = load_config(tmp_path / "run" / "config.json")
    assert saved == cfg
    assert json.loads((tmp_path / "run" / "config.json").read_text())["optim"]["betas"] == [0.5, 0.999]
    with pytest.raises(MefkitError, match="--resume"):
        Trainer(ArrayTask({"width": 4}), _cfg(tmp_path / "run", 4)).fit()
    changed = _cfg(tmp_path / "run", 4, optim=OptimConfig(lr=5e-4))
    with pytest.raises(MefkitError, match="optim"):
        Trainer(ArrayTask({"width": 4}), changed, resume=True).fit()


def test_missing_vgg_stops_at_start(tmp_path):
    # The run stops before any step or checkpoint when lambda_vgg > 0 has no weights.
    from mefkit.train.losses import MissingVGGWeights

    cfg = _cfg(tmp_path / "run", 2, loss=LossConfig(lambda_vgg=0.01))
    with pytest.raises(MissingVGGWeights, match="--vgg-weights"):
        Trainer(ArrayTask({"width": 4}), cfg).fit()
    assert not (tmp_path / "run" / "checkpoint.pt").exists()


def test_validation_pass_writes_metrics(tmp_path):
    # Property: val.csv has PSNR (and SSIM / MEF-SSIM when mefkit.metrics is present) per item
    # plus a mean row; validation does not disturb the training RNG (same weights as without).
    Trainer(ArrayTask({"width": 4}), _cfg(tmp_path / "val", 4, val_every=2)).fit()
    Trainer(ArrayTask({"width": 4}), _cfg(tmp_path / "noval", 4, val_every=0)).fit()
    rows = (tmp_path / "val" / "val.csv").read_text().splitlines()
    header = rows[0].split(",")
    assert header[:3] == ["step", "item", "psnr"]
    assert len(rows) == 1 + 2 * 2  # steps 2 and 4: one item + the mean each
    assert all(float(r.split(",")[2]) > 5 for r in rows[1:])
    a, b = _state(tmp_path / "val"), _state(tmp_path / "noval")
    for k, v in a["models"]["net"].items():
        assert torch.equal(v, b["models"]["net"][k])


def _ddp_worker(rank: int, world: int, out: str, port: int) -> None:
    os.environ.update(RANK=str(rank), LOCAL_RANK=str(rank), WORLD_SIZE=str(world),
                      MASTER_ADDR="127.0.0.1", MASTER_PORT=str(port))
    torch.set_num_threads(1)
    cfg = _cfg(out, 3)
    result = Trainer(ArrayTask({"width": 4}), cfg).fit()
    torch.save({"step": result.step}, os.path.join(out, f"rank{rank}.pt"))


@pytest.mark.slow
def test_ddp_gloo_two_processes(tmp_path):
    # Property: with torchrun's environment (world size 2, gloo on CPU) both ranks finish the
    # same number of steps, rank 0 alone writes the checkpoint, and the gradients were
    # averaged: the result equals one process training on both ranks' samples (batch 4).
    import socket

    import torch.multiprocessing as mp

    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    out = str(tmp_path / "ddp")
    mp.spawn(_ddp_worker, args=(2, out, port), nprocs=2, join=True)
    assert torch.load(os.path.join(out, "rank0.pt"))["step"] == 3
    assert torch.load(os.path.join(out, "rank1.pt"))["step"] == 3
    ddp = _state(out)
    Trainer(ArrayTask({"width": 4}), _cfg(tmp_path / "single", 3, batch=4)).fit()
    single = _state(tmp_path / "single")
    for k, v in single["models"]["net"].items():
        assert torch.allclose(v, ddp["models"]["net"][k], atol=1e-6), k


def test_fresh_start_ignores_stale_data_record(tmp_path):
    # Property: data.json left by an attempt that died before its first checkpoint is removed
    # on a fresh start (only a resume reuses it).
    out = tmp_path / "run"
    out.mkdir()
    (out / "data.json").write_text('{"stacks": "stale"}')
    Trainer(ArrayTask({"width": 4}), _cfg(out, 1)).fit()
    assert not (out / "data.json").exists()  # ArrayTask writes none; the stale one is gone


def test_worker_count_does_not_change_the_run(tmp_path):
    # Property (what resume and DDP rely on): samples depend only on (seed, key), so loading
    # in a worker process gives bit-identical weights to loading in the training process.
    Trainer(ArrayTask({"width": 4}), _cfg(tmp_path / "w0", 3, num_workers=0)).fit()
    Trainer(ArrayTask({"width": 4}), _cfg(tmp_path / "w1", 3, num_workers=1)).fit()
    a, b = _state(tmp_path / "w0"), _state(tmp_path / "w1")
    for k, v in a["models"]["net"].items():
        assert torch.equal(v, b["models"]["net"][k]), k


def test_log_columns_follow_task_logs(tmp_path):
    # Property: a task's own log keys become log.csv columns (CBM/MITM log other terms).
    class ExtraLogs(ArrayTask):
        def loss(self, models, batch):
            loss, logs = super().loss(models, batch)
            return loss, {**logs, "gan": 0.5}

    Trainer(ExtraLogs({"width": 4}), _cfg(tmp_path / "run", 2)).fit()
    lines = (tmp_path / "run" / "log.csv").read_text().splitlines()
    assert lines[0].split(",") == ["step", "time_s", "lr", "l1", "ssim", "loss", "gan"]
    assert len(lines) == 3 and lines[2].split(",")[-1] == "0.5"


def test_learning_rate_schedule_in_the_log(tmp_path):
    # Hand-computed: lr 1e-3, 2 warm-up steps, cosine over the remaining 4 of 6 steps.
    # Logged step s is the step just run (1-based), so its rate is that of 0-based step s-1:
    # warm-up 5e-4, 1e-3; then 1e-3 * (1 + cos(pi * k / 4)) / 2 for k = 0..3.
    import math

    cfg = _cfg(tmp_path / "run", 6, optim=OptimConfig(lr=1e-3, schedule="cosine", warmup_steps=2))
    Trainer(ArrayTask({"width": 4}), cfg).fit()
    with open(tmp_path / "run" / "log.csv") as f:
        got = [float(row["lr"]) for row in csv.DictReader(f)]
    want = [5e-4, 1e-3] + [1e-3 * (1 + math.cos(math.pi * k / 4)) / 2 for k in range(4)]
    assert got == pytest.approx(want, rel=1e-5)  # log.csv keeps 6 significant digits
