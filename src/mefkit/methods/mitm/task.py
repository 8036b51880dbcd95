"""The MITM :class:`~mefkit.train.engine.Task`: paired CycleGAN with switching-map inputs.

Reconstructed from the paper's description (Go, Lee, Lee, Mathematics 2024, Sec. 3: the
translation network and its weighted learning; network size, losses and their weights are
open choices, here parameters with CycleGAN's values, Zhu et al., ICCV 2017). Two generators, ``G_LH`` (under -> over) and ``G_HL`` (over -> under),
each fed its input image plus that image's switching map, and two PatchGAN critics
``D_H`` and ``D_L`` train together on (under, over) pairs of real stacks. Loss per step:

* paired, map-weighted L1 (the paper's "weighted learning", reconstructed):
  ``mean((1 + gamma M) |G_LH(LE) - HE|) + mean((1 + gamma M') |G_HL(HE) - LE|)`` with
  ``M = 1 - SMap(LE)`` (the dark regions LE->HE must change most) and ``M' = SMap(HE)``;
  weight ``lambda_pair`` (10);
* cycle L1 ``|G_HL(G_LH(LE)) - LE| + |G_LH(G_HL(HE)) - HE|``, ``lambda_cyc`` (10);
* identity L1 ``|G_LH(HE) - HE| + |G_HL(LE) - LE|``, ``lambda_id`` (reconstruction default 5; 0 drops it
  and its two generator passes);
* LSGAN: generators push ``D(fake)`` to 1 (``lambda_gan``, 1), critics push real to 1
  and fake to 0 (weight 1/2 each, as CycleGAN). 0 drops the critics entirely.

The engine has one Adam optimiser; generators and critics share it without an
alternating loop: the generators' adversarial term runs the critics with *detached*
parameters (``torch.func.functional_call``), and the critics' term sees *detached*
fakes, so each network receives only its own objective's gradient, as in CycleGAN's
alternating update. CycleGAN's 50-image history pool is not used (it would be state
outside the checkpoint, breaking exact resume).

Task parameters (``TrainConfig.task_params``, typed by :class:`MitmParams`): ``translator`` (dict of
:class:`~mefkit.methods.mitm.translator.TranslatorConfig` fields; default :data:`SHIPPED_TRANSLATOR`),
``discriminator`` (dict of ``DiscriminatorConfig`` fields; default width 32),
``lambda_pair``, ``lambda_cyc``, ``lambda_id``, ``lambda_gan``, ``gamma``,
``map_fraction`` (generator input map sigma / min side, 0.02).

Validation runs the whole MITM fusion (:func:`mefkit.methods.mitm.stages.pipeline.run_stages`) on the
translated full-size pair, so ``val.csv`` scores the method, not just the translators.
"""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import torch
import torch.nn.functional as F
from torch import nn

from .stages import torch_maps
from .stages.smap import INPUT_SIGMA_FRACTION
from .translator import (
    DiscriminatorConfig,
    PatchDiscriminator,
    Translator,
    TranslatorConfig,
    save_translators,
)
from ...train.checkpoint import unwrap
from ...train.engine import Task, TaskParams, resolve_defaults

#: Loss weights of the reconstruction: paired 10, cycle 10,
#: identity 0.5 * cycle, GAN 1, map weight gamma 1.
LAMBDA_PAIR = 10.0
LAMBDA_CYC = 10.0
LAMBDA_ID = 5.0
LAMBDA_GAN = 1.0
PAIR_GAMMA = 1.0
#: The generator size shipped with mefkit: small enough to train and run on a CPU,
#: normalisation-free so tiled inference is seamless, residual for fast learning.
SHIPPED_TRANSLATOR = TranslatorConfig(width=16, n_down=2, n_blocks=4, norm="none", residual=True)
#: Critic size used with the shipped generators (CycleGAN: width 64).
SHIPPED_DISCRIMINATOR = DiscriminatorConfig(width=32)


def _lsgan(pred: torch.Tensor, target: float) -> torch.Tensor:
    return F.mse_loss(pred, torch.full_like(pred, target))


@dataclass
class MitmParams(TaskParams):
    """MITM's task parameters (``cfg.task_params``; see the module docstring)."""

    translator: dict = field(default_factory=dict)  # TranslatorConfig fields over SHIPPED_TRANSLATOR
    discriminator: dict = field(default_factory=dict)  # DiscriminatorConfig fields over SHIPPED_DISCRIMINATOR
    lambda_pair: float = LAMBDA_PAIR
    lambda_cyc: float = LAMBDA_CYC
    lambda_id: float = LAMBDA_ID
    lambda_gan: float = LAMBDA_GAN
    gamma: float = PAIR_GAMMA
    map_fraction: float = INPUT_SIGMA_FRACTION


