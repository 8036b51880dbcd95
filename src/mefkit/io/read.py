"""Read images and brackets from disk, validated before any fusion work starts."""

from __future__ import annotations

import warnings
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Mapping, Sequence

import cv2
import numpy as np
from PIL import Image, UnidentifiedImageError

from ..errors import BracketError
from .convert import as_float_rgb
from .order import exposure_value, order_frames
from .provenance import is_mefkit_output
from .raw import RAW_EXTENSIONS, RawOptions, develop, is_raw, raw_options, read_raw, srgb_oetf

#: File extensions recognised as images when a folder is given (lower case).
IMAGE_EXTENSIONS = (".jpg", ".jpeg", ".png", ".tif", ".tiff")
#: Extensions a bracket's frames may have: images and camera RAW / DNG.
FRAME_EXTENSIONS = IMAGE_EXTENSIONS + RAW_EXTENSIONS

_ORIENTATION_TAG = 0x0112


@dataclass
class Bracket:
    """A validated exposure bracket, frames ordered from darkest to brightest.

    Attributes
    ----------
    frames : list of ndarray
        ``(H, W, 3)`` float32 arrays in [0, 1].
    paths : list of Path or None
        Source file of each frame (``None`` for arrays).
    bit_depth : int
        8 or 16: the largest bit depth among the inputs.
    order_by : str
        ``"exif"`` (exposure time x ISO / aperture^2 from every frame's EXIF),
        ``"luminance"`` (mean luminance) or ``"given"`` (order kept as passed).
    exposure_values : list of float or None
        The EXIF exposure values in frame order: set when ``order_by == "exif"``, and
        for the given order when every frame has one.
    raw_gain : float or None
        For a RAW bracket, the common gain applied to the linear frames before the
        tone curve (:func:`mefkit.io.raw.develop`); ``None`` otherwise.
    """

    frames: list[np.ndarray]
    paths: list[Path | None]
    bit_depth: int = 8
    order_by: str = "luminance"
    exposure_values: list[float] | None = None
    warnings: list[str] = field(default_factory=list)
    raw_gain: float | None = None

    @property
    def shape(self) -> tuple[int, int]:
        """``(H, W)`` of the frames."""
        return self.frames[0].shape[:2]


def _apply_orientation(arr: np.ndarray, orientation: int) -> np.ndarray:
    # EXIF orientation values 2..8 (TIFF 6.0 spec): flips and rotations to display upright.
    ops = {
        2: lambda a: a[:, ::-1],
        3: lambda a: a[::-1, ::-1],
        4: lambda a: a[::-1],
        5: lambda a: np.swapaxes(a, 0, 1),
        6: lambda a: np.rot90(a, -1),
        7: lambda a: np.rot90(a, 1)[::-1],
        8: lambda a: np.rot90(a, 1),
    }
    op = ops.get(orientation)
    return np.ascontiguousarray(op(arr)) if op else arr


