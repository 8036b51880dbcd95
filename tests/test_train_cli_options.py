"""``mefkit train`` option plumbing: --task-param, --grad-clip, --beta2, --schedule, --warmup-steps."""

from __future__ import annotations

from pathlib import Path

import pytest

from mefkit.cli.train import config_from_options, parse_task_params
from mefkit.errors import MefkitError


def test_parse_task_params_reads_json_values_and_falls_back_to_text():
    # Hand-written cases: JSON numbers, booleans, lists and objects parse; other text stays text.
    got = parse_task_params(["lambda_mef=2.5", "mef_scales=3", "flag=true", "widths=[1, 2]",
                             'unet={"base": 8}', "teacher=mitm", "path=/a=b"])
    assert got == {"lambda_mef": 2.5, "mef_scales": 3, "flag": True, "widths": [1, 2],
                   "unet": {"base": 8}, "teacher": "mitm", "path": "/a=b"}
    assert parse_task_params(None) == {}


@pytest.mark.parametrize("bad", ["novalue", "=3", " =x"])
def test_parse_task_params_refuses_items_without_a_key(bad):
    with pytest.raises(MefkitError, match="KEY=VALUE"):
        parse_task_params([bad])


def test_config_from_options_applies_optimiser_and_task_options(tmp_path: Path):
    # The options land in the config fields the engine reads; --task-param overrides
    # the command's own task parameters.
    cfg = config_from_options(out=tmp_path / "run", task="x", task_params={"phase": 2, "lambda_mef": 1.0},
                              synthetic="labels", beta1=0.9, beta2=0.99, grad_clip=1.5,
                              task_param=["lambda_mef=3", "mef_scales=3"])
    assert cfg.optim.betas == (0.9, 0.99)
    assert cfg.optim.grad_clip == 1.5
    assert cfg.task_params == {"phase": 2, "lambda_mef": 3, "mef_scales": 3}
    with pytest.raises(MefkitError, match="grad-clip"):
        config_from_options(out=tmp_path / "run2", synthetic="labels", grad_clip=-1.0)


def test_config_from_options_sets_the_learning_rate_schedule(tmp_path: Path):
    # --schedule and --warmup-steps land in OptimConfig; by default the schedule is constant.
    base = config_from_options(out=tmp_path / "run0", synthetic="labels")
    assert (base.optim.schedule, base.optim.warmup_steps) == ("constant", 0)
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
