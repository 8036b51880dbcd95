"""Find the scenes under a dataset folder, whatever its layout.

Layouts (``layout=``; ``"auto"`` recognises each scene folder on its own):

``"under-over"`` (aliases ``"mefb"``, ``"sice"``)
    one folder per scene with ``under.*`` and ``over.*``, optionally ``gt.*`` and a
    ``fused/<method>.*`` folder of results made elsewhere: the layout of
    ``../shared/data/mefb`` and ``../shared/data/sice`` (see their MANIFEST.md).
``"numbered"`` (alias ``"mef_database"``)
    one folder per scene with frames ``01.png .. NN.png`` numbered darkest first:
    ``../shared/data/mef_database``, ``memorial`` and ``train_stacks`` (whose MANIFESTs
    state that order).
``"sice-release"``
    the official SICE release: ``Dataset_Part1/<n>/*.JPG`` with the reference in
    ``Dataset_Part1/Label/<n>.JPG`` (same for ``Dataset_Part2``). Frames are taken in
    the order of their file numbers (SICE numbers them by exposure), so ``pairs="1,7"``
    means files ``1.JPG`` and ``7.JPG``.
``"generic"``
    one folder per scene holding two or more frames and optionally ``gt.*``. Frames are
    ordered by exposure words or EV tags in their names (``under``/``mid``/``over``,
    ``EV-2``) when every name has one, else by EXIF exposure, else by mean luminance.

Folders without images are searched recursively, so the root of ``../shared/data``
loads too (scene names then start with the sub-dataset, ``"mefb/Arno"``). Images lying
beside scene folders (a result saved there, a preview) are left out with a warning and
listed in ``Dataset.skipped``, and so are images mefkit wrote itself (its results saved in
a scene folder; see :mod:`mefkit.io.provenance`).
"""

from __future__ import annotations

import os
import warnings
from pathlib import Path

from ..io.provenance import is_mefkit_output
from ..io.read import IMAGE_EXTENSIONS
from .ordering import is_numbered, natural_key, order_by_exposure, order_by_name
from .pairs import parse_pairs, select_frames
from .scene import Dataset, DatasetError, Scene

#: Layout names and their aliases.
LAYOUTS = {
    "auto": "auto",
    "under-over": "under-over",
    "mefb": "under-over",
    "sice": "under-over",
    "numbered": "numbered",
    "mef_database": "numbered",
    "sice-release": "sice-release",
    "generic": "generic",
}
#: File stems taken as the ground truth of a scene (case-insensitive).
GT_STEMS = ("gt", "label", "reference", "ref", "ground_truth", "groundtruth")
#: Sub-folder of a scene holding fused results made elsewhere (MEFB layout).
FUSED_DIR = "fused"
#: Folder of SICE reference images beside the numbered sequence folders.
SICE_LABEL_DIR = "label"


class _Malformed(Exception):
    """A scene folder that cannot be used; the message says why."""


def _images(folder: Path) -> list[Path]:
    return sorted(
        (p for p in folder.iterdir() if p.is_file() and p.suffix.lower() in IMAGE_EXTENSIONS
         and not p.name.startswith(".")),
        key=lambda p: natural_key(p.name),
    )


def _subdirs(folder: Path) -> list[Path]:
    return sorted(
        (p for p in folder.iterdir() if p.is_dir() and not p.name.startswith(".")),
        key=lambda p: natural_key(p.name),
    )


def _holds_images(folder: Path) -> bool:
    """Whether ``folder`` or any folder below it holds an image."""
    for _, _, files in os.walk(folder):
        if any(Path(f).suffix.lower() in IMAGE_EXTENSIONS and not f.startswith(".") for f in files):
            return True
    return False


def _by_stem(paths: list[Path]) -> dict[str, Path]:
    out: dict[str, Path] = {}
    for p in paths:
        stem = p.stem.lower()
        if stem in out:
            raise _Malformed(f"two files for {p.stem!r}: {out[stem].name} and {p.name}")
        out[stem] = p
    return out