def read_image(
    path: str | Path, *, raw: RawOptions | Mapping[str, Any] | None = None
) -> tuple[np.ndarray, int, float | None]:
    """Read one image file.

    Parameters
    ----------
    path : str or Path
        JPEG, PNG or TIFF; 8- or 16-bit; gray, RGB or RGBA (alpha dropped with a warning).
        Or a camera RAW / DNG file (:data:`RAW_EXTENSIONS`, needs rawpy): developed
        by :mod:`mefkit.io.raw`, alone, so its own exposure sets the gain (in a
        bracket, :func:`read_bracket` uses one gain for all frames).
    raw : RawOptions or dict, optional
        White balance and highlight handling of RAW files.

    Returns
    -------
    image : ndarray
        ``(H, W, 3)`` float32 RGB in [0, 1], upright per its EXIF orientation.
    bit_depth : int
        8 or 16 (16 for RAW).
    ev : float or None
        Exposure time x ISO / aperture^2 from EXIF, or ``None`` when any is missing.

    Raises
    ------
    BracketError
        When the file is missing, unreadable, corrupt or of an unsupported kind.
    """
    path = Path(path)
    if not path.exists():
        raise BracketError(f"{path}: file not found")
    if not path.is_file():
        raise BracketError(f"{path}: not a file")
    try:
        data = path.read_bytes()
    except OSError as exc:
        raise BracketError(f"{path}: cannot read ({exc.strerror or exc})") from None
    if not data:
        raise BracketError(f"{path}: file is empty")
    if is_raw(path):
        frame = read_raw(path, raw_options(raw))
        return develop([frame.rgb16], 0)[0][0], 16, frame.exposure
    # Pillow reads the metadata (EXIF, orientation) without decoding pixels; OpenCV
    # decodes the pixels because Pillow reduces 16-bit RGB PNG/TIFF to 8 bits.
    orientation, ev = 1, None
    try:
        with Image.open(path) as im:
            exif = im.getexif()
            orientation = int(exif.get(_ORIENTATION_TAG, 1) or 1)
            ev = exposure_value(exif)
    except UnidentifiedImageError:
        pass  # OpenCV may still decode it (some TIFF variants); it reports failure below.
    except Exception:  # noqa: BLE001 - broken metadata must not stop decoding
        orientation, ev = 1, None
    buf = np.frombuffer(data, dtype=np.uint8)
    with warnings.catch_warnings():
        arr = cv2.imdecode(buf, cv2.IMREAD_UNCHANGED)
    if arr is None:
        raise BracketError(f"{path}: cannot decode image (corrupt file or unsupported format)")
    if arr.ndim == 3 and arr.shape[2] == 4:
        warnings.warn(f"{path}: alpha channel dropped", stacklevel=2)
        arr = arr[:, :, :3]
    if arr.ndim == 3 and arr.shape[2] == 3:
        arr = arr[:, :, ::-1]  # OpenCV decodes to BGR
    if arr.dtype == np.uint8:
        bit_depth = 8
    elif arr.dtype == np.uint16:
        bit_depth = 16
    elif arr.dtype in (np.float32, np.float64):
        bit_depth = 16
    else:
        raise BracketError(f"{path}: unsupported sample type {arr.dtype}")
    arr = _apply_orientation(arr, orientation)
    return as_float_rgb(arr, name=str(path)), bit_depth, ev


def list_images(folder: str | Path) -> list[Path]:
    """Frame files directly inside ``folder`` (by extension, :data:`FRAME_EXTENSIONS`:
    JPEG, PNG, TIFF and camera RAW / DNG), sorted by name."""
    folder = Path(folder)
    return sorted(
        p for p in folder.iterdir() if p.is_file() and p.suffix.lower() in FRAME_EXTENSIONS
    )


def prefer_raw(found: list[Path], folder: Path) -> list[Path]:
    """The RAW files of a folder holding both RAW files and images (a camera's
    RAW + JPEG pairs), with a warning naming the images left out; else ``found``."""
    raws = [f for f in found if is_raw(f)]
    if not raws or len(raws) == len(found):
        return found
    others = [f.name for f in found if not is_raw(f)]
    warnings.warn(f"{folder}: using its {len(raws)} RAW files; leaving out {', '.join(others)}", stacklevel=3)
    return raws


def _expand(sources: Sequence[str | Path]) -> list[Path]:
    """Files of the bracket: each file as given, each folder's images minus mefkit's results."""
    paths: list[Path] = []
    for src in sources:
        p = Path(src)
        if not p.exists():
            what = "file" if p.suffix.lower() in FRAME_EXTENSIONS else "file or folder"
            raise BracketError(f"{p}: {what} not found")
        if p.is_dir():
            found = list_images(p)
            ours = [f for f in found if is_mefkit_output(f)]
            if ours:
                names = ", ".join(f.name for f in ours)
                warnings.warn(f"{p}: leaving out {names}: written by mefkit (a fused result, not a frame)",
                              stacklevel=3)
                found = [f for f in found if f not in ours]
            if not found and ours:
                raise BracketError(f"{p}: holds only images written by mefkit ({', '.join(f.name for f in ours)}), "
                                   "no frames")
            if not found:
                subs = [d for d in p.iterdir() if d.is_dir() and not d.name.startswith(".") and list_images(d)]
                hint = (f"; its {len(subs)} sub-folder{'s' if len(subs) > 1 else ''} hold images: "
                        "for one bracket per sub-folder use mefkit fuse-dir") if subs else ""
                raise BracketError(f"{p}: folder holds no JPEG, PNG, TIFF or RAW images{hint}")
            paths.extend(prefer_raw(found, p))
        else:
            paths.append(p)
    return paths


def check_frames(frames: Sequence[np.ndarray], names: Sequence[str]) -> None:
    """Raise :class:`BracketError` unless there are >= 2 frames of equal size."""
    if len(frames) < 2:
        which = f" ({names[0]})" if names else ""
        raise BracketError(f"a bracket needs at least two frames, got {len(frames)}{which}")
    h, w = frames[0].shape[:2]
    for frame, name in zip(frames[1:], names[1:]):
        if frame.shape[:2] != (h, w):
            raise BracketError(
                f"{name}: size {frame.shape[1]}x{frame.shape[0]} differs from "
                f"{names[0]} ({w}x{h}); all frames of a bracket must have the same size"
            )


