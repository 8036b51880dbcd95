"""Typed task parameters, task training defaults, committed recipes and --set (mefkit.train.config)."""

from pathlib import Path

import pytest

torch = pytest.importorskip("torch")

from mefkit.errors import MefkitError  # noqa: E402
from mefkit.train.config import TrainConfig, apply_settings, load_recipe  # noqa: E402
from mefkit.train.engine import Trainer, resolve_defaults  # noqa: E402

RECIPES = Path(__file__).resolve().parents[1] / "recipes"


def _task(name):
    from mefkit.cli.train import TASKS
    import importlib

    module, cls = TASKS[name]
    return getattr(importlib.import_module(module), cls)


def test_every_task_has_typed_params_with_its_own_defaults():
    cbm = _task("cbm")()
    assert cbm.params.teacher == "mitm" and cbm.params["pairs_per_stack"] == 8 and cbm.params.get("nope", 3) == 3
    mitm = _task("mitm")({"lambda_id": 0.0})
    assert mitm.params.lambda_id == 0.0 and mitm.params.lambda_cyc == 10.0
    assert _task("progressive")().params.mef_form == "mefnet"
    with pytest.raises(MefkitError, match="unknown task parameter.*tacher"):
        _task("cbm")({"tacher": "mertens"})


def test_plain_train_config_takes_each_tasks_training_defaults():
    # Trainer(CbmTask(), TrainConfig()) from Python: CBM's no-VGG and cosine defaults apply,
    # MITM's CycleGAN rate; explicit values always win.
    cbm = resolve_defaults(TrainConfig(), _task("cbm")())
    assert (cbm.loss.lambda_vgg, cbm.optim.schedule, cbm.optim.lr) == (0.0, "cosine", 1e-4)
    mitm = resolve_defaults(TrainConfig(), _task("mitm")())
    assert (mitm.optim.lr, mitm.loss.lambda_vgg, mitm.optim.schedule) == (2e-4, 0.0, "constant")
    explicit = TrainConfig()
    explicit.optim.lr = 5e-3
    assert resolve_defaults(explicit, _task("mitm")()).optim.lr == 5e-3
    trainer = Trainer(_task("cbm")(), TrainConfig(out="unused"))
    assert trainer.cfg.loss.lambda_vgg == 0.0


@pytest.mark.parametrize("path", sorted(RECIPES.glob("*.toml")), ids=lambda p: p.stem)
def test_committed_recipes_load_with_known_settings_and_parameters(path):
    cfg = load_recipe(path)
    name = cfg.task.split("-")[0]
    task = _task(name)(cfg.task_params)  # unknown parameters would raise here
    assert cfg.steps > 0 and (cfg.data.stacks or cfg.data.synthetic)
    if name == "progressive":
        assert cfg.task == f"progressive-phase{task.params.phase}"


def test_recipe_errors_name_the_file_and_the_setting(tmp_path):
    bad = tmp_path / "bad.toml"
    bad.write_text("steps = 10\n[optim]\nlearning_rate = 1e-3\n")
    with pytest.raises(MefkitError, match=r"bad.toml: unknown setting\(s\) optim.learning_rate"):
        load_recipe(bad)
    bad.write_text("steps = = 1\n")
    with pytest.raises(MefkitError, match="not a TOML recipe"):
        load_recipe(bad)


def test_set_overrides_are_typed_by_the_field():
    cfg = load_recipe(RECIPES / "cbm.toml")
    types = _task("cbm").Params.types()
    apply_settings(cfg, ["steps=5", "optim.lr=3e-4", "optim.betas=0.9,0.99", "params.teacher=mertens",
                         "data.label_methods=mertens,dem"], types)
    assert (cfg.steps, cfg.optim.lr, cfg.optim.betas) == (5, 3e-4, (0.9, 0.99))
    assert cfg.task_params["teacher"] == "mertens" and cfg.data.label_methods == ("mertens", "dem")
    with pytest.raises(MefkitError, match="steps"):
        apply_settings(cfg, ["steps=many"], types)
    with pytest.raises(MefkitError, match="no parameter 'params.tacher'"):
        apply_settings(cfg, ["params.tacher=mertens"], types)


def test_cli_train_takes_a_recipe_and_set(tmp_path):
    from mefkit.cli.train import config_from_options

    cfg = config_from_options(out=tmp_path / "run", task="cbm", task_params={}, config=RECIPES / "cbm.toml",
                              settings=["steps=7"], batch=2)
    assert (cfg.task, cfg.steps, cfg.batch, cfg.optim.lr, cfg.data.crop) == ("cbm", 7, 2, 1e-3, 96)
    assert cfg.task_params == {"teacher": "mitm"}
