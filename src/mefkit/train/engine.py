"""The one training engine of mefkit: every learned method trains through :class:`Trainer`.

How a method plugs in
---------------------
Subclass :class:`Task` (models, loss, prediction), describe the run with a
:class:`~mefkit.train.config.TrainConfig`, call ``Trainer(task, cfg).fit()``::

    import torch
    from mefkit.train import Task, Trainer, TrainConfig, DataConfig, LossConfig, load_weights, freeze

    class MyTask(Task):
        name = "mymethod"
        symmetric = False        # True allows random under/over swaps in the data
        with_mid = False         # True adds batch["mid"], a frame between under and over

        def build_models(self):  # trained, checkpointed, exported as RUN_DIR/<name>.safetensors
            return {"net": MyNet(width=self.params.get("width", 16))}

        def build_frozen(self):  # optional: fixed sub-models (requires_grad False, eval mode)
            return {"phase1": load_weights(Phase1Net(), self.params["phase1_weights"])}

        def forward(self, models, batch):      # (B, 3, H, W) in [0, 1]
            return models["net"](batch["under"], batch["over"])

        def loss(self, models, batch):         # -> (scalar loss, {name: float})
            return self.criterion(self.forward(models, batch), batch["label"])
            # CBM-style per-sample weights: self.criterion(pred, label, weights=w)  # w: (B,)

        def predict(self, models, batch):      # validation; default: self.forward
            return self.forward(models, batch)

        # optional: val_columns = ("psnr", ...) and val_metrics(pred, batch) -> {column: float}
        # (default: PSNR, SSIM vs label and MEF-SSIM vs the input pair, from mefkit.metrics)

    cfg = TrainConfig(task="mymethod", out="runs/my", steps=2000, batch=8,
                      data=DataConfig(stacks="../shared/data/train_stacks", synthetic="labels"),
                      loss=LossConfig(lambda_vgg=0.0), task_params={"width": 16})
    Trainer(MyTask(cfg.task_params), cfg).fit()          # or resume=True

* ``batch`` is a dict of ``(B, 3, crop, crop)`` float32 tensors on the device:
  ``"under"``, ``"over"``, ``"label"`` (and ``"mid"``), see :mod:`mefkit.train.data`.
  A task that needs other data overrides :meth:`Task.build_data` (return a
  :class:`~mefkit.train.data.DataBundle`; keep ``ds[key]`` deterministic in the key).
* ``self.criterion`` is ``FusionLoss(L1 + lambda_vgg VGG + lambda_ssim (1 - SSIM))``
  from ``cfg.loss``, built in :meth:`Task.setup` (so a missing VGG file stops the run
  at start). ``self.params`` is ``cfg.task_params``; ``self.device`` the device.
* ``models`` passed to ``loss`` / ``predict`` holds the trained models (DDP-wrapped
  under ``torchrun``) and the frozen ones, by name.
* The CLI: add ``src/mefkit/cli/train_<name>.py`` registering a command on
  :data:`mefkit.cli.train.train_app` (see that module); it builds a config with
  :func:`mefkit.cli.train.config_from_options` and calls :func:`mefkit.cli.train.run_training`.

What the engine does: Adam (``cfg.optim``), CPU or CUDA with AMP (float16 autocast +
GradScaler), multi-GPU with ``torchrun --nproc_per_node N "$(which mefkit)" train ...``
(DDP; NCCL on CUDA, gloo on CPU; each process reads its own samples, see
:class:`~mefkit.train.data.StepSampler`; ``--batch`` is per process; rank 0 logs and saves), ``RUN_DIR/config.json``,
``checkpoint.pt`` every ``checkpoint_every`` steps and at exit (also on Ctrl-C and
SIGTERM: the current step finishes, the checkpoint is written, the run stops),
``resume=True`` continuing exactly (models, optimizer, scaler, step, RNG states; the
data stream is a function of seed and step), ``log.csv`` (step, time, lr and every key
of the task's logs dict, fixed at the first step),
``val.csv`` (PSNR, SSIM against the label, MEF-SSIM against the input pair, from
:mod:`mefkit.metrics`) every ``val_every`` steps, a rich progress bar with loss and
it/s, and ``RUN_DIR/<model>.safetensors`` at the end.

On the CPU a run interrupted and resumed gives bit-identical weights to an
uninterrupted one (tested); on CUDA, kernels may be non-deterministic unless
``cfg.deterministic``.
"""

from __future__ import annotations

import contextlib
import csv
import io
import math
import os
import random
import signal
import threading
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Iterator

