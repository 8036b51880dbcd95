"""Real exposure stacks for training: discovery, exclusion and the (under, over) pair draw.

Layout: ``ROOT/<source>/<scene>/NN.jpg`` (frames darkest first, as in
``shared/data/train_stacks``); a root that directly holds ``<scene>/`` folders works too
(source ``""``).
"""

from __future__ import annotations

import hashlib
from dataclasses import dataclass
from pathlib import Path
from typing import Iterable

import numpy as np

from ..io import IMAGE_EXTENSIONS
from ..devdata import eval_roots as default_eval_roots
from .exclusion import content_matches, eval_images, eval_scene_names, exclusion_reason


@dataclass(frozen=True)
class Stack:
    """One static exposure stack.

    Attributes
    ----------
    source, scene : str
        Source folder and scene folder names.
    frames : tuple of Path
        Frame files, darkest first.
    """

    source: str
    scene: str
    frames: tuple[Path, ...]

    @property
    def id(self) -> str:
        """``source/scene``, unique within a root."""
        return f"{self.source}/{self.scene}" if self.source else self.scene

    def fingerprint(self) -> str:
        """Hash of the frame names and byte sizes: changes when the stack's files change."""
        h = hashlib.sha1()
        for f in self.frames:
            h.update(f"{f.name}:{f.stat().st_size};".encode())
        return h.hexdigest()[:12]


def _frames_in(folder: Path) -> tuple[Path, ...]:
    return tuple(sorted(p for p in folder.iterdir() if p.suffix.lower() in IMAGE_EXTENSIONS and p.is_file()))


def find_stacks(root: str | Path, min_frames: int = 3) -> list[Stack]:
    """Every stack under ``root`` with at least ``min_frames`` frames, sorted by id."""
    root = Path(root)
    if not root.is_dir():
        raise FileNotFoundError(f"{root}: no such folder of stacks")
    stacks = []
    for first in sorted(p for p in root.iterdir() if p.is_dir() and not p.name.startswith(".")):
        direct = _frames_in(first)
        if len(direct) >= min_frames:
            stacks.append(Stack("", first.name, direct))
            continue
        for scene in sorted(p for p in first.iterdir() if p.is_dir() and not p.name.startswith(".")):
            frames = _frames_in(scene)
            if len(frames) >= min_frames:
                stacks.append(Stack(first.name, scene.name, frames))
    return sorted(stacks, key=lambda s: s.id)


def split_excluded(
    stacks: Iterable[Stack],
    eval_roots: Iterable[str | Path] | None = None,
    data_root: str | Path | None = None,
    content: bool = True,
) -> tuple[list[Stack], dict[str, str]]:
    """Separate stacks allowed for training from those of evaluation scenes.

    Parameters
    ----------
    stacks : iterable of Stack
    eval_roots : iterable of path, optional
        Folders whose sub-folder names are evaluation scenes.
    data_root : path, optional
        Shared data root; when ``eval_roots`` is None its evaluation folders
        (:data:`mefkit.train.exclusion.EVAL_ROOTS`) are used.
    content : bool
        Also exclude stacks whose frames are the same picture as an evaluation image
        (:func:`mefkit.train.exclusion.content_matches`; a few seconds on the shared data).

    Returns
    -------
    kept : list of Stack
    excluded : dict
        ``stack id -> reason`` for every excluded stack.
    """
    if eval_roots is None:
        eval_roots = default_eval_roots(data_root) if data_root is not None else []
    eval_roots = list(eval_roots)
    names = eval_scene_names(eval_roots)
    by_name, excluded = [], {}
    for stack in stacks:
        reason = exclusion_reason(stack.source, stack.scene, names)
        if reason is None:
            by_name.append(stack)
        else:
            excluded[stack.id] = reason
    if content:
        excluded.update(content_matches(by_name, eval_images(eval_roots)))
    return [s for s in by_name if s.id not in excluded], excluded


def guess_data_root(stacks_root: str | Path) -> Path:
    """The shared data folder of a ``.../data/train_stacks`` root (its parent)."""
    return Path(stacks_root).resolve().parent


def draw_pair(n: int, rng: np.random.Generator, under_max_frac: float = 0.5, over_min_frac: float = 0.5) -> tuple[int, int]:
    """Draw ``(under, over)`` frame indices from a stack of ``n`` frames (darkest first).

    The under frame comes from indices ``< ceil(under_max_frac * n)`` excluding the
    brightest, the over frame from indices ``>= floor(over_min_frac * n)`` excluding the
    darkest, and always ``under < over``. With the defaults (0.5, 0.5) and ``n = 7``:
    under in {0, 1, 2, 3}, over in {3, 4, 5, 6}, never the same frame.
    """
    if n < 2:
        raise ValueError(f"a stack needs at least 2 frames, got {n}")
    lo_end = min(n - 1, max(1, int(np.ceil(under_max_frac * n))))
    hi_start = max(1, min(n - 1, int(np.floor(over_min_frac * n))))
    under = int(rng.integers(0, lo_end))
    over = int(rng.integers(max(hi_start, under + 1), n))
    return under, over