def _check_nonempty(paths: list[Path]) -> None:
    for p in paths:
        if p.stat().st_size == 0:
            raise _Malformed(f"{p.name} is empty")


def _fused_results(folder: Path) -> dict[str, Path]:
    fused_dir = folder / FUSED_DIR
    if not fused_dir.is_dir():
        return {}
    return {p.stem: p for p in _images(fused_dir)}


def _read_scene_folder(folder: Path, layout: str, images: list[Path] | None = None
                       ) -> tuple[list[Path], Path | None, str, str]:
    """Frames (darkest first), gt, layout used and ordering of one scene folder
    (``images``: its image files, default all of them)."""
    images = _images(folder) if images is None else images
    stems = _by_stem(images)
    gt = next((stems[s] for s in GT_STEMS if s in stems), None)
    frames = [p for p in images if p is not gt]
    _check_nonempty(images)
    has_under, has_over = "under" in stems, "over" in stems
    if layout in ("auto", "under-over") and has_under != has_over:
        raise _Malformed(f"has {'under' if has_under else 'over'}.* but no {'over' if has_under else 'under'}.*")
    if layout in ("auto", "under-over") and has_under and has_over and len(frames) == 2:
        return [stems["under"], stems["over"]], gt, "under-over", "layout"
    if layout == "under-over":
        raise _Malformed("expected under.* and over.* (and optionally gt.*)")
    if len(frames) < 2:
        what = frames[0].name if frames else "no frame"
        raise _Malformed(f"needs at least two frames, found {what}")
    if layout in ("auto", "numbered") and is_numbered(frames):
        return sorted(frames, key=lambda p: int(p.stem)), gt, "numbered", "layout"
    if layout == "numbered":
        raise _Malformed("expected frames numbered 1..N (01.png, 02.png, ...)")
    if layout == "sice-release":
        raise _Malformed("not a SICE release folder (Dataset_Part1/<n>/ with Label/<n>.*)")
    named = order_by_name(frames)
    if named is not None:
        return named, gt, "generic", "name"
    try:
        ordered, how = order_by_exposure(frames)
    except ValueError as exc:
        raise _Malformed(str(exc)) from None
    return ordered, gt, "generic", how


def _is_sice_part(folder: Path, subdirs: list[Path]) -> bool:
    labels = [d for d in subdirs if d.name.lower() == SICE_LABEL_DIR]
    numeric = [d for d in subdirs if d.name.isdigit()]
    return bool(labels) and bool(numeric)


