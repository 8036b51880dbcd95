"""Camera RAW and DNG frames, decoded by LibRaw (through rawpy) into the bracket's range.

Pipeline (see ``docs/raw.md``):

1. **Demosaic to linear RGB** with LibRaw: black level subtracted, the chosen white
   balance applied (the camera's as-shot multipliers by default), camera RGB converted
   to linear sRGB primaries by the camera's colour matrix, no gamma, no automatic
   brightening. ``1.0`` is the sensor's white level.
2. **One common exposure for the bracket.** The raw values of a frame are already
   proportional to its exposure ``t * ISO / N^2`` (read from EXIF, which also orders the
   frames darkest first and names the middle exposure the reference), so every frame
   is multiplied by the *same* gain ``g``: the frames keep their exposure differences,
   as the camera recorded them. ``g`` puts the geometric mean luminance of the
   reference frame's unclipped pixels at the photographic "key" 0.18 (middle grey;
   Reinhard, Stark, Shirley and Ferwerda, "Photographic tone reproduction for digital
   images", ACM SIGGRAPH 2002), within ``[1/16, 16]``.
3. **Tone curve:** the sRGB opto-electronic transfer function (IEC 61966-2-1:1999),
   values above 1 clipped: display-referred ``[0, 1]`` sRGB, what every fusion method
   expects.

A RAW bracket is read at 16 bits, so results are written as 16-bit files when the
format allows (16-bit TIFF by default from the command line).
"""

from __future__ import annotations

import contextlib
import io
import math
import os
import sys
import tempfile
import threading
import warnings
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Mapping, Sequence

import numpy as np
from PIL import Image

from ..errors import BracketError, ParameterError
from .convert import luminance
from .metadata import carried_exif, sub_ifd

#: File extensions read as camera RAW (lower case): DNG and LibRaw's common formats.
RAW_EXTENSIONS = (
    ".dng", ".cr2", ".cr3", ".crw", ".nef", ".nrw", ".arw", ".srf", ".sr2", ".raf", ".orf", ".rw2",
    ".pef", ".srw", ".x3f", ".3fr", ".fff", ".iiq", ".erf", ".mef", ".mos", ".mrw", ".kdc", ".dcr",
    ".rwl", ".raw",
)
#: White-balance choices: the camera's as-shot multipliers, LibRaw's grey-world
#: estimate over the whole image, or the camera's daylight multipliers.
WHITE_BALANCES = ("camera", "auto", "daylight")
#: Highlight handling (LibRaw ``highlight_mode``): clip to white (neutral, loses detail),
#: blend the clipped channels (keeps some detail) or reconstruct them.
HIGHLIGHT_MODES = ("clip", "blend", "reconstruct")
#: Middle grey: the reference frame's geometric-mean luminance is put here.
KEY = 0.18
#: Range of the common gain (a scene that is nearly black or white is not pushed further).
GAIN_RANGE = (1.0 / 16.0, 16.0)

@dataclass(frozen=True)
class RawOptions:
    """How RAW frames are developed.

    Attributes
    ----------
    white_balance : {"camera", "auto", "daylight"}
        ``"camera"``: the as-shot multipliers (LibRaw uses daylight when a file has
        none); ``"auto"``: grey-world over the image; ``"daylight"``: the camera's
        daylight multipliers.
    highlight : {"clip", "blend", "reconstruct"}
        LibRaw's highlight mode (0, 2 and 5): clipped highlights turn neutral white,
        keep a blend of the unclipped channels, or are reconstructed.
    """

    white_balance: str = "camera"
    highlight: str = "clip"

    def __post_init__(self) -> None:
        if self.white_balance not in WHITE_BALANCES:
            raise ParameterError(f"RAW white balance must be one of {', '.join(WHITE_BALANCES)}; "
                                 f"got {self.white_balance!r}")
        if self.highlight not in HIGHLIGHT_MODES:
            raise ParameterError(f"RAW highlight mode must be one of {', '.join(HIGHLIGHT_MODES)}; "
                                 f"got {self.highlight!r}")


def raw_options(value: RawOptions | Mapping[str, Any] | None) -> RawOptions:
    """A :class:`RawOptions` from itself, a mapping of its fields, or ``None`` (defaults)."""
    if value is None:
        return RawOptions()
    if isinstance(value, RawOptions):
        return value
    if isinstance(value, Mapping):
        unknown = sorted(set(value) - {"white_balance", "highlight"})
        if unknown:
            raise ParameterError(f"unknown RAW option {', '.join(map(repr, unknown))}; "
                                 "accepted: white_balance, highlight")
        return RawOptions(**value)
    raise ParameterError(f"raw must be RawOptions, a dict or None; got {type(value).__name__}")


