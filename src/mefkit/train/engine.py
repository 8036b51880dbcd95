"""The one training engine of mefkit: every learned method trains through :class:`Trainer`.

How a method plugs in
---------------------
Subclass :class:`Task` (models, loss, prediction), describe the run with a
:class:`~mefkit.train.config.TrainConfig`, call ``Trainer(task, cfg).fit()``::

    from dataclasses import dataclass
    import torch
    from mefkit.train import Task, TaskParams, Trainer, TrainConfig, DataConfig, LossConfig, load_weights, freeze

    @dataclass
    class MyParams(TaskParams):  # the task's parameters, typed, with their defaults
        width: int = 16
        phase1_weights: str | None = None

    class MyTask(Task):
        name = "mymethod"
        Params = MyParams
        train_defaults = {"loss.lambda_vgg": 0.0}  # TrainConfig fields left at None
        symmetric = False        # True allows random under/over swaps in the data
        with_mid = False         # True adds batch["mid"], a frame between under and over

        def build_models(self):  # trained, checkpointed, exported as RUN_DIR/<name>.safetensors
            return {"net": MyNet(width=self.params.width)}

        def build_frozen(self):  # optional: fixed sub-models (requires_grad False, eval mode)
            return {"phase1": load_weights(Phase1Net(), self.params.phase1_weights)}

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
                      task_params={"width": 16})
    Trainer(MyTask(cfg.task_params), cfg).fit()          # or resume=True

* ``batch`` is a dict of ``(B, 3, crop, crop)`` float32 tensors on the device:
  ``"under"``, ``"over"``, ``"label"`` (and ``"mid"``), see :mod:`mefkit.train.data`.
  A task that needs other data overrides :meth:`Task.build_data` (return a
  :class:`~mefkit.train.data.DataBundle`; keep ``ds[key]`` deterministic in the key).
* ``self.criterion`` is ``FusionLoss(L1 + lambda_vgg VGG + lambda_ssim (1 - SSIM))``
  from ``cfg.loss``, built in :meth:`Task.setup` (so a missing VGG file stops the run
  at start). ``self.params`` is the task's ``Params`` built from ``cfg.task_params``
  (unknown keys are refused); ``self.device`` the device. Config fields left at None
  (``optim.lr``, ``optim.schedule``, ``loss.lambda_vgg``) take the task's
  ``train_defaults``, else the thesis's (:data:`TRAIN_DEFAULTS`).
* ``models`` passed to ``loss`` / ``predict`` holds the trained models (DDP-wrapped
  under ``torchrun``) and the frozen ones, by name.
* The CLI: add ``train_cli.py`` to the method's package (``mefkit/methods/<name>/``)
  registering a command on :data:`mefkit.cli.train.train_app` (see that module), and
  the task to :data:`mefkit.cli.train.TASKS`; the command builds a config with
  :func:`mefkit.cli.train.config_from_options` (which reads ``--config`` recipes and
  ``--set`` overrides) and calls :func:`mefkit.cli.train.run_training`.

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
import dataclasses
import csv
import io
import math
import os
import random
import signal
import threading
import time
import typing
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Iterator, Mapping

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
from .config import THESIS_LAMBDA_VGG, THESIS_LR, TrainConfig, config_to_dict, save_config
from .data import DATA_MANIFEST, DataBundle, StepSampler, build_data
from .losses import FusionLoss

#: Config fields that may differ when a run is resumed (they do not change the result).
RESUMABLE_CHANGES = frozenset(
    {"steps", "progress", "threads", "num_workers", "checkpoint_every", "keep_checkpoints",
     "val_every", "log_every", "out", "device"}
)


@dataclass
class TaskParams:
    """Base of a task's typed parameters: subclass it as a dataclass with defaults.

    Each :class:`Task` names its class as ``Params``; the engine builds it from
    ``cfg.task_params`` (unknown keys are refused), so a task reads typed fields
    (``self.params.teacher``) whose defaults live in one place. ``params["key"]`` and
    ``params.get("key", default)`` read fields too; :meth:`to_dict` is the JSON form
    stored in exported weights.
    """

    @classmethod
    def from_dict(cls, values: Mapping[str, Any] | TaskParams | None) -> "TaskParams":
        """Build from a mapping of field values (missing fields keep their defaults)."""
        if isinstance(values, cls):
            return values
        values = dict(values.to_dict() if isinstance(values, TaskParams) else values or {})
        known = [f.name for f in dataclasses.fields(cls)]
        unknown = sorted(set(values) - set(known))
        if unknown:
            raise MefkitError(f"unknown task parameter(s) {', '.join(unknown)}; accepted: {', '.join(known) or 'none'}")
        return cls(**values)

    @classmethod
    def types(cls) -> dict[str, Any]:
        """Field name -> annotated type (what ``--set params.KEY=VALUE`` parses against)."""
        return typing.get_type_hints(cls)

    def to_dict(self) -> dict[str, Any]:
        """The parameters as a plain dict."""
        return dataclasses.asdict(self)

    def __getitem__(self, key: str) -> Any:
        if key not in self:
            raise KeyError(key)
        return getattr(self, key)

    def get(self, key: str, default: Any = None) -> Any:
        """The field ``key``, or ``default`` when the task has no such parameter."""
        return getattr(self, key) if key in self else default

    def __contains__(self, key: object) -> bool:
        return isinstance(key, str) and key in {f.name for f in dataclasses.fields(self)}


#: What the generic :class:`~mefkit.train.config.TrainConfig` fields left at None
#: become, unless a task says otherwise (:attr:`Task.train_defaults`): the thesis's.
TRAIN_DEFAULTS: dict[str, Any] = {
    "optim.lr": THESIS_LR,
    "optim.schedule": "constant",
    "loss.lambda_vgg": THESIS_LAMBDA_VGG,
}


def resolve_defaults(cfg: TrainConfig, task: "Task") -> TrainConfig:
    """Fill the fields of ``cfg`` left at None with ``task``'s training defaults (in place)."""
    for key, value in {**TRAIN_DEFAULTS, **task.train_defaults}.items():
        section, _, name = key.rpartition(".")
        holder = getattr(cfg, section) if section else cfg
        if getattr(holder, name) is None:
            setattr(holder, name, value)
    return cfg


