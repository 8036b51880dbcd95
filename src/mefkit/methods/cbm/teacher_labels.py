"""Teacher labels: any registered fusion method labels training pairs, cached on disk.

CBM (Son et al. 2025) trains its U-Net on the output of a slow, high-quality method
(the paper: MITM). Here the teacher is any registered method, classic or learned,
run either on the training **pair** itself (``input="pair"``: the label shows what the
teacher makes of exactly what the student sees) or on the **whole stack** the pair
comes from (``input="stack"``; the teacher must accept that many frames).

Cache (``cache_dir``): ``<key>.png`` (16-bit PNG, the label at the training size) and
``<key>.json`` (teacher, params, weights hashes, frames, seconds), where ``key`` hashes the
stack id and file fingerprint, the frame indices (or ``"stack"``), the teacher's name and
its parameters, the **content** of the teacher's weights files (learned teachers, see
:func:`teacher_weights`) and ``max_side``. Changing any of them makes a new label;
nothing stale is reused (retrained weights under the same file name included).
``index.json`` lists every label of the last build and the teacher's total time.

PNG writing and reading reuse :mod:`mefkit.train.labels` (the stack-label cache).
"""

from __future__ import annotations

import hashlib
import json
import time
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Callable, Sequence

import numpy as np

from ...atomic import write_bytes_atomic
from ...errors import MefkitError
from ...nn.weights import file_sha256
from ...train.augment import sample_rng
from ...train.images import ImageCache, to_float
from ...train.labels import load_label, save_png16
from ...train.stacks import Stack

TEACHER_INPUTS = ("pair", "stack")


@dataclass(frozen=True)
class TeacherSpec:
    """Which method labels the pairs, with which parameters, on which frames.

    Attributes
    ----------
    name : str
        A registered fusion method (``mefkit methods``).
    params : dict
        Its keyword parameters (part of the cache key).
    input : {"pair", "stack"}
        Run it on the (under, over) pair or on the whole stack.
    """

    name: str = "mertens"
    params: dict = field(default_factory=dict)
    input: str = "pair"

    def __post_init__(self) -> None:
        if self.input not in TEACHER_INPUTS:
            raise ValueError(f"teacher input must be one of {TEACHER_INPUTS}, got {self.input!r}")


def shipped_weights(name: str):  # noqa: ANN201 - a WeightsSpec or None
    """The :class:`~mefkit.nn.weights.WeightsSpec` the registered method ``name`` ships, or None."""
    from ...registry import get_method

    return get_method(name).weights


def teacher_weights(spec: TeacherSpec, kind: str) -> dict[str, str]:
    """Content hashes of the weights a teacher runs with: ``{file name: sha256}``.

    * A parameter whose name contains ``"weights"`` and whose value is an existing
      file: that file (the user's weights replace the shipped ones).
    * Otherwise, for a ``kind == "learned"`` teacher: the file its registration ships
      (:func:`shipped_weights`, e.g. ``mitm_translators.safetensors``), since the
      method loads it by default.
    * Classic teachers: ``{}`` (their key is then the same as before this field existed).

    Over-inclusion (a weights file the teacher does not read with some parameter, e.g.
    MITM's ``translator="curve"``) only costs a relabel; under-inclusion would silently
    reuse labels of other weights, which is what this guards against.
    """
    given = {k: v for k, v in spec.params.items() if "weights" in k.lower() and isinstance(v, (str, Path))
             and Path(v).is_file()}
    if given:
        return {f"{k}:{Path(v).name}": file_sha256(v) for k, v in sorted(given.items())}
    if kind != "learned":
        return {}
    shipped = shipped_weights(spec.name)
    if shipped is None or not shipped.path.is_file():
        return {}
    return {shipped.path.name: file_sha256(shipped.path)}


def teacher_key(stack: Stack, under: int, over: int, spec: TeacherSpec, max_side: int,
                weights: dict[str, str] | None = None) -> str:
    """Cache key of one label: stack + files + frames + teacher name + params + weights + size.

    ``weights`` is :func:`teacher_weights`' result; empty (classic teachers) leaves the
    key as it was before weights were part of it, so existing classic caches stay valid.
    """
    frames = "stack" if spec.input == "stack" else [int(under), int(over)]
    parts = [stack.id, stack.fingerprint(), frames, spec.name, spec.params, int(max_side)]
    if weights:
        parts.append(weights)
    blob = json.dumps(parts, sort_keys=True, default=str)
    return hashlib.sha1(blob.encode()).hexdigest()[:20]


def all_pairs(n: int, under_max_frac: float = 0.5, over_min_frac: float = 0.5) -> list[tuple[int, int]]:
    """Every ``(under, over)`` that :func:`mefkit.train.stacks.draw_pair` can return for ``n`` frames."""
    lo_end = min(n - 1, max(1, int(np.ceil(under_max_frac * n))))
    hi_start = max(1, min(n - 1, int(np.floor(over_min_frac * n))))
    return [(u, o) for u in range(lo_end) for o in range(max(hi_start, u + 1), n)]


