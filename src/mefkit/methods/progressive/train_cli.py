"""``mefkit train progressive``: train phase 1 or 2 of the two-phase progressive fusion."""

from __future__ import annotations

from pathlib import Path
from typing import Any, List, Optional

import typer

from ...cli.train import BASE_OPTIONS, LABEL_OPTIONS, config_from_options, run_training, train_command
from ...nn import require_torch
from ...errors import MefkitError


def _progressive_task(phase: int, params: dict):
    try:
        from .task import make_task
    except ImportError as exc:
        raise MefkitError(f"the progressive task is not available ({exc})") from None
    return make_task(phase, params)


@train_command("progressive", BASE_OPTIONS + LABEL_OPTIONS + (
    "synthetic", "synthetic_fraction", "lr", "beta1", "beta2", "grad_clip", "schedule", "warmup_steps", "lambda_vgg",
    "vgg_weights", "lambda_ssim", "task_param", "under_max_frac", "over_min_frac", "extreme_share", "no_amp"))
def train_progressive(
    phase: Optional[int] = typer.Option(None, "--phase", help="1: intermediate-exposure UNet; 2: AMNet with phase 1 frozen (default: the --config recipe's params.phase)."),
    phase1: Optional[Path] = typer.Option(None, "--phase1", help="Phase 1 for phase 2: a phase-1 RUN_DIR, its unet.safetensors or checkpoint.pt, or a combined progressive file."),
    width: Optional[int] = typer.Option(None, "--width", help="Model width (see the progressive model docs)."),
    lambda_mef: Optional[float] = typer.Option(None, "--lambda-mef", help="Weight of the no-reference 1 - MEF-SSIM term against the input pair (default 0: the thesis's loss alone)."),
    mef_scales: Optional[int] = typer.Option(None, "--mef-scales", help="Pyramid levels of the MEF-SSIM term, 1 to 3 (default 1)."),
    mef_form: Optional[str] = typer.Option(None, "--mef-form", help="Form of the MEF-SSIM term: 'mefnet' (default; the structure of the exposure with the largest variance) or 'metric' (the metric itself, its blended desired patch)."),
    init: Optional[Path] = typer.Option(None, "--init", help="Start the trained phase from these weights (fine-tuning): an engine export, checkpoint.pt or a combined progressive file."),
    **opts: Any,
) -> None:
    """Train phase 1 or phase 2 of the two-phase progressive fusion."""
    require_torch("training")
    if phase is not None and phase not in (1, 2):
        raise MefkitError(f"--phase must be 1 or 2, got {phase}")
    params: dict[str, Any] = {} if phase is None else {"phase": phase}
    if width is not None:
        params["width"] = width
    if lambda_mef is not None:
        params["lambda_mef"] = lambda_mef
    if mef_scales is not None:
        params["mef_scales"] = mef_scales
    if mef_form is not None:
        params["mef_form"] = mef_form
    if init is not None:
        params["init_weights"] = str(init)
    if phase1 is not None:
        params["phase1_weights"] = str(phase1)
    cfg = config_from_options(task=f"progressive-phase{phase}" if phase else "progressive", task_params=params, **opts)
    phase = cfg.task_params.get("phase")
    if phase not in (1, 2):
        raise MefkitError("give --phase 1 or 2 (or params.phase in the --config recipe)")
    cfg.task = f"progressive-phase{phase}"
    if phase == 2 and not cfg.task_params.get("phase1_weights"):
        raise MefkitError("phase 2 needs the trained phase 1: --phase1 PATH (.safetensors or checkpoint.pt)")
    run_training(_progressive_task(phase, cfg.task_params), cfg, opts["resume"])
