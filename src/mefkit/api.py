"""The one call every method is reached through: :func:`fuse`."""

from __future__ import annotations

import warnings
from pathlib import Path
from typing import Any, Sequence

import numpy as np

from .errors import BracketError, MethodError
from .io import Bracket, as_float_rgb, check_frames, read_bracket
from .io.order import order_frames, order_warning
from .prepare import check_stages, prepare_frames
from .registry import get_method


def load_frames(frames: Sequence[Any] | Bracket, order: str = "auto", *, raw: Any = None) -> Bracket:
    """Turn paths, arrays or a :class:`~mefkit.io.Bracket` into a validated Bracket.

    Parameters
    ----------
    frames : sequence of paths or arrays, or Bracket
        Arrays may be uint8, uint16 or float in [0, 1], gray or RGB.
    order : {"auto", "given"}
        ``"auto"`` sorts darkest first (EXIF for files, else mean luminance);
        ``"given"`` keeps the order.
    raw : RawOptions or dict, optional
        White balance and highlight handling of RAW / DNG files
        (:class:`mefkit.io.raw.RawOptions`).
    """
    if isinstance(frames, Bracket):
        return frames
    if isinstance(frames, (str, Path)):
        return read_bracket([frames], order=order, raw=raw)
    items = list(frames)
    if items and all(isinstance(f, (str, Path)) for f in items):
        return read_bracket(items, order=order, raw=raw)
    if any(isinstance(f, (str, Path)) for f in items):
        raise BracketError("frames must be all paths or all arrays, not a mix")
    names = [f"frame {i}" for i in range(len(items))]
    arrays = [as_float_rgb(f, name=n) for f, n in zip(items, names)]
    check_frames(arrays, names)
    depth = 16 if any(np.asarray(f).dtype == np.uint16 for f in items) else 8
    bracket = Bracket(arrays, [None] * len(arrays), depth, "given")
    if order == "auto":
        return order_frames(bracket, [None] * len(arrays))
    return bracket


def check_method_params(method: str, params: dict[str, Any]) -> Any:
    """Check, before any image is read, that ``method`` exists and takes ``params``.

    Unknown parameter names are refused, a learned method needs torch (one line naming
    the ``learned`` extra otherwise), and a ``device`` parameter must name a torch
    device available here (:func:`mefkit.nn.device.check_device`).

    Returns
    -------
    MethodInfo
        The registry entry of ``method``.

    Raises
    ------
    MethodError
        Unknown method, unknown parameter, torch missing for a learned method,
        unavailable device.
    """
    info = get_method(method)
    unknown = sorted(set(params) - set(info.params))
    if unknown:
        accepted = ", ".join(info.params) or "none"
        raise MethodError(
            f"method {method!r} has no parameter {', '.join(map(repr, unknown))}; accepted: {accepted}"
        )
    if info.kind == "learned":
        from .nn import require_torch

        require_torch(f"method {method!r}")
    if isinstance(params.get("device"), str):
        from .nn.device import check_device

        try:
            check_device(params["device"])
        except ValueError as exc:
            raise MethodError(f"method {method!r}: {exc}") from None
    return info


def fuse(
    frames: Sequence[Any] | Bracket,
    method: str = "mertens",
    *,
    order: str = "auto",
    align: bool | str = False,
    deghost: bool | str = False,
    reference: int | None = None,
    border: str = "fill",
    raw: Any = None,
    **params: Any,
) -> np.ndarray:
    """Fuse an exposure bracket into one image.

    Parameters
    ----------
    frames : sequence of paths or arrays, or Bracket
        Two or more frames of one scene, same size. Arrays: ``(H, W)`` or
        ``(H, W, 3)``, uint8, uint16 or float in [0, 1]. Files: JPEG, PNG, TIFF, or
        camera RAW / DNG (the ``raw`` extra; developed by :mod:`mefkit.io.raw`).
    method : str
        A registered method name (see :func:`mefkit.available_methods`).
    order : {"auto", "given"}
        How frames are ordered before fusion (darkest first for ``"auto"``). With
        ``"given"``, a warning names the darkest-first order when the frames are not
        in it (methods are written for frames darkest first).
    align : bool or str
        Align hand-held frames before fusion: ``True`` or ``"features"`` (SIFT +
        RANSAC homography, falling back to partial affine and to MTB translation, ECC
        refinement), ``"mtb"`` (translation only), ``False`` (default).
    deghost : bool or str
        Replace moving content by the reference's: ``True`` or ``"consistency"``,
        ``"flow"`` (first move each frame onto the reference by DIS optical flow, for
        small non-rigid motion), ``False`` (default).
    reference : int, optional
        Index, in the order the method receives the frames (darkest first unless
        ``order="given"``), of the frame that fixes the geometry and the content of
        moving regions. Default: the middle exposure; for an even count (two frames
        included) the middle frame with more well-exposed pixels.
    border : {"fill", "crop"}
        With ``align``: ``"fill"`` keeps the size (uncovered borders take the
        reference mapped to each frame's exposure), ``"crop"`` cuts every frame to the
        largest rectangle valid in all. For the per-frame transforms call
        :func:`mefkit.prepare.prepare_frames` and fuse its frames.
    raw : RawOptions or dict, optional
        For RAW / DNG files: ``{"white_balance": "camera" | "auto" | "daylight",
        "highlight": "clip" | "blend" | "reconstruct"}`` (defaults: camera, clip).
    **params
        Keyword parameters of the method, e.g. ``levels=8`` for Mertens.

    Returns
    -------
    ndarray
        ``(H, W, 3)`` float32 in [0, 1] (smaller with ``border="crop"``).

    Raises
    ------
    BracketError
        Invalid frames (count, size, dtype, range, NaN, unreadable file).
    MethodError
        Unknown method, unknown parameter, or a frame count the method rejects.

    Examples
    --------
    >>> import numpy as np, mefkit
    >>> dark = np.full((32, 32, 3), 0.2, np.float32)
    >>> bright = np.full((32, 32, 3), 0.8, np.float32)
    >>> mefkit.fuse([dark, bright]).shape
    (32, 32, 3)
    """
    info = check_method_params(method, params)
    check_stages(align, deghost, reference, border)
    bracket = load_frames(frames, order=order, raw=raw)
    if order == "given" and not isinstance(frames, Bracket):
        # Methods are called with frames darkest first (the registry's contract).
        message = order_warning(bracket)
        if message:
            warnings.warn(f"{message} (order='auto' sorts them)", stacklevel=2)
    n = len(bracket.frames)
    if n < info.min_frames or (info.max_frames is not None and n > info.max_frames):
        limit = f"{info.min_frames}..{info.max_frames}" if info.max_frames else f">= {info.min_frames}"
        raise MethodError(f"method {method!r} takes {limit} frames, got {n}")
    fused_frames = prepare_frames(bracket.frames, align=align, deghost=deghost, reference=reference,
                                  border=border).frames
    try:
        out = info.fn(fused_frames, **params)
    except (TypeError, ValueError) as exc:
        raise MethodError(f"method {method!r}: {exc}") from exc
    out = np.asarray(out, dtype=np.float32)
    return np.clip(out, 0.0, 1.0, out=out)