#: How :func:`choose_pairs` draws a stack's training pairs.
PAIR_RULES = ("halves", "kframe")


def kframe_pairs(n: int, count: int, rng: np.random.Generator, attempts: int = 50) -> list[tuple[int, int]]:
    """Up to ``count`` distinct pairs of exposure neighbours of random K-frame brackets.

    Each draw takes K uniformly from 2 to ``n``, a random K-frame subset of the ``n``
    frames (darkest first) and one random pair of neighbours in it: the pairs the K-frame
    rule (:mod:`mefkit.nn.stack_fusion`) feeds the network for a bracket of K frames,
    from a wide gap (K = 2) down to adjacent frames (K = n). Duplicates are drawn again,
    at most ``attempts`` times per pair.
    """
    out: list[tuple[int, int]] = []
    tries = 0
    while len(out) < count and tries < attempts * max(count, 1):
        tries += 1
        k = int(rng.integers(2, n + 1))
        subset = np.sort(rng.choice(n, size=k, replace=False))
        t = int(rng.integers(0, k - 1))
        pair = (int(subset[t]), int(subset[t + 1]))
        if pair not in out:
            out.append(pair)
    return out


def choose_pairs(stack: Stack, per_stack: int, seed: int, under_max_frac: float = 0.5,
                 over_min_frac: float = 0.5, rule: str = "halves") -> list[tuple[int, int]]:
    """The training pairs of one stack: all drawable pairs, or ``per_stack`` of them.

    Always includes the most extreme drawable pair (darkest, brightest); the others are
    drawn by a generator seeded from ``seed`` and the stack id, so the choice does not
    depend on which other stacks exist. ``rule="halves"`` (default): without replacement
    from the pairs :func:`mefkit.train.stacks.draw_pair` allows (an under frame from the
    darker half, an over frame from the brighter); ``rule="kframe"``: neighbours of
    random K-frame brackets (:func:`kframe_pairs`), the pairs a longer bracket gives the
    network at inference.
    """
    if rule not in PAIR_RULES:
        raise ValueError(f"pair rule must be one of {PAIR_RULES}, got {rule!r}")
    sid = int(hashlib.sha1(stack.id.encode()).hexdigest()[:8], 16)
    if rule == "kframe":
        n = len(stack.frames)
        extreme = (0, n - 1)
        if per_stack <= 0:  # every pair is a neighbour pair of some K-frame bracket
            return [extreme] + [(u, o) for u in range(n) for o in range(u + 1, n) if (u, o) != extreme]
        drawn = kframe_pairs(n, per_stack, sample_rng(seed, sid, stream=12))
        return [extreme] + sorted([p for p in drawn if p != extreme][: per_stack - 1])
    pairs = all_pairs(len(stack.frames), under_max_frac, over_min_frac)
    if per_stack <= 0 or per_stack >= len(pairs):
        return pairs
    extreme = (pairs[0][0], pairs[-1][1]) if (pairs[0][0], pairs[-1][1]) in pairs else pairs[0]
    rest = [p for p in pairs if p != extreme]
    rng = sample_rng(seed, sid, stream=11)
    pick = rng.choice(len(rest), size=per_stack - 1, replace=False)
    return [extreme] + sorted(rest[int(i)] for i in pick)