import numpy as np
import torch
from torch import nn
from torch.utils.data import DataLoader

from ..atomic import write_text_atomic
from ..errors import MefkitError
from ..nn.weights import save_weights
from .checkpoint import (
    CHECKPOINT_NAME,
    atomic_torch_save,
    freeze,
    load_checkpoint,
    rng_state,
    set_rng_state,
    unwrap,
)
from .config import TrainConfig, config_to_dict, save_config
from .data import DATA_MANIFEST, DataBundle, StepSampler, build_data
from .losses import FusionLoss

#: Config fields that may differ when a run is resumed (they do not change the result).
RESUMABLE_CHANGES = frozenset(
    {"steps", "progress", "threads", "num_workers", "checkpoint_every", "keep_checkpoints",
     "val_every", "log_every", "out", "device"}
)


class Task:
    """What a learned method supplies to the engine. Subclass and override.

    Parameters
    ----------
    params : dict, optional
        The method's own settings (``cfg.task_params``), available as ``self.params``.

    Attributes
    ----------
    name : str
        Short name, used in logs and weight metadata.
    symmetric : bool
        The model treats its two inputs symmetrically: the data may swap them.
    with_mid : bool
        Batches carry a ``"mid"`` frame.
    val_columns : tuple of str
        Columns of ``val.csv`` (the keys :meth:`val_metrics` returns).
    """

    name = "task"
    symmetric = False
    with_mid = False
    val_columns: tuple[str, ...] = ("psnr", "ssim", "mef_ssim")

    def __init__(self, params: dict[str, Any] | None = None):
        self.params = dict(params or {})
        self.device = torch.device("cpu")
        self.cfg: TrainConfig | None = None
        self.criterion: nn.Module | None = None

    def setup(self, cfg: TrainConfig, device: torch.device) -> None:
        """Called first, before any model is built: keeps the config and builds the loss."""
        self.cfg = cfg
        self.device = device
        self.criterion = FusionLoss.from_config(cfg.loss).to(device)

    def build_models(self) -> dict[str, nn.Module]:
        """The trained models by name (checkpointed and exported)."""
        raise NotImplementedError

    def build_frozen(self) -> dict[str, nn.Module]:
        """Fixed sub-models by name (the engine freezes them and keeps them in eval mode)."""
        return {}

    def parameters(self, models: dict[str, nn.Module]) -> Iterator[nn.Parameter]:
        """The parameters the optimiser updates (default: every trainable one of the trained models)."""
        for model in models.values():
            yield from (p for p in model.parameters() if p.requires_grad)

    def build_data(self, cfg: TrainConfig, on_progress=None) -> DataBundle:
        """Training and validation data (default: :func:`mefkit.train.data.build_data`)."""
        return build_data(cfg.data, seed=cfg.seed, swap=self.symmetric, with_mid=self.with_mid,
                          run_dir=cfg.out, on_progress=on_progress)

    def forward(self, models: dict[str, nn.Module], batch: dict[str, Any]) -> torch.Tensor:
        """The fused ``(B, 3, H, W)`` prediction."""
        raise NotImplementedError

    def loss(self, models: dict[str, nn.Module], batch: dict[str, Any]) -> tuple[torch.Tensor, dict[str, float]]:
        """Scalar loss and float logs for one batch (default: criterion on forward vs label)."""
        return self.criterion(self.forward(models, batch), batch["label"])

    def predict(self, models: dict[str, nn.Module], batch: dict[str, Any]) -> torch.Tensor:
        """Validation prediction, ``(B, 3, H, W)`` in [0, 1] (default: :meth:`forward`)."""
        return self.forward(models, batch)

    def val_metrics(self, pred: torch.Tensor, batch: dict[str, Any]) -> dict[str, float]:
        """Scores of one validation prediction (batch of 1), keys = :attr:`val_columns`.

        Default: PSNR and SSIM against ``batch["label"]``, MEF-SSIM against the input pair
        (``mefkit.metrics``; NaN where an image is too small for a metric).
        """
        ref_fns, nr_fns = _metric_fns()
        out = _tensor_to_image(pred[0])
        label = _tensor_to_image(batch["label"][0])
        frames = [_tensor_to_image(batch["under"][0]), _tensor_to_image(batch["over"][0])]
        row = {k: float(fn(out, label)) for k, fn in ref_fns.items()}
        for k, fn in nr_fns.items():
            try:
                row[k] = float(fn(frames, out))
            except ValueError:  # image too small for the metric's scales
                row[k] = math.nan
        return row

    def weight_metadata(self) -> dict[str, Any]:
        """Extra metadata stored in the exported safetensors (e.g. model width)."""
        return {"params": self.params}


