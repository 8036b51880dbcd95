"""``mefkit train ...``: train learned methods with the one engine (:mod:`mefkit.train.engine`).

Sub-commands registered here: ``labels`` (build and show the stack-label cache and the
excluded scenes) and ``tiny`` (a smoke run of the engine with a toy model). Each learned
method registers its own command in ``mefkit/methods/<name>/train_cli.py``, which
:mod:`mefkit.cli` imports::

    from ...cli.app import reports_errors
    from ...cli.train import train_app, run_training, config_from_options, COMMON

    @train_app.command("cbm")
    @reports_errors
    def train_cbm(out: Path = COMMON.out, data: list[str] = COMMON.data, ...,
                  teacher: str = typer.Option("mertens", "--teacher")):
        cfg = config_from_options(out=out, data=data, ..., task="cbm", task_params={"teacher": teacher})
        run_training(CbmTask(cfg.task_params), cfg, resume=resume)

Every common option defaults to ``None`` so that ``--resume`` starts from the saved
``RUN_DIR/config.json`` and only options given on the command line change it (the
engine refuses changes that would break an exact resume, e.g. ``--lr``).
"""

from __future__ import annotations

import functools
import inspect
import os
from pathlib import Path
from typing import Any, Callable, List, Optional, Sequence

import typer

from ..errors import MefkitError
from ..params import parse_params
from ..nn import require_torch
from .app import app, console, reports_errors

train_app = typer.Typer(
    help="Train learned fusion methods (checkpoints, --resume, CPU/CUDA/DDP via torchrun).",
    no_args_is_help=True,
)
app.add_typer(train_app, name="train")


class COMMON:
    """Shared typer options of every ``mefkit train`` command (reuse them as defaults)."""

    out = typer.Option(..., "--out", "-o", help="Run folder: config.json, checkpoint.pt, log.csv, val.csv, weights.")
    data = typer.Option(None, "--data", help="Training data (repeatable): a train_stacks root (<source>/<scene>/NN.jpg) or an official SICE root (Dataset_Part1/...).")
    synthetic = typer.Option(None, "--synthetic", help="Also train on brackets simulated from the images of this folder, or 'labels' (the stack labels).")
    synthetic_fraction = typer.Option(None, "--synthetic-fraction", help="Share of synthetic samples when other data is given (default 0.25).")
    resume = typer.Option(False, "--resume", help="Continue RUN_DIR exactly from its checkpoint (its saved config is used).")
    steps = typer.Option(None, "--steps", help="Total optimiser steps (default 1000).")
    batch = typer.Option(None, "--batch", help="Samples per step per process (thesis 8).")
    crop = typer.Option(None, "--crop", help="Random crop side in pixels (thesis 256).")
    lr = typer.Option(None, "--lr", help="Adam learning rate (thesis 1e-4).")
    beta1 = typer.Option(None, "--beta1", help="Adam beta1 (thesis 0.5).")
    beta2 = typer.Option(None, "--beta2", help="Adam beta2 (default 0.999).")
    grad_clip = typer.Option(None, "--grad-clip", help="Clip the global gradient norm to this value (default 0: off).")
    schedule = typer.Option(None, "--schedule", help="Learning-rate schedule after warm-up: constant or cosine (decays to 0 at the last step). Default constant (cbm: cosine).")
    warmup_steps = typer.Option(None, "--warmup-steps", help="Linear learning-rate warm-up over this many steps (default 0).")
    task_param = typer.Option(None, "--task-param", help="KEY=VALUE task parameter (repeatable), checked against the task's parameter types; dict-valued ones take a JSON object. See the task's docs.")
    lambda_vgg = typer.Option(None, "--lambda-vgg", help="Weight of the VGG19 perceptual loss (thesis 0.01; needs --vgg-weights).")
    vgg_weights = typer.Option(None, "--vgg-weights", help="torchvision-format VGG19 state dict (.pth or .safetensors); nothing is downloaded.")
    lambda_ssim = typer.Option(None, "--lambda-ssim", help="Weight of 1 - SSIM on grayscale (thesis 0.1).")
    device = typer.Option(None, "--device", help="cpu, cuda, cuda:N or auto (default auto).")
    seed = typer.Option(None, "--seed", help="Seed of init, data order, crops and augmentation (default 0).")
    threads = typer.Option(None, "--threads", help="torch.set_num_threads for the run (default: leave torch's choice).")
    checkpoint_every = typer.Option(None, "--checkpoint-every", help="Steps between checkpoints (default 200).")
    val_every = typer.Option(None, "--val-every", help="Steps between validation passes (default 500; 0: at the end).")
    label_cache = typer.Option(None, "--label-cache", help="Folder of cached stack labels (default ~/.cache/mefkit/stack_labels or $MEFKIT_LABEL_CACHE).")
    label_methods = typer.Option(None, "--label-methods", help="Comma list of classic methods tried for stack labels (default: all classic).")
    skip_label_methods = typer.Option(None, "--skip-label-methods", help="Comma list of methods never used for labels (e.g. slow ones).")
    max_side = typer.Option(None, "--max-side", help="Downscale training images to this longer side (default 512).")
    under_max_frac = typer.Option(None, "--under-max-frac", help="Draw the under frame from the darkest FRAC of a stack (default 0.5; smaller: more extreme pairs).")
    over_min_frac = typer.Option(None, "--over-min-frac", help="Draw the over frame from frames at or above FRAC of a stack's index range (default 0.5; larger: more extreme pairs).")
    extreme_share = typer.Option(None, "--extreme-share", help="Share of stack samples that take the stack's darkest and brightest frames, the pair used at inference (default 0).")
    config = typer.Option(None, "--config", help="Recipe TOML with the run's settings (e.g. recipes/cbm.toml); options and --set override it.")
    settings = typer.Option(None, "--set", help="KEY=VALUE setting, applied last (repeatable): steps=900, optim.lr=1e-3, data.crop=96, params.teacher=mertens (see mefkit.train.config).")
    no_amp = typer.Option(False, "--no-amp", help="Disable mixed precision on CUDA.")
    no_progress = typer.Option(False, "--no-progress", help="No progress bar (log lines only).")