def read_bracket(
    sources: Sequence[str | Path] | str | Path,
    order: str = "auto",
    *,
    raw: RawOptions | Mapping[str, Any] | None = None,
) -> Bracket:
    """Read and validate a bracket from files and/or folders.

    Parameters
    ----------
    sources : path or sequence of paths
        Image files, or folders whose images (by extension) form the bracket.
    order : {"auto", "given"}
        ``"auto"`` sorts darkest to brightest: by EXIF exposure value when every frame
        has one, otherwise by mean luminance. ``"given"`` keeps the order passed
        (:func:`mefkit.io.order.order_warning` says when it is not darkest first).
    raw : RawOptions or dict, optional
        White balance and highlight handling of RAW frames (defaults: camera, clip).

    A bracket of RAW / DNG files is developed together (:func:`mefkit.io.raw.develop`):
    one gain for every frame, set by the reference (middle) exposure, then the sRGB
    curve; RAW and other images cannot be mixed in one bracket. A folder holding both
    uses its RAW files.

    Folders given in ``sources`` leave out images mefkit wrote itself (tagged by
    :mod:`mefkit.io.provenance`), with a warning naming them.

    Returns
    -------
    Bracket

    Raises
    ------
    BracketError
        Fewer than two frames, unequal sizes, a missing/corrupt file; the message names
        the file and the problem.
    """
    if isinstance(sources, (str, Path)):
        sources = [sources]
    with warnings.catch_warnings(record=True) as notices:
        warnings.simplefilter("always")
        paths = _expand(sources)
    caught: list[str] = [str(w.message) for w in notices]
    for message in caught:
        warnings.warn(message, stacklevel=2)
    if len(paths) < 2:
        which = f": {paths[0]}" if paths else ""
        raise BracketError(f"a bracket needs at least two frames, got {len(paths)}{which}")
    resolved = [p.resolve() for p in paths]
    if len(set(resolved)) != len(resolved):
        dup = next(p for p in paths if resolved.count(p.resolve()) > 1)
        raise BracketError(f"{dup}: given more than once")
    if any(is_raw(p) for p in paths):
        return _read_raw_bracket(paths, order, raw_options(raw), caught)
    frames, depths, evs = [], [], []
    for p in paths:
        with warnings.catch_warnings(record=True) as rec:
            warnings.simplefilter("always")
            img, depth, ev = read_image(p)
        for w in rec:
            caught.append(str(w.message))
            warnings.warn(str(w.message), stacklevel=2)
        frames.append(img)
        depths.append(depth)
        evs.append(ev)
    check_frames(frames, [str(p) for p in paths])
    bracket = Bracket(frames, list(paths), max(depths), "given", None, caught)
    if order == "auto":
        return order_frames(bracket, evs)
    if order != "given":
        raise BracketError(f"order must be 'auto' or 'given', got {order!r}")
    if all(ev is not None for ev in evs):
        bracket.exposure_values = [float(ev) for ev in evs]  # type: ignore[arg-type]
    return bracket


def _read_raw_bracket(paths: list[Path], order: str, options: RawOptions, caught: list[str]) -> Bracket:
    """Decode RAW frames, order them, and develop them with one common gain."""
    from ..align import default_reference

    other = next((p for p in paths if not is_raw(p)), None)
    if other is not None:
        raise BracketError(f"{other}: a bracket of RAW files cannot include JPEG, PNG or TIFF images")
    if order not in ("auto", "given"):
        raise BracketError(f"order must be 'auto' or 'given', got {order!r}")
    decoded = [read_raw(p, options) for p in paths]
    linears = [d.rgb16 for d in decoded]
    evs = [d.exposure for d in decoded]
    check_frames(linears, [str(p) for p in paths])
    bracket = Bracket(linears, list(paths), 16, "given", None, caught)
    if order == "auto":
        bracket = order_frames(bracket, evs)
    elif all(ev is not None for ev in evs):
        bracket.exposure_values = [float(ev) for ev in evs]  # type: ignore[arg-type]
    # The reference, as for alignment: the middle exposure (of an even count, the
    # middle frame with more well-exposed pixels under the camera's own scale).
    small = [srgb_oetf(f[::4, ::4].astype(np.float32) / np.float32(65535)) for f in bracket.frames]
    bracket.frames, bracket.raw_gain = develop(bracket.frames, default_reference(small))
    return bracket
