"""Order a bracket's frames from darkest to brightest."""

from __future__ import annotations

import math
from pathlib import Path
from typing import TYPE_CHECKING, Sequence

from .convert import luminance

if TYPE_CHECKING:  # pragma: no cover
    from .read import Bracket

_EXIF_IFD = 0x8769
#: EXIF tags of a frame's exposure: ExposureTime, FNumber, ISOSpeedRatings.
EXPOSURE_TIME, F_NUMBER, ISO = 0x829A, 0x829D, 0x8827


def exif_number(value) -> float | None:
    """A positive finite float from a Pillow EXIF value (a rational, a number, or a
    tuple whose first item is one), or ``None``."""
    try:
        if isinstance(value, tuple):
            value = value[0]
        out = float(value)
    except (TypeError, ValueError, ZeroDivisionError):
        return None
    return out if math.isfinite(out) and out > 0 else None


def exposure_value(exif) -> float | None:
    """Relative exposure ``t * ISO / N^2`` from a Pillow EXIF mapping, or ``None``.

    A larger value means a brighter frame of the same scene. Any missing or
    non-positive tag (exposure time, f-number, ISO) gives ``None``, and the bracket is
    then ordered by mean luminance instead.
    """
    try:
        ifd = exif.get_ifd(_EXIF_IFD)
    except Exception:  # noqa: BLE001 - malformed EXIF is just "no EXIF"
        return None
    t = exif_number(ifd.get(EXPOSURE_TIME, exif.get(EXPOSURE_TIME)))
    n = exif_number(ifd.get(F_NUMBER, exif.get(F_NUMBER)))
    iso = exif_number(ifd.get(ISO, exif.get(ISO)))
    if t is None or n is None or iso is None:
        return None
    return t * iso / (n * n)


def suggested_order(frames: Sequence, evs: Sequence[float | None]) -> tuple[list[int], str]:
    """Indices of ``frames`` from darkest to brightest, and the basis used.

    Parameters
    ----------
    frames : sequence of ndarray
        ``(H, W, 3)`` float images in [0, 1].
    evs : sequence of float or None
        EXIF exposure values (:func:`exposure_value`); used when all are known and distinct.

    Returns
    -------
    indices : list of int
        A permutation of ``range(len(frames))``.
    basis : str
        ``"exif"`` or ``"luminance"`` (mean luminance).
    """
    known = all(ev is not None for ev in evs) and len(set(evs)) == len(evs)
    keys = list(evs) if known else [float(luminance(f).mean()) for f in frames]
    return sorted(range(len(keys)), key=lambda i: keys[i]), ("exif" if known else "luminance")


def order_warning(bracket: "Bracket") -> str | None:
    """A warning when ``bracket``'s frames are not darkest first, naming the order their
    exposures suggest (EXIF when every frame has a distinct value, else mean luminance);
    ``None`` when they are in order.

    Fusion methods are called with frames darkest first (the registry's contract); a
    method that takes the first frame as the under- and the last as the over-exposed
    one is silently wrong on a bracket out of order.
    """
    n = len(bracket.frames)
    idx, basis = suggested_order(bracket.frames, bracket.exposure_values or [None] * n)
    if idx == sorted(idx):
        return None
    names = [Path(p).name if p is not None else f"frame {i}" for i, p in enumerate(bracket.paths)]
    return f"frames are not ordered darkest first; by {basis} the order is {', '.join(names[i] for i in idx)}"


def order_frames(bracket: "Bracket", evs: Sequence[float | None]) -> "Bracket":
    """Sort ``bracket`` darkest first; by EXIF when all ``evs`` are known and distinct."""
    idx, basis = suggested_order(bracket.frames, evs)
    known = basis == "exif"
    keys = list(evs)
    bracket.order_by = basis
    bracket.exposure_values = None
    bracket.frames = [bracket.frames[i] for i in idx]
    bracket.paths = [bracket.paths[i] for i in idx]
    if known:
        bracket.exposure_values = [float(keys[i]) for i in idx]  # type: ignore[arg-type]
    return bracket
