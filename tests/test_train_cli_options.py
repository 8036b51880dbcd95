"""``mefkit train`` option plumbing: --task-param, --grad-clip, --beta2, --schedule, --warmup-steps."""

from __future__ import annotations

import re
from pathlib import Path

import pytest

from mefkit.cli.train import config_from_options
from mefkit.errors import MefkitError


def test_task_params_are_typed_by_the_one_parser(tmp_path: Path):
    # --task-param goes through mefkit.params.parse_params against the task's types:
    # numbers, booleans, JSON objects for dict-valued keys, text for the rest.
    cfg = config_from_options(out=tmp_path / "run", task="progressive-phase1", synthetic="labels",
                              task_param=["lambda_mef=2.5", "mef_scales=3", 'unet={"base": 8}', "mef_form=metric"])
    assert cfg.task_params == {"lambda_mef": 2.5, "mef_scales": 3, "unet": {"base": 8}, "mef_form": "metric"}
    cfg = config_from_options(out=tmp_path / "run2", task="cbm", synthetic="labels",
                              task_param=["variance_weights=false", "gamma=auto", "clip_guard=none"])
    assert cfg.task_params == {"variance_weights": False, "gamma": "auto", "clip_guard": None}


@pytest.mark.parametrize(("item", "message"), [
    ("novalue", "KEY=VALUE"),
    ("=3", "KEY=VALUE"),
    ("mef_scales=2.5", "mef_scales: expected int, got '2.5'"),
    ("lambda_mef=inf", "lambda_mef: expected float, got 'inf'"),
    ("mef_form=fancy", "mef_form: expected one of 'mefnet', 'metric'"),
    ("unet=8", "unet: expected JSON object"),
    ("flag=true", "has no parameter 'flag'"),
])
def test_task_params_refuse_bad_items(tmp_path: Path, item, message):
    with pytest.raises(MefkitError, match=re.escape(message)):
        config_from_options(out=tmp_path / "run", task="progressive-phase2", synthetic="labels", task_param=[item])


def test_config_from_options_applies_optimiser_and_task_options(tmp_path: Path):
    # The options land in the config fields the engine reads; --task-param overrides
    # the command's own task parameters.
    cfg = config_from_options(out=tmp_path / "run", task="progressive-phase2", task_params={"phase": 2, "lambda_mef": 1.0},
                              synthetic="labels", beta1=0.9, beta2=0.99, grad_clip=1.5,
                              task_param=["lambda_mef=3", "mef_scales=3"])
    assert cfg.optim.betas == (0.9, 0.99)
    assert cfg.optim.grad_clip == 1.5
    assert cfg.task_params == {"phase": 2, "lambda_mef": 3, "mef_scales": 3}
    with pytest.raises(MefkitError, match="grad-clip"):
        config_from_options(out=tmp_path / "run2", synthetic="labels", grad_clip=-1.0)


def test_config_from_options_sets_the_learning_rate_schedule(tmp_path: Path):
    # --schedule and --warmup-steps land in OptimConfig; by default the schedule is the
    # task's (None until the engine resolves it; constant for the tiny task).
    from mefkit.train.engine import resolve_defaults
    from mefkit.train.example_task import TinyFusionTask

    base = config_from_options(out=tmp_path / "run0", synthetic="labels")
    assert (base.optim.schedule, base.optim.warmup_steps) == (None, 0)
    assert resolve_defaults(base, TinyFusionTask()).optim.schedule == "constant"
    cfg = config_from_options(out=tmp_path / "run", synthetic="labels", schedule="cosine", warmup_steps=20)
    assert (cfg.optim.schedule, cfg.optim.warmup_steps) == ("cosine", 20)
    with pytest.raises(MefkitError, match="schedule"):
        config_from_options(out=tmp_path / "run2", synthetic="labels", schedule="linear")
    with pytest.raises(MefkitError, match="warmup-steps"):
        config_from_options(out=tmp_path / "run3", synthetic="labels", warmup_steps=-1)


def test_config_from_options_sets_the_pair_draw_options(tmp_path: Path):
    # --under-max-frac / --over-min-frac / --extreme-share land in DataConfig (defaults
    # 0.5 / 0.5 / 0); values out of range are refused with the option's name.
    base = config_from_options(out=tmp_path / "run0", synthetic="labels")
    assert (base.data.under_max_frac, base.data.over_min_frac) == (0.5, 0.5)
    cfg = config_from_options(out=tmp_path / "run", synthetic="labels", under_max_frac=0.25, over_min_frac=0.75)
    assert (cfg.data.under_max_frac, cfg.data.over_min_frac) == (0.25, 0.75)
    with pytest.raises(MefkitError, match="under-max-frac"):
        config_from_options(out=tmp_path / "run2", synthetic="labels", under_max_frac=0.0)
    with pytest.raises(MefkitError, match="over-min-frac"):
        config_from_options(out=tmp_path / "run3", synthetic="labels", over_min_frac=1.5)
    assert config_from_options(out=tmp_path / "run4", synthetic="labels", extreme_share=0.5).data.extreme_share == 0.5
    with pytest.raises(MefkitError, match="extreme-share"):
        config_from_options(out=tmp_path / "run5", synthetic="labels", extreme_share=-0.1)