@dataclass
class FitResult:
    """How a :meth:`Trainer.fit` call ended."""

    step: int
    interrupted: bool
    logs: dict[str, float] = field(default_factory=dict)
    val: dict[str, float] = field(default_factory=dict)
    out: str = ""


class _StopOnSignal:
    """First SIGINT/SIGTERM asks the loop to stop after the current step; a second SIGINT aborts."""

    def __init__(self) -> None:
        self.requested = False
        self._old: dict[int, Any] = {}

    def _handle(self, signum, frame) -> None:  # noqa: ANN001
        if self.requested and signum == signal.SIGINT:
            raise KeyboardInterrupt
        self.requested = True

    def __enter__(self) -> "_StopOnSignal":
        if threading.current_thread() is threading.main_thread():
            for sig in (signal.SIGINT, signal.SIGTERM):
                self._old[sig] = signal.signal(sig, self._handle)
        return self

    def __exit__(self, *exc) -> None:
        for sig, old in self._old.items():
            signal.signal(sig, old)


@contextlib.contextmanager
def _rng_preserved() -> Iterator[None]:
    """Run a block (validation) without moving any global RNG the training sees."""
    state = rng_state()
    try:
        yield
    finally:
        set_rng_state(state)


def _dist_env() -> tuple[int, int, int]:
    """``(rank, local_rank, world_size)`` from torchrun's environment (single process: 0, 0, 1)."""
    world = int(os.environ.get("WORLD_SIZE", "1"))
    return int(os.environ.get("RANK", "0")), int(os.environ.get("LOCAL_RANK", "0")), world


def resolve_device(name: str, local_rank: int = 0) -> torch.device:
    """``"auto"`` -> CUDA when available else CPU; ``"cuda"`` -> this process's GPU."""
    if name == "auto":
        name = "cuda" if torch.cuda.is_available() else "cpu"
    if name.startswith("cuda"):
        if not torch.cuda.is_available():
            raise MefkitError("device cuda requested but torch sees no CUDA GPU; use --device cpu")
        if name == "cuda":
            name = f"cuda:{local_rank}"
    return torch.device(name)


def _to_device(batch: dict[str, Any], device: torch.device) -> dict[str, Any]:
    nb = device.type == "cuda"
    return {k: v.to(device, non_blocking=nb) if torch.is_tensor(v) else v for k, v in batch.items()}


def _tensor_to_image(t: torch.Tensor) -> np.ndarray:
    return t.detach().float().clamp(0, 1).cpu().numpy().transpose(1, 2, 0)


def _metric_fns() -> tuple[dict, dict]:
    try:
        from ..metrics import NO_REFERENCE_METRICS, REFERENCE_METRICS
    except ImportError:
        def psnr(fused: np.ndarray, reference: np.ndarray) -> float:
            mse = float(np.mean((fused.astype(np.float64) - reference) ** 2))
            return math.inf if mse == 0 else 10 * math.log10(1.0 / mse)

        return {"psnr": psnr}, {}
    return ({k: REFERENCE_METRICS[k] for k in ("psnr", "ssim") if k in REFERENCE_METRICS},
            {k: NO_REFERENCE_METRICS[k] for k in ("mef_ssim",) if k in NO_REFERENCE_METRICS})


class _CsvLog:
    """Append-only CSV. Its columns are fixed by the first row written (``columns=None``) or
    given; on resume the file's own header is kept and rows after the resumed step dropped.
    """

    def __init__(self, path: Path, resume_step: int | None, columns: list[str] | None = None):
        self.path, self.columns = path, columns
        if resume_step is not None and path.is_file():
            with open(path, newline="") as fh:
                reader = csv.DictReader(fh)
                rows = [r for r in reader if int(float(r.get("step", 0) or 0)) <= resume_step]
                self.columns = list(reader.fieldnames or []) or columns
            if self.columns:
                buf = io.StringIO()
                writer = csv.DictWriter(buf, fieldnames=self.columns, extrasaction="ignore")
                writer.writeheader()
                writer.writerows(rows)
                write_text_atomic(path, buf.getvalue())
        else:
            path.unlink(missing_ok=True)  # a fresh run: no rows of an earlier attempt
            if columns:
                path.write_text(",".join(columns) + "\n")

    def write(self, row: dict[str, Any]) -> None:
        if self.columns is None:
            self.columns = list(row)
            self.path.write_text(",".join(self.columns) + "\n")
        with open(self.path, "a", newline="") as fh:
            csv.DictWriter(fh, fieldnames=self.columns, extrasaction="ignore").writerow(
                {k: (f"{v:.6g}" if isinstance(v, float) else v) for k, v in row.items()}
            )


