"""Keep development-evaluation scenes out of training.

The development numbers (MEFB pairs, the MEF database stacks) must be measured on
scenes the models never saw. A training stack is excluded when

* its source folder is one that holds the evaluation scenes' own stacks
  (:data:`EXCLUDED_SOURCES`: ``pmef_madb`` = the MEF database, ``pmef_mefb_src`` = the
  MEFB sources), or
* its scene name matches a scene folder in any evaluation root (by default
  ``mefb``, ``mef_database``, ``memorial`` and ``deep_published`` under the shared
  data, see :data:`EVAL_ROOTS`), compared after
  :func:`normalize_scene_name` (case and punctuation ignored, a trailing variant tag
  such as ``_1`` or ``_PM2`` dropped: the HDR Photographic Survey names its several
  captures of one scene ``BloomingGorse_1``, ``BloomingGorse_2``, and MEFB uses the
  bare ``BloomingGorse``), or
* its name is tied to an evaluation scene by :data:`SCENE_ALIASES` (the same scene
  under another name, e.g. Debevec's ``memorial`` church is MEFB's ``Memorial``), or
* one of its frames shows the same picture as an evaluation image
  (:func:`content_matches`): names are not enough. On the shared data, 10 of the 70
  development MEFB pairs (``ICCV_01`` ... ``ICCV_14``) are frames of DeepFuse sequences
  stored as ``pmef_deepfuse/Seq_NN``; their thumbnails correlate at r >= 0.999, while
  the best match of any other pair is r = 0.57. Of the ``deep_published`` pairs (the
  test pairs for which DPE-MEF, HoLoCo and HSDS-MEF published results), ``dpe_mef_3`` is
  frame 03 of ``pmef_hdrps/BarHarborSunrise`` (r = 0.918; MEFB's ``BarHarborSunrise``,
  excluded by name as well); every other one correlates at most r = 0.64 with any
  training frame (``dpe_mef_2`` against ``pmef_hdrps/BandonSunset_2``: a beach with
  driftwood against a golf course, a different scene).
"""

from __future__ import annotations

import re
from pathlib import Path
from typing import Iterable, Sequence

import cv2
import numpy as np

from ..devdata import EVAL_FOLDERS
from ..devdata import eval_roots as default_eval_roots  # noqa: F401 - the name the training modules use


#: Source folders of ``train_stacks`` that hold the evaluation scenes' stacks
#: (see train_stacks/MANIFEST.md: pmef_madb = MEF database, pmef_mefb_src = MEFB sources).
EXCLUDED_SOURCES = ("pmef_madb", "pmef_mefb_src")

#: Evaluation roots under the shared data (defined once, in :mod:`mefkit.devdata`).
EVAL_ROOTS = EVAL_FOLDERS

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


#: Thumbnail size (W, H) of the content signature; small enough to ignore JPEG noise and
#: exposure-dependent detail, large enough to tell scenes apart.
SIGNATURE_SIZE = (48, 32)
#: Correlation above which two images count as the same picture (measured on the shared
#: data: duplicates >= 0.999, different scenes <= 0.57).
DUPLICATE_THRESHOLD = 0.9
#: Aspect ratios (log) further apart than this are different pictures without comparing.
ASPECT_TOLERANCE = 0.05

_IMAGE_SUFFIXES = (".jpg", ".jpeg", ".png", ".tif", ".tiff")


def image_signature(path: str | Path) -> tuple[float, np.ndarray]:
    """Exposure-robust content signature of an image: ``(aspect W/H, unit vector)``.

    The gray thumbnail is histogram-equalised (so an under- and an over-exposed shot of
    one scene look alike) and its gradient magnitude appended; the vector is
    standardised so that a dot product divided by its length is a correlation.
    """
    # Decoding at 1/4 size (JPEG DCT scaling) is several times faster and loses nothing
    # at a 48x32 thumbnail.
    im = cv2.imread(str(path), cv2.IMREAD_REDUCED_GRAYSCALE_4)
    if im is None:
        raise FileNotFoundError(f"{path}: cannot read image")
    h, w = im.shape
    t = cv2.equalizeHist(cv2.resize(im, SIGNATURE_SIZE, interpolation=cv2.INTER_AREA)).astype(np.float32)
    g = np.hypot(cv2.Sobel(t, cv2.CV_32F, 1, 0), cv2.Sobel(t, cv2.CV_32F, 0, 1))
    v = np.concatenate([t.ravel(), g.ravel()])
    return w / h, (v - v.mean()) / (v.std() + 1e-6)


def eval_images(roots: Iterable[str | Path]) -> list[tuple[str, Path]]:
    """``(root/scene, image path)`` for every image directly inside each evaluation scene folder."""
    out = []
    for root in roots:
        root = Path(root)
        if not root.is_dir():
            continue
        for scene in sorted(p for p in root.iterdir() if p.is_dir() and not p.name.startswith(".")):
            for f in sorted(scene.iterdir()):
                if f.is_file() and f.suffix.lower() in _IMAGE_SUFFIXES:
                    out.append((f"{root.name}/{scene.name}", f))
    return out


def content_matches(
    stacks: Sequence, images: Sequence[tuple[str, Path]], threshold: float = DUPLICATE_THRESHOLD
) -> dict[str, str]:
    """Stacks with a frame that is the same picture as an evaluation image.

    Parameters
    ----------
    stacks : sequence of Stack
        Candidate training stacks (``.id`` and ``.frames``).
    images : sequence of (str, Path)
        Evaluation images by scene (:func:`eval_images`).
    threshold : float
        Correlation of :func:`image_signature` vectors above which they match.

    Returns
    -------
    dict
        ``stack id -> reason`` naming the frame, the evaluation image and the correlation.
    """
    if not images:
        return {}
    ev = [(name, path, *image_signature(path)) for name, path in images]
    ev_aspect = np.log(np.array([e[2] for e in ev]))
    ev_vecs = np.stack([e[3] for e in ev])
    found: dict[str, str] = {}
    for stack in stacks:
        for frame in stack.frames:
            aspect, vec = image_signature(frame)
            close = np.abs(ev_aspect - np.log(aspect)) <= ASPECT_TOLERANCE
            if not close.any():
                continue
            r = (ev_vecs @ vec) / vec.size
            r[~close] = -1
            k = int(np.argmax(r))
            if r[k] >= threshold:
                name, path = ev[k][0], ev[k][1]
                found[stack.id] = f"frame {frame.name} is the picture of evaluation image {name}/{path.name} (r={r[k]:.3f})"
                break
    return found
