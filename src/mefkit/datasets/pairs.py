"""Which frames of a scene are given to the fusion methods (``pairs=``).

A scene may hold more frames than a method should see: the SICE release has 3-18
exposures per sequence and papers evaluating on it fuse one under/over pair. The
choice is therefore explicit:

``"under-over"``
    the darkest and the brightest frame (the usual extreme pair);
``"all"``
    every frame;
``"1,7"`` (any comma list of 1-based indices, negative counts from the end)
    exactly those frames, e.g. the pair of frames 1 and 7 some SICE papers use.
"""

from __future__ import annotations

from typing import Sequence, TypeVar

T = TypeVar("T")

#: Spellings accepted for the extreme pair.
UNDER_OVER = ("under-over", "under_over", "extremes", "darkest-brightest")


def parse_pairs(spec: str) -> str | tuple[int, ...]:
    """Normalise a pair choice.

    Parameters
    ----------
    spec : str
        ``"under-over"``, ``"all"`` or 1-based indices like ``"1,7"`` / ``"1,-1"``.

    Returns
    -------
    str or tuple of int
        ``"under-over"``, ``"all"``, or the indices (1-based, possibly negative).

    Raises
    ------
    ValueError
        For anything else, or an index of 0, or fewer than two indices.
    """
    text = str(spec).strip().lower()
    if text in UNDER_OVER:
        return "under-over"
    if text == "all":
        return "all"
    try:
        idx = tuple(int(part) for part in text.split(","))
    except ValueError:
        raise ValueError(
            f"pairs must be 'under-over', 'all' or 1-based frame indices like '1,7', got {spec!r}"
        ) from None
    if len(idx) < 2:
        raise ValueError(f"pairs needs at least two frame indices, got {spec!r}")
    if 0 in idx:
        raise ValueError(f"frame indices are 1-based (1 = darkest, -1 = brightest), got {spec!r}")
    return idx


def select_frames(frames: Sequence[T], spec: str | tuple[int, ...]) -> tuple[T, ...]:
    """Pick the frames a method gets from ``frames`` (ordered darkest first).

    Raises
    ------
    ValueError
        When an index is out of range for this scene or two indices name one frame.
    """
    choice = parse_pairs(spec) if isinstance(spec, str) else spec
    n = len(frames)
    if choice == "all":
        return tuple(frames)
    if choice == "under-over":
        return (frames[0], frames[-1])
    picked = []
    for i in choice:
        if not -n <= i <= n:
            raise ValueError(f"frame index {i} out of range for a scene of {n} frames")
        picked.append(i - 1 if i > 0 else n + i)
    if len(set(picked)) != len(picked):
        raise ValueError(f"frame indices {','.join(map(str, choice))} name the same frame twice ({n} frames)")
    return tuple(frames[i] for i in sorted(picked))