class MitmTask(Task):
    """Train MITM's mutual translators (see the module docstring)."""

    name = "mitm"
    symmetric = False
    with_mid = False
    Params = MitmParams
    #: CycleGAN's learning rate; MITM's losses are its own (no VGG file needed).
    train_defaults = {"optim.lr": 2e-4, "loss.lambda_vgg": 0.0}

    def __init__(self, params: dict[str, Any] | MitmParams | None = None):
        super().__init__(params)
        p = self.params
        self.translator_config = TranslatorConfig.from_dict({**SHIPPED_TRANSLATOR.to_dict(), **p.get("translator", {})})
        self.discriminator_config = DiscriminatorConfig(**{**SHIPPED_DISCRIMINATOR.__dict__, **p.get("discriminator", {})})
        self.lambda_pair = float(p.get("lambda_pair", LAMBDA_PAIR))
        self.lambda_cyc = float(p.get("lambda_cyc", LAMBDA_CYC))
        self.lambda_id = float(p.get("lambda_id", LAMBDA_ID))
        self.lambda_gan = float(p.get("lambda_gan", LAMBDA_GAN))
        self.gamma = float(p.get("gamma", PAIR_GAMMA))
        self.map_fraction = float(p.get("map_fraction", INPUT_SIGMA_FRACTION))
        for name in ("lambda_pair", "lambda_cyc", "lambda_id", "lambda_gan", "gamma"):
            if getattr(self, name) < 0:
                raise ValueError(f"{name} must be >= 0, got {getattr(self, name)}")

    def setup(self, cfg, device) -> None:
        # MITM has its own losses: the engine's FusionLoss (and its VGG file) is not needed.
        self.cfg, self.device = resolve_defaults(cfg, self), device

    def build_models(self) -> dict[str, nn.Module]:
        models: dict[str, nn.Module] = {
            "g_lh": Translator(self.translator_config),
            "g_hl": Translator(self.translator_config),
        }
        if self.lambda_gan > 0:
            models["d_h"] = PatchDiscriminator(self.discriminator_config)
            models["d_l"] = PatchDiscriminator(self.discriminator_config)
        return models

    def _map(self, rgb: torch.Tensor) -> torch.Tensor:
        with torch.no_grad():
            return torch_maps.input_map(rgb.detach().float(), fraction=self.map_fraction).to(rgb.dtype)

    def translate(self, models: dict[str, nn.Module], batch: dict[str, Any]) -> tuple[torch.Tensor, torch.Tensor]:
        """``(HE', LE') = (G_LH(LE), G_HL(HE))`` for a batch, ``(B, 3, H, W)`` in [0, 1]."""
        le, he = batch["under"], batch["over"]
        return models["g_lh"](le, self._map(le)), models["g_hl"](he, self._map(he))

    def forward(self, models: dict[str, nn.Module], batch: dict[str, Any]) -> torch.Tensor:
        return self.translate(models, batch)[0]

    def loss(self, models: dict[str, nn.Module], batch: dict[str, Any]) -> tuple[torch.Tensor, dict[str, float]]:
        le, he = batch["under"], batch["over"]
        g_lh, g_hl = models["g_lh"], models["g_hl"]
        m_le, m_he = self._map(le), self._map(he)
        fake_he, fake_le = g_lh(le, m_le), g_hl(he, m_he)
        # Paired L1 weighted by where each translation must change the most.
        w_lh = 1.0 + self.gamma * (1.0 - m_le)
        w_hl = 1.0 + self.gamma * m_he
        pair = (w_lh * (fake_he - he).abs()).mean() + (w_hl * (fake_le - le).abs()).mean()
        total = self.lambda_pair * pair
        logs = {"pair": float(pair.detach())}
        if self.lambda_cyc > 0:
            rec_le = g_hl(fake_he, self._map(fake_he))
            rec_he = g_lh(fake_le, self._map(fake_le))
            cyc = F.l1_loss(rec_le, le) + F.l1_loss(rec_he, he)
            total = total + self.lambda_cyc * cyc
            logs["cycle"] = float(cyc.detach())
        if self.lambda_id > 0:
            idt = F.l1_loss(g_lh(he, m_he), he) + F.l1_loss(g_hl(le, m_le), le)
            total = total + self.lambda_id * idt
            logs["identity"] = float(idt.detach())
        if self.lambda_gan > 0:
            d_h, d_l = models["d_h"], models["d_l"]
            adv = _lsgan(self._frozen_call(d_h, fake_he), 1.0) + _lsgan(self._frozen_call(d_l, fake_le), 1.0)
            d_loss = 0.5 * (
                _lsgan(d_h(he), 1.0) + _lsgan(d_h(fake_he.detach()), 0.0)
                + _lsgan(d_l(le), 1.0) + _lsgan(d_l(fake_le.detach()), 0.0)
            )
            total = total + self.lambda_gan * adv + d_loss
            logs["gan"] = float(adv.detach())
            logs["critic"] = float(d_loss.detach())
        generator = total - (d_loss if self.lambda_gan > 0 else 0.0)
        logs["l1"] = logs["pair"]
        logs["generator"] = float(generator.detach())
        logs["loss"] = float(total.detach())
        return total, logs

    @staticmethod
    def _frozen_call(critic: nn.Module, x: torch.Tensor) -> torch.Tensor:
        """The critic's output with its parameters treated as constants (gradient to ``x`` only)."""
        inner = unwrap(critic)
        params = {k: v.detach() for k, v in inner.named_parameters()}
        return torch.func.functional_call(inner, params, (x,))

    def predict(self, models: dict[str, nn.Module], batch: dict[str, Any]) -> torch.Tensor:
        """The full MITM fusion of each pair (translators + NumPy fusion stages)."""
        from .stages.pipeline import FusionParams, run_stages

        fake_he, fake_le = self.translate(models, batch)
        outs = []
        params = FusionParams()
        for i in range(fake_he.shape[0]):
            arr = [t[i].detach().float().clamp(0, 1).cpu().numpy().transpose(1, 2, 0).copy()
                   for t in (batch["under"], batch["over"], fake_he, fake_le)]
            fused = run_stages(*arr, params=params).output
            outs.append(torch.from_numpy(fused.transpose(2, 0, 1).copy()))
        return torch.stack(outs).to(fake_he.device)

    def weight_metadata(self) -> dict[str, Any]:
        return {"params": self.params.to_dict(), "translator_config": self.translator_config.to_dict()}