def is_raw(path: str | Path) -> bool:
    """True when ``path`` has a RAW/DNG extension (:data:`RAW_EXTENSIONS`)."""
    return Path(path).suffix.lower() in RAW_EXTENSIONS


def require_rawpy(path: str | Path):
    """The ``rawpy`` module, or a :class:`BracketError` naming ``path`` and the extra."""
    try:
        import rawpy
    except ImportError:
        raise BracketError(f"{path}: reading RAW files needs rawpy; install it with "
                           "pip install 'mefkit[raw]'") from None
    return rawpy


@dataclass
class RawFrame:
    """One decoded RAW frame.

    Attributes
    ----------
    rgb16 : ndarray
        ``(H, W, 3)`` uint16 linear sRGB as LibRaw gives it; 65535 is the sensor's white
        level (kept as integers: half the memory of floats, and :func:`develop` maps
        them through a table).
    exif : PIL.Image.Exif
        The frame's EXIF (:func:`raw_exif`).
    exposure : float or None
        ``t * ISO / N^2`` from EXIF, ``None`` when a value is missing.
    """

    rgb16: np.ndarray
    exif: Image.Exif
    exposure: float | None

    @property
    def linear(self) -> np.ndarray:
        """``(H, W, 3)`` float32 linear sRGB, ``>= 0``; 1.0 is the sensor's white level."""
        return _as_linear(self.rgb16)


def _as_linear(image: np.ndarray) -> np.ndarray:
    """Linear float32 (1.0 = white) of a uint16 LibRaw image; float input as it is."""
    if image.dtype == np.uint16:
        out = image.astype(np.float32)
        out *= np.float32(1.0 / 65535.0)
        return out
    return np.asarray(image, dtype=np.float32)


def _postprocess_args(rawpy, options: RawOptions) -> dict[str, Any]:
    highlight = {"clip": rawpy.HighlightMode.Clip, "blend": rawpy.HighlightMode.Blend,
                 "reconstruct": rawpy.HighlightMode.ReconstructDefault}[options.highlight]
    return {
        "gamma": (1, 1),
        "no_auto_bright": True,
        "output_bps": 16,
        "output_color": rawpy.ColorSpace.sRGB,
        "use_camera_wb": options.white_balance == "camera",
        "use_auto_wb": options.white_balance == "auto",
        "highlight_mode": highlight,
    }


def _tiff_exif(data: bytes) -> Image.Exif | None:
    """IFD0, EXIF and GPS tags of a TIFF-structured RAW (DNG, NEF, CR2, ARW, PEF...)."""
    if data[:4] not in (b"II*\x00", b"MM\x00*"):
        return None
    exif = Image.Exif()
    exif.load(data)
    return exif


def _thumb_exif(raw) -> Image.Exif | None:
    """EXIF of the embedded JPEG preview (CR3, RAF and others that are not TIFF files)."""
    try:
        thumb = raw.extract_thumb()
    except Exception:  # noqa: BLE001 - no preview, or one LibRaw cannot unpack
        return None
    if getattr(thumb.format, "name", "") != "JPEG":
        return None
    with Image.open(io.BytesIO(thumb.data)) as im:
        return im.getexif()


def _reloaded(exif: Image.Exif) -> Image.Exif:
    """``exif`` written out and parsed again, so that ``get_ifd`` reads its sub-IFDs
    (Pillow only reads sub-IFDs set as dicts back from bytes)."""
    out = Image.Exif()
    out.load(exif.tobytes())
    return out


def raw_exif(path: str | Path, raw: Any = None) -> Image.Exif:
    """The EXIF of a RAW file: Make, Model, exposure, lens, capture time, GPS.

    TIFF-structured RAWs (DNG, NEF, CR2, ARW, PEF, ...) are parsed by Pillow's EXIF
    reader; the others (CR3, RAF, ...) give the EXIF of their embedded JPEG preview.
    Missing exposure time, f-number, ISO, focal length and capture time are filled
    from LibRaw's decoded values. ``raw`` is the file already open in rawpy, if any;
    otherwise rawpy opens it (metadata only) when the TIFF parse found no camera.

    Returns
    -------
    PIL.Image.Exif
        IFD0 holds Make, Model, DateTime, Artist, Copyright; ``get_ifd(0x8769)`` the
        EXIF tags; ``get_ifd(0x8825)`` the GPS tags. Empty when nothing is readable.
    """
    src = None
    try:
        src = _tiff_exif(Path(path).read_bytes())
    except Exception:  # noqa: BLE001 - unreadable metadata is "no metadata"; pixels report errors
        src = None
    if src is not None and 0x010F in src:
        exif = carried_exif(src)
        if raw is not None:
            _fill_from_libraw(exif, raw)
        return _safe_reloaded(exif)
    if raw is not None:
        return _exif_with_libraw(src, raw)
    try:
        import rawpy

        with _libraw_messages(str(path)), rawpy.imread(str(path)) as opened:
            return _exif_with_libraw(src, opened)
    except Exception:  # noqa: BLE001 - rawpy missing or the file unreadable: what the TIFF parse gave
        return _safe_reloaded(carried_exif(src))


