"""When and how each frame was taken: capture time, exposure time, exposure bias, file number.

These are the signals :mod:`mefkit.batch.grouping` uses to split a flat folder of frames
into brackets. Only the metadata is read, never the pixels:

* Pillow reads the EXIF of JPEG, PNG and TIFF files, and of the TIFF-based RAW formats
  it can open (often DNG, NEF, ARW, CR2);
* ExifRead (a small, maintained, pure-Python EXIF reader) reads the rest of the RAW
  formats Pillow does not recognise (CR3, RAF, ORF, RW2...). It is optional: without it
  those files simply have no capture information and grouping falls back to other
  signals.

The tags are those of the EXIF 2.32 standard (CIPA DC-008-2019): DateTimeOriginal
(0x9003) with SubSecTimeOriginal (0x9291), ExposureTime (0x829A), ExposureBiasValue
(0x9204), and FNumber / ISO for the relative exposure of :func:`mefkit.io.order.exposure_value`.
"""

from __future__ import annotations

import math
import re
from dataclasses import dataclass
from datetime import datetime
from pathlib import Path

from PIL import Image

from .order import exposure_value
from .raw import RAW_EXTENSIONS

_EXIF_IFD = 0x8769
_DATETIME_ORIGINAL = 0x9003
_SUBSEC_ORIGINAL = 0x9291
_EXPOSURE_TIME = 0x829A
_EXPOSURE_BIAS = 0x9204
_DATETIME = 0x0132  # IFD0 DateTime: the last resort for a capture time
_EPOCH = datetime(1970, 1, 1)
_NUMBER = re.compile(r"(\d+)(?!.*\d)")  # the last run of digits in a file name


@dataclass(frozen=True)
class CaptureInfo:
    """What a frame's metadata says about its capture.

    Attributes
    ----------
    path : Path
        The frame's file.
    time : float or None
        Start of the exposure in seconds (DateTimeOriginal + SubSecTimeOriginal, camera
        clock, counted from 1970-01-01 without a time zone), or ``None``.
    exposure_time : float or None
        Shutter time in seconds (> 0), or ``None``.
    bias : float or None
        Exposure compensation in EV (ExposureBiasValue), or ``None``.
    exposure : float or None
        Relative exposure ``t * ISO / N^2`` (:func:`mefkit.io.order.exposure_value`), or ``None``.
    sequence : int or None
        The camera's file number: the last run of digits in the file name (``IMG_0042.CR3``
        gives 42), or ``None``.
    """

    path: Path
    time: float | None = None
    exposure_time: float | None = None
    bias: float | None = None
    exposure: float | None = None
    sequence: int | None = None

    @property
    def end(self) -> float | None:
        """End of the exposure (``time + exposure_time``; ``time`` when the shutter time is unknown)."""
        if self.time is None:
            return None
        return self.time + (self.exposure_time or 0.0)

    @property
    def stops(self) -> float | None:
        """The relative exposure in stops, ``log2(exposure)``, or ``None``."""
        return math.log2(self.exposure) if self.exposure else None


def file_number(path: str | Path) -> int | None:
    """The last run of digits in the file's name without extension (``DSC_0042.NEF`` -> 42), or ``None``."""
    match = _NUMBER.search(Path(path).stem)
    return int(match.group(1)) if match else None


def parse_exif_time(value: object, subsec: object = None) -> float | None:
    """Seconds since 1970-01-01 (no time zone) of an EXIF ``"YYYY:MM:DD HH:MM:SS"`` and its sub-seconds.

    Parameters
    ----------
    value : str or bytes
        The DateTimeOriginal text.
    subsec : str, bytes, int or None
        SubSecTimeOriginal: the decimal digits of the fraction (``"25"`` means 0.25 s).

    Returns
    -------
    float or None
        ``None`` when ``value`` is missing or not a valid date.
    """
    if isinstance(value, bytes):
        value = value.decode("ascii", "replace")
    if not value:
        return None
    try:
        stamp = datetime.strptime(str(value).strip("\x00 ")[:19], "%Y:%m:%d %H:%M:%S")
    except ValueError:
        return None
    seconds = (stamp - _EPOCH).total_seconds()
    if isinstance(subsec, bytes):
        subsec = subsec.decode("ascii", "replace")
    digits = re.sub(r"\D", "", str(subsec)) if subsec is not None else ""
    if digits:
        seconds += int(digits) / 10 ** len(digits)
    return seconds


