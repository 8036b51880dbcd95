"""CBM training task for the engine: teacher labels, lightness U-Net, variance-driven weights.

``CbmTask(params)`` plugs into :class:`mefkit.train.engine.Trainer` (the one engine).
What it adds to the engine's defaults:

* **Data** (:meth:`CbmTask.build_data`): real stacks (``cfg.data.stacks``), evaluation
  scenes excluded as for every method (:func:`mefkit.train.stacks.split_excluded`),
  about ``cfg.data.val_scenes`` stacks (at most a fifth) held out for validation, whole scenes at a
  time (:func:`mefkit.train.data.split_validation`), and labels made by a
  **teacher** (any registered method; on the pair or the whole stack) through
  :mod:`mefkit.methods.cbm.teacher_labels`, all built before the first step and cached on
  disk by teacher name and parameters.
* **Input / target**: the CIE-Lab lightness ``L/100`` (OpenCV) of under, over and the
  teacher's label, computed in the data pipeline (keys ``l_under``, ``l_over``,
  ``l_label``, ``(B, 1, H, W)``), the same conversion as at test time.
* **Loss**: the engine's ``FusionLoss`` (L1 + lambda_ssim (1 - SSIM); no VGG: the
  target is one lightness channel) as a weighted mean over the batch with the
  variance-driven patch weights of :mod:`mefkit.methods.cbm.variance_weights`
  (``variance_weights=False``: uniform, for the ablation).
* **Validation prediction**: the full test-time pipeline (U-Net lightness, gamma,
  chroma-scale colour), so ``val.csv`` scores what users get.

Task parameters (``cfg.task_params``, typed by :class:`CbmParams`), with defaults:

``base`` 8, ``depth`` 4 (U-Net size); ``teacher`` "mitm" (the paper's teacher; any registered
method works, e.g. "mertens"), ``teacher_params`` {},
``teacher_input`` "pair"; ``pairs_per_stack`` 8 (0: every pair the engine's pair draw
can give); ``variance_weights`` True, ``gap_weight`` 1.0, ``w_min`` 0.25, ``w_max`` 4.0;
``chroma`` "select", ``smoothing`` 1.0, ``gamma`` "auto", ``clip_guard`` 0.9 (validation
only).
"""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Literal

import numpy as np
import torch
from torch import nn

from .stages import clip_reliability, compose, rgb_to_lab
from .stages.lab import lightness
from ...errors import MefkitError
from .unet import CBMUNet
from ...devdata import eval_roots
from ...train.data import DataBundle, TrainPairs, ValPairs, split_validation
from ...train.engine import Task, TaskParams, resolve_defaults
from ...train.images import ImageCache
from ...train.stacks import find_stacks, guess_data_root, split_excluded
from .teacher_labels import TeacherLabels, TeacherPairSource, TeacherSpec, choose_pairs
from .variance_weights import GAP_WEIGHT, W_MAX, W_MIN, variance_weights

@dataclass
class CbmParams(TaskParams):
    """CBM's task parameters (``cfg.task_params``; see the module docstring)."""

    base: int = 8  # U-Net width of the first stage
    depth: int = 4  # U-Net downsamplings
    teacher: str = "mitm"  # Son et al. 2025 label with MITM (Go et al. 2024)
    teacher_params: dict = field(default_factory=dict)
    teacher_input: Literal["pair", "stack"] = "pair"
    pairs_per_stack: int = 8
    pair_rule: Literal["halves", "kframe"] = "halves"  # see teacher_labels.choose_pairs
    variance_weights: bool = True
    gap_weight: float = GAP_WEIGHT
    w_min: float = W_MIN
    w_max: float = W_MAX
    chroma: str = "select"
    smoothing: float = 1.0
    gamma: float | str = "auto"
    clip_guard: float | None = 0.9


#: Defaults of the task parameters, as a dict.
DEFAULTS: dict[str, Any] = CbmParams().to_dict()