class Trainer:
    """Run a :class:`Task` under a :class:`~mefkit.train.config.TrainConfig`.

    Parameters
    ----------
    task : Task
    cfg : TrainConfig
    resume : bool
        Continue from ``cfg.out/checkpoint.pt`` (start fresh when there is none).
        Without it, a run folder that already holds a checkpoint is refused.
    console : rich Console, optional
        Where progress and messages go (default: stderr).
    """

    def __init__(self, task: Task, cfg: TrainConfig, resume: bool = False, console=None):
        self.task, self.cfg, self.resume = task, cfg, resume
        self.out = Path(cfg.out)
        if console is None:
            from rich.console import Console

            console = Console(stderr=True)
        self.console = console

    # -- setup ---------------------------------------------------------------------------
    def _check_resume_config(self, saved: dict[str, Any]) -> None:
        now = config_to_dict(self.cfg)
        diff = sorted(k for k in set(saved) | set(now) if k not in RESUMABLE_CHANGES and saved.get(k) != now.get(k))
        if diff:
            raise MefkitError(
                f"{self.out}: --resume with a config that differs from the saved one in {', '.join(diff)}; "
                "resume with the saved config (RUN_DIR/config.json) or start a new run folder"
            )

    def _log(self, message: str) -> None:
        if self.rank == 0:
            self.console.print(message, highlight=False)

    # -- main loop -----------------------------------------------------------------------
    def fit(self) -> FitResult:
        """Train up to ``cfg.steps`` steps; returns how it ended."""
        cfg = self.cfg
        self.rank, local_rank, self.world = _dist_env()
        own_group = False
        if self.world > 1 and not torch.distributed.is_initialized():
            backend = "nccl" if cfg.device != "cpu" and torch.cuda.is_available() else "gloo"
            torch.distributed.init_process_group(backend=backend)
            own_group = True
        try:
            return self._fit(local_rank)
        finally:
            if own_group:
                torch.distributed.destroy_process_group()

    def _barrier(self) -> None:
        if self.world > 1:
            torch.distributed.barrier()

    def _fit(self, local_rank: int) -> FitResult:
        cfg, task = self.cfg, self.task
        device = resolve_device(cfg.device, local_rank)
        if device.type == "cuda":
            torch.cuda.set_device(device)
        if cfg.threads > 0:
            torch.set_num_threads(cfg.threads)
        if cfg.deterministic:
            torch.use_deterministic_algorithms(True, warn_only=True)
            torch.backends.cudnn.benchmark = False
        amp = bool(cfg.amp and device.type == "cuda")
        ckpt_path = self.out / CHECKPOINT_NAME
        ckpt = None
        if ckpt_path.is_file():
            if not self.resume:
                raise MefkitError(f"{self.out}: already holds a checkpoint; pass --resume to continue it or choose another --out")
            ckpt = load_checkpoint(ckpt_path)
            self._check_resume_config(ckpt.get("config", {}))
        if self.rank == 0:
            self.out.mkdir(parents=True, exist_ok=True)
            save_config(cfg, self.out / "config.json")
            if ckpt is None:
                # A fresh start must not inherit the data record of an earlier attempt that
                # died before its first checkpoint (its options may have differed).
                (self.out / DATA_MANIFEST).unlink(missing_ok=True)

        # Same seed on every rank: identical initial weights (DDP also broadcasts rank 0's).
        torch.manual_seed(cfg.seed)
        np.random.seed(cfg.seed % 2**32)
        random.seed(cfg.seed)

        task.setup(cfg, device)  # builds the loss first: a missing VGG file stops here
        models = {k: m.to(device) for k, m in task.build_models().items()}
        frozen = {k: freeze(m.to(device)) for k, m in task.build_frozen().items()}
        clash = set(models) & set(frozen)
        if clash:
            raise ValueError(f"model names used both as trained and frozen: {sorted(clash)}")
        params = list(task.parameters(models))
        if not params:
            raise ValueError(f"task {task.name} has no trainable parameters")
        optimizer = torch.optim.Adam(params, lr=cfg.optim.lr, betas=tuple(cfg.optim.betas),
                                     weight_decay=cfg.optim.weight_decay)
        scaler = torch.amp.GradScaler("cuda", enabled=amp)

        # Data (labels are built by rank 0 first; the other ranks then read the cache).
        data = None
        if self.rank == 0:
            data = self._build_data()
        self._barrier()
        if data is None:
            data = task.build_data(cfg)

        step = 0
        if ckpt is not None:
            for name, model in models.items():
                model.load_state_dict(ckpt["models"][name])
            optimizer.load_state_dict(ckpt["optimizer"])
            if ckpt.get("scaler") and amp:
                scaler.load_state_dict(ckpt["scaler"])
            step = int(ckpt["step"])
            # Rank 0's RNG states (saved by rank 0) go to every rank: exact for one process;
            # under DDP the data stream, which matters most, is exact anyway.
            set_rng_state(ckpt["rng"])
            self._log(f"resumed {self.out} at step {step}")
        plain = dict(models)
        if self.world > 1:
            from torch.nn.parallel import DistributedDataParallel as DDP

            ids = [device.index] if device.type == "cuda" else None
            models = {k: DDP(m, device_ids=ids, find_unused_parameters=cfg.ddp_find_unused)
                      if any(p.requires_grad for p in m.parameters()) else m
                      for k, m in models.items()}
        all_models = {**models, **frozen}
        plain_all = {**plain, **frozen}

        loader = DataLoader(
            data.train,
            batch_size=cfg.batch,
            sampler=StepSampler(cfg.batch, cfg.steps, step, self.rank, self.world),
            num_workers=cfg.num_workers,
            pin_memory=device.type == "cuda",
            # Own generator: creating the loader iterator must not draw from the global RNG,
            # or a resumed run would diverge from an uninterrupted one.
            generator=torch.Generator().manual_seed(cfg.seed),
            persistent_workers=False,
        )
        csv_log = val_log = None
        if self.rank == 0:
            # log.csv columns: step, time_s, lr and the keys of the task's first logs dict.
            csv_log = _CsvLog(self.out / "log.csv", step if ckpt is not None else None)
            val_log = _CsvLog(self.out / "val.csv", step if ckpt is not None else None,
                              ["step", "item", *task.val_columns])

        def save(at: int) -> None:
            if self.rank != 0:
                return
            state = {
                "step": at,
                "models": {k: unwrap(m).state_dict() for k, m in models.items()},
                "optimizer": optimizer.state_dict(),
                "scaler": scaler.state_dict() if amp else None,
                "rng": rng_state(),
                "config": config_to_dict(cfg),
                "task": task.name,
                "time_s": time_before + time.perf_counter() - t0,
            }
            atomic_torch_save(state, ckpt_path)
            if cfg.keep_checkpoints:
                atomic_torch_save(state, self.out / f"checkpoint_{at:07d}.pt")

        for m in models.values():
            m.train()
        logs: dict[str, float] = {}
        val: dict[str, float] = {}
        interrupted = False
        t0 = time.perf_counter()
        time_before = float(ckpt.get("time_s", 0.0)) if ckpt is not None else 0.0  # training time so far
        live_bar = bool(cfg.progress and self.console.is_terminal and self.rank == 0)
        plain_lines = self.rank == 0 and not live_bar
        start_step = step
        progress = self._progress(step) if live_bar else None
        with _StopOnSignal() as stop, (progress or contextlib.nullcontext()):
            bar = progress.add_task(task.name, total=cfg.steps, completed=step, loss="-", rate="-") if progress else None
            for batch in loader:
                batch = _to_device(batch, device)
                lr = self._lr(step)
                for group in optimizer.param_groups:
                    group["lr"] = lr
                with torch.autocast(device_type=device.type, dtype=torch.float16, enabled=amp):
                    loss, logs = task.loss(all_models, batch)
                if not torch.isfinite(loss.detach()):
                    raise MefkitError(f"loss became {float(loss)} at step {step + 1}; last checkpoint is step "
                                      f"{(step // cfg.checkpoint_every) * cfg.checkpoint_every or 'none'}")
                scaler.scale(loss).backward()
                if cfg.optim.grad_clip > 0:
                    scaler.unscale_(optimizer)
                    torch.nn.utils.clip_grad_norm_(params, cfg.optim.grad_clip)
                scaler.step(optimizer)
                scaler.update()
                optimizer.zero_grad(set_to_none=True)
                step += 1
                elapsed = time.perf_counter() - t0
                total_time = time_before + elapsed
                if csv_log is not None and (step % cfg.log_every == 0 or step == cfg.steps):
                    csv_log.write({"step": step, "time_s": round(total_time, 3), "lr": lr, **logs})
                if plain_lines and (step % (10 * cfg.log_every) == 0 or step == cfg.steps):
                    # No live bar in a log file: a line now and then instead.
                    rate = (step - start_step) / max(elapsed, 1e-9)
                    self.console.print(f"step {step}/{cfg.steps} loss {float(loss.detach()):.4f} "
                                       f"{rate:.2f} it/s {total_time / 60:.1f} min", highlight=False)
                if progress is not None:
                    rate = (step - start_step) / max(elapsed, 1e-9)
                    progress.update(bar, completed=step, loss=f"{float(loss.detach()):.4f}", rate=f"{rate:.2f}")
                if cfg.checkpoint_every > 0 and step % cfg.checkpoint_every == 0:
                    save(step)
                if data.val is not None and cfg.val_every > 0 and step % cfg.val_every == 0:
                    val = self._validate(plain_all, data, device, step, val_log)
                stop_now = stop.requested
                if self.world > 1:  # every rank must leave the loop at the same step
                    flag = torch.tensor([float(stop_now)], device=device)
                    torch.distributed.all_reduce(flag)
                    stop_now = bool(flag.item() > 0)
                if stop_now:
                    interrupted = True
                    break
        if not (cfg.checkpoint_every > 0 and step % cfg.checkpoint_every == 0 and step > start_step):
            save(step)
        if not interrupted and data.val is not None and (cfg.val_every <= 0 or step % cfg.val_every != 0):
            val = self._validate(plain_all, data, device, step, val_log)
        if self.rank == 0 and not interrupted:
            meta = {"task": task.name, "step": step, "config": config_to_dict(cfg), **task.weight_metadata()}
            for name, model in models.items():
                save_weights(self.out / f"{name}.safetensors", model, meta)
        self._barrier()
        how = "interrupted" if interrupted else "finished"
        self._log(f"{how} at step {step}; checkpoint {ckpt_path}")
        return FitResult(step, interrupted, logs, val, str(self.out))

    # -- helpers -------------------------------------------------------------------------
    def _build_data(self) -> DataBundle:
        return self.task.build_data(self.cfg)

    def _lr(self, step: int) -> float:
        """Learning rate for the step about to run (constant, or cosine decay to 0)."""
        o = self.cfg.optim
        lr = o.lr
        if o.warmup_steps > 0 and step < o.warmup_steps:
            lr = o.lr * (step + 1) / o.warmup_steps
        elif o.schedule == "cosine":
            span = max(1, self.cfg.steps - o.warmup_steps)
            lr = o.lr * 0.5 * (1 + math.cos(math.pi * min(1.0, (step - o.warmup_steps) / span)))
        return lr

    def _progress(self, step: int):
        from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeElapsedColumn, TimeRemainingColumn

        return Progress(
            TextColumn("[bold]{task.description}"), BarColumn(), MofNCompleteColumn(),
            TextColumn("loss {task.fields[loss]}"), TextColumn("{task.fields[rate]} it/s"),
            TimeElapsedColumn(), TimeRemainingColumn(), console=self.console, transient=False,
        )

    def _validate(self, models: dict[str, nn.Module], data: DataBundle, device: torch.device, step: int,
                  val_log: _CsvLog | None) -> dict[str, float]:
        """PSNR/SSIM vs label and MEF-SSIM vs (under, over) on the validation pairs (rank 0 only)."""
        if self.rank != 0 or data.val is None or len(data.val) == 0:
            return {}
        was_training = {k: m.training for k, m in models.items()}
        for m in models.values():
            m.eval()
        rows = []
        with _rng_preserved(), torch.no_grad():
            for i in range(len(data.val)):
                item = data.val[i]
                batch = _to_device({k: (v[None] if torch.is_tensor(v) else [v]) for k, v in item.items()}, device)
                pred = self.task.predict(models, batch)
                rows.append({"item": item["name"], **self.task.val_metrics(pred, batch)})
        for k, m in models.items():
            m.train(was_training[k])  # frozen models were in eval mode and stay there
        mean = {k: float(np.mean([r[k] for r in rows])) for k in rows[0] if k != "item"}
        if val_log is not None:
            for r in rows:
                val_log.write({"step": step, **r})
            val_log.write({"step": step, "item": "mean", **mean})
        self._log(f"step {step} validation: " + ", ".join(f"{k} {v:.4f}" for k, v in mean.items()))
        return mean
