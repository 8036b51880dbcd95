"""Typed configuration of a training run, saved as ``config.json`` beside its checkpoints.

Plain dataclasses, no YAML and no string-keyed registries: what a run uses is what
these fields say. :func:`save_config` / :func:`load_config` round-trip them through JSON;
:func:`load_recipe` reads a committed recipe (``recipes/NAME.toml``) and
:func:`apply_settings` the ``--set KEY=VALUE`` overrides. A few fields default to None,
meaning "the task's default" (:attr:`mefkit.train.engine.Task.train_defaults`), which the
engine fills in before the run starts.
"""

from __future__ import annotations

import dataclasses
import json
import typing
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Mapping, Sequence

from ..atomic import write_text_atomic
from ..errors import MefkitError

#: Adam learning rate and first-moment decay of the progressive-fusion thesis
#: (seed 000, "Training": Adam, lr 1e-4, beta1 0.5).
THESIS_LR = 1e-4
THESIS_BETAS = (0.5, 0.999)
#: Loss weights of the thesis (seed 000: lambda_vgg 0.01, lambda_ssim 0.1, SSIM on grayscale).
THESIS_LAMBDA_VGG = 0.01
THESIS_LAMBDA_SSIM = 0.1
#: Crop side and batch size of the thesis (256 px crops, batch 8).
THESIS_CROP = 256
THESIS_BATCH = 8


@dataclass
class OptimConfig:
    """Adam settings.

    Attributes
    ----------
    lr : float or None
        Learning rate; None: the task's default (thesis: 1e-4).
    betas : tuple of float
        Adam ``(beta1, beta2)`` (thesis: beta1 0.5).
    weight_decay : float
        L2 penalty added by Adam (0: none).
    grad_clip : float
        Clip the global gradient norm to this value (0: no clipping).
    schedule : {"constant", "cosine"} or None
        Learning-rate schedule after warm-up (cosine decays to 0 at the last step);
        None: the task's default (constant).
    warmup_steps : int
        Linear warm-up from ``lr / warmup_steps`` to ``lr`` (0: none).
    """

    lr: float | None = None
    betas: tuple[float, float] = THESIS_BETAS
    weight_decay: float = 0.0
    grad_clip: float = 0.0
    schedule: str | None = None
    warmup_steps: int = 0


@dataclass
class LossConfig:
    """Weights of ``L1 + lambda_vgg * VGG + lambda_ssim * (1 - SSIM)``.

    Attributes
    ----------
    lambda_vgg : float or None
        Weight of the VGG19 perceptual term (thesis 0.01); > 0 needs ``vgg_weights``.
        None: the task's default (the thesis's 0.01; 0 for tasks without this loss).
    lambda_ssim : float
        Weight of ``1 - SSIM`` on grayscale (thesis 0.1).
    vgg_weights : str or None
        Path of a torchvision-format VGG19 state dict (``.pth`` or ``.safetensors``).
    vgg_layers : tuple of str
        VGG19 activations compared by the perceptual term.
    """

    lambda_vgg: float | None = None
    lambda_ssim: float = THESIS_LAMBDA_SSIM
    vgg_weights: str | None = None
    vgg_layers: tuple[str, ...] = ("relu1_2", "relu2_2", "relu3_4", "relu4_4")


