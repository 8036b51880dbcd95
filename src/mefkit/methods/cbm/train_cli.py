"""``mefkit train cbm``: train the CBM U-Net on a teacher's labels (Son, Go, Lee, Lee, Mathematics 2025)."""

from __future__ import annotations

from pathlib import Path
from typing import Any, List, Optional

import typer

from ...errors import MefkitError
from ...params import parse_params
from ...cli.train import BASE_OPTIONS, config_from_options, run_training, train_command
from ...nn import require_torch


@train_command("cbm", BASE_OPTIONS + ("lr", "lambda_ssim", "no_amp"))
def train_cbm(
    teacher: Optional[str] = typer.Option(None, "--teacher", help="Registered method that makes the labels (default mitm, the paper's teacher; e.g. mertens for a fast one)."),
    teacher_param: Optional[List[str]] = typer.Option(None, "--teacher-param", "-p", help="Teacher parameter KEY=VALUE (repeatable); part of the label cache key."),
    teacher_input: Optional[str] = typer.Option(None, "--teacher-input", help="'pair': the teacher fuses the training pair (default); 'stack': the whole stack."),
    pairs_per_stack: Optional[int] = typer.Option(None, "--pairs-per-stack", help="Training pairs per stack (default 8; 0: every pair the pair draw allows)."),
    uniform: bool = typer.Option(False, "--uniform", help="Uniform patch weights (ablation) instead of variance-driven ones."),
    gap_weight: Optional[float] = typer.Option(None, "--gap-weight", help="Weight of the input variance gap against the label variance (default 1)."),
    base: Optional[int] = typer.Option(None, "--base", help="U-Net width of the first stage (default 8; classic U-Net 64)."),
    depth: Optional[int] = typer.Option(None, "--depth", help="U-Net downsamplings (default 4)."),
    label_cache: Optional[Path] = typer.Option(None, "--label-cache", help="Teacher label cache folder (default RUN_DIR/../teacher_cache)."),
    **opts: Any,
) -> None:
    """Train CBM's lightness U-Net with variance-driven patch weights on teacher labels.

    Example: mefkit train cbm --data ../shared/data/train_stacks --out runs/cbm --steps 900  (teacher: mitm)
    """
    require_torch("training")
    from .task import DEFAULTS, CbmTask

    params: dict[str, Any] = {}
    if teacher is not None:
        params["teacher"] = teacher
    if teacher_param:
        params["teacher_params"] = parse_params(teacher or DEFAULTS["teacher"], teacher_param)
    if teacher_input is not None:
        if teacher_input not in ("pair", "stack"):
            raise MefkitError(f"--teacher-input must be 'pair' or 'stack', got {teacher_input!r}")
        params["teacher_input"] = teacher_input
    for key, value in (("pairs_per_stack", pairs_per_stack), ("gap_weight", gap_weight), ("base", base), ("depth", depth)):
        if value is not None:
            params[key] = value
    if uniform:
        params["variance_weights"] = False
    resume = opts["resume"]
    saved = Path(opts["out"]) / "config.json"
    # No VGG term and a cosine schedule are the task's own defaults (CbmTask.train_defaults).
    cfg = config_from_options(task="cbm", task_params=params, label_cache=label_cache, **opts)
    task = CbmTask(cfg.task_params)
    if not (resume and saved.is_file()):
        # record the full parameter set (defaults included) in config.json; a resumed run
        # keeps its saved parameters so the engine's exact-resume check still passes
        cfg.task_params = task.params.to_dict()
    run_training(task, cfg, resume)


__all__ = ["train_cbm"]
