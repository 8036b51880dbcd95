"""A minimal :class:`~mefkit.train.engine.Task`: the smallest working plug-in of the engine.

``TinyFusionTask`` learns a per-pixel blend of the two inputs with a three-layer CNN.
It exists to show how a method plugs in and to test the engine quickly (tests, and
``mefkit train tiny`` for a smoke run); it is not a fusion method anyone should ship.
"""

from __future__ import annotations

from dataclasses import dataclass

import torch
from torch import nn

from .checkpoint import load_weights
from .engine import Task, TaskParams


class TinyFusionNet(nn.Module):
    """``(under, over) -> fused``: a softmax blend from a small CNN plus a residual colour term.

    Input and output ``(B, 3, H, W)`` float in [0, 1]; any H, W.
    """

    def __init__(self, width: int = 8):
        super().__init__()
        self.body = nn.Sequential(
            nn.Conv2d(6, width, 3, padding=1), nn.GELU(),
            nn.Conv2d(width, width, 3, padding=1), nn.GELU(),
            nn.Conv2d(width, 2 + 3, 3, padding=1),
        )

    def forward(self, under: torch.Tensor, over: torch.Tensor) -> torch.Tensor:
        out = self.body(torch.cat([under, over], dim=1))
        w = torch.softmax(out[:, :2], dim=1)
        blend = w[:, :1] * under + w[:, 1:] * over
        return (blend + 0.1 * torch.tanh(out[:, 2:])).clamp(0, 1)


@dataclass
class TinyParams(TaskParams):
    """``width``: channels of the CNN; ``frozen_weights``: optional path of a trained
    TinyFusionNet kept frozen as a teacher, to exercise frozen sub-models."""

    width: int = 8
    frozen_weights: str | None = None


class TinyFusionTask(Task):
    """Train :class:`TinyFusionNet` (parameters: :class:`TinyParams`)."""

    name = "tiny"
    symmetric = True
    Params = TinyParams

    def build_models(self) -> dict[str, nn.Module]:
        return {"net": TinyFusionNet(self.params.width)}

    def build_frozen(self) -> dict[str, nn.Module]:
        if not self.params.frozen_weights:
            return {}
        return {"teacher": load_weights(TinyFusionNet(self.params.width), self.params.frozen_weights, name="net")}

    def forward(self, models, batch) -> torch.Tensor:
        if "teacher" in models:
            # Phase-2 pattern: the frozen model's output is an extra input of the trained one.
            inter = models["teacher"](batch["under"], batch["over"])
            return models["net"](inter, batch["over"])
        return models["net"](batch["under"], batch["over"])