def _exif_with_libraw(src: Image.Exif | None, raw: Any) -> Image.Exif:
    exif = carried_exif(_thumb_exif(raw) or src)
    _fill_from_libraw(exif, raw)
    return _safe_reloaded(exif)


def _safe_reloaded(exif: Image.Exif) -> Image.Exif:
    try:
        return _reloaded(exif)
    except Exception:  # noqa: BLE001 - values Pillow cannot write back: keep none of them
        return Image.Exif()


def _fill_from_libraw(exif: Image.Exif, raw: Any) -> None:
    try:
        other = raw.other
    except Exception:  # noqa: BLE001 - older rawpy: nothing to add
        return
    ifd = sub_ifd(exif, 0x8769)
    values = {0x829A: other.shutter_speed, 0x829D: other.aperture, 0x920A: other.focal_length}
    for tag, value in values.items():
        if tag not in ifd and value and math.isfinite(value) and value > 0:
            ifd[tag] = float(value)
    if 0x8827 not in ifd and other.iso_speed and other.iso_speed > 0:
        ifd[0x8827] = int(round(other.iso_speed))
    stamp = other.timestamp
    if 0x9003 not in ifd and stamp is not None and stamp.year > 1970:
        ifd[0x9003] = stamp.strftime("%Y:%m:%d %H:%M:%S")
    if ifd:
        exif[0x8769] = ifd


_STDERR_LOCK = threading.RLock()  # re-entrant: a nested capture just nests


@contextlib.contextmanager
def _libraw_messages(name: str):
    """Collect what LibRaw prints about file ``name`` on the C ``stderr`` (such as
    "NAME: Unexpected end of file") into a list instead of the terminal, so a bad file
    gives one line, not two.

    The process's file descriptor 2 points at a temporary file meanwhile (one thread
    at a time; rawpy offers no callback for these messages). Whatever else was written
    there meanwhile (another thread's output, a progress display) is written back to
    the real stderr afterwards.
    """
    lines: list[str] = []
    with _STDERR_LOCK:
        try:
            sys.stderr.flush()
            saved = os.dup(2)
        except (OSError, ValueError, AttributeError):
            yield lines
            return
        with tempfile.TemporaryFile() as tmp:
            os.dup2(tmp.fileno(), 2)
            try:
                yield lines
            finally:
                try:
                    sys.stderr.flush()
                except (OSError, ValueError, AttributeError):
                    pass
                os.dup2(saved, 2)
                os.close(saved)
                tmp.seek(0)
                others = b""
                for raw_line in tmp.read().splitlines(keepends=True):
                    text = raw_line.decode("utf-8", "replace").strip()
                    if text.startswith(f"{name}:"):
                        lines.append(text[len(name) + 1:].strip())
                    else:
                        others += raw_line
                if others:
                    os.write(2, others)


def _reason(exc: BaseException, messages: list[str]) -> str:
    """A short reason: LibRaw's own message, else the exception's."""
    for text in messages:
        if text:
            return text[:1].lower() + text[1:]
    arg = exc.args[0] if exc.args else ""
    if isinstance(arg, bytes):
        arg = arg.decode("utf-8", "replace")
    text = str(arg).strip() or type(exc).__name__
    if type(exc).__name__ in ("LibRawFileUnsupportedError", "LibRawIOError"):
        return f"not a RAW file LibRaw can read, or truncated: {text[:1].lower() + text[1:]}"
    return text