LIGHTNESS_KEYS = {"under": "l_under", "over": "l_over", "label": "l_label"}


def with_lightness(sample: dict[str, Any]) -> dict[str, Any]:
    """Add ``l_under``, ``l_over``, ``l_label``: ``(1, H, W)`` float32 tensors of ``L/100``.

    Tensors (not arrays) so that both the DataLoader's collation and the engine's
    validation batching treat them like the image tensors.
    """
    out = dict(sample)
    for key, lkey in LIGHTNESS_KEYS.items():
        if key in sample:
            out[lkey] = torch.from_numpy(lightness(sample[key])[None])
    return out


class LightnessSource:
    """Wrap a training source so every sample also carries the lightness of its images."""

    def __init__(self, inner: Any):
        self.inner = inner
        self.name = inner.name

    def __len__(self) -> int:
        return len(self.inner)

    def sample(self, rng: np.random.Generator, crop: int, flips: bool, with_mid: bool) -> dict[str, Any]:
        return with_lightness(self.inner.sample(rng, crop, flips, with_mid))


class CbmTask(Task):
    """Train the CBM U-Net on teacher labels (see the module docstring for ``params``)."""

    name = "cbm"
    symmetric = False  # the U-Net's first channel is always the darker frame
    with_mid = False

    Params = CbmParams
    #: One lightness channel: no VGG term; a short CPU run converges better with a decaying rate.
    train_defaults = {"loss.lambda_vgg": 0.0, "optim.schedule": "cosine"}

    def __init__(self, params: dict[str, Any] | CbmParams | None = None):
        super().__init__(params)
        self.teacher_weights: dict[str, str] = {}  # set by build_data (sha256 of the teacher's weights)
        p = self.params
        if p["teacher_input"] not in ("pair", "stack"):
            raise MefkitError(f"teacher_input must be 'pair' or 'stack', got {p['teacher_input']!r}")
        if not 0 < float(p["w_min"]) <= 1 <= float(p["w_max"]):
            raise MefkitError(f"variance weight bounds must satisfy 0 < w_min <= 1 <= w_max, got {p['w_min']}, {p['w_max']}")

    def setup(self, cfg, device) -> None:  # noqa: ANN001 - TrainConfig, torch.device
        resolve_defaults(cfg, self)
        if cfg.loss.lambda_vgg > 0:
            raise MefkitError("CBM trains on one lightness channel: the VGG perceptual loss does not apply; use --lambda-vgg 0")
        super().setup(cfg, device)

    # -- models ---------------------------------------------------------------------------
    def build_models(self) -> dict[str, nn.Module]:
        return {"cbm": CBMUNet(base=int(self.params["base"]), depth=int(self.params["depth"]))}

    def weight_metadata(self) -> dict[str, Any]:
        model = CBMUNet(base=int(self.params["base"]), depth=int(self.params["depth"]))
        # "arch" and "config" make the export loadable by mefkit.methods.cbm.unet.load_cbm_unet;
        # "config" replaces the engine's run config there (it stays in RUN_DIR/config.json).
        meta = {"arch": "CBMUNet", "config": json.dumps(model.config()), "params": self.params.to_dict(),
                "teacher": self.params["teacher"]}
        if self.teacher_weights:
            # which teacher weights made the labels (sha256), for the model card's provenance
            meta["teacher_weights"] = json.dumps(self.teacher_weights, sort_keys=True)
        return meta

    # -- data -----------------------------------------------------------------------------
    def teacher_spec(self) -> TeacherSpec:
        p = self.params
        return TeacherSpec(p["teacher"], dict(p["teacher_params"] or {}), p["teacher_input"])

    def build_data(self, cfg, on_progress=None) -> DataBundle:  # noqa: ANN001 - TrainConfig
        d = cfg.data
        if not d.stacks:
            raise MefkitError("CBM trains on real stacks labelled by its teacher: give --data TRAIN_STACKS")
        if d.sice or d.synthetic:
            raise MefkitError("CBM takes only stack data (its labels come from the teacher); drop --synthetic / SICE")
        kept, excluded = split_excluded(find_stacks(d.stacks), eval_roots(guess_data_root(d.stacks)))
        # whole scenes to one side: captures of one scene never both train and validate
        train_stacks, val_stacks = split_validation(kept, d.val_scenes)
        cache_dir = d.label_cache or str(Path(cfg.out).resolve().parent / "teacher_cache")
        images = ImageCache(d.cache_mb)
        labels = TeacherLabels(self.teacher_spec(), cache_dir, d.max_side, images)
        self.teacher_weights = dict(labels.weights)
        per = int(self.params["pairs_per_stack"])
        rule = str(self.params["pair_rule"])
        pairs = {s.id: (s, choose_pairs(s, per, cfg.seed, d.under_max_frac, d.over_min_frac, rule))
                 for s in train_stacks}
        val_pairs = {s.id: (s, [(0, len(s.frames) - 1)]) for s in val_stacks}
        summary = labels.build({**pairs, **val_pairs}, on_progress=on_progress)
        source = TeacherPairSource(pairs, labels)
        train = TrainPairs([(LightnessSource(source), 1.0)], seed=cfg.seed, crop=d.crop, flips=d.flips,
                           swap=False, with_mid=False)
        val_items = [(f"{s.id}[1,{len(s.frames)}]", with_lightness(source.pair(s, 0, len(s.frames) - 1)))
                     for s in val_stacks]
        info = {"sources": {"teacher_pairs": sum(len(p) for _, p in pairs.values())}, "excluded": excluded,
                "val_stacks": [s.id for s in val_stacks], "teacher_cache": cache_dir, "teacher": summary}
        return DataBundle(train, ValPairs(val_items) if val_items else None, info)

    # -- training -------------------------------------------------------------------------
    def forward(self, models: dict[str, nn.Module], batch: dict[str, Any]) -> torch.Tensor:
        """Fused lightness ``(B, 1, H, W)`` from ``l_under``, ``l_over``."""
        return models["cbm"](torch.cat([batch["l_under"], batch["l_over"]], dim=1))

    def patch_weights(self, batch: dict[str, Any]) -> torch.Tensor:
        p = self.params
        return variance_weights(batch["l_label"], batch["l_under"], batch["l_over"], gap_weight=float(p["gap_weight"]),
                                bounds=(float(p["w_min"]), float(p["w_max"])), enabled=bool(p["variance_weights"]))

    def loss(self, models: dict[str, nn.Module], batch: dict[str, Any]) -> tuple[torch.Tensor, dict[str, float]]:
        weights = self.patch_weights(batch)
        loss, logs = self.criterion(self.forward(models, batch), batch["l_label"], weights=weights)
        logs["w_min"], logs["w_max"] = float(weights.min()), float(weights.max())
        return loss, logs

    def predict(self, models: dict[str, nn.Module], batch: dict[str, Any]) -> torch.Tensor:
        """The full CBM pipeline on a validation batch: ``(B, 3, H, W)`` sRGB in [0, 1]."""
        lum = self.forward(models, batch).float().clamp(0, 1).cpu().numpy()
        outs = []
        for i in range(lum.shape[0]):
            frames = [batch[k][i].float().cpu().numpy().transpose(1, 2, 0) for k in ("under", "over")]
            guard = self.params.get("clip_guard")
            rel = [clip_reliability(f, float(guard)) for f in frames] if guard is not None and guard < 1 else None
            rgb = compose([rgb_to_lab(f) for f in frames], lum[i, 0], chroma=self.params["chroma"],
                          smoothing=float(self.params["smoothing"]), gamma=self.params["gamma"], reliabilities=rel)
            outs.append(torch.from_numpy(rgb.transpose(2, 0, 1).copy()))
        return torch.stack(outs).to(batch["under"].device)
