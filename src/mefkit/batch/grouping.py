"""Split a folder of frames into brackets: by sub-folder, or a flat folder by its frames' signals.

A photographer's card holds one flat folder of frames in the order the camera took them,
brackets one after another. The signals, strongest first:

* **capture time** (EXIF DateTimeOriginal + SubSecTimeOriginal): a new bracket starts
  after a pause longer than the gap threshold, the pause measured from the *end* of the
  previous exposure (its start + ExposureTime), so a bracket of long exposures, whose
  starts lie many seconds apart, is not split;
* **the exposure pattern**: within a bracket every frame has a different exposure
  (ExposureBiasValue, else the relative exposure ``t * ISO / N^2`` in 1/3 stops), so a
  bracket ends when an exposure comes round again (camera order 0, -2, +2, 0, -2, +2...);
* **the file sequence**: a jump in the camera's file number (frames deleted or taken
  elsewhere) ends a bracket.

Frames without EXIF are grouped ``N`` at a time (``--group N``) or, in ``auto``, by the
luminance pattern: the period with which the frames' mean brightness repeats. A group of
one frame fits no bracket: it is reported as a *stray* and not fused.
"""

from __future__ import annotations

import math
import re
import warnings
from collections import Counter
from dataclasses import dataclass, field
from pathlib import Path
from typing import Callable, Sequence

import numpy as np

from ..errors import BracketError
from ..io.capture import CaptureInfo, read_capture
from ..io.provenance import is_mefkit_output
from ..io.raw import RAW_EXTENSIONS
from ..io.read import list_images

#: Default pause (seconds, end of one exposure to the start of the next) that starts a new bracket.
DEFAULT_GAP = 5.0
#: Longest bracket the luminance pattern looks for.
MAX_PERIOD = 9


@dataclass(frozen=True)
class GroupSpec:
    """How to group: ``mode`` is ``"auto"``, ``"folder"``, ``"count"`` or ``"gap"``.

    Attributes
    ----------
    mode : str
        ``auto``: sub-folders when there are any, else a flat folder's signals;
        ``folder``: one bracket per sub-folder; ``count``: ``count`` frames at a time
        in capture order; ``gap``: the flat-folder signals with ``gap`` as the time threshold.
    count : int or None
        Frames per bracket for ``count``.
    gap : float
        Pause in seconds that starts a new bracket (``auto`` and ``gap``).
    """

    mode: str = "auto"
    count: int | None = None
    gap: float = DEFAULT_GAP


def parse_group(text: str) -> GroupSpec:
    """Parse ``--group``: ``auto``, ``folder``, ``N`` (an integer >= 2) or ``gap=SECONDS`` (> 0).

    Raises
    ------
    BracketError
        On anything else, naming the accepted forms.
    """
    value = text.strip().lower()
    if value in ("auto", "folder"):
        return GroupSpec(mode=value)
    if value.isdigit():
        if int(value) < 2:
            raise BracketError(f"--group {text}: a bracket needs at least 2 frames")
        return GroupSpec(mode="count", count=int(value))
    if value.startswith("gap="):
        try:
            seconds = float(value[4:])
        except ValueError:
            seconds = float("nan")
        if not math.isfinite(seconds) or seconds <= 0:
            raise BracketError(f"--group {text}: the gap must be a positive number of seconds")
        return GroupSpec(mode="gap", gap=seconds)
    raise BracketError(f"--group {text!r}: use auto, folder, a frame count N (e.g. 3) or gap=SECONDS")


@dataclass
class Group:
    """One bracket to fuse, or stray frames to report.

    Attributes
    ----------
    name : str
        Output name without extension (the sub-folder's name, or ``FIRST-LAST`` file stems).
    sources : list of Path
        What the frame reader is given: the sub-folder, or the frame files in capture order.
    frames : list of Path
        The frame files.
    reason : str
        Why the group was formed (``--dry-run`` prints it).
    stray : bool
        True for frames that fit no bracket: reported, never fused.
    """

    name: str
    sources: list[Path]
    frames: list[Path]
    reason: str
    stray: bool = False


