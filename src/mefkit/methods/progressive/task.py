"""The progressive-fusion :class:`~mefkit.train.engine.Task`: decoupled two-phase training.

Phase 1 trains :class:`~mefkit.methods.progressive.network.IntermediateUNet` on ``(under, over) ->
label``; phase 2 trains :class:`~mefkit.methods.progressive.network.AMNet` on ``(under, I_inter,
over) -> label`` with phase 1 loaded and frozen (the thesis's decoupled training).

Task parameters (``TrainConfig.task_params``, typed by :class:`ProgressiveParams`):

* ``phase``: 1 or 2.
* ``size``: ``"default"`` (the shipped CPU-sized networks) or ``"thesis"``.
* ``width``: shorthand for the UNet's base width (channels cap at 8x) and AMNet's
  feature count.
* ``unet`` / ``amnet``: dicts overriding single fields of the chosen
  :class:`~mefkit.methods.progressive.network.UNetConfig` / :class:`~mefkit.methods.progressive.network.AMNetConfig`.
* ``lambda_mef``: weight of an extra no-reference structure term, ``1 - MEF-SSIM``
  of the prediction against its own input pair (:func:`mefkit.train.losses.mef_ssim_loss`).
  Default 0 (the thesis's loss alone).
* ``mef_scales``: pyramid levels of that term, 1 (default) to 3.
* ``mef_form``: ``"mefnet"`` (default): :func:`mefkit.metrics.mef_ssim_torch.mef_ssim_mefnet`, MEFNet's form (the
  structure of the exposure with the largest local variance, scales as a weighted
  sum); ``"metric"``: ``1 -`` the metric itself (:func:`mefkit.metrics.mef_ssim_torch.mef_ssim_torch`:
  the desired patch blends the exposures' structures by their consistency, scales
  as the metric's product of powers), the score mefkit reports.
* ``init_weights``: start the trained model (phase 1's UNet or phase 2's AMNet) from
  these weights instead of a random init, to fine-tune: an engine export, a
  ``checkpoint.pt`` or a combined file from :func:`export_weights`. A ``--resume``
  still restores the checkpoint over it.
* ``phase1_weights`` (phase 2): phase 1's weights: the engine's ``unet.safetensors``,
  a phase-1 ``checkpoint.pt``, or a combined file from :func:`export_weights`. The
  UNet's widths are read from the file's metadata when it has them.

Use::

    from mefkit.methods.progressive.task import build_task
    task = build_task({"phase": 1})                       # -> Trainer(task, cfg).fit()
    export_weights("p1/unet.safetensors", "p2/amnet.safetensors", "progressive_v1.safetensors")
"""

from __future__ import annotations

import dataclasses
import json
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Literal

import torch
from torch import nn

from ...errors import MefkitError
from .network import (
    DEFAULT_AMNET,
    DEFAULT_UNET,
    THESIS_AMNET,
    THESIS_UNET,
    AMNet,
    AMNetConfig,
    IntermediateUNet,
    UNetConfig,
)
from ...train.checkpoint import load_weights
from ...train.engine import Task, TaskParams
from ...train.losses import MEF_FORMS, mef_ssim_loss

SIZES = {"default": (DEFAULT_UNET, DEFAULT_AMNET), "thesis": (THESIS_UNET, THESIS_AMNET)}


def unet_config(params: dict[str, Any]) -> UNetConfig:
    """Phase-1 widths from task parameters (``size`` preset, then ``unet`` overrides)."""
    base = SIZES[params.get("size", "default")][0]
    if params.get("width"):
        base = dataclasses.replace(base, base=int(params["width"]), max_ch=8 * int(params["width"]))
    return dataclasses.replace(base, **params.get("unet", {}))


def amnet_config(params: dict[str, Any]) -> AMNetConfig:
    """Phase-2 widths from task parameters (``size`` preset, then ``amnet`` overrides)."""
    base = SIZES[params.get("size", "default")][1]
    if params.get("width"):
        base = dataclasses.replace(base, feats=int(params["width"]))
    return dataclasses.replace(base, **params.get("amnet", {}))


def _file_metadata(path: Path) -> dict[str, str]:
    if path.suffix != ".safetensors":
        return {}
    from safetensors import safe_open

    with safe_open(str(path), framework="pt") as f:
        return dict(f.metadata() or {})


def load_phase1(path: str | Path, params: dict[str, Any] | None = None) -> IntermediateUNet:
    """Build phase 1 from an engine export, a checkpoint, a combined weights file or a phase-1 run folder.

    The UNet's widths come from the file's ``unet_config`` metadata when present,
    else from ``params`` (:func:`unet_config`).
    """
    return _load_part(path, "unet", params)


def load_phase2(path: str | Path, params: dict[str, Any] | None = None) -> AMNet:
    """Build phase 2 from an engine export, a checkpoint, a combined weights file or a phase-2 run folder.

    The AMNet's widths come from the file's ``amnet_config`` metadata when present,
    else from ``params`` (:func:`amnet_config`).
    """
    return _load_part(path, "amnet", params)


#: Per part: the network class, its config class, the config from task parameters.
_PARTS = {"unet": (IntermediateUNet, UNetConfig, unet_config), "amnet": (AMNet, AMNetConfig, amnet_config)}