def build_task(params: dict[str, Any] | None = None) -> MitmTask:
    """The task for ``Trainer(build_task(params), cfg)``."""
    return MitmTask(params)


def export_translators(run_dir: str | Path, out: str | Path, extra: dict[str, str] | None = None) -> Path:
    """Combine a finished run's ``g_lh``/``g_hl`` exports into one shipped translator file.

    Reads ``RUN_DIR/g_lh.safetensors`` and ``g_hl.safetensors`` (or, when absent,
    ``checkpoint.pt``) and writes :func:`mefkit.methods.mitm.translator.save_translators`'s
    format with the run's step and config in the metadata.
    """
    from safetensors import safe_open

    run_dir = Path(run_dir)
    meta: dict[str, str] = {}
    states: dict[str, dict[str, torch.Tensor]] = {}
    if (run_dir / "g_lh.safetensors").is_file():
        for name in ("g_lh", "g_hl"):
            with safe_open(str(run_dir / f"{name}.safetensors"), framework="pt") as f:
                meta = dict(f.metadata() or {})
                states[name] = {k: f.get_tensor(k) for k in f.keys()}
        config = TranslatorConfig.from_dict(json.loads(meta["translator_config"]))
        step, run_config = meta.get("step", ""), meta.get("config", "")
    else:
        ckpt = torch.load(run_dir / "checkpoint.pt", map_location="cpu", weights_only=False)
        states = {k: ckpt["models"][k] for k in ("g_lh", "g_hl")}
        params = ckpt["config"].get("task_params", {})
        config = TranslatorConfig.from_dict({**SHIPPED_TRANSLATOR.to_dict(), **params.get("translator", {})})
        step, run_config = str(ckpt["step"]), json.dumps(ckpt["config"])
    nets = []
    for name in ("g_lh", "g_hl"):
        net = Translator(config)
        net.load_state_dict(states[name])
        nets.append(net)
    info = {"step": str(step), "run_config": run_config, **(extra or {})}
    out = Path(out)
    save_translators(out, nets[0], nets[1], info)
    return out