@dataclass
class Grouping:
    """The result of :func:`group_folder`: brackets and strays in capture order, and how."""

    groups: list[Group]
    how: str
    notes: list[str] = field(default_factory=list)

    @property
    def brackets(self) -> list[Group]:
        """The groups to fuse."""
        return [g for g in self.groups if not g.stray]

    @property
    def strays(self) -> list[Group]:
        """The frames that fit no bracket."""
        return [g for g in self.groups if g.stray]


def list_frames(folder: Path) -> list[Path]:
    """Frame files directly in ``folder`` (images and camera RAW), by name, without mefkit's results."""
    return [p for p in list_images(folder) if not is_mefkit_output(p)]


def sub_brackets(folder: Path) -> list[Path]:
    """Sub-folders of ``folder`` (not hidden) holding at least one image that is not mefkit's result."""
    subs = sorted(p for p in folder.iterdir() if p.is_dir() and not p.name.startswith("."))
    return [p for p in subs if any(not is_mefkit_output(f) for f in list_images(p))]


def _drop_raw_doubles(files: list[Path]) -> tuple[list[Path], list[str]]:
    """Of files sharing a stem (RAW + JPEG shooting) keep the RAW; say which were left out."""
    by_stem: dict[str, list[Path]] = {}
    for p in files:
        by_stem.setdefault(p.stem, []).append(p)
    keep, notes = [], []
    for p in files:
        twins = by_stem[p.stem]
        raws = [t for t in twins if t.suffix.lower() in RAW_EXTENSIONS]
        if len(twins) > 1 and p not in raws[:1]:
            if raws:
                notes.append(f"{p.name}: left out, the RAW {raws[0].name} is the same frame")
                continue
            if p is not twins[0]:
                notes.append(f"{p.name}: left out, {twins[0].name} is the same frame")
                continue
        keep.append(p)
    return keep, notes


def _group_name(frames: Sequence[Path]) -> str:
    first, last = frames[0].stem, frames[-1].stem
    if first == last:
        return first
    m_first, m_last = re.match(r"(.*?)(\d+)$", first), re.match(r"(.*?)(\d+)$", last)
    if m_first and m_last and m_first.group(1) == m_last.group(1):
        return f"{first}-{m_last.group(2)}"  # IMG_0001-0003
    return f"{first}-{last}"


def _ev_keys(infos: Sequence[CaptureInfo]) -> tuple[list[float] | None, str]:
    """Per-frame exposure keys (for "an exposure comes round again") and what they are."""
    bias = [i.bias for i in infos]
    if all(b is not None for b in bias) and len(set(bias)) > 1:
        return [round(float(b), 2) for b in bias], "exposure bias"  # type: ignore[arg-type]
    stops = [i.stops for i in infos]
    if all(s is not None for s in stops) and len({round(s * 3) for s in stops}) > 1:  # type: ignore[operator]
        return [round(s * 3) / 3 for s in stops], "exposure (t x ISO / N^2)"  # type: ignore[operator]
    return None, ""


def _ev_text(value: float) -> str:
    return f"{value:+g} EV".replace("+0 EV", "0 EV")


def _by_signals(infos: list[CaptureInfo], gap: float) -> tuple[list[tuple[list[int], str]], str]:
    """Split frames (in capture order) where a signal says a new bracket starts."""
    times = [i.time for i in infos]
    have_time = all(t is not None for t in times)
    keys, key_name = _ev_keys(infos)
    groups: list[tuple[list[int], str]] = [([0], "first frame")]
    for k in range(1, len(infos)):
        prev, cur = infos[k - 1], infos[k]
        why = None
        if have_time:
            pause = cur.time - prev.end  # type: ignore[operator]
            if pause > gap:
                why = f"starts after a {pause:.1f} s pause (> {gap:g} s from the end of the previous exposure)"
        if why is None and prev.sequence is not None and cur.sequence is not None and cur.sequence - prev.sequence > 1:
            why = f"file number jumps from {prev.sequence} to {cur.sequence}"
        if why is None and keys is not None and keys[k] in [keys[j] for j in groups[-1][0]]:
            why = f"{key_name} {_ev_text(keys[k]) if key_name == 'exposure bias' else f'{keys[k]:+.2f} stops'} comes round again"
        if why is None:
            groups[-1][0].append(k)
        else:
            groups.append(([k], why))
    signals = (["capture time"] if have_time else []) + ([key_name] if keys else []) + ["file sequence"]
    return groups, " + ".join(signals)