class Task:
    """What a learned method supplies to the engine. Subclass and override.

    Parameters
    ----------
    params : mapping or Params, optional
        The method's own settings (``cfg.task_params``), available as ``self.params``,
        an instance of :attr:`Params` (missing ones take its defaults).

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
    Params : type
        The task's :class:`TaskParams` dataclass.
    train_defaults : dict
        The task's values for :class:`~mefkit.train.config.TrainConfig` fields left at
        None (dotted names, e.g. ``{"loss.lambda_vgg": 0.0}``), over :data:`TRAIN_DEFAULTS`.
    """

    name = "task"
    symmetric = False
    with_mid = False
    val_columns: tuple[str, ...] = ("psnr", "ssim", "mef_ssim")
    Params: type[TaskParams] = TaskParams
    train_defaults: dict[str, Any] = {}

    def __init__(self, params: Mapping[str, Any] | TaskParams | None = None):
        self.params = self.Params.from_dict(params)
        self.device = torch.device("cpu")
        self.cfg: TrainConfig | None = None
        self.criterion: nn.Module | None = None

    def setup(self, cfg: TrainConfig, device: torch.device) -> None:
        """Called first, before any model is built: keeps the config and builds the loss."""
        self.cfg = resolve_defaults(cfg, self)
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
        return {"params": self.params.to_dict()}


