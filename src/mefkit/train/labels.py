"""Whole-stack labels for stack-derived training pairs, chosen by MEF-SSIM and cached.

For every stack, each candidate classic method fuses the WHOLE stack (downscaled to
``max_side``); the fusion with the highest MEF-SSIM against the whole stack becomes
the label of every (under, over) pair drawn from it. This automates how SICE chose its
labels (the best of several fusion methods per scene, there by people).

Cache layout (``cache_dir``):

* ``<key>.png``: 16-bit PNG of one (stack, method, params, max_side) fusion, where
  ``key`` hashes the stack id, its file fingerprint, the method name, its parameters
  and ``max_side``; ``<key>.json`` beside it holds the MEF-SSIM score and fusion time.
* ``choices.csv`` / ``choices.json``: stack -> chosen method, its score, every score
  (written by ``mefkit train labels``; a training run writes its own into RUN_DIR).

Adding a method later only computes the new method's fusions.
"""

from __future__ import annotations

import csv
import hashlib
import io
import json
import math
import os
import time
import warnings
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Callable, Iterable, Sequence

import cv2
import numpy as np

from ..atomic import write_bytes_atomic
from ..errors import MefkitError
from ..registry import method_infos
from .images import read_rgb8, to_float
from .stacks import Stack


@dataclass
class LabelChoice:
    """The label chosen for one stack.

    Attributes
    ----------
    stack : str
        Stack id (``source/scene``).
    method : str
        The winning method.
    score : float
        Its MEF-SSIM against the whole stack (NaN when scoring was unavailable).
    path : str
        The cached label image (16-bit PNG at the downscaled size).
    scores : dict
        Every candidate's score.
    """

    stack: str
    method: str
    score: float
    path: str
    scores: dict[str, float] = field(default_factory=dict)


def classic_candidates(n_frames: int, methods: Sequence[str] | None = None, skip: Iterable[str] = ()) -> list[str]:
    """Registered classic methods that accept ``n_frames`` frames.

    Parameters
    ----------
    n_frames : int
        Frames in the stack.
    methods : sequence of str, optional
        Restrict to these names (others are ignored, unknown names raise).
    skip : iterable of str
        Names never used (e.g. slow methods).
    """
    infos = {info.name: info for info in method_infos()}
    if methods is not None:
        unknown = [m for m in methods if m not in infos]
        if unknown:
            raise MefkitError(f"unknown label method(s) {', '.join(unknown)}; registered: {', '.join(sorted(infos))}")
    skip = set(skip)
    out = []
    for name, info in sorted(infos.items()):
        if info.kind != "classic" or name in skip or (methods is not None and name not in methods):
            continue
        if n_frames < info.min_frames or (info.max_frames is not None and n_frames > info.max_frames):
            continue
        out.append(name)
    return out


def _key(stack: Stack, method: str, params: dict, max_side: int) -> str:
    blob = json.dumps([stack.id, stack.fingerprint(), method, params, int(max_side)], sort_keys=True, default=str)
    return hashlib.sha1(blob.encode()).hexdigest()[:20]


def save_png16(path: Path, image: np.ndarray) -> None:
    """Write ``(H, W, 3)`` float RGB in [0, 1] as a 16-bit PNG, atomically."""
    arr = np.round(np.clip(image, 0, 1) * 65535).astype(np.uint16)[:, :, ::-1]
    ok, buf = cv2.imencode(".png", arr)
    if not ok:
        raise MefkitError(f"{path}: cannot encode label image")
    write_bytes_atomic(path, buf.tobytes())


def load_label(path: str | Path) -> np.ndarray:
    """Read a cached label as ``(H, W, 3)`` float32 RGB in [0, 1]."""
    data = cv2.imread(str(path), cv2.IMREAD_UNCHANGED)
    if data is None:
        raise MefkitError(f"{path}: cannot read cached label")
    scale = 65535.0 if data.dtype == np.uint16 else 255.0
    return np.ascontiguousarray(data[:, :, ::-1]).astype(np.float32) / np.float32(scale)


def default_label_cache() -> Path:
    """``$MEFKIT_LABEL_CACHE``, else ``$XDG_CACHE_HOME/mefkit/stack_labels`` (``~/.cache/...``).

    One cache per user: every run (and every method) reuses the same fused labels.
    """
    env = os.environ.get("MEFKIT_LABEL_CACHE")
    if env:
        return Path(env)
    base = os.environ.get("XDG_CACHE_HOME") or str(Path.home() / ".cache")
    return Path(base) / "mefkit" / "stack_labels"


def _mef_ssim_fn() -> Callable | None:
    try:
        from ..metrics import NO_REFERENCE_METRICS  # engineer A's package
    except ImportError:
        return None
    return NO_REFERENCE_METRICS.get("mef_ssim")


