"""Order a scene's frame files darkest first without decoding them at full size."""

from __future__ import annotations

import re
from pathlib import Path
from typing import Sequence

import cv2
from PIL import Image

from ..io.order import exposure_value

#: Exposure words in file names and their rank (MEFB/SICE ``under``/``over``, Ma's
#: database ``mean``/``normal``); a name with one of these orders without EXIF.
EXPOSURE_WORDS = {
    "under": -1.0, "dark": -1.0, "low": -1.0,
    "mid": 0.0, "middle": 0.0, "mean": 0.0, "normal": 0.0, "medium": 0.0,
    "over": 1.0, "bright": 1.0, "high": 1.0,
}
# EV tags: "ev-2", "EV+1.5", "StudioEV0" (sign or a lone 0 after letters), "-2ev".
_EV_TAG = re.compile(
    r"(?<![a-z])ev\s*([+-]?\d+(?:\.\d+)?)"
    r"|ev([+-]\d+(?:\.\d+)?|0(?!\d))"
    r"|(?<![\d.])([+-]?\d+(?:\.\d+)?)\s*ev(?![a-z])"
)
_WORD = re.compile(r"[a-z]+")
_DIGITS = re.compile(r"(\d+)")


def natural_key(text: str) -> list:
    """Sort key putting ``"2"`` before ``"10"`` (numbers compared as numbers)."""
    return [int(tok) if tok.isdigit() else tok.lower() for tok in _DIGITS.split(text)]


def name_rank(path: Path) -> float | None:
    """Exposure rank read from a file name: an EV tag (``EV-2``, ``+1.5ev``) or an
    exposure word (``under``, ``mean``, ``over``...); ``None`` when the name has neither."""
    stem = path.stem.lower()
    m = _EV_TAG.search(stem)
    if m:
        return float(next(g for g in m.groups() if g is not None))
    ranks = {EXPOSURE_WORDS[w] for w in _WORD.findall(stem) if w in EXPOSURE_WORDS}
    return ranks.pop() if len(ranks) == 1 else None


def is_numbered(paths: Sequence[Path]) -> bool:
    """True when the stems are exactly the numbers 1..N (zero padding allowed)."""
    stems = [p.stem for p in paths]
    if not all(s.isdigit() for s in stems):
        return False
    return sorted(int(s) for s in stems) == list(range(1, len(stems) + 1))


def _exif_value(path: Path) -> float | None:
    try:
        with Image.open(path) as im:
            return exposure_value(im.getexif())
    except Exception:  # noqa: BLE001 - unreadable metadata just means "no EXIF"
        return None


def _mean_luma(path: Path) -> float:
    # A 1/4-size grey decode is enough to rank exposures and ~16x cheaper than full size.
    try:
        img = cv2.imread(str(path), cv2.IMREAD_REDUCED_GRAYSCALE_4)
    except cv2.error:  # images under 4 px a side cannot be reduced; the reader reports them
        img = cv2.imread(str(path), cv2.IMREAD_GRAYSCALE)
    if img is None:
        # OpenCV's reduced decode cannot read every file mefkit reads (float TIFF):
        # the full reader decodes it or says precisely what is wrong.
        from ..errors import BracketError
        from ..io.read import read_image

        try:
            image, _, _ = read_image(path)
        except BracketError as exc:
            raise ValueError(str(exc).replace(f"{path}: ", f"{path.name}: ", 1)) from None
        return float(image.mean() * 255.0)
    return float(img.mean())


def order_by_name(paths: Sequence[Path]) -> list[Path] | None:
    """``paths`` sorted by their name ranks, or ``None`` when names do not say."""
    ranks = [name_rank(p) for p in paths]
    if any(r is None for r in ranks) or len(set(ranks)) != len(ranks):
        return None
    return [p for _, p in sorted(zip(ranks, paths), key=lambda t: t[0])]


def order_by_exposure(paths: Sequence[Path]) -> tuple[list[Path], str]:
    """Sort darkest first by EXIF exposure when every file has a distinct one, else by
    mean luminance. Returns the sorted paths and ``"exif"`` or ``"luminance"``."""
    evs = [_exif_value(p) for p in paths]
    if all(v is not None for v in evs) and len(set(evs)) == len(evs):
        keys, how = evs, "exif"
    else:
        keys, how = [_mean_luma(p) for p in paths], "luminance"
    order = sorted(range(len(paths)), key=lambda i: keys[i])  # type: ignore[index]
    return [paths[i] for i in order], how
