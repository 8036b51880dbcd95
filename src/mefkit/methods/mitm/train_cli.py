"""``mefkit train mitm``: train MITM's mutual translators (Go, Lee, Lee, Mathematics 2024)."""

from __future__ import annotations

from pathlib import Path
from typing import Any, List, Optional

import typer

from ...cli.app import console
from ...cli.train import BASE_OPTIONS, LABEL_OPTIONS, config_from_options, run_training, train_command
from ...nn import require_torch


@train_command("mitm", BASE_OPTIONS + ("synthetic", "synthetic_fraction", "no_amp") + LABEL_OPTIONS)
def train_mitm(
    width: Optional[int] = typer.Option(None, "--width", help="Generator width (shipped 16; CycleGAN 64)."),
    blocks: Optional[int] = typer.Option(None, "--blocks", help="Residual blocks (shipped 4; CycleGAN 9)."),
    paper_size: bool = typer.Option(False, "--paper-size", help="CycleGAN's ResNet-9 generators with instance norm (11.4 M parameters each)."),
    critic_width: Optional[int] = typer.Option(None, "--critic-width", help="PatchGAN width (shipped 32; CycleGAN 64)."),
    lambda_pair: Optional[float] = typer.Option(None, "--lambda-pair", help="Map-weighted paired L1 weight (10)."),
    lambda_cyc: Optional[float] = typer.Option(None, "--lambda-cyc", help="Cycle L1 weight (10)."),
    lambda_id: Optional[float] = typer.Option(None, "--lambda-id", help="Identity L1 weight (reconstruction default 5; 0 drops it)."),
    lambda_gan: Optional[float] = typer.Option(None, "--lambda-gan", help="LSGAN weight (1; 0 drops the critics)."),
    gamma: Optional[float] = typer.Option(None, "--gamma", help="Switching-map weight in the paired L1 (1)."),
    export: Optional[Path] = typer.Option(None, "--export", help="At the end, write both generators to this .safetensors (the format `-p weights=` reads)."),
    lr: Optional[float] = typer.Option(None, "--lr", help="Adam learning rate (CycleGAN 2e-4)."),
    **opts: Any,
) -> None:
    """Train MITM's generators G_LH / G_HL (and PatchGAN critics) on (under, over) stack pairs.

    Stack labels are only used by the validation pass. Example:
    mefkit train mitm --data ../shared/data/train_stacks --out runs/mitm --steps 800 --batch 4 --crop 128 --export mitm.safetensors
    """
    require_torch("training")
    from .task import MitmTask, export_translators

    params: dict[str, Any] = {}
    translator: dict[str, Any] = {}
    if paper_size:
        translator.update(width=64, n_down=2, n_blocks=9, norm="instance", residual=False)
    if width is not None:
        translator["width"] = width
    if blocks is not None:
        translator["n_blocks"] = blocks
    if translator:
        params["translator"] = translator
    if critic_width is not None:
        params["discriminator"] = {"width": critic_width}
    for key, value in (("lambda_pair", lambda_pair), ("lambda_cyc", lambda_cyc), ("lambda_id", lambda_id),
                       ("lambda_gan", lambda_gan), ("gamma", gamma)):
        if value is not None:
            params[key] = value
    # CycleGAN's learning rate and no VGG term are the task's own defaults (MitmTask.train_defaults).
    cfg = config_from_options(task="mitm", task_params=params, lr=lr, **opts)
    task = MitmTask(cfg.task_params)
    run_training(task, cfg, opts["resume"])
    if export is not None:
        path = export_translators(cfg.out, export)
        console.print(f"translators -> {path}", highlight=False)


__all__ = ["train_mitm"]
