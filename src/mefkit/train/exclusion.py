"""Keep development-evaluation scenes out of training.

The development numbers (MEFB pairs, the MEF database stacks) must be measured on
scenes the models never saw. A training stack is excluded when

* its source folder is one that holds the evaluation scenes' own stacks
  (:data:`EXCLUDED_SOURCES`: ``pmef_madb`` = the MEF database, ``pmef_mefb_src`` = the
  MEFB sources), or
* its scene name matches a scene folder in any evaluation root (by default
  ``mefb``, ``mef_database`` and ``memorial`` under the shared data), compared after
  :func:`normalize_scene_name` (case and punctuation ignored, a trailing variant tag
  such as ``_1`` or ``_PM2`` dropped: the HDR Photographic Survey names its several
  captures of one scene ``BloomingGorse_1``, ``BloomingGorse_2``, and MEFB uses the
  bare ``BloomingGorse``), or
* its name is tied to an evaluation scene by :data:`SCENE_ALIASES` (the same scene
  under another name, e.g. Debevec's ``memorial`` church is MEFB's ``Memorial``).
"""

from __future__ import annotations

import re
from pathlib import Path
from typing import Iterable

#: Source folders of ``train_stacks`` that hold the evaluation scenes' stacks
#: (see train_stacks/MANIFEST.md: pmef_madb = MEF database, pmef_mefb_src = MEFB sources).
EXCLUDED_SOURCES = ("pmef_madb", "pmef_mefb_src")

#: Evaluation roots under the shared data whose sub-folder names are scene names.
EVAL_ROOTS = ("mefb", "mef_database", "memorial")

#: Normalised training-scene name -> normalised evaluation-scene name, for scenes
#: known under two names. ``memorial``: Debevec & Malik's memorial church stack is the
#: source of MEFB's ``Memorial`` pair. ``devilsbathtub``: the HDR Photographic Survey
#: scene that MEFB's survey-derived ``Bathtub`` pair comes from (same size class,
#: 536x356, as the other survey pairs).
SCENE_ALIASES = {"memorial": "memorial", "debevecmemorial": "memorial", "devilsbathtub": "bathtub"}

_VARIANT = re.compile(r"[_\-\s](pm)?\d+$", re.IGNORECASE)


def normalize_scene_name(name: str) -> str:
    """Lower case, trailing ``_N`` / ``_PMN`` variant tag removed, punctuation removed.

    >>> normalize_scene_name("AmikeusBeaverDam_PM1")
    'amikeusbeaverdam'
    >>> normalize_scene_name("Knossos6")  # digits that are part of the name stay
    'knossos6'
    """
    stripped = _VARIANT.sub("", name.strip())
    return re.sub(r"[^0-9a-z]", "", stripped.lower())


def eval_scene_names(roots: Iterable[str | Path]) -> set[str]:
    """Normalised names of every scene folder under the given evaluation roots.

    Roots that do not exist are ignored (the development data is optional).
    """
    names: set[str] = set()
    for root in roots:
        root = Path(root)
        if not root.is_dir():
            continue
        for sub in root.iterdir():
            if sub.is_dir() and not sub.name.startswith("."):
                names.add(normalize_scene_name(sub.name))
    return names


def default_eval_roots(data_root: str | Path) -> list[Path]:
    """The evaluation roots (:data:`EVAL_ROOTS`) under the shared data folder."""
    return [Path(data_root) / name for name in EVAL_ROOTS]


def exclusion_reason(source: str, scene: str, eval_names: set[str]) -> str | None:
    """Why the stack ``source/scene`` must stay out of training, or ``None`` if it may train.

    Parameters
    ----------
    source : str
        The stack's source folder (e.g. ``"pmef_hdrps"``).
    scene : str
        The stack's scene folder (e.g. ``"BloomingGorse_1"``).
    eval_names : set of str
        Normalised evaluation scene names (:func:`eval_scene_names`).
    """
    if source in EXCLUDED_SOURCES:
        return f"source {source} holds evaluation stacks"
    norm = normalize_scene_name(scene)
    if norm in eval_names:
        return f"scene name {scene!r} matches an evaluation scene"
    alias = SCENE_ALIASES.get(norm)
    if alias is not None and alias in eval_names:
        return f"scene {scene!r} is evaluation scene {alias!r} under another name"
    return None


def is_excluded(source: str, scene: str, eval_names: set[str]) -> bool:
    """True when :func:`exclusion_reason` gives a reason."""
    return exclusion_reason(source, scene, eval_names) is not None