@dataclass
class _Run:
    """What the steps of one :meth:`Trainer.fit` share (see ``Trainer._fit``)."""

    device: torch.device
    amp: bool
    ckpt_path: Path
    ckpt: dict[str, Any] | None = None
    models: dict[str, nn.Module] = field(default_factory=dict)  # trained (DDP-wrapped under torchrun)
    plain: dict[str, nn.Module] = field(default_factory=dict)  # trained, never wrapped
    frozen: dict[str, nn.Module] = field(default_factory=dict)
    params: list[nn.Parameter] = field(default_factory=list)
    optimizer: Any = None
    scaler: Any = None
    data: DataBundle | None = None
    step: int = 0
    start_step: int = 0
    time_before: float = 0.0  # training time of the run before this process resumed it
    t0: float = 0.0
    csv_log: Any = None
    val_log: Any = None


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
        self.task, self.cfg, self.resume = task, resolve_defaults(cfg, task), resume
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
        run = self._start(local_rank)   # device, threads, run folder, checkpoint, seeds
        self._build(run)                # loss, models, optimiser
        self._load_data(run)            # rank 0 builds labels first, the others read the cache
        self._restore(run)              # a resumed run: models, optimiser, step, RNG states
        self._distribute(run)           # DDP wrappers under torchrun
        self._open_logs(run)
        logs, val, interrupted = self._train(run)
        final = self._finish(run, interrupted)
        if final is not None:
            val = final
        return FitResult(run.step, interrupted, logs, val, str(self.out))

    # -- the steps of a fit --------------------------------------------------------------
    def _start(self, local_rank: int) -> "_Run":
        """Device and torch settings, the run folder and its checkpoint, the seeds."""
        cfg = self.cfg
        device = resolve_device(cfg.device, local_rank)
        if device.type == "cuda":
            torch.cuda.set_device(device)
        if cfg.threads > 0:
            torch.set_num_threads(cfg.threads)
        if cfg.deterministic:
            torch.use_deterministic_algorithms(True, warn_only=True)
            torch.backends.cudnn.benchmark = False
        run = _Run(device=device, amp=bool(cfg.amp and device.type == "cuda"), ckpt_path=self.out / CHECKPOINT_NAME)
        if run.ckpt_path.is_file():
            if not self.resume:
                raise MefkitError(f"{self.out}: already holds a checkpoint; pass --resume to continue it or choose another --out")
            run.ckpt = load_checkpoint(run.ckpt_path)
            self._check_resume_config(run.ckpt.get("config", {}))
        if self.rank == 0:
            self.out.mkdir(parents=True, exist_ok=True)
            save_config(cfg, self.out / "config.json")
            if run.ckpt is None:
                # A fresh start must not inherit the data record of an earlier attempt that
                # died before its first checkpoint (its options may have differed).
                (self.out / DATA_MANIFEST).unlink(missing_ok=True)
        # Same seed on every rank: identical initial weights (DDP also broadcasts rank 0's).
        torch.manual_seed(cfg.seed)
        np.random.seed(cfg.seed % 2**32)
        random.seed(cfg.seed)
        return run

    def _build(self, run: "_Run") -> None:
        """The loss (first: a missing VGG file stops here), the models and the optimiser."""
        cfg, task = self.cfg, self.task
        task.setup(cfg, run.device)
        run.models = {k: m.to(run.device) for k, m in task.build_models().items()}
        run.frozen = {k: freeze(m.to(run.device)) for k, m in task.build_frozen().items()}
        clash = set(run.models) & set(run.frozen)
        if clash:
            raise ValueError(f"model names used both as trained and frozen: {sorted(clash)}")
        run.params = list(task.parameters(run.models))
        if not run.params:
            raise ValueError(f"task {task.name} has no trainable parameters")
        run.optimizer = torch.optim.Adam(run.params, lr=cfg.optim.lr, betas=tuple(cfg.optim.betas),
                                         weight_decay=cfg.optim.weight_decay)
        run.scaler = torch.amp.GradScaler("cuda", enabled=run.amp)

    def _load_data(self, run: "_Run") -> None:
        data = None
        if self.rank == 0:
            data = self._build_data()
        self._barrier()
        run.data = data if data is not None else self.task.build_data(self.cfg)

    def _restore(self, run: "_Run") -> None:
        """Continue from the checkpoint, if any: models, optimiser, scaler, step, RNG states."""
        ckpt = run.ckpt
        if ckpt is None:
            return
        for name, model in run.models.items():
            model.load_state_dict(ckpt["models"][name])
        run.optimizer.load_state_dict(ckpt["optimizer"])
        if ckpt.get("scaler") and run.amp:
            run.scaler.load_state_dict(ckpt["scaler"])
        run.step = int(ckpt["step"])
        run.time_before = float(ckpt.get("time_s", 0.0))  # training time so far
        # Rank 0's RNG states (saved by rank 0) go to every rank: exact for one process;
        # under DDP the data stream, which matters most, is exact anyway.
        set_rng_state(ckpt["rng"])
        self._log(f"resumed {self.out} at step {run.step}")

    def _distribute(self, run: "_Run") -> None:
        """Keep the plain models for validation and export; wrap the trained ones in DDP under torchrun."""
        run.plain = dict(run.models)
        if self.world > 1:
            from torch.nn.parallel import DistributedDataParallel as DDP

            ids = [run.device.index] if run.device.type == "cuda" else None
            run.models = {k: DDP(m, device_ids=ids, find_unused_parameters=self.cfg.ddp_find_unused)
                          if any(p.requires_grad for p in m.parameters()) else m
                          for k, m in run.models.items()}

    def _loader(self, run: "_Run") -> DataLoader:
        cfg = self.cfg
        return DataLoader(
            run.data.train,
            batch_size=cfg.batch,
            sampler=StepSampler(cfg.batch, cfg.steps, run.step, self.rank, self.world),
            num_workers=cfg.num_workers,
            pin_memory=run.device.type == "cuda",
            # Own generator: creating the loader iterator must not draw from the global RNG,
            # or a resumed run would diverge from an uninterrupted one.
            generator=torch.Generator().manual_seed(cfg.seed),
            persistent_workers=False,
        )

    def _open_logs(self, run: "_Run") -> None:
        if self.rank == 0:
            # log.csv columns: step, time_s, lr and the keys of the task's first logs dict.
            resumed = run.step if run.ckpt is not None else None
            run.csv_log = _CsvLog(self.out / "log.csv", resumed)
            run.val_log = _CsvLog(self.out / "val.csv", resumed, ["step", "item", *self.task.val_columns])

    def _save(self, run: "_Run", at: int) -> None:
        """Write the checkpoint of step ``at`` (rank 0)."""
        if self.rank != 0:
            return
        state = {
            "step": at,
            "models": {k: unwrap(m).state_dict() for k, m in run.models.items()},
            "optimizer": run.optimizer.state_dict(),
            "scaler": run.scaler.state_dict() if run.amp else None,
            "rng": rng_state(),
            "config": config_to_dict(self.cfg),
            "task": self.task.name,
            "time_s": run.time_before + time.perf_counter() - run.t0,
        }
        atomic_torch_save(state, run.ckpt_path)
        if self.cfg.keep_checkpoints:
            atomic_torch_save(state, self.out / f"checkpoint_{at:07d}.pt")

    def _train(self, run: "_Run") -> tuple[dict[str, float], dict[str, float], bool]:
        """The loop: one optimiser step per batch, logs, checkpoints and validation on their cadence.

        Returns the last logs, the last validation scores and whether a signal stopped it.
        """
        cfg, task = self.cfg, self.task
        loader = self._loader(run)
        for m in run.models.values():
            m.train()
        logs: dict[str, float] = {}
        val: dict[str, float] = {}
        interrupted = False
        run.t0 = time.perf_counter()
        run.start_step = run.step
        live_bar = bool(cfg.progress and self.console.is_terminal and self.rank == 0)
        progress = self._progress(run.step) if live_bar else None
        with _StopOnSignal() as stop, (progress or contextlib.nullcontext()):
            bar = progress.add_task(task.name, total=cfg.steps, completed=run.step, loss="-", rate="-") if progress else None
            for batch in loader:
                loss, logs, lr = self._step(run, _to_device(batch, run.device))
                self._report(run, loss, logs, lr, progress, bar, plain_lines=self.rank == 0 and not live_bar)
                if cfg.checkpoint_every > 0 and run.step % cfg.checkpoint_every == 0:
                    self._save(run, run.step)
                if run.data.val is not None and cfg.val_every > 0 and run.step % cfg.val_every == 0:
                    val = self._validate({**run.plain, **run.frozen}, run.data, run.device, run.step, run.val_log)
                if self._stop_requested(stop.requested, run.device):
                    interrupted = True
                    break
        return logs, val, interrupted

    def _step(self, run: "_Run", batch: dict[str, Any]) -> tuple[torch.Tensor, dict[str, float], float]:
        """One optimiser step on ``batch`` (learning-rate schedule, AMP, gradient clipping)."""
        cfg = self.cfg
        lr = self._lr(run.step)
        for group in run.optimizer.param_groups:
            group["lr"] = lr
        with torch.autocast(device_type=run.device.type, dtype=torch.float16, enabled=run.amp):
            loss, logs = self.task.loss({**run.models, **run.frozen}, batch)
        if not torch.isfinite(loss.detach()):
            raise MefkitError(f"loss became {float(loss)} at step {run.step + 1}; last checkpoint is step "
                              f"{(run.step // cfg.checkpoint_every) * cfg.checkpoint_every or 'none'}")
        run.scaler.scale(loss).backward()
        if cfg.optim.grad_clip > 0:
            run.scaler.unscale_(run.optimizer)
            torch.nn.utils.clip_grad_norm_(run.params, cfg.optim.grad_clip)
        run.scaler.step(run.optimizer)
        run.scaler.update()
        run.optimizer.zero_grad(set_to_none=True)
        run.step += 1
        return loss, logs, lr

    def _report(self, run: "_Run", loss: torch.Tensor, logs: dict[str, float], lr: float, progress, bar,  # noqa: ANN001
                plain_lines: bool) -> None:
        """``log.csv`` rows, and the progress bar or (in a log file) a line now and then."""
        cfg, step = self.cfg, run.step
        elapsed = time.perf_counter() - run.t0
        total_time = run.time_before + elapsed
        if run.csv_log is not None and (step % cfg.log_every == 0 or step == cfg.steps):
            run.csv_log.write({"step": step, "time_s": round(total_time, 3), "lr": lr, **logs})
        rate = (step - run.start_step) / max(elapsed, 1e-9)
        if plain_lines and (step % (10 * cfg.log_every) == 0 or step == cfg.steps):
            self.console.print(f"step {step}/{cfg.steps} loss {float(loss.detach()):.4f} "
                               f"{rate:.2f} it/s {total_time / 60:.1f} min", highlight=False)
        if progress is not None:
            progress.update(bar, completed=step, loss=f"{float(loss.detach()):.4f}", rate=f"{rate:.2f}")

    def _stop_requested(self, requested: bool, device: torch.device) -> bool:
        """Whether to stop now; under DDP every rank leaves the loop at the same step."""
        if self.world > 1:
            flag = torch.tensor([float(requested)], device=device)
            torch.distributed.all_reduce(flag)
            return bool(flag.item() > 0)
        return requested

    def _finish(self, run: "_Run", interrupted: bool) -> dict[str, float] | None:
        """Last checkpoint, last validation (unless just done) and the exported weights."""
        cfg, step = self.cfg, run.step
        if not (cfg.checkpoint_every > 0 and step % cfg.checkpoint_every == 0 and step > run.start_step):
            self._save(run, step)
        val = None
        if not interrupted and run.data.val is not None and (cfg.val_every <= 0 or step % cfg.val_every != 0):
            val = self._validate({**run.plain, **run.frozen}, run.data, run.device, step, run.val_log)
        if self.rank == 0 and not interrupted:
            meta = {"task": self.task.name, "step": step, "config": config_to_dict(cfg), **self.task.weight_metadata()}
            for name, model in run.models.items():
                save_weights(self.out / f"{name}.safetensors", model, meta)
        self._barrier()
        how = "interrupted" if interrupted else "finished"
        self._log(f"{how} at step {step}; checkpoint {run.ckpt_path}")
        return val

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
