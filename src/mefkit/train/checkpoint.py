"""Checkpoints (atomic, complete enough to resume exactly) and loading weights into a model.

A checkpoint is one ``torch.save`` dict: ``step``, ``models`` (name -> state dict of
every trained model), ``optimizer``, ``scaler``, ``rng`` (torch CPU, CUDA, numpy,
python states) and ``config``. It is written to a temporary file in the same folder and
renamed over the old one, so a kill at any moment leaves either the old or the new
checkpoint, never a torn one.
"""

from __future__ import annotations

import random
from pathlib import Path
from typing import Any, Mapping

import numpy as np
import torch
from torch import nn

from ..atomic import atomic_path
from ..errors import MefkitError
from ..nn.weights import read_weights, unwrap

CHECKPOINT_NAME = "checkpoint.pt"


def rng_state() -> dict[str, Any]:
    """Every global RNG state a training step may touch."""
    state = {"torch": torch.get_rng_state(), "numpy": np.random.get_state(), "python": random.getstate()}
    if torch.cuda.is_available() and torch.cuda.is_initialized():
        state["cuda"] = torch.cuda.get_rng_state_all()
    return state


def set_rng_state(state: Mapping[str, Any]) -> None:
    """Restore what :func:`rng_state` captured."""
    torch.set_rng_state(state["torch"])
    np.random.set_state(state["numpy"])
    random.setstate(state["python"])
    if "cuda" in state and torch.cuda.is_available():
        torch.cuda.set_rng_state_all(state["cuda"])


def atomic_torch_save(obj: Any, path: str | Path) -> None:
    """``torch.save`` to ``path`` through a temporary file and an atomic rename."""
    with atomic_path(path) as tmp:
        torch.save(obj, tmp)


def load_checkpoint(path: str | Path) -> dict[str, Any]:
    """Read a checkpoint written by the engine (on the CPU).

    It holds numpy and python RNG states besides tensors, so it is read with
    ``weights_only=False``: only load checkpoints you wrote yourself.
    """
    path = Path(path)
    if not path.is_file():
        raise MefkitError(f"{path}: no checkpoint")
    return torch.load(str(path), map_location="cpu", weights_only=False)


def load_weights(module: nn.Module, path: str | Path, name: str | None = None, strict: bool = True) -> nn.Module:
    """Load weights into ``module`` from a ``.safetensors`` file or an engine checkpoint.

    Parameters
    ----------
    module : nn.Module
    path : path
        ``*.safetensors`` (a plain state dict) or an engine ``checkpoint.pt``.
    name : str, optional
        Which model of the checkpoint (needed when it holds several).
    strict : bool
        Passed to ``load_state_dict``.

    Returns
    -------
    nn.Module
        ``module`` itself.
    """
    path = Path(path)
    if not path.is_file():
        raise MefkitError(f"{path}: weights file not found")
    if path.suffix == ".safetensors":
        try:
            state, _ = read_weights(path)
        except ValueError as exc:
            raise MefkitError(str(exc)) from None
    else:
        ckpt = load_checkpoint(path)
        models = ckpt.get("models", {})
        if name is None:
            if len(models) != 1:
                raise MefkitError(f"{path}: holds models {sorted(models)}; say which one")
            name = next(iter(models))
        if name not in models:
            raise MefkitError(f"{path}: no model {name!r} (has {sorted(models)})")
        state = models[name]
    try:
        unwrap(module).load_state_dict(state, strict=strict)
    except RuntimeError as exc:
        raise MefkitError(f"{path}: weights do not fit the model: {exc}") from None
    return module


def freeze(module: nn.Module) -> nn.Module:
    """``requires_grad_(False)`` and eval mode: a fixed sub-model (e.g. phase 1 in phase 2)."""
    module.requires_grad_(False)
    return module.eval()
