"""Training and validation pairs as torch Datasets, from stacks, SICE and synthetic brackets.

A training sample is a dict of ``(3, crop, crop)`` float32 tensors in [0, 1]:
``"under"``, ``"over"``, ``"label"`` (and ``"mid"`` when asked for: a real or simulated
frame between the two), plus ``"source"`` (str) and ``"key"`` (int).

Determinism: ``TrainPairs[key]`` draws everything (source, stack, frame pair, crop,
flips, swap, simulation parameters) from ``sample_rng(seed, key)``. The engine feeds
keys ``0, 1, 2, ...`` in order through :class:`StepSampler` (rank ``r`` of ``W``
processes takes its own slice of every step), so the sample stream depends only on
the seed: a resumed run continues it exactly, and any DataLoader worker count gives
the same batches. Samples are i.i.d. draws, not epochs over a fixed list: stacks have
different frame counts and every (pair, crop) is a new sample anyway.
"""

from __future__ import annotations

import hashlib
import json
import warnings
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Iterator, Sequence

import cv2
import numpy as np
import torch
from torch.utils.data import Dataset, Sampler

from ..atomic import write_text_atomic
from ..devdata import eval_roots as default_eval_roots
from .augment import draw_augment, ensure_min_side, sample_rng
from .config import DataConfig
from .exclusion import normalize_scene_name
from .images import ImageCache, to_float
from .labels import LabelChoice, build_stack_labels, default_label_cache, load_label
from .sice import SiceSequence, find_sequences
from .stacks import Stack, draw_pair, find_stacks, guess_data_root, split_excluded
from .synthetic import SynthRanges, simulate_pair, well_exposed_images

IMAGE_KEYS = ("under", "over", "mid", "label")
#: File in the run folder recording the data a run trains on (stacks, labels, exclusions).
DATA_MANIFEST = "data.json"


def _crop_all(images: dict[str, np.ndarray], rng: np.random.Generator, crop: int, flips: bool) -> dict[str, np.ndarray]:
    """Crop (after upscaling when too small) and flip every image of a sample identically."""
    h, w = next(iter(images.values())).shape[:2]
    if min(h, w) < crop:
        images = {k: ensure_min_side(v, crop) for k, v in images.items()}
        h, w = next(iter(images.values())).shape[:2]
    aug = draw_augment(rng, h, w, crop, flips=flips)
    return {k: aug.apply(v) for k, v in images.items()}