def read_raw(path: str | Path, options: RawOptions | None = None) -> RawFrame:
    """Decode one RAW/DNG file to linear sRGB with its EXIF.

    Parameters
    ----------
    path : str or Path
        A RAW or DNG file.
    options : RawOptions, optional
        White balance and highlight handling (defaults: camera, clip).

    Returns
    -------
    RawFrame
        ``linear``: ``(H, W, 3)`` float32, 1.0 at the sensor's white level, upright
        (LibRaw applies the file's orientation).

    Raises
    ------
    BracketError
        rawpy missing, or a file LibRaw cannot open or decode (one line naming it).
    """
    from .order import exposure_value

    options = options or RawOptions()
    path = Path(path)
    rawpy = require_rawpy(path)
    if not path.is_file():
        raise BracketError(f"{path}: file not found" if not path.exists() else f"{path}: not a file")
    failure: BaseException | None = None
    with _libraw_messages(str(path)) as messages:
        try:
            with rawpy.imread(str(path)) as raw:
                rgb = raw.postprocess(**_postprocess_args(rawpy, options))
                exif = raw_exif(path, raw)
        except (rawpy.LibRawError, rawpy.NotSupportedError, OSError, ValueError) as exc:
            failure = exc
    if failure is not None:
        raise BracketError(f"{path}: cannot decode RAW file ({_reason(failure, messages)})") from None
    for line in messages:  # decoded, but LibRaw noticed something (e.g. data errors)
        warnings.warn(f"{path}: LibRaw: {line}", stacklevel=2)
    if rgb.ndim != 3 or rgb.shape[2] != 3:
        raise BracketError(f"{path}: RAW file decodes to shape {rgb.shape}, not an RGB image")
    return RawFrame(np.ascontiguousarray(rgb, dtype=np.uint16), exif, exposure_value(exif))


def srgb_oetf(linear: np.ndarray) -> np.ndarray:
    """The sRGB transfer curve (IEC 61966-2-1:1999) of linear values, clipped to [0, 1].

    Written out (two lines) because OpenCV and Pillow apply it only inside colour-space
    conversions, not as a curve on its own.

    Parameters
    ----------
    linear : ndarray
        Linear light, any shape; values outside [0, 1] are clipped first.

    Returns
    -------
    ndarray
        float32, same shape, in [0, 1].
    """
    x = np.clip(np.asarray(linear, dtype=np.float32), 0.0, 1.0)
    return np.where(x <= 0.0031308, x * np.float32(12.92),
                    np.float32(1.055) * np.power(x, np.float32(1 / 2.4)) - np.float32(0.055)).astype(np.float32)


def exposure_gain(reference: np.ndarray) -> float:
    """The common gain that puts ``reference`` at middle grey.

    Parameters
    ----------
    reference : ndarray
        ``(H, W, 3)`` linear frame: float (1.0 = sensor white) or LibRaw's uint16.

    Returns
    -------
    float
        ``KEY / geometric mean luminance`` of the pixels that are neither clipped
        (luminance >= 0.99) nor black (< 1e-4), on a grid of at most about 512 pixels a
        side, within :data:`GAIN_RANGE`; 1 when no pixel qualifies.
    """
    step = max(1, max(reference.shape[:2]) // 512)
    y = luminance(_as_linear(reference[::step, ::step])).ravel()
    y = y[(y >= 1e-4) & (y < 0.99)]
    if y.size == 0:
        return 1.0
    mean = float(np.exp(np.mean(np.log(y))))
    return float(np.clip(KEY / mean, *GAIN_RANGE))


def develop(linears: Sequence[np.ndarray], reference: int) -> tuple[list[np.ndarray], float]:
    """Bring a bracket's linear frames into display-referred sRGB with one common gain.

    Parameters
    ----------
    linears : sequence of ndarray
        ``(H, W, 3)`` linear frames of one bracket (their raw exposure differences kept):
        float (1.0 = white) or LibRaw's uint16 (65535 = white), which goes through a
        65536-entry table instead of the power function (exact, and 21x faster on a 12 MP
        frame: 0.15 s against 3.2 s measured in one run, docs/raw.md).
    reference : int
        Index of the frame whose exposure fixes the gain (:func:`exposure_gain`).

    Returns
    -------
    frames : list of ndarray
        ``(H, W, 3)`` float32 in [0, 1]: ``srgb_oetf(gain * linear)``.
    gain : float
        The common gain.
    """
    gain = exposure_gain(linears[reference])
    table = None
    frames = []
    for lin in linears:
        if lin.dtype == np.uint16:
            if table is None:
                table = srgb_oetf(np.arange(65536, dtype=np.float32) * np.float32(gain / 65535.0))
            frames.append(table[lin])
        else:
            frames.append(srgb_oetf(lin * np.float32(gain)))
    return frames, gain


__all__ = [
    "GAIN_RANGE",
    "HIGHLIGHT_MODES",
    "KEY",
    "RAW_EXTENSIONS",
    "RawFrame",
    "RawOptions",
    "WHITE_BALANCES",
    "develop",
    "exposure_gain",
    "is_raw",
    "raw_exif",
    "raw_options",
    "read_raw",
    "require_rawpy",
    "srgb_oetf",
]