#: What typer parses each :class:`COMMON` option as.
COMMON_TYPES: dict[str, Any] = {
    "out": Path, "data": Optional[List[str]], "synthetic": Optional[str], "synthetic_fraction": Optional[float],
    "resume": bool, "steps": Optional[int], "batch": Optional[int], "crop": Optional[int], "lr": Optional[float],
    "beta1": Optional[float], "beta2": Optional[float], "grad_clip": Optional[float], "schedule": Optional[str],
    "warmup_steps": Optional[int], "task_param": Optional[List[str]], "lambda_vgg": Optional[float],
    "vgg_weights": Optional[Path], "lambda_ssim": Optional[float], "device": Optional[str], "seed": Optional[int],
    "threads": Optional[int], "checkpoint_every": Optional[int], "val_every": Optional[int],
    "label_cache": Optional[Path], "label_methods": Optional[str], "skip_label_methods": Optional[str],
    "max_side": Optional[int], "under_max_frac": Optional[float], "over_min_frac": Optional[float],
    "extreme_share": Optional[float], "config": Optional[Path], "settings": Optional[List[str]],
    "no_amp": bool, "no_progress": bool,
}
#: The :class:`COMMON` options every training command takes.
BASE_OPTIONS = ("out", "data", "resume", "steps", "batch", "crop", "device", "seed", "threads", "checkpoint_every",
                "val_every", "max_side", "config", "settings", "no_progress")
#: What the label options add (commands that train on stack labels).
LABEL_OPTIONS = ("label_cache", "label_methods", "skip_label_methods")


