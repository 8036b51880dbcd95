"""CBM training through the one engine: loss goes down, export loads, weighting switch works."""

from __future__ import annotations

import csv
import json

import cv2
import numpy as np
import pytest
import torch

from mefkit.methods.cbm.unet import load_cbm_unet
from mefkit.methods.cbm.task import CbmTask, with_lightness
from mefkit.train.config import DataConfig, LossConfig, OptimConfig, TrainConfig
from mefkit.train.engine import Trainer

from .conftest import make_bracket


@pytest.fixture
def stacks_root(tmp_path):
    root = tmp_path / "data" / "train_stacks"
    for s in range(3):
        for k, f in enumerate(make_bracket(48, 64, n=4, seed=10 + s)):
            p = root / "src" / f"scene{s}" / f"{k + 1:02d}.png"
            p.parent.mkdir(parents=True, exist_ok=True)
            cv2.imwrite(str(p), np.round(f[:, :, ::-1] * 255).astype(np.uint8))
    return root


def _cfg(tmp_path, stacks_root, steps, **task):
    return TrainConfig(
        task="cbm", out=str(tmp_path / "run"), steps=steps, batch=4, seed=0, device="cpu", amp=False,
        checkpoint_every=1000, val_every=0, log_every=1, progress=False,
        optim=OptimConfig(lr=3e-3),
        loss=LossConfig(lambda_vgg=0.0, lambda_ssim=0.1),
        data=DataConfig(stacks=str(stacks_root), crop=32, max_side=64, val_scenes=1,
                        label_cache=str(tmp_path / "cache")),
        # Mertens labels keep these tests fast; the default teacher (MITM) is tested below
        task_params={"base": 4, "depth": 2, "pairs_per_stack": 3, "teacher": "mertens", **task},
    )


@pytest.mark.slow
def test_training_lowers_the_loss_and_exports_loadable_weights(tmp_path, stacks_root):
    # Property: 40 steps on a tiny stack set lower the mean training loss (first 5 vs
    # last 5 steps); the engine's export loads with the method's loader.
    torch.manual_seed(0)
    cfg = _cfg(tmp_path, stacks_root, 40)
    result = Trainer(CbmTask(cfg.task_params), cfg).fit()
    assert result.step == 40 and not result.interrupted
    with open(tmp_path / "run" / "log.csv") as fh:
        losses = [float(r["loss"]) for r in csv.DictReader(fh)]
    assert np.mean(losses[-5:]) < 0.8 * np.mean(losses[:5])
    model = load_cbm_unet(tmp_path / "run" / "cbm.safetensors")
    assert model.config() == {"base": 4, "depth": 2, "in_channels": 2}
    # the validation pass ran the whole pipeline (RGB out) and scored it
    assert 0 < result.val["ssim"] <= 1 and np.isfinite(result.val["psnr"])


def test_uniform_switch_gives_unit_weights(tmp_path, stacks_root):
    # Oracle: with variance weighting off every patch weight is exactly 1 (plain mean).
    cfg = _cfg(tmp_path, stacks_root, 1, variance_weights=False)
    task = CbmTask(cfg.task_params)
    data = task.build_data(cfg)
    batch = torch.utils.data.default_collate([data.train[k] for k in range(4)])
    torch.testing.assert_close(task.patch_weights(batch), torch.ones(4))
    on = CbmTask({**cfg.task_params, "variance_weights": True}).patch_weights(batch)
    assert on.min() >= 0.25 and on.max() <= 4.0


def test_default_teacher_is_mitm_and_mertens_still_works(tmp_path, stacks_root):
    # Oracle: the paper (Son et al. 2025) trains on MITM labels, so MITM is the default
    # teacher of the task and of `mefkit train cbm`; another teacher is one option away.
    import inspect

    from mefkit.methods.cbm.train_cli import train_cbm
    from mefkit.methods.cbm.task import DEFAULTS

    from mefkit.methods.mitm import WEIGHTS
    from mefkit.nn.weights import file_sha256

    assert DEFAULTS["teacher"] == "mitm" and CbmTask().teacher_spec().name == "mitm"
    assert inspect.signature(train_cbm).parameters["teacher"].default.default is None  # None -> DEFAULTS
    cfg = _cfg(tmp_path, stacks_root, 1, pairs_per_stack=1)
    del cfg.task_params["teacher"]  # the default
    task = CbmTask(cfg.task_params)
    data = task.build_data(cfg)
    shipped = WEIGHTS.path
    assert data.info["teacher"]["teacher"]["name"] == "mitm"
    # the exported weights record which translator weights made their labels
    assert json.loads(task.weight_metadata()["teacher_weights"]) == {shipped.name: file_sha256(shipped)}
    cfg = _cfg(tmp_path / "m", stacks_root, 1, pairs_per_stack=1)
    task = CbmTask(cfg.task_params)
    assert task.build_data(cfg).info["teacher"]["teacher"]["name"] == "mertens"
    assert "teacher_weights" not in task.weight_metadata()  # classic teacher: no weights


def test_lightness_keys_match_opencv_lab():
    # Oracle: L* of OpenCV's Lab / 100, as at test time.
    rgb = np.random.default_rng(0).random((6, 5, 3)).astype(np.float32)
    out = with_lightness({"under": rgb})
    expected = cv2.cvtColor(rgb, cv2.COLOR_RGB2Lab)[..., 0] / 100
    np.testing.assert_allclose(out["l_under"][0].numpy(), expected, atol=1e-6)


def test_vgg_loss_is_refused(tmp_path, stacks_root):
    from mefkit.errors import MefkitError

    cfg = _cfg(tmp_path, stacks_root, 1)
    cfg.loss.lambda_vgg = 0.01
    with pytest.raises(MefkitError, match="lambda-vgg 0"):
        CbmTask(cfg.task_params).setup(cfg, torch.device("cpu"))