@dataclass
class DataConfig:
    """Where training pairs come from and how they are cut.

    Attributes
    ----------
    stacks : str or None
        Root of real stacks (``<source>/<scene>/NN.jpg``); pairs + whole-stack labels.
    sice : str or None
        Root of an official SICE release (``Dataset_Part1/<n>/*.JPG`` and ``Label/``).
    synthetic : str or None
        Folder of well-exposed images for simulated brackets, or ``"labels"`` to
        simulate from the stack labels.
    synthetic_fraction : float
        Share of samples drawn from the synthetic source when others exist.
    label_cache : str or None
        Folder of cached stack labels (default ``~/.cache/mefkit/stack_labels``, or
        ``$MEFKIT_LABEL_CACHE``; see :func:`mefkit.train.labels.default_label_cache`).
    label_methods : tuple of str or None
        Classic methods tried for stack labels (None: every registered classic
        method that accepts the stack's frame count).
    skip_label_methods : tuple of str
        Methods never tried (e.g. slow ones).
    max_side : int
        Stacks are downscaled so the longer side is at most this (labels, inputs).
    crop : int
        Side of the random square crop (thesis 256).
    under_max_frac, over_min_frac : float
        Under frame drawn from indices ``< under_max_frac * N``, over frame from
        indices ``>= over_min_frac * N`` (``N`` frames, darkest first).
    extreme_share : float
        Share of stack samples that take the stack's darkest and brightest frames
        instead (default 0).
    sice_under, sice_over : int
        1-based SICE frame indices used as the pair (thesis: 1 and 7).
    swap : bool
        Randomly swap under/over (only for models that declare themselves symmetric).
    flips : bool
        Random horizontal / vertical flips.
    val_scenes : int
        Stack scenes held out for the validation pass (taken from the end of the
        sorted, non-excluded list), at most a fifth of the stacks
        (:func:`mefkit.train.data.validation_count`).
    cache_mb : int
        In-memory cache of decoded frames (per process).
    """

    stacks: str | None = None
    sice: str | None = None
    synthetic: str | None = None
    synthetic_fraction: float = 0.25
    label_cache: str | None = None
    label_methods: tuple[str, ...] | None = None
    skip_label_methods: tuple[str, ...] = ()
    max_side: int = 512
    crop: int = THESIS_CROP
    under_max_frac: float = 0.5
    over_min_frac: float = 0.5
    extreme_share: float = 0.0
    sice_under: int = 1
    sice_over: int = 7
    swap: bool = False
    flips: bool = True
    val_scenes: int = 4
    cache_mb: int = 256


@dataclass
class TrainConfig:
    """One training run.

    Attributes
    ----------
    task : str
        Name of the task (e.g. ``"progressive-phase1"``); informational.
    out : str
        Run folder: ``config.json``, ``checkpoint.pt``, ``log.csv``, ``val.csv``.
    steps : int
        Optimiser steps in total (a resumed run continues up to this).
    batch : int
        Samples per step per process (thesis 8).
    seed : int
        Seeds model init, data order, crops and augmentations.
    device : str
        ``"cpu"``, ``"cuda"``, ``"cuda:N"`` or ``"auto"`` (cuda when available).
    amp : bool
        Mixed precision (float16 autocast + GradScaler) on CUDA; ignored on CPU.
    checkpoint_every : int
        Save ``checkpoint.pt`` every this many steps (and always at exit).
    keep_checkpoints : bool
        Also keep a copy ``checkpoint_<step>.pt`` at every save.
    val_every : int
        Validation pass every this many steps (0: only at the end).
    log_every : int
        Write a ``log.csv`` row every this many steps.
    num_workers : int
        DataLoader worker processes (0: load in the training process).
    threads : int
        ``torch.set_num_threads`` for this run (0: leave the library default).
    deterministic : bool
        Ask torch for deterministic kernels (slower on CUDA).
    progress : bool
        Show a rich progress bar (rank 0, on a terminal; in a log file a line every
        ``10 * log_every`` steps instead).
    ddp_find_unused : bool
        DDP's ``find_unused_parameters`` (for models whose forward skips parameters).
    optim, loss, data : OptimConfig, LossConfig, DataConfig
    task_params : dict
        Parameters of the task itself (model width, phase-1 weights, ...).
    """

    task: str = ""
    out: str = "runs/train"
    steps: int = 1000
    batch: int = THESIS_BATCH
    seed: int = 0
    device: str = "auto"
    amp: bool = True
    checkpoint_every: int = 200
    keep_checkpoints: bool = False
    val_every: int = 500
    log_every: int = 10
    num_workers: int = 0
    threads: int = 0
    deterministic: bool = False
    progress: bool = True
    ddp_find_unused: bool = False
    optim: OptimConfig = field(default_factory=OptimConfig)
    loss: LossConfig = field(default_factory=LossConfig)
    data: DataConfig = field(default_factory=DataConfig)
    task_params: dict[str, Any] = field(default_factory=dict)


def config_to_dict(cfg: Any) -> dict[str, Any]:
    """A JSON-ready dict of a (nested) config dataclass."""
    return dataclasses.asdict(cfg)


def _from_dict(cls: type, data: dict[str, Any]) -> Any:
    kwargs = {}
    known = {f.name: f for f in dataclasses.fields(cls)}
    for key, value in data.items():
        if key not in known:
            continue  # tolerate fields removed since the run was written
        f = known[key]
        sub = {"optim": OptimConfig, "loss": LossConfig, "data": DataConfig}.get(key) if cls is TrainConfig else None
        if sub is not None and isinstance(value, dict):
            value = _from_dict(sub, value)
        elif isinstance(value, list) and "tuple" in str(f.type):
            value = tuple(value)
        kwargs[key] = value
    return cls(**kwargs)