def train_command(name: str, options: Sequence[str] = BASE_OPTIONS) -> Callable[[Callable[..., Any]], Callable[..., Any]]:
    """Register ``fn`` as ``mefkit train NAME``: its own parameters plus the :class:`COMMON` ``options``.

    ``fn(own..., **opts)`` declares only what is its own; the common options reach it in
    ``opts`` (``None`` where not given), ready for :func:`config_from_options`. A
    parameter of ``fn`` with a common option's name replaces that option (its own help).
    Errors print as one line (:func:`~mefkit.cli.app.reports_errors`).
    """

    def decorator(fn: Callable[..., Any]) -> Callable[..., Any]:
        sig = inspect.signature(fn)
        own = [p for p in sig.parameters.values() if p.kind is not inspect.Parameter.VAR_KEYWORD]
        common = [inspect.Parameter(o, inspect.Parameter.POSITIONAL_OR_KEYWORD, default=getattr(COMMON, o),
                                    annotation=COMMON_TYPES[o]) for o in options if o not in sig.parameters]

        @functools.wraps(fn)
        def command(**kwargs: Any) -> Any:
            return fn(**kwargs)

        command.__signature__ = sig.replace(parameters=own + common)  # type: ignore[attr-defined]
        command.__annotations__ = {**fn.__annotations__, **{p.name: p.annotation for p in common}}
        train_app.command(name)(reports_errors(command))
        return command

    return decorator


def _split(text: str | None) -> tuple[str, ...] | None:
    if text is None:
        return None
    return tuple(t.strip() for t in text.split(",") if t.strip())


def _classify_data(paths: list[str] | None) -> dict[str, str]:
    """Map ``--data`` paths to DataConfig fields (``stacks`` or ``sice``)."""
    out: dict[str, str] = {}
    for p in paths or []:
        path = Path(p)
        if not path.is_dir():
            raise MefkitError(f"{path}: --data must be a folder")
        key = "sice" if (path / "Dataset_Part1").is_dir() or (path / "Dataset_Part2").is_dir() else "stacks"
        if key in out:
            raise MefkitError(f"two --data folders of the same kind ({out[key]} and {path}); give one")
        out[key] = str(path)
    return out


#: Where each training task lives: ``mefkit train NAME`` -> (module, class). A task's
#: parameters and their types are its ``Params`` dataclass.
TASKS: dict[str, tuple[str, str]] = {
    "progressive": ("mefkit.methods.progressive.task", "ProgressiveTask"),
    "cbm": ("mefkit.methods.cbm.task", "CbmTask"),
    "mitm": ("mefkit.methods.mitm.task", "MitmTask"),
    "tiny": ("mefkit.train.example_task", "TinyFusionTask"),
}


def task_param_types(task: str) -> dict[str, Any]:
    """Parameter name -> type of ``task``'s ``Params`` (``progressive-phase1`` reads as ``progressive``)."""
    import importlib

    where = TASKS.get(task) or TASKS.get(task.split("-")[0])
    if where is None:
        return {}
    return getattr(importlib.import_module(where[0]), where[1]).Params.types()


