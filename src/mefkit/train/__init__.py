"""Training of the learned methods: one engine, its data pipeline and its losses.

* :mod:`mefkit.train.engine`: :class:`Task` (what a method supplies) and
  :class:`Trainer` (the loop: checkpoints, exact resume, AMP, DDP, logs, validation).
  Its module docstring shows how a method plugs in.
* :mod:`mefkit.train.config`: typed dataclass configs saved as ``config.json``.
* :mod:`mefkit.train.data`: torch Datasets of (under, over, label) crops from real
  stacks (:mod:`~mefkit.train.stacks`, labels by :mod:`~mefkit.train.labels`, evaluation
  scenes kept out by :mod:`~mefkit.train.exclusion`), SICE (:mod:`~mefkit.train.sice`)
  and simulated brackets (:mod:`~mefkit.train.synthetic`).
* :mod:`mefkit.train.losses`: L1 + VGG19 perceptual + (1 - SSIM), per-sample weightable.

Names are imported lazily (this file imports neither torch nor the submodules), so a
method module may import from :mod:`mefkit.train` without slowing ``mefkit methods``.
"""

from __future__ import annotations

import importlib
from typing import Any

_EXPORTS = {
    "Task": "engine",
    "TaskParams": "engine",
    "Trainer": "engine",
    "FitResult": "engine",
    "TrainConfig": "config",
    "OptimConfig": "config",
    "LossConfig": "config",
    "DataConfig": "config",
    "save_config": "config",
    "load_config": "config",
    "load_recipe": "config",
    "apply_settings": "config",
    "FusionLoss": "losses",
    "ssim_loss": "losses",
    "weighted_mean": "losses",
    "TrainPairs": "data",
    "ValPairs": "data",
    "DataBundle": "data",
    "StepSampler": "data",
    "build_data": "data",
    "load_weights": "checkpoint",
    "freeze": "checkpoint",
    "find_stacks": "stacks",
    "split_excluded": "stacks",
    "exclusion_reason": "exclusion",
    "build_stack_labels": "labels",
}

__all__ = sorted(_EXPORTS)


def __getattr__(name: str) -> Any:
    module = _EXPORTS.get(name)
    if module is None:
        raise AttributeError(f"module 'mefkit.train' has no attribute {name!r}")
    return getattr(importlib.import_module(f"{__name__}.{module}"), name)