def config_from_dict(data: dict[str, Any]) -> TrainConfig:
    """Rebuild a :class:`TrainConfig` from :func:`config_to_dict` output."""
    return _from_dict(TrainConfig, data)


def save_config(cfg: TrainConfig, path: str | Path) -> None:
    """Write ``cfg`` as indented JSON, atomically (temporary file + rename)."""
    write_text_atomic(path, json.dumps(config_to_dict(cfg), indent=2, sort_keys=True) + "\n")


def load_config(path: str | Path) -> TrainConfig:
    """Read a ``config.json`` written by :func:`save_config`."""
    return config_from_dict(json.loads(Path(path).read_text()))


#: The nested sections of :class:`TrainConfig` (TOML tables of a recipe).
SECTIONS: dict[str, type] = {"optim": OptimConfig, "loss": LossConfig, "data": DataConfig}


def _toml_loads(text: str) -> dict[str, Any]:
    try:
        import tomllib
    except ModuleNotFoundError:  # Python 3.10: the same parser as a package
        import tomli as tomllib
    return tomllib.loads(text)


def _check_keys(path: Path, values: dict[str, Any], cls: type, prefix: str = "") -> None:
    known = {f.name for f in dataclasses.fields(cls)} - {"task_params"}
    unknown = sorted(set(values) - known - (set(SECTIONS) if cls is TrainConfig else set()))
    if unknown:
        names = ", ".join(prefix + k for k in unknown)
        raise MefkitError(f"{path}: unknown setting(s) {names}; see mefkit.train.config.{cls.__name__}")


def load_recipe(path: str | Path) -> TrainConfig:
    """A :class:`TrainConfig` from a recipe file (``recipes/NAME.toml``).

    The TOML holds :class:`TrainConfig`'s fields at the top level, its sections as
    tables (``[optim]``, ``[loss]``, ``[data]``) and the task's parameters as
    ``[params]``; whatever it leaves out keeps its default.

    Raises
    ------
    MefkitError
        The file is missing, is not TOML, or names a setting that does not exist.
    """
    path = Path(path)
    if not path.is_file():
        raise MefkitError(f"{path}: recipe not found")
    try:
        data = _toml_loads(path.read_text())
    except Exception as exc:  # tomllib.TOMLDecodeError; tomli's has another module
        raise MefkitError(f"{path}: not a TOML recipe ({exc})") from None
    params = data.pop("params", {})
    _check_keys(path, data, TrainConfig)
    for name, cls in SECTIONS.items():
        if name in data:
            if not isinstance(data[name], dict):
                raise MefkitError(f"{path}: [{name}] must be a table")
            _check_keys(path, data[name], cls, prefix=f"{name}.")
    return config_from_dict({**data, "task_params": dict(params)})


def setting_types(param_types: Mapping[str, Any] | None = None) -> dict[str, Any]:
    """Every ``--set`` key and its type: ``steps``, ``optim.lr``, ``data.crop``, ``params.<task parameter>``."""
    out: dict[str, Any] = {}
    for name, annotation in typing.get_type_hints(TrainConfig).items():
        if name in SECTIONS:
            out.update({f"{name}.{k}": v for k, v in typing.get_type_hints(SECTIONS[name]).items()})
        elif name != "task_params":
            out[name] = annotation
    out.update({f"params.{k}": v for k, v in (param_types or {}).items()})
    return out


def apply_settings(cfg: TrainConfig, items: Sequence[str] | None, param_types: Mapping[str, Any] | None = None) -> TrainConfig:
    """Apply ``KEY=VALUE`` overrides (``--set``) to ``cfg`` in place.

    Keys are dotted field names (:func:`setting_types`); each value is parsed against the
    field's type by :func:`mefkit.params.parse_params`, the one ``KEY=VALUE`` parser.
    """
    from ..params import parse_params

    types_ = setting_types(param_types)
    for key, value in parse_params(types_, items, label="--set").items():
        section, _, name = key.rpartition(".")
        if section == "params":
            cfg.task_params[name] = value
            continue
        if isinstance(value, list) and "tuple" in str(types_[key]):
            value = tuple(value)
        setattr(getattr(cfg, section) if section else cfg, name, value)
    return cfg