def config_from_options(*, out: Path, resume: bool = False, task: str = "", task_params: dict | None = None,
                        data: list[str] | None = None, **opts: Any):
    """Build a :class:`~mefkit.train.config.TrainConfig` from command-line options.

    With ``resume`` and an existing ``RUN_DIR/config.json``, the saved config is the
    base; otherwise the recipe ``config`` (``--config recipes/NAME.toml``) or the
    dataclass defaults. Options that are ``None`` (not given) keep the base value.
    Recognised ``opts``: the names of :class:`COMMON`'s attributes; ``task_param``
    (``KEY=VALUE`` strings, typed by the task's ``Params``) is merged over
    ``task_params``; ``settings`` (``--set KEY=VALUE``) applies last.
    """
    from ..train.config import TrainConfig, apply_settings, load_config, load_recipe

    types = task_param_types(task)
    extra = parse_params(types, opts.get("task_param"), label=f"--task-param of task {task!r}")
    if extra:
        task_params = {**(task_params or {}), **extra}

    saved = Path(out) / "config.json"
    if resume and saved.is_file():
        cfg = load_config(saved)
    elif opts.get("config") is not None:
        cfg = load_recipe(opts["config"])
    else:
        cfg = TrainConfig()
    cfg.out = str(out)
    if not (resume and saved.is_file()):
        cfg.task = task or cfg.task
        cfg.task_params = {**cfg.task_params, **(task_params or {})}
    elif task_params:
        cfg.task_params.update(task_params)  # the engine refuses it if it changes the saved run
    top = {"steps": "steps", "batch": "batch", "device": "device", "seed": "seed", "threads": "threads",
           "checkpoint_every": "checkpoint_every", "val_every": "val_every"}
    for opt, fld in top.items():
        if opts.get(opt) is not None:
            setattr(cfg, fld, opts[opt])
    if opts.get("lr") is not None:
        cfg.optim.lr = opts["lr"]
    if opts.get("beta1") is not None:
        cfg.optim.betas = (float(opts["beta1"]), cfg.optim.betas[1])
    if opts.get("beta2") is not None:
        cfg.optim.betas = (cfg.optim.betas[0], float(opts["beta2"]))
    if opts.get("grad_clip") is not None:
        if opts["grad_clip"] < 0:
            raise MefkitError(f"--grad-clip must be >= 0, got {opts['grad_clip']}")
        cfg.optim.grad_clip = float(opts["grad_clip"])
    if opts.get("schedule") is not None:
        if opts["schedule"] not in ("constant", "cosine"):
            raise MefkitError(f"--schedule must be 'constant' or 'cosine', got {opts['schedule']!r}")
        cfg.optim.schedule = opts["schedule"]
    if opts.get("warmup_steps") is not None:
        if opts["warmup_steps"] < 0:
            raise MefkitError(f"--warmup-steps must be >= 0, got {opts['warmup_steps']}")
        cfg.optim.warmup_steps = int(opts["warmup_steps"])
    for opt in ("lambda_vgg", "lambda_ssim", "vgg_weights"):
        if opts.get(opt) is not None:
            setattr(cfg.loss, opt, str(opts[opt]) if opt == "vgg_weights" else opts[opt])
    for opt in ("under_max_frac", "over_min_frac"):
        if opts.get(opt) is not None and not 0.0 < opts[opt] <= 1.0:
            raise MefkitError(f"--{opt.replace('_', '-')} must be in (0, 1], got {opts[opt]}")
    if opts.get("extreme_share") is not None and not 0.0 <= opts["extreme_share"] <= 1.0:
        raise MefkitError(f"--extreme-share must be in [0, 1], got {opts['extreme_share']}")
    for opt in ("crop", "synthetic", "synthetic_fraction", "label_cache", "max_side", "under_max_frac", "over_min_frac",
                "extreme_share"):
        if opts.get(opt) is not None:
            setattr(cfg.data, opt, str(opts[opt]) if isinstance(opts[opt], Path) else opts[opt])
    for opt in ("label_methods", "skip_label_methods"):
        if opts.get(opt) is not None:
            setattr(cfg.data, opt, _split(opts[opt]) or ())
    for key, value in _classify_data(data).items():
        setattr(cfg.data, key, value)
    if opts.get("no_amp"):
        cfg.amp = False
    if opts.get("no_progress"):
        cfg.progress = False
    apply_settings(cfg, opts.get("settings"), types)
    if not (cfg.data.stacks or cfg.data.sice or cfg.data.synthetic):
        raise MefkitError("no training data: give --data STACKS_OR_SICE and/or --synthetic FOLDER|labels")
    return cfg