class TeacherLabels:
    """Compute-or-load teacher labels for stack pairs.

    Parameters
    ----------
    spec : TeacherSpec
    cache_dir : path
        Label cache folder (created).
    max_side : int
        Frames are area-downscaled to this longer side before the teacher runs (the
        training size).
    image_cache : ImageCache, optional
        Shared decoded-frame cache.
    """

    def __init__(self, spec: TeacherSpec, cache_dir: str | Path, max_side: int = 512,
                 image_cache: ImageCache | None = None):
        from ...registry import get_method

        info = get_method(spec.name)  # fails early on an unknown teacher
        self.info = info
        self.spec = spec
        self.cache = Path(cache_dir)
        self.cache.mkdir(parents=True, exist_ok=True)
        self.max_side = max_side
        self.images = image_cache or ImageCache()
        self._mem: dict[str, np.ndarray] = {}
        # hashed once here: the teacher's weights must not change during a build
        self.weights = teacher_weights(spec, info.kind)

    def frames(self, stack: Stack, idx: Sequence[int]) -> list[np.ndarray]:
        """Float32 frames ``idx`` of ``stack`` at the training size."""
        return [to_float(self.images.get(stack.frames[i], self.max_side)) for i in idx]

    def path(self, stack: Stack, under: int, over: int) -> Path:
        return self.cache / f"{teacher_key(stack, under, over, self.spec, self.max_side, self.weights)}.png"

    def ensure(self, stack: Stack, under: int, over: int) -> tuple[Path, float]:
        """Make sure the label exists on disk; return its path and the teacher's seconds (0 if cached)."""
        png = self.path(stack, under, over)
        meta = png.with_suffix(".json")
        if png.is_file() and meta.is_file():
            return png, 0.0
        from ...api import fuse

        idx = range(len(stack.frames)) if self.spec.input == "stack" else (under, over)
        frames = self.frames(stack, idx)
        start = time.perf_counter()
        try:
            fused = fuse(frames, method=self.spec.name, order="given", **self.spec.params)
        except MefkitError as exc:
            raise MefkitError(f"teacher {self.spec.name} failed on {stack.id} frames {list(idx)}: {exc}") from exc
        seconds = time.perf_counter() - start
        save_png16(png, fused)
        info = {"stack": stack.id, "frames": list(idx), "teacher": asdict(self.spec), "weights": self.weights,
                "max_side": self.max_side,
                "seconds": round(seconds, 4), "size": list(fused.shape[:2])}
        write_bytes_atomic(meta, (json.dumps(info, indent=1) + "\n").encode())
        return png, seconds

    def label(self, stack: Stack, under: int, over: int) -> np.ndarray:
        """The label ``(H, W, 3)`` float32 in [0, 1] (computed on first use, then cached)."""
        png = self.path(stack, under, over)
        hit = self._mem.get(png.name)
        if hit is None:
            self.ensure(stack, under, over)
            hit = load_label(png)
            if len(self._mem) < 4096:  # labels at 512 px are ~2 MB; bounded in count
                self._mem[png.name] = hit
        return hit

    def build(self, pairs: dict[str, tuple[Stack, list[tuple[int, int]]]],
              on_progress: Callable[[str, int, int], None] | None = None) -> dict:
        """Label every listed pair ahead of training; write ``index.json``.

        Parameters
        ----------
        pairs : dict
            ``stack id -> (stack, [(under, over), ...])``.
        on_progress : callable, optional
            ``fn(stack_id, done, total)`` after each stack.

        Returns
        -------
        dict
            ``{"teacher", "labels", "computed", "teacher_seconds", "teacher_megapixels"}``.
        """
        computed, seconds, mpix, n = 0, 0.0, 0.0, 0
        entries = []
        for done, (sid, (stack, plist)) in enumerate(sorted(pairs.items()), start=1):
            seen = set()
            for u, o in plist:
                png, sec = self.ensure(stack, u, o)
                if png.name in seen:  # whole-stack labels are shared by every pair
                    continue
                seen.add(png.name)
                meta = json.loads(png.with_suffix(".json").read_text())
                h, w = meta["size"]
                seconds += meta["seconds"]
                mpix += h * w / 1e6
                computed += sec > 0
                n += 1
                entries.append({"stack": sid, "under": u, "over": o, "label": png.name})
            if on_progress is not None:
                on_progress(sid, done, len(pairs))
        summary = {"teacher": asdict(self.spec), "weights": self.weights, "max_side": self.max_side, "labels": n,
                   "computed": computed,
                   "teacher_seconds": round(seconds, 3), "teacher_megapixels": round(mpix, 3)}
        write_bytes_atomic(self.cache / "index.json", (json.dumps({**summary, "entries": entries}, indent=1) + "\n").encode())
        return summary


class TeacherPairSource:
    """Training source: (under, over) crops of stack pairs with the teacher's label.

    Same interface as the sources of :mod:`mefkit.train.data` (``name``, ``len``,
    ``sample(rng, crop, flips, with_mid)``), so it mixes into ``TrainPairs``.

    Parameters
    ----------
    pairs : dict
        ``stack id -> (stack, [(under, over), ...])``: the pairs to draw from.
    labels : TeacherLabels
    """

    name = "teacher"

    def __init__(self, pairs: dict[str, tuple[Stack, list[tuple[int, int]]]], labels: TeacherLabels):
        if not pairs:
            raise ValueError("TeacherPairSource needs at least one stack")
        self.items = [pairs[k] for k in sorted(pairs)]
        self.labels = labels

    def __len__(self) -> int:
        return len(self.items)

    def pair(self, stack: Stack, under: int, over: int) -> dict[str, np.ndarray]:
        """Full-size float32 under / over / label of one pair."""
        under_img, over_img = self.labels.frames(stack, (under, over))
        return {"under": under_img, "over": over_img, "label": self.labels.label(stack, under, over)}

    def sample(self, rng: np.random.Generator, crop: int, flips: bool, with_mid: bool) -> dict[str, np.ndarray]:
        from ...train.data import _crop_all

        if with_mid:
            raise ValueError("TeacherPairSource has no middle frame")
        stack, plist = self.items[int(rng.integers(len(self.items)))]
        u, o = plist[int(rng.integers(len(plist)))]
        return _crop_all(self.pair(stack, u, o), rng, crop, flips)
