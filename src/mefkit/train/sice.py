"""SICE training pairs from the official release layout, with the shipped 360/93 split.

Layout (Cai, Gu, Zhang, TIP 2018 release): ``ROOT/Dataset_Part1/<n>/*.JPG`` (one folder
per sequence, frames named so that sorting puts them darkest first) and
``ROOT/Dataset_Part1/Label/<n>.JPG``; the same for ``Dataset_Part2``.

The thesis (seed 000) trains on frames 1 (under) and 7 (over) of each sequence, and
splits the 453 sequences it kept out of SICE's 589 into 360 for training and 93 for
testing. Its exact list and filter are not published. The shipped list
(``mefkit/data/sice_split.txt``, made by :func:`make_split_list`) is therefore a
reproducible stand-in: training = Part 1 sequences 1..360 (SICE's own training part,
360 sequences, the thesis's training count), testing = 93 of Part 2's 229 sequences
drawn with ``numpy.random.default_rng(SPLIT_SEED)``. The filter applied when reading is
explicit and reproducible: a sequence is used only if its label exists and it has at
least ``max(under, over)`` frames; dropped sequences are reported.
"""

from __future__ import annotations

import warnings
from dataclasses import dataclass
from pathlib import Path

import numpy as np


#: Seed of the shipped test draw from SICE Part 2 (see :func:`make_split_list`).
SPLIT_SEED = 20240601
#: Sequences in SICE Part 1 and Part 2 of the official release (Cai et al. 2018).
PART1_SEQUENCES = 360
PART2_SEQUENCES = 229
#: Test sequences in the thesis's split (seed 000: "Training 360 + Testing 93").
THESIS_TEST_COUNT = 93
#: The shipped split list.
SPLIT_FILE = Path(__file__).resolve().parents[1] / "data" / "sice_split.txt"


@dataclass(frozen=True)
class SiceSequence:
    """One SICE sequence with its label.

    Attributes
    ----------
    part : str
        ``"Dataset_Part1"`` or ``"Dataset_Part2"``.
    seq : str
        Sequence folder name (a number).
    frames : tuple of Path
        Frames darkest first.
    label : Path
        The reference image.
    """

    part: str
    seq: str
    frames: tuple[Path, ...]
    label: Path

    @property
    def id(self) -> str:
        return f"{self.part}/{self.seq}"


def make_split_list(seed: int = SPLIT_SEED) -> list[tuple[str, str]]:
    """The shipped split as ``[(subset, "Dataset_PartK/<n>"), ...]`` (subset train/test)."""
    rows = [("train", f"Dataset_Part1/{n}") for n in range(1, PART1_SEQUENCES + 1)]
    test = np.sort(np.random.default_rng(seed).choice(np.arange(1, PART2_SEQUENCES + 1), THESIS_TEST_COUNT, replace=False))
    rows += [("test", f"Dataset_Part2/{int(n)}") for n in test]
    return rows


def read_split_list(text: str | None = None) -> dict[str, list[str]]:
    """Parse a split list (default: the shipped one) into ``{"train": [...], "test": [...]}``."""
    if text is None:
        text = SPLIT_FILE.read_text()
    out: dict[str, list[str]] = {"train": [], "test": []}
    for line in text.splitlines():
        line = line.split("#", 1)[0].strip()
        if line:
            subset, seq = line.split()
            out.setdefault(subset, []).append(seq)
    return out


def find_sequences(root: str | Path, subset: str = "train", under: int = 1, over: int = 7) -> list[SiceSequence]:
    """Sequences of ``subset`` in the shipped split that pass the filter.

    The release layout is read by :func:`mefkit.datasets.load_dataset` (layout
    ``"sice-release"``: frames in natural name order, ``Label/<n>.*`` as reference);
    this function applies the split list and the frame-count filter.

    Parameters
    ----------
    root : path
        Folder holding ``Dataset_Part1`` / ``Dataset_Part2``.
    subset : {"train", "test", "all"}
        Which part of the split.
    under, over : int
        1-based frame indices of the pair (thesis: 1 and 7); sequences with fewer
        frames are dropped.

    Returns
    -------
    list of SiceSequence
        In split-list order. A warning lists how many were dropped and why.
    """
    from ..datasets import DatasetError, load_dataset

    split = read_split_list()
    ids = split["train"] + split["test"] if subset == "all" else split[subset]
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")  # folders without a label are counted below instead
            scenes = {sc.name: sc for sc in load_dataset(root, layout="sice-release", pairs="all")}
    except DatasetError:
        scenes = {}
    need = max(under, over)
    kept, missing, short = [], 0, 0
    for sid in ids:
        scene = scenes.get(sid)
        if scene is None or scene.gt is None:
            missing += 1
            continue
        if len(scene.all_frames) < need:
            short += 1
            continue
        part, seq = sid.split("/")
        kept.append(SiceSequence(part, seq, tuple(scene.all_frames), scene.gt))
    if missing or short:
        warnings.warn(
            f"SICE {subset}: {len(kept)} sequences used, {missing} missing (folder or label), "
            f"{short} with fewer than {need} frames"
        )
    return kept