def build_stack_labels(
    stacks: Sequence[Stack],
    cache_dir: str | Path,
    *,
    methods: Sequence[str] | None = None,
    skip: Iterable[str] = (),
    params: dict[str, dict] | None = None,
    max_side: int = 512,
    refresh: Iterable[str] = (),
    log_dir: str | Path | None = None,
    on_progress: Callable[[str, int, int], None] | None = None,
) -> dict[str, LabelChoice]:
    """Fuse every stack with every candidate method, score by MEF-SSIM, keep the best.

    Parameters
    ----------
    stacks : sequence of Stack
        The (already exclusion-filtered) training stacks.
    cache_dir : path
        Folder of the label cache (created).
    methods : sequence of str, optional
        Candidate method names (default: every registered classic method accepting
        the stack's frame count, see :func:`classic_candidates`).
    skip : iterable of str
        Method names never tried.
    params : dict, optional
        ``method -> keyword parameters`` for candidates (part of the cache key).
    max_side : int
        Stacks are area-downscaled so the longer side is at most this before fusion;
        the label has exactly the size at which training reads the stack's frames.
    refresh : iterable of str
        Methods whose cached fusions are recomputed. The cache key does not follow a
        method's code, so refresh a method after changing its implementation.
    log_dir : path, optional
        Where ``choices.csv`` / ``choices.json`` go (default: ``cache_dir``; a training
        run logs into its own folder so runs with other candidates do not overwrite
        the cache's log).
    on_progress : callable, optional
        ``fn(stack_id, done, total)`` after each stack.

    Returns
    -------
    dict
        ``stack id -> LabelChoice``; also written to ``choices.csv`` / ``choices.json``.

    Notes
    -----
    Without :mod:`mefkit.metrics` (MEF-SSIM) the first candidate is used, with a
    warning, and scores are NaN. A method that fails on a stack is skipped for it.
    """
    from ..api import fuse

    cache = Path(cache_dir)
    cache.mkdir(parents=True, exist_ok=True)
    params = params or {}
    refresh = set(refresh)
    score_fn = _mef_ssim_fn()
    if score_fn is None:
        warnings.warn("mefkit.metrics.mef_ssim is unavailable: stack labels use the first candidate method unscored")
    choices: dict[str, LabelChoice] = {}
    for done, stack in enumerate(stacks, start=1):
        candidates = classic_candidates(len(stack.frames), methods, skip)
        if score_fn is None:
            candidates = candidates[:1]
        if not candidates:
            raise MefkitError(f"no classic method can label stack {stack.id} ({len(stack.frames)} frames)")
        frames: list[np.ndarray] | None = None
        scores: dict[str, float] = {}
        paths: dict[str, Path] = {}
        for method in candidates:
            p = params.get(method, {})
            key = _key(stack, method, p, max_side)
            png, meta = cache / f"{key}.png", cache / f"{key}.json"
            if png.is_file() and meta.is_file() and method not in refresh:
                scores[method] = float(json.loads(meta.read_text())["score"])
                paths[method] = png
                continue
            if frames is None:
                frames = [to_float(read_rgb8(f, max_side)) for f in stack.frames]
            start = time.perf_counter()
            try:
                fused = fuse(frames, method=method, order="given", **p)
            except Exception as exc:  # noqa: BLE001 - one failing candidate must not stop the build
                warnings.warn(f"label method {method} failed on {stack.id}: {exc}")
                continue
            seconds = time.perf_counter() - start
            score = math.nan
            if score_fn is not None:
                try:
                    score = float(score_fn(frames, fused))
                except ValueError as exc:  # e.g. a stack too small for 3-scale MEF-SSIM
                    warnings.warn(f"MEF-SSIM of {method} on {stack.id} unavailable: {exc}")
            save_png16(png, fused)
            info = {"stack": stack.id, "method": method, "params": p, "max_side": max_side,
                    "score": score, "seconds": round(seconds, 3)}
            write_bytes_atomic(meta, (json.dumps(info, indent=1) + "\n").encode())
            scores[method] = score
            paths[method] = png
        if not scores:
            raise MefkitError(f"every label method failed on stack {stack.id}")
        best = max(scores, key=lambda m: -math.inf if math.isnan(scores[m]) else scores[m])
        choices[stack.id] = LabelChoice(stack.id, best, scores[best], str(paths[best]), scores)
        if on_progress is not None:
            on_progress(stack.id, done, len(stacks))
    write_choices(choices, log_dir if log_dir is not None else cache)
    return choices


def write_choices(choices: dict[str, LabelChoice], cache_dir: str | Path) -> None:
    """Log the per-stack choice to ``choices.csv`` and ``choices.json`` (atomically)."""
    cache = Path(cache_dir)
    cache.mkdir(parents=True, exist_ok=True)
    methods = sorted({m for c in choices.values() for m in c.scores})
    buf = io.StringIO()
    writer = csv.writer(buf)
    writer.writerow(["stack", "method", "score", *methods])
    for c in choices.values():
        writer.writerow([c.stack, c.method, f"{c.score:.6f}", *(f"{c.scores.get(m, math.nan):.6f}" for m in methods)])
    write_bytes_atomic(cache / "choices.csv", buf.getvalue().encode())
    write_bytes_atomic(cache / "choices.json", (json.dumps({k: asdict(v) for k, v in choices.items()}, indent=1) + "\n").encode())
