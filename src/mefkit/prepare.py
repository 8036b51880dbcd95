"""The stages that run before any fusion method: alignment, then deghosting.

:func:`prepare_frames` turns the ``align``/``deghost``/``reference`` options of
:func:`mefkit.fuse` and ``mefkit fuse`` into aligned, ghost-free frames, and keeps what
each stage found (per-frame maps, residuals, masks) for ``--verbose`` and callers.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any, Sequence

import numpy as np

from .errors import MefkitError, ParameterError

#: Names accepted by ``align`` (``True`` is the first).
ALIGN_METHODS = ("features", "mtb")
#: Names accepted by ``deghost`` (``True`` is the first).
DEGHOST_METHODS = ("consistency", "flow")
#: Border policies of the alignment.
BORDERS = ("fill", "crop")


@dataclass
class Preparation:
    """Frames after the pre-fusion stages, and what the stages found.

    Attributes
    ----------
    frames : list of ndarray
        ``(H', W', 3)`` float32 in [0, 1], darkest first.
    reference : int
        Index of the reference frame (None when no stage ran).
    alignment : mefkit.align.Alignment or None
        Per-frame maps (``alignment.warps``), residuals and the crop.
    deghosting : mefkit.deghost.Deghosting or None
        Per-frame replacement masks.
    """

    frames: list
    reference: int | None = None
    alignment: Any = None
    deghosting: Any = None

    def describe(self) -> list[str]:
        """Lines for ``--verbose``: the transforms, then the deghosting masks."""
        lines = []
        if self.alignment is not None:
            lines += ["align: " + line for line in self.alignment.describe()]
        if self.deghosting is not None:
            lines += ["deghost: " + line for line in self.deghosting.describe()]
        return lines


def stage_name(value: Any, names: Sequence[str], option: str) -> str | None:
    """The algorithm ``value`` selects: ``True`` -> ``names[0]``, ``False``/``None`` -> None.

    Raises
    ------
    ParameterError
        For any other value than a bool, None or one of ``names``.
    """
    if value is None or value is False:
        return None
    if value is True:
        return names[0]
    if isinstance(value, str) and value in names:
        return value
    raise ParameterError(f"{option} must be True, False or one of {', '.join(names)}; got {value!r}")


def check_stages(align: Any, deghost: Any, reference: Any, border: str, n: int | None = None
                 ) -> tuple[str | None, str | None]:
    """Validate the options (before any pixel is read when ``n`` is None)."""
    a = stage_name(align, ALIGN_METHODS, "align")
    d = stage_name(deghost, DEGHOST_METHODS, "deghost")
    if border not in BORDERS:
        raise ParameterError(f"border must be one of {', '.join(BORDERS)}; got {border!r}")
    if reference is not None:
        if isinstance(reference, bool) or not isinstance(reference, (int, np.integer)) or reference < 0:
            raise ParameterError(f"reference must be a frame index >= 0; got {reference!r}")
        if n is not None and reference >= n:
            raise ParameterError(f"reference {reference} is not a frame of this {n}-frame bracket (0..{n - 1})")
    return a, d


def prepare_frames(
    frames: Sequence[np.ndarray],
    *,
    align: Any = False,
    deghost: Any = False,
    reference: int | None = None,
    border: str = "fill",
) -> Preparation:
    """Align and/or deghost a darkest-first bracket before fusion.

    Parameters
    ----------
    frames : sequence of ndarray
        ``(H, W, 3)`` float32 in [0, 1], darkest first, same size.
    align : bool or str
        ``True`` (``"features"``), ``"features"``, ``"mtb"`` or ``False``
        (see :func:`mefkit.align.align_frames`).
    deghost : bool or str
        ``True`` (``"consistency"``), ``"consistency"``, ``"flow"`` (DIS optical flow
        for small non-rigid motion, then the consistency test) or ``False``
        (see :func:`mefkit.deghost.deghost_frames`).
    reference : int, optional
        Index of the frame that fixes geometry and moving content. Default: the middle
        exposure; for an even count the middle frame with more well-exposed pixels
        (:func:`mefkit.align.default_reference`; two frames: whichever of the pair).
    border : {"fill", "crop"}
        Alignment border policy (see :func:`mefkit.align.align_frames`).

    Returns
    -------
    Preparation
        The frames (the input list's arrays themselves when no stage ran or nothing
        moved) and the stages' results.
    """
    frames = list(frames)
    a, d = check_stages(align, deghost, reference, border, len(frames))
    if a is None and d is None:
        return Preparation(frames)
    from .align import align_frames, default_reference

    ref = default_reference(frames) if reference is None else int(reference)
    prep = Preparation(frames, ref)
    try:
        if a is not None:
            prep.alignment = align_frames(frames, reference=ref, method=a, border=border)
            prep.frames = prep.alignment.frames
        if d is not None:
            from .deghost import deghost_frames

            prep.deghosting = deghost_frames(prep.frames, ref, method=d)
            prep.frames = prep.deghosting.frames
    except ValueError as exc:
        raise MefkitError(f"{'alignment' if prep.alignment is None and a else 'deghosting'}: {exc}") from exc
    return prep