def _number(value: object) -> float | None:
    """A finite float from an EXIF rational/number (Pillow or ExifRead), or ``None``."""
    try:
        if isinstance(value, (list, tuple)):
            value = value[0]
        if hasattr(value, "num") and hasattr(value, "den"):  # ExifRead's Ratio
            value = value.num / value.den if value.den else float("nan")
        out = float(value)
    except (TypeError, ValueError, ZeroDivisionError):
        return None
    return out if math.isfinite(out) else None


def _with_pillow(path: Path) -> CaptureInfo | None:
    try:
        with Image.open(path) as im:
            exif = im.getexif()
            ifd = exif.get_ifd(_EXIF_IFD)
    except Exception:  # noqa: BLE001 - not a format Pillow knows (or broken): try the next reader
        return None
    # DNG writers may put the EXIF tags in IFD0 itself rather than in an EXIF sub-IFD.
    time = parse_exif_time(ifd.get(_DATETIME_ORIGINAL, exif.get(_DATETIME_ORIGINAL)),
                           ifd.get(_SUBSEC_ORIGINAL, exif.get(_SUBSEC_ORIGINAL)))
    if time is None:
        time = parse_exif_time(exif.get(_DATETIME))
    shutter = _number(ifd.get(_EXPOSURE_TIME, exif.get(_EXPOSURE_TIME)))
    return CaptureInfo(path=path, time=time, exposure_time=shutter if shutter and shutter > 0 else None,
                       bias=_number(ifd.get(_EXPOSURE_BIAS, exif.get(_EXPOSURE_BIAS))), exposure=exposure_value(exif),
                       sequence=file_number(path))


def _with_exifread(path: Path) -> CaptureInfo | None:
    try:
        import exifread
    except ImportError:
        return None
    try:
        with open(path, "rb") as fh:
            tags = exifread.process_file(fh, details=False)
    except Exception:  # noqa: BLE001 - an unreadable file has no capture information
        return None
    if not tags:
        return None

    def value(name: str) -> object:
        # ExifRead names a tag by its IFD: "EXIF ..." in the EXIF sub-IFD, "Image ..." in
        # IFD0, where DNG writers may put the EXIF tags.
        tag = tags.get(name)
        if tag is None and name.startswith("EXIF "):
            tag = tags.get("Image " + name[5:])
        if tag is None:
            return None
        values = getattr(tag, "values", None)
        return values if values not in (None, "", []) else str(tag)

    time = parse_exif_time(value("EXIF DateTimeOriginal"), value("EXIF SubSecTimeOriginal"))
    if time is None:
        time = parse_exif_time(value("Image DateTime"))
    shutter = _number(value("EXIF ExposureTime"))
    f_number = _number(value("EXIF FNumber"))
    iso = _number(value("EXIF ISOSpeedRatings"))
    exposure = (shutter * iso / (f_number * f_number)
                if shutter and iso and f_number and shutter > 0 and iso > 0 and f_number > 0 else None)
    return CaptureInfo(path=path, time=time, exposure_time=shutter if shutter and shutter > 0 else None,
                       bias=_number(value("EXIF ExposureBiasValue")), exposure=exposure,
                       sequence=file_number(path))


def read_capture(path: str | Path) -> CaptureInfo:
    """Read a frame's capture information from its metadata (headers only).

    Parameters
    ----------
    path : str or Path
        An image or camera RAW file.

    Returns
    -------
    CaptureInfo
        Every field the metadata lacks is ``None``; a file without readable EXIF gives
        only its file number. Never raises for a broken or unknown file (the frame
        reader reports those when the bracket is fused).
    """
    path = Path(path)
    info = _with_pillow(path)
    if info is None or (info.time is None and path.suffix.lower() in RAW_EXTENSIONS):
        info = _with_exifread(path) or info
    return info or CaptureInfo(path=path, sequence=file_number(path))


__all__ = ["CaptureInfo", "file_number", "parse_exif_time", "read_capture"]