def frame_brightness(path: Path) -> float:
    """Mean BT.601 luma in [0, 1] of a small decode of ``path`` (Pillow's JPEG draft mode, else the frame reader)."""
    from PIL import Image

    try:
        with Image.open(path) as im:
            im.draft("RGB", (128, 128))  # JPEG: decode at 1/2..1/8 scale, fast
            if im.mode in ("RGB", "L", "RGBA", "P"):
                small = im.convert("L")
                small.thumbnail((128, 128))
                return float(np.asarray(small, dtype=np.float64).mean() / 255.0)
    except Exception:  # noqa: BLE001 - fall through to the full reader, which reports bad files
        pass
    from ..io.read import read_image
    from ..io.convert import luminance

    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        image = read_image(path)[0]
    return float(luminance(image).mean())


def luminance_period(levels: Sequence[float]) -> int | None:
    """The bracket length with which the brightness sequence repeats, or ``None``.

    Parameters
    ----------
    levels : sequence of float
        Mean brightness in (0, 1] of each frame in capture order.

    Returns
    -------
    int or None
        The smallest period ``p`` in 2..:data:`MAX_PERIOD` (seen at least twice) for
        which frames ``p`` apart are much closer in log brightness than neighbouring
        frames (mean difference under a third of the neighbours'); ``None`` if none.
    """
    log = np.log2(np.clip(np.asarray(levels, dtype=np.float64), 1e-4, None))
    n = len(log)
    step = np.abs(np.diff(log)).mean() if n > 1 else 0.0
    if step < 0.1:  # neighbours differ by less than 0.1 stop: no exposure pattern at all
        return None
    scores = {}
    for p in range(2, min(MAX_PERIOD, n // 2) + 1):
        scores[p] = float(np.abs(log[p:] - log[:-p]).mean() / step)
    good = [p for p, s in scores.items() if s < 1 / 3]
    if not good:
        return None
    best = min(scores[p] for p in good)
    return min(p for p in good if scores[p] <= best + 0.1)


def _chunks(order: list[int], size: int, why: str) -> list[tuple[list[int], str]]:
    return [(order[i:i + size], why if i == 0 else f"frames {i + 1}-{min(i + size, len(order))} in capture order, "
             f"{size} per bracket") for i in range(0, len(order), size)]


def group_flat(frames: Sequence[Path], spec: GroupSpec = GroupSpec(),
               brightness: Callable[[Path], float] = frame_brightness) -> Grouping:
    """Group a flat list of frame files into brackets (see the module docstring).

    Parameters
    ----------
    frames : sequence of Path
        Frame files of one folder.
    spec : GroupSpec
        ``auto``, ``count`` or ``gap`` (``folder`` is for :func:`group_folder`).
    brightness : callable
        Mean brightness of a frame, used by ``auto`` when the frames have no EXIF.

    Returns
    -------
    Grouping
        Groups in capture order; groups of one frame, and in ``count`` mode a shorter
        last group, are strays.

    Raises
    ------
    BracketError
        ``gap`` mode on frames without a capture time; ``auto`` on frames with neither
        EXIF nor a repeating brightness pattern (naming ``--group N``).
    """
    infos = [read_capture(p) for p in frames]
    if not infos:
        return Grouping([], "no frames")
    have_time = all(i.time is not None for i in infos)
    if have_time:
        order = sorted(range(len(infos)), key=lambda k: (infos[k].time, infos[k].path.name))
    else:
        order = sorted(range(len(infos)), key=lambda k: infos[k].path.name)
    infos = [infos[k] for k in order]
    paths = [i.path for i in infos]
    basis = "capture time" if have_time else "file name"
    if spec.mode == "count":
        size = int(spec.count or 0)
        parts = _chunks(list(range(len(infos))), size, f"frames 1-{min(size, len(infos))} in {basis} order, "
                        f"{size} per bracket")
        strays = {k for k, (idx, _) in enumerate(parts) if len(idx) != size}
        how = f"{size} frames per bracket, in {basis} order"
        groups = [(idx, why if k not in strays else f"{len(idx)} frame(s) left over: fit no bracket of {size}")
                  for k, (idx, why) in enumerate(parts)]
        return _make(paths, groups, how, strays=strays)
    if spec.mode == "gap" and not have_time:
        missing = next(i.path for i in infos if i.time is None)
        raise BracketError(f"{missing}: no EXIF capture time (DateTimeOriginal); --group gap=SECONDS needs one "
                           "on every frame (use --group N instead)")
    keys, _ = _ev_keys(infos)
    if have_time or keys is not None:
        groups, signals = _by_signals(infos, spec.gap)
        return _make(paths, groups, f"flat folder split by {signals} (gap {spec.gap:g} s)")
    levels = [brightness(p) for p in paths]
    period = luminance_period(levels)
    if period is None:
        raise BracketError(f"{paths[0].parent}: its frames have no EXIF capture time or exposure and their "
                           "brightness shows no repeating bracket pattern; use --group N (frames per bracket)")
    parts = _chunks(list(range(len(paths))), period,
                    f"brightness repeats every {period} frames (no EXIF)")
    strays = {k for k, (idx, _) in enumerate(parts) if len(idx) < 2}
    return _make(paths, parts, f"flat folder without EXIF: brightness pattern of {period} frames, in file-name order",
                 strays=strays)


def _make(paths: list[Path], groups: list[tuple[list[int], str]], how: str, strays: set[int] | None = None) -> Grouping:
    out = []
    sizes = Counter(len(idx) for idx, _ in groups if len(idx) > 1)
    usual = sizes.most_common(1)[0][0] if sizes else None
    for k, (idx, why) in enumerate(groups):
        files = [paths[i] for i in idx]
        stray = len(idx) < 2 if strays is None else k in strays
        if stray and len(idx) == 1 and strays is None:
            why = f"a single frame ({why}): fits no bracket"
        elif not stray and usual is not None and len(idx) != usual:
            why = f"{why}; {len(idx)} frames where most brackets have {usual}"
        out.append(Group(name=_group_name(files), sources=files, frames=files, reason=why, stray=stray))
    return Grouping(out, how)


def group_folder(folder: Path, spec: GroupSpec = GroupSpec(),
                 brightness: Callable[[Path], float] = frame_brightness) -> Grouping:
    """Group the frames under ``folder`` into brackets.

    Parameters
    ----------
    folder : Path
        A folder with one sub-folder per bracket, or a flat folder of frames.
    spec : GroupSpec
        ``folder`` and ``auto`` with sub-folders holding images: one bracket per
        sub-folder (the folder's own images are then not fused, with a note); else the
        folder's own frames are grouped by :func:`group_flat`.
    brightness : callable
        Passed to :func:`group_flat`.

    Returns
    -------
    Grouping

    Raises
    ------
    BracketError
        When nothing in ``folder`` can form a bracket.
    """
    subs = sub_brackets(folder) if spec.mode in ("auto", "folder") else []
    own = list_frames(folder)
    if spec.mode == "folder" or subs:
        if not subs:
            hint = f"; its own {len(own)} frames can be grouped with --group auto" if own and spec.mode == "folder" else ""
            raise BracketError(f"{folder}: no sub-folder holds images (expected one folder per bracket){hint}")
        notes = []
        if own:
            notes.append(f"{folder}: its own {len(own)} image{'s' if len(own) > 1 else ''} are not fused "
                         "(fuse-dir fuses each sub-folder as a bracket; for one bracket use mefkit fuse)")
        groups = [Group(name=s.name, sources=[s], frames=[f for f in list_images(s) if not is_mefkit_output(f)],
                        reason="sub-folder") for s in subs]
        return Grouping(groups, "one bracket per sub-folder", notes)
    if not own:
        if spec.mode == "auto":
            raise BracketError(f"{folder}: holds no frames and no sub-folder holds images")
        raise BracketError(f"{folder}: holds no frames (JPEG, PNG, TIFF or camera RAW) to group")
    own, notes = _drop_raw_doubles(own)
    grouping = group_flat(own, spec, brightness)
    grouping.notes[:0] = notes
    return grouping


__all__ = ["DEFAULT_GAP", "Group", "GroupSpec", "Grouping", "frame_brightness", "group_flat",
           "group_folder", "list_frames", "luminance_period", "parse_group", "sub_brackets"]