class _Collector:
    def __init__(self, root: Path, layout: str, pairs: str | tuple[int, ...]):
        self.root, self.layout, self.pairs = root, layout, pairs
        self.scenes: list[Scene] = []
        self.skipped: list[tuple[str, str]] = []

    def _name(self, folder: Path) -> str:
        rel = folder.relative_to(self.root).as_posix()
        return folder.name if rel == "." else rel

    def skip(self, name: str, why: str) -> None:
        self.skipped.append((name, why))
        warnings.warn(f"dataset: skipping {name}: {why}", stacklevel=4)

    def add(self, name: str, frames: list[Path], gt: Path | None, fused: dict[str, Path],
            layout: str, ordered_by: str) -> None:
        try:
            chosen = select_frames(frames, self.pairs)
        except ValueError as exc:
            self.skip(name, str(exc))
            return
        self.scenes.append(Scene(name, chosen, gt, fused, tuple(frames), layout, ordered_by))

    def sice_part(self, folder: Path, subdirs: list[Path]) -> None:
        label_dir = next(d for d in subdirs if d.name.lower() == SICE_LABEL_DIR)
        labels: dict[str, Path] = {}
        for p in _images(label_dir):
            labels.setdefault(p.stem.lower(), p)
        for seq in subdirs:
            if seq is label_dir:
                continue
            name = self._name(seq)
            if not seq.name.isdigit():
                self.skip(name, "not a numbered SICE sequence folder")
                continue
            try:
                frames = _images(seq)
                _check_nonempty(frames)
                if len(frames) < 2:
                    raise _Malformed(f"needs at least two frames, found {len(frames)}")
                gt = labels.get(seq.name.lower())
                if gt is None:
                    raise _Malformed(f"no reference {label_dir.name}/{seq.name}.* for this sequence")
                _check_nonempty([gt])
            except _Malformed as exc:
                self.skip(name, str(exc))
                continue
            self.add(name, frames, gt, {}, "sice-release", "layout")

    def scan(self, folder: Path, depth: int = 0) -> None:
        subdirs = _subdirs(folder)
        if self.layout in ("auto", "sice-release") and _is_sice_part(folder, subdirs):
            self.sice_part(folder, subdirs)
            return
        images = _images(folder)
        children = [d for d in subdirs if d.name.lower() != FUSED_DIR]
        if images and any(_holds_images(d) for d in children):
            # Images beside scene folders are strays (a result saved there, a preview),
            # not a scene of their own: leave them out, say so, and read the scenes.
            for p in images:
                self.skip(self._name(folder / p.name), "a stray image beside the scene folders, ignored")
            images = []
        ours = [p for p in images if is_mefkit_output(p)]
        for p in ours:  # a result saved in the scene folder is not one more frame
            self.skip(self._name(folder / p.name), "written by mefkit (a fused result, not a frame), left out")
        images = [p for p in images if p not in ours]
        if images:
            name = self._name(folder)
            try:
                frames, gt, layout, how = _read_scene_folder(folder, self.layout, images)
            except _Malformed as exc:
                self.skip(name, str(exc))
                return
            self.add(name, frames, gt, _fused_results(folder), layout, how)
            return
        if not children:
            if depth > 0:
                self.skip(self._name(folder), "no images")
            return
        for sub in children:
            self.scan(sub, depth + 1)


def load_dataset(path: str | Path, layout: str = "auto", pairs: str = "under-over") -> Dataset:
    """Read the scenes of a dataset folder.

    Parameters
    ----------
    path : str or Path
        The dataset folder (one sub-folder per scene; nested groups are searched).
    layout : {"auto", "under-over", "mefb", "sice", "numbered", "mef_database", "sice-release", "generic"}
        Force one layout, or recognise each scene folder (``"auto"``). See the module
        docstring for each layout.
    pairs : str
        Which frames a method gets: ``"under-over"`` (darkest and brightest, default),
        ``"all"``, or 1-based indices such as ``"1,7"`` (negative from the end).

    Returns
    -------
    Dataset
        Scenes sorted by name; malformed scene folders are in ``Dataset.skipped`` with
        the reason, and each was reported with a warning.

    Raises
    ------
    DatasetError
        When ``path`` is not a folder, the layout or pair choice is unknown, or no
        scene is found.
    """
    root = Path(path)
    if not root.is_dir():
        raise DatasetError(f"{root}: not a folder")
    key = layout.strip().lower()
    key = key if key in LAYOUTS else key.replace("_", "-")
    if key not in LAYOUTS:
        raise DatasetError(f"unknown dataset layout {layout!r}; use one of {', '.join(LAYOUTS)}")
    try:
        choice = parse_pairs(pairs)
    except ValueError as exc:
        raise DatasetError(str(exc)) from None
    collector = _Collector(root, LAYOUTS[key], choice)
    collector.scan(root)
    if not collector.scenes:
        why = "; ".join(f"{n}: {w}" for n, w in collector.skipped[:5])
        raise DatasetError(f"{root}: no scene found" + (f" ({why})" if why else ""))
    scenes = sorted(collector.scenes, key=lambda s: natural_key(s.name))
    spec = pairs if isinstance(choice, str) else ",".join(map(str, choice))
    return Dataset(root, scenes, collector.skipped, spec)