def run_training(task, cfg, resume: bool = False) -> None:  # noqa: ANN001 - a Task and a TrainConfig
    """Run the engine and report the outcome; exit status 130 when interrupted."""
    require_torch("training")
    from ..train.engine import Trainer

    rank0 = os.environ.get("RANK", "0") == "0"  # under torchrun only rank 0 talks
    if rank0:
        console.print(f"training {cfg.task or task.name} -> {cfg.out} ({cfg.steps} steps, batch {cfg.batch}, "
                      f"device {cfg.device})", highlight=False)
    result = Trainer(task, cfg, resume=resume, console=console).fit()
    if result.interrupted and rank0:
        console.print(f"stopped at step {result.step}; continue with the same command and --resume", highlight=False)
        raise typer.Exit(130)


@train_command("tiny", BASE_OPTIONS + ("synthetic", "vgg_weights"))
def train_tiny(
    width: int = typer.Option(8, "--width", help="Channels of the toy CNN."),
    lambda_vgg: Optional[float] = typer.Option(0.0, "--lambda-vgg", help="Perceptual weight (default 0 here)."),
    **opts: Any,
) -> None:
    """Smoke-test the engine with a toy fusion CNN (not a method to use)."""
    require_torch("training")
    from ..train.example_task import TinyFusionTask

    cfg = config_from_options(task="tiny", task_params={"width": width}, lambda_vgg=lambda_vgg, **opts)
    run_training(TinyFusionTask(cfg.task_params), cfg, opts["resume"])


@train_app.command("labels")
@reports_errors
def train_labels(
    data: Path = typer.Argument(..., help="train_stacks root (<source>/<scene>/NN.jpg)."),
    label_cache: Optional[Path] = COMMON.label_cache,
    label_methods: Optional[str] = COMMON.label_methods,
    skip_label_methods: Optional[str] = COMMON.skip_label_methods,
    max_side: int = typer.Option(512, "--max-side", help="Downscale stacks to this longer side before fusing."),
    refresh: Optional[str] = typer.Option(None, "--refresh", help="Comma list of methods to recompute (after a change to their code)."),
    eval_root: Optional[List[Path]] = typer.Option(None, "--eval-root", help="Folders of evaluation scenes to exclude (default: mefb, mef_database, memorial, deep_published beside DATA)."),
) -> None:
    """Build (or read) the whole-stack labels and show each stack's chosen method."""
    from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeElapsedColumn
    from rich.table import Table

    from ..train.labels import build_stack_labels, default_label_cache
    from ..devdata import eval_roots
    from ..train.stacks import find_stacks, guess_data_root, split_excluded

    cache = label_cache or default_label_cache()
    stacks = find_stacks(data)
    roots = eval_root or eval_roots(guess_data_root(data))
    kept, excluded = split_excluded(stacks, roots)
    console.print(f"{len(stacks)} stacks, {len(excluded)} excluded as evaluation scenes, {len(kept)} labelled", highlight=False)
    with Progress(TextColumn("{task.description}"), BarColumn(), MofNCompleteColumn(), TimeElapsedColumn(), console=console) as prog:
        bar = prog.add_task("labels", total=len(kept))
        choices = build_stack_labels(kept, cache, methods=_split(label_methods), skip=_split(skip_label_methods) or (), max_side=max_side,
                                     refresh=_split(refresh) or (),
                                     on_progress=lambda sid, done, total: prog.update(bar, completed=done, description=sid))
    table = Table(title=f"stack labels ({cache}/choices.csv)")
    for col in ("stack", "method", "MEF-SSIM"):
        table.add_column(col)
    for c in choices.values():
        table.add_row(c.stack, c.method, f"{c.score:.4f}")
    console.print(table)
    counts: dict[str, int] = {}
    for c in choices.values():
        counts[c.method] = counts.get(c.method, 0) + 1
    console.print("chosen: " + ", ".join(f"{m} {n}" for m, n in sorted(counts.items(), key=lambda t: -t[1])), highlight=False)
    for sid, why in sorted(excluded.items()):
        console.print(f"excluded {sid}: {why}", highlight=False)


__all__ = ["BASE_OPTIONS", "COMMON", "LABEL_OPTIONS", "config_from_options", "run_training", "train_app", "train_command"]