class StackSource:
    """(under, over) pairs drawn from real stacks, labelled by the stack's best fusion.

    Parameters
    ----------
    stacks : sequence of Stack
    labels : dict
        ``stack id -> LabelChoice`` (see :func:`mefkit.train.labels.build_stack_labels`).
    max_side : int
        Frames are read area-downscaled to this longer side (the labels' size).
    under_max_frac, over_min_frac : float
        Pair draw, see :func:`mefkit.train.stacks.draw_pair`.
    cache : ImageCache, optional
    extreme_share : float
        Share of samples whose pair is the stack's darkest and brightest frames (the
        pair the learned methods take from a bracket at inference); the others are
        drawn by ``draw_pair``. Default 0.
    """

    name = "stacks"

    def __init__(self, stacks: Sequence[Stack], labels: dict[str, LabelChoice], max_side: int = 512,
                 under_max_frac: float = 0.5, over_min_frac: float = 0.5, cache: ImageCache | None = None,
                 extreme_share: float = 0.0):
        missing = [s.id for s in stacks if s.id not in labels]
        if missing:
            raise ValueError(f"no label for stacks {missing[:3]}")
        self.stacks = list(stacks)
        self.labels = labels
        self.max_side = max_side
        self.fracs = (under_max_frac, over_min_frac)
        if not 0.0 <= extreme_share <= 1.0:
            raise ValueError(f"extreme_share must be in [0, 1], got {extreme_share}")
        self.extreme_share = extreme_share
        self.cache = cache or ImageCache()
        self._label_cache: dict[str, np.ndarray] = {}

    def __len__(self) -> int:
        return len(self.stacks)

    def label(self, stack: Stack, size: tuple[int, int]) -> np.ndarray:
        """The stack's label as float32 at ``size = (H, W)``."""
        lab = self._label_cache.get(stack.id)
        if lab is None:
            lab = load_label(self.labels[stack.id].path)
            self._label_cache[stack.id] = lab
        if lab.shape[:2] != size:
            lab = cv2.resize(lab, (size[1], size[0]), interpolation=cv2.INTER_AREA)
        return lab

    def pair(self, stack: Stack, under: int, over: int, with_mid: bool = False) -> dict[str, np.ndarray]:
        """Full-size float32 images of one pair of ``stack`` (and its label)."""
        out = {"under": to_float(self.cache.get(stack.frames[under], self.max_side)),
               "over": to_float(self.cache.get(stack.frames[over], self.max_side))}
        if with_mid:
            out["mid"] = to_float(self.cache.get(stack.frames[(under + over) // 2], self.max_side))
        out["label"] = self.label(stack, out["under"].shape[:2])
        return out

    def draw(self, n: int, rng: np.random.Generator) -> tuple[int, int]:
        """``(under, over)`` indices for a stack of ``n`` frames (darkest first), see ``extreme_share``."""
        # No extra random number when the share is 0, so earlier runs draw as they did.
        if self.extreme_share > 0 and rng.random() < self.extreme_share:
            return 0, n - 1
        return draw_pair(n, rng, *self.fracs)

    def sample(self, rng: np.random.Generator, crop: int, flips: bool, with_mid: bool) -> dict[str, np.ndarray]:
        stack = self.stacks[int(rng.integers(len(self.stacks)))]
        u, o = self.draw(len(stack.frames), rng)
        images = {"under": self.cache.get(stack.frames[u], self.max_side),
                  "over": self.cache.get(stack.frames[o], self.max_side)}
        if with_mid:
            images["mid"] = self.cache.get(stack.frames[(u + o) // 2], self.max_side)
        images = {k: to_float(v) for k, v in images.items()}
        images["label"] = self.label(stack, images["under"].shape[:2])
        return _crop_all(images, rng, crop, flips)


class SyntheticSource:
    """Simulated brackets of well-exposed images (label = the image).

    Parameters
    ----------
    images : sequence of path
        Well-exposed images (photos, or stack labels).
    max_side : int
        Images are read area-downscaled to this longer side.
    ranges : SynthRanges
    cache : ImageCache, optional
    """

    name = "synthetic"

    def __init__(self, images: Sequence[str | Path], max_side: int = 512, ranges: SynthRanges = SynthRanges(),
                 cache: ImageCache | None = None):
        if not images:
            raise ValueError("SyntheticSource needs at least one image")
        self.images = list(images)
        self.max_side = max_side
        self.ranges = ranges
        self.cache = cache or ImageCache()

    def __len__(self) -> int:
        return len(self.images)

    def sample(self, rng: np.random.Generator, crop: int, flips: bool, with_mid: bool) -> dict[str, np.ndarray]:
        path = self.images[int(rng.integers(len(self.images)))]
        # Crop first, simulate on the crop only: the simulation is per pixel, so this is the same
        # result at a fraction of the cost.
        image = _crop_all({"label": self.cache.get(path, self.max_side)}, rng, crop, flips)["label"]
        return simulate_pair(to_float(image), rng, self.ranges, with_mid=with_mid)


class SiceSource:
    """SICE pairs: frames ``under`` and ``over`` (1-based) of each sequence, SICE label."""

    name = "sice"

    def __init__(self, sequences: Sequence[SiceSequence], under: int = 1, over: int = 7, max_side: int = 512,
                 cache: ImageCache | None = None):
        if not sequences:
            raise ValueError("SiceSource needs at least one sequence")
        self.sequences = list(sequences)
        self.under, self.over = under, over
        self.max_side = max_side
        self.cache = cache or ImageCache()

    def __len__(self) -> int:
        return len(self.sequences)

    def sample(self, rng: np.random.Generator, crop: int, flips: bool, with_mid: bool) -> dict[str, np.ndarray]:
        seq = self.sequences[int(rng.integers(len(self.sequences)))]
        idx = {"under": self.under - 1, "over": self.over - 1}
        if with_mid:
            idx["mid"] = (self.under + self.over) // 2 - 1
        images = {k: to_float(self.cache.get(seq.frames[i], self.max_side)) for k, i in idx.items()}
        lab = to_float(self.cache.get(seq.label, self.max_side))
        h, w = images["under"].shape[:2]
        if lab.shape[:2] != (h, w):
            lab = cv2.resize(lab, (w, h), interpolation=cv2.INTER_AREA)
        images["label"] = lab
        return _crop_all(images, rng, crop, flips)


def to_tensors(sample: dict[str, np.ndarray]) -> dict[str, torch.Tensor]:
    """``(H, W, 3)`` arrays -> ``(3, H, W)`` float32 tensors (other keys unchanged)."""
    return {k: torch.from_numpy(np.ascontiguousarray(v.transpose(2, 0, 1))) if k in IMAGE_KEYS else v
            for k, v in sample.items()}


class TrainPairs(Dataset):
    """Random training crops from a weighted mixture of sources; ``ds[key]`` is deterministic.

    Parameters
    ----------
    sources : sequence of (source, weight)
        Objects with ``sample(rng, crop, flips, with_mid)`` and a ``name``, and their
        sampling weights (normalised here).
    seed : int
        Run seed; with the key it fixes every random choice of a sample.
    crop : int
        Crop side (thesis 256).
    flips : bool
        Random horizontal / vertical flips.
    swap : bool
        Randomly exchange under and over. Only for symmetric models: an asymmetric
        model must always get the darker frame first.
    with_mid : bool
        Add the ``"mid"`` frame.
    length : int, optional
        Nominal ``len()`` (default: the sources' total size); keys beyond it are valid.
    """

    def __init__(self, sources: Sequence[tuple[object, float]], *, seed: int = 0, crop: int = 256,
                 flips: bool = True, swap: bool = False, with_mid: bool = False, length: int | None = None):
        if not sources:
            raise ValueError("TrainPairs needs at least one source")
        weights = np.array([float(w) for _, w in sources])
        if (weights < 0).any() or weights.sum() <= 0:
            raise ValueError(f"source weights must be >= 0 and not all 0, got {weights.tolist()}")
        self.sources = [s for s, _ in sources]
        self.cum = np.cumsum(weights / weights.sum())
        self.seed, self.crop, self.flips, self.swap, self.with_mid = seed, crop, flips, swap, with_mid
        self.length = length or sum(len(s) for s in self.sources)

    def __len__(self) -> int:
        return self.length

    def __getitem__(self, key: int) -> dict:
        rng = sample_rng(self.seed, int(key))
        k = int(np.searchsorted(self.cum, rng.random(), side="right"))
        source = self.sources[min(k, len(self.sources) - 1)]
        sample = source.sample(rng, self.crop, self.flips, self.with_mid)
        if self.swap and rng.integers(0, 2):
            sample["under"], sample["over"] = sample["over"], sample["under"]
        out = to_tensors(sample)
        out["source"] = source.name
        out["key"] = int(key)
        return out


class ValPairs(Dataset):
    """Fixed full-size validation pairs (batch them one at a time: sizes differ).

    Each item is like a training sample but uncropped, plus ``"name"``.
    """

    def __init__(self, items: Sequence[tuple[str, dict[str, np.ndarray]]]):
        self.items = list(items)

    def __len__(self) -> int:
        return len(self.items)

    def __getitem__(self, i: int) -> dict:
        name, sample = self.items[i]
        out = to_tensors(sample)
        out["name"] = name
        return out


class StepSampler(Sampler):
    """Sample keys for steps ``start_step .. total_steps - 1`` of one process.

    Step ``s`` of rank ``r`` among ``world`` processes uses keys
    ``(s * world + r) * batch + b`` for ``b < batch``: the processes of a DDP run read
    disjoint samples (the role of ``DistributedSampler``), a single process reads
    ``0, 1, 2, ...``, and resuming at step ``s`` continues the same stream.
    """

    def __init__(self, batch: int, total_steps: int, start_step: int = 0, rank: int = 0, world: int = 1):
        self.batch, self.total, self.start, self.rank, self.world = batch, total_steps, start_step, rank, world

    def __iter__(self) -> Iterator[int]:
        for s in range(self.start, self.total):
            base = (s * self.world + self.rank) * self.batch
            yield from range(base, base + self.batch)

    def __len__(self) -> int:
        return max(0, self.total - self.start) * self.batch


@dataclass
class DataBundle:
    """What :func:`build_data` made: datasets plus a record of the choices."""

    train: TrainPairs
    val: ValPairs | None
    info: dict = field(default_factory=dict)


def build_data(cfg: DataConfig, *, seed: int, swap: bool = False, with_mid: bool = False,
               run_dir: str | Path | None = None, eval_roots: Sequence[str | Path] | None = None,
               on_progress=None) -> DataBundle:
    """Build the training mixture and validation pairs a :class:`DataConfig` describes.

    Stacks: discovered under ``cfg.stacks``; evaluation scenes excluded (evaluation roots
    default to :data:`mefkit.train.exclusion.EVAL_ROOTS` beside the stacks folder);
    about ``cfg.val_scenes`` kept stacks held out for validation
    (:func:`split_validation`); labels built or read from the cache. SICE: the shipped split's training sequences. Synthetic: images of
    ``cfg.synthetic`` (or the stack labels for ``"labels"``), weighted
    ``cfg.synthetic_fraction`` of the samples when another source exists.

    Parameters
    ----------
    cfg : DataConfig
    seed : int
    swap : bool
        The model is symmetric (under/over swaps allowed), and ``cfg.swap`` asks for it.
    with_mid : bool
        Samples carry a ``"mid"`` frame.
    run_dir : path, optional
        The run folder. The choices (training / validation stacks, excluded stacks and
        why, each stack's label) are written to ``RUN_DIR/data.json`` the first time and
        read back from it afterwards, so a resumed run trains on the same data.
    eval_roots : sequence of path, optional
        Override the evaluation-scene folders used for exclusion.
    on_progress : callable, optional
        ``fn(stack_id, done, total)`` while labels are built.
    """
    cache = ImageCache(cfg.cache_mb)
    sources: list[tuple[object, float]] = []
    info: dict = {"sources": {}}
    val_items: list[tuple[str, dict[str, np.ndarray]]] = []
    labels: dict[str, LabelChoice] = {}
    manifest_path = Path(run_dir) / DATA_MANIFEST if run_dir else None
    manifest = json.loads(manifest_path.read_text()) if manifest_path and manifest_path.is_file() else None
    if cfg.stacks:
        found = {s.id: s for s in find_stacks(cfg.stacks)}
        if manifest is not None and "stacks" in manifest:
            # A resumed run keeps the data it started with, even if the exclusion rules, the
            # registered methods or the label cache changed since: an exact resume needs it.
            m = manifest["stacks"]
            missing = [sid for sid in m["train"] + m["val"] if sid not in found]
            if missing:
                raise FileNotFoundError(f"{manifest_path}: stacks no longer under {cfg.stacks}: {missing[:3]}")
            train_stacks = [found[sid] for sid in m["train"]]
            val_stacks = [found[sid] for sid in m["val"]]
            excluded = m["excluded"]
            labels = {sid: LabelChoice(**c) for sid, c in m["labels"].items()}
            label_dir = m["label_cache"]
            changed = [sid for sid, h in m.get("label_sha1", {}).items() if _file_sha1(labels[sid].path) != h]
            if changed:
                warnings.warn(f"{len(changed)} stack labels changed since this run started (e.g. {changed[0]}; "
                              "a method was refreshed in the label cache): the resume is not exact")
        else:
            if eval_roots is None:
                eval_roots = default_eval_roots(guess_data_root(cfg.stacks))
            kept, excluded = split_excluded(found.values(), eval_roots)
            train_stacks, val_stacks = split_validation(kept, cfg.val_scenes)
            label_dir = cfg.label_cache or str(default_label_cache())
            labels = build_stack_labels(train_stacks + val_stacks, label_dir, methods=cfg.label_methods,
                                        skip=cfg.skip_label_methods, max_side=cfg.max_side,
                                        log_dir=run_dir, on_progress=on_progress)
        src = StackSource(train_stacks, labels, cfg.max_side, cfg.under_max_frac, cfg.over_min_frac, cache,
                          extreme_share=cfg.extreme_share)
        sources.append((src, 1.0))
        for k, stack in enumerate(val_stacks):
            # Fixed draw (seed 0, not the run seed): every run validates on the same pairs.
            u, o = draw_pair(len(stack.frames), sample_rng(0, k, stream=7), cfg.under_max_frac, cfg.over_min_frac)
            val_items.append((f"{stack.id}[{u + 1},{o + 1}]", src.pair(stack, u, o, with_mid)))
        info["sources"]["stacks"] = len(train_stacks)
        info["stacks"] = {"train": [s.id for s in train_stacks], "val": [s.id for s in val_stacks],
                          "excluded": excluded, "label_cache": label_dir,
                          "labels": {k: asdict(v) for k, v in labels.items()},
                          "label_sha1": {k: _file_sha1(v.path) for k, v in labels.items()}}
        info["excluded"] = excluded
        info["val_stacks"] = [s.id for s in val_stacks]
    if cfg.sice:
        seqs = find_sequences(cfg.sice, "train", cfg.sice_under, cfg.sice_over)
        sources.append((SiceSource(seqs, cfg.sice_under, cfg.sice_over, cfg.max_side, cache), 1.0))
        info["sources"]["sice"] = len(seqs)
    if cfg.synthetic:
        if cfg.synthetic == "labels":
            images = [labels[k].path for k in sorted(labels) if k not in info.get("val_stacks", [])]
        else:
            images = well_exposed_images(cfg.synthetic)
        weight = 1.0 if not sources else cfg.synthetic_fraction / max(1e-9, 1 - cfg.synthetic_fraction) * sum(w for _, w in sources)
        sources.append((SyntheticSource(images, cfg.max_side, cache=cache), weight))
        info["sources"]["synthetic"] = len(images)
    if not sources:
        raise ValueError("no training data: give stacks, sice or synthetic")
    train = TrainPairs(sources, seed=seed, crop=cfg.crop, flips=cfg.flips, swap=swap and cfg.swap, with_mid=with_mid)
    if manifest_path is not None and manifest is None:
        write_text_atomic(manifest_path, json.dumps(info, indent=1, default=str) + "\n")
    return DataBundle(train, ValPairs(val_items) if val_items else None, info)


def _file_sha1(path: str | Path) -> str:
    return hashlib.sha1(Path(path).read_bytes()).hexdigest()


#: Largest share of the stacks held out for validation.
MAX_VAL_SHARE = 0.2


def validation_count(n_stacks: int, n_val: int) -> int:
    """Stacks to hold out: ``n_val``, but at most :data:`MAX_VAL_SHARE` of ``n_stacks``
    (at least one when there are two or more), so small data still mostly trains."""
    if n_val <= 0 or n_stacks < 2:
        return 0
    return max(1, min(n_val, int(n_stacks * MAX_VAL_SHARE)))


def split_validation(stacks: Sequence[Stack], n_val: int) -> tuple[list[Stack], list[Stack]]:
    """Hold out about ``n_val`` stacks for validation, whole scenes at a time.

    ``n_val`` is capped by :func:`validation_count` (at most a fifth of the stacks).

    Captures of one scene (``BandonSunset_1``, ``BandonSunset_2``: same
    :func:`~mefkit.train.exclusion.normalize_scene_name`) go to the same side, so
    validation never sees a scene that trains. Scenes are drawn with a fixed seed (0),
    independent of the run seed, so every run validates on the same scenes.
    """
    n_val = validation_count(len(stacks), n_val)
    if n_val == 0:
        return list(stacks), []
    groups: dict[str, list[Stack]] = {}
    for s in stacks:
        groups.setdefault(normalize_scene_name(s.scene), []).append(s)
    names = sorted(groups)
    val_names: set[str] = set()
    count = 0
    for i in np.random.default_rng(0).permutation(len(names)):
        if count >= n_val or len(val_names) >= len(names) - 1:
            break
        val_names.add(names[i])
        count += len(groups[names[i]])
    val = [s for s in stacks if normalize_scene_name(s.scene) in val_names]
    return [s for s in stacks if normalize_scene_name(s.scene) not in val_names], val