def _load_part(path: str | Path, part: str, params: dict[str, Any] | None) -> nn.Module:
    """One trainable network (``part`` "unet" or "amnet") from any of the weight files above."""
    cls, cfg_cls, from_params = _PARTS[part]
    path = Path(path)
    if path.is_dir():  # a run folder: its engine export
        path = path / f"{part}.safetensors"
    if not path.is_file():
        hint = " (train phase 1 first, or pass phase1_weights)" if part == "unet" else ""
        raise MefkitError(f"{path}: {part} weights not found{hint}")
    meta = _file_metadata(path)
    if meta.get("format", "").startswith("mefkit-progressive"):
        from . import load_weights as load_combined

        trained = getattr(load_combined(path), part)
        if trained is None:
            raise MefkitError(f"{path}: holds phase 1 only, no AMNet")
        model = cls(trained.config)  # a fresh, trainable copy: the loader caches a frozen model
        model.load_state_dict({k: v.float() for k, v in trained.state_dict().items()})
        return model
    key = f"{part}_config"
    cfg = cfg_cls(**json.loads(meta[key])) if key in meta else from_params(params or {})
    return load_weights(cls(cfg), path, name=part)


@dataclass
class ProgressiveParams(TaskParams):
    """Progressive fusion's task parameters (``cfg.task_params``; see the module docstring)."""

    phase: int = 1
    size: Literal["default", "thesis"] = "default"
    width: int | None = None
    unet: dict = field(default_factory=dict)
    amnet: dict = field(default_factory=dict)
    lambda_mef: float = 0.0
    mef_scales: int = 1
    mef_form: Literal["mefnet", "metric"] = "mefnet"
    init_weights: str | None = None
    phase1_weights: str | None = None


class ProgressiveTask(Task):
    """Engine task for one phase of the progressive fusion (see the module docstring)."""

    name = "progressive"
    symmetric = False  # two separate encoders: the darker frame must come first
    with_mid = False

    Params = ProgressiveParams

    def __init__(self, params: dict[str, Any] | ProgressiveParams | None = None):
        super().__init__(params)
        self.phase = int(self.params.get("phase", 1))
        if self.phase not in (1, 2):
            raise ValueError(f"phase must be 1 or 2, got {self.phase}")
        if self.phase == 2 and not self.params.get("phase1_weights"):
            raise MefkitError("phase 2 needs phase1_weights (the phase-1 run's unet.safetensors)")
        self.name = f"progressive-phase{self.phase}"
        self.mef_form = str(self.params.get("mef_form", "mefnet"))
        if self.mef_form not in MEF_FORMS:
            raise MefkitError(f"mef_form must be one of {', '.join(MEF_FORMS)}, got {self.mef_form!r}")

    def build_models(self) -> dict[str, nn.Module]:
        init = self.params.get("init_weights")
        if self.phase == 1:
            if init:
                return {"unet": load_phase1(init, self.params)}
            return {"unet": IntermediateUNet(unet_config(self.params))}
        if init:
            return {"amnet": load_phase2(init, self.params)}
        return {"amnet": AMNet(amnet_config(self.params))}

    def build_frozen(self) -> dict[str, nn.Module]:
        if self.phase == 1:
            return {}
        return {"unet": load_phase1(self.params["phase1_weights"], self.params)}

    def forward(self, models: dict[str, nn.Module], batch: dict[str, Any]) -> torch.Tensor:
        under, over = batch["under"], batch["over"]
        inter = models["unet"](under, over)
        if self.phase == 1:
            return inter
        return models["amnet"](under, inter, over)

    def loss(self, models: dict[str, nn.Module], batch: dict[str, Any]) -> tuple[torch.Tensor, dict[str, float]]:
        pred = self.forward(models, batch)
        loss, logs = self.criterion(pred, batch["label"])
        lam = float(self.params.get("lambda_mef", 0.0))
        if lam > 0:
            scales = int(self.params.get("mef_scales", 1))
            frames = [batch["under"], batch["over"]]
            mef = mef_ssim_loss(frames, pred, scales=scales, form=self.mef_form).mean().float()
            loss = loss + lam * mef
            logs = {**logs, "mef": float(mef.detach()), "loss": float(loss.detach())}
        return loss, logs

    def weight_metadata(self) -> dict[str, Any]:
        meta: dict[str, Any] = {"params": self.params.to_dict(), "phase": self.phase}
        if self.phase == 1:
            meta["unet_config"] = dataclasses.asdict(unet_config(self.params))
        else:
            meta["amnet_config"] = dataclasses.asdict(amnet_config(self.params))
        return meta


def build_task(params: dict[str, Any] | None = None) -> ProgressiveTask:
    """A task from its parameters (``params["phase"]`` picks the phase)."""
    return ProgressiveTask(params)


def make_task(phase: int, params: dict[str, Any] | None = None) -> ProgressiveTask:
    """The factory ``mefkit train progressive --phase N`` calls."""
    return ProgressiveTask({**(params or {}), "phase": phase})


def export_weights(
    phase1: str | Path,
    phase2: str | Path | None,
    out: str | Path,
    info: dict[str, Any] | None = None,
    half: bool = False,
) -> Path:
    """Combine the two phases' engine exports into one file for ``method="progressive"``.

    Parameters
    ----------
    phase1 : path
        Phase 1's ``unet.safetensors`` (or checkpoint).
    phase2 : path or None
        Phase 2's ``amnet.safetensors``; None writes a phase-1-only file.
    out : path
        The combined ``.safetensors`` (format of :func:`mefkit.methods.progressive.save_weights`).
    info : dict, optional
        Provenance stored in the metadata (data, steps, time, hardware).
    half : bool
        Store float16 (the shipped file does, to stay small).
    """
    from . import save_weights

    unet = load_phase1(phase1)
    amnet = load_phase2(phase2) if phase2 is not None else None
    save_weights(out, unet, amnet, info, half=half)
    return Path(out)
