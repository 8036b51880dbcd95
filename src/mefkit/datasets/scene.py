"""The records a dataset reader returns: :class:`Scene` and :class:`Dataset`."""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path
from typing import Iterator

from ..errors import MefkitError


class DatasetError(MefkitError):
    """A dataset folder cannot be read at all (missing, empty, unknown layout)."""


@dataclass(frozen=True)
class Scene:
    """One scene of a dataset: the frames to fuse and what to compare against.

    Attributes
    ----------
    name : str
        Scene name, the folder's path relative to the dataset root with ``/``
        separators (``"Arno"``, ``"Dataset_Part1/12"``, ``"pmef_hdrps/507"``).
    frames : tuple of Path
        The frames given to a fusion method, darkest first, after the pair choice
        (``pairs=``) was applied.
    gt : Path or None
        Ground-truth (reference) image, when the dataset has one.
    fused : dict of str to Path
        Fused results made elsewhere, ``{method: path}`` (MEFB's ``fused/<method>.*``).
    all_frames : tuple of Path
        Every frame of the scene, darkest first, before the pair choice.
    layout : str
        The layout the scene was read with (``"under-over"``, ``"numbered"``,
        ``"sice-release"``, ``"generic"``).
    ordered_by : str
        How ``all_frames`` were ordered: ``"layout"`` (the layout defines it),
        ``"name"`` (exposure words or EV tags in file names), ``"exif"`` or
        ``"luminance"``.
    """

    name: str
    frames: tuple[Path, ...]
    gt: Path | None = None
    fused: dict[str, Path] = field(default_factory=dict, hash=False, compare=True)
    all_frames: tuple[Path, ...] = ()
    layout: str = "generic"
    ordered_by: str = "layout"


@dataclass
class Dataset:
    """The scenes found under a folder, and the folders that were skipped.

    Iterating over a :class:`Dataset` yields its :class:`Scene` objects in name order.

    Attributes
    ----------
    root : Path
        The folder that was read.
    scenes : list of Scene
    skipped : list of (str, str)
        ``(folder name, reason)`` of every malformed scene folder (also warned).
    pairs : str
        The pair choice that was applied (see :func:`mefkit.datasets.load_dataset`).
    """

    root: Path
    scenes: list[Scene]
    skipped: list[tuple[str, str]] = field(default_factory=list)
    pairs: str = "under-over"

    def __iter__(self) -> Iterator[Scene]:
        return iter(self.scenes)

    def __len__(self) -> int:
        return len(self.scenes)

    def __getitem__(self, key: int | str) -> Scene:
        if isinstance(key, str):
            for scene in self.scenes:
                if scene.name == key:
                    return scene
            raise KeyError(key)
        return self.scenes[key]

    @property
    def layouts(self) -> list[str]:
        """The distinct layouts of the scenes, sorted."""
        return sorted({s.layout for s in self.scenes})
