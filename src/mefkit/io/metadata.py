"""Camera metadata carried from a bracket to its fused result.

A result carries:

* the **reference frame's EXIF**: Make, Model, DateTime, Artist, Copyright, the EXIF
  sub-IFD (capture time, exposure, lens...; without the MakerNote, whose private
  offsets break once moved) and the GPS sub-IFD, with **Orientation reset to 1** (the
  fused pixels are upright) and the pixel dimensions set to the result's;
* the **ICC profile** of the reference frame, or sRGB (IEC 61966-2-1) when it has none
  (RAW frames are developed to sRGB, so they get sRGB);
* the **Software** tag ``mefkit <version> (<method>)`` (:mod:`mefkit.io.provenance`), by
  which mefkit recognises its own results, and an **ImageDescription** listing the
  source frames and their exposures.

Library choice: Pillow, already a dependency, reads EXIF and ICC from JPEG, PNG and
TIFF frames (and, through :mod:`mefkit.io.raw`, from TIFF-structured RAWs and the
previews of the others) and builds EXIF blocks; it is maintained and pure wheels exist
everywhere. The blocks are placed in the files mefkit already encodes (OpenCV for JPEG
and 16-bit PNG, tifffile for TIFF) as standard segments and chunks
(:mod:`mefkit.io.embed`). The alternatives each cost more: pyexiv2 ships a compiled
exiv2 for a few platforms, pyexiftool needs the Perl exiftool program installed, and
piexif (JPEG and TIFF only) has not been released since 2019.
"""

from __future__ import annotations

import functools
import math
import struct
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any, Sequence

from PIL import Image

from .order import EXPOSURE_TIME, F_NUMBER, ISO, exif_number

if TYPE_CHECKING:  # pragma: no cover
    from .read import Bracket

#: EXIF tag numbers used here.
ORIENTATION, SOFTWARE, DESCRIPTION = 0x0112, 0x0131, 0x010E
EXIF_IFD, GPS_IFD = 0x8769, 0x8825
_IFD0_KEEP = (0x010F, 0x0110, 0x0132, 0x013B, 0x8298)  # Make, Model, DateTime, Artist, Copyright
_EXIF_DROP = (0x927C, 0xA005, 0xA002, 0xA003, 0x9286)  # MakerNote, Interop, X/Y dimension, UserComment
# EXIF-IFD tags that TIFF/EP files (DNG among them) may hold in IFD0 instead.
_EXIF_IN_IFD0 = (
    0x829A, 0x829D, 0x8822, 0x8827, 0x8830, 0x9000, 0x9003, 0x9004, 0x9010, 0x9011, 0x9201, 0x9202,
    0x9204, 0x9205, 0x9206, 0x9207, 0x9209, 0x920A, 0x9290, 0x9291, 0x9292, 0xA405, 0xA431, 0xA432,
    0xA433, 0xA434, 0xA435,
)


@dataclass
class FrameMetadata:
    """What a frame file says about itself.

    Attributes
    ----------
    exif : PIL.Image.Exif
        Its EXIF (empty when it has none).
    icc : bytes or None
        Its embedded ICC profile.
    """

    exif: Image.Exif = field(default_factory=Image.Exif)
    icc: bytes | None = None


@dataclass
class OutputMetadata:
    """Metadata to write into a result (:func:`mefkit.io.write_image`, ``metadata=``).

    Attributes
    ----------
    exif : PIL.Image.Exif
        IFD0 tags, with the EXIF (0x8769) and GPS (0x8825) sub-IFDs as dicts.
    icc : bytes or None
        The ICC profile to embed (``None``: none).
    description : str or None
        ImageDescription text: the source frames and their exposures.
    """

    exif: Image.Exif = field(default_factory=Image.Exif)
    icc: bytes | None = None
    description: str | None = None

    def exif_for(self, width: int, height: int, software: str) -> Image.Exif:
        """The EXIF to write: Orientation 1, Software, description, pixel size set.

        Parameters
        ----------
        width, height : int
            Size of the result in pixels.
        software : str
            The Software field (:func:`mefkit.io.provenance.software_string`).
        """
        out = Image.Exif()
        for tag, value in self.exif.items():
            if tag not in (EXIF_IFD, GPS_IFD):
                out[tag] = value
        out[ORIENTATION] = 1
        out[SOFTWARE] = software
        if self.description:
            out[DESCRIPTION] = self.description
        exif_ifd = sub_ifd(self.exif, EXIF_IFD)
        exif_ifd.update({0xA002: int(width), 0xA003: int(height)})
        out[EXIF_IFD] = exif_ifd
        gps = sub_ifd(self.exif, GPS_IFD)
        if gps:
            out[GPS_IFD] = gps
        return out


def sub_ifd(exif: Image.Exif, tag: int) -> dict[int, Any]:
    """The sub-IFD ``tag`` of ``exif`` as a dict, whether set as a dict or read from a file."""
    value = exif.get(tag)
    if isinstance(value, dict):
        return dict(value)
    if value is None:
        return {}
    try:
        return dict(exif.get_ifd(tag))
    except Exception:  # noqa: BLE001 - a broken sub-IFD is just missing metadata
        return {}


@functools.lru_cache(maxsize=1)
def srgb_profile() -> bytes | None:
    """An sRGB ICC profile built by Pillow's LittleCMS (``None`` without ImageCms).

    Its creation date (header bytes 24..35) is fixed to 2000-01-01 and its profile ID
    (bytes 84..99, optional) zeroed, so that the same result gives the same file.
    """
    try:
        from PIL import ImageCms

        data = bytearray(ImageCms.ImageCmsProfile(ImageCms.createProfile("sRGB")).tobytes())
    except Exception:  # noqa: BLE001 - Pillow built without LittleCMS: no profile
        return None
    data[24:36] = struct.pack(">6H", 2000, 1, 1, 0, 0, 0)
    data[84:100] = bytes(16)
    return bytes(data)


def read_frame_metadata(path: str | Path) -> FrameMetadata:
    """EXIF and ICC profile of a frame file; empty for what cannot be read.

    JPEG, PNG and TIFF through Pillow (headers only); RAW / DNG through
    :func:`mefkit.io.raw.raw_exif`, without an ICC profile (they are developed to sRGB).
    """
    from .raw import is_raw, raw_exif

    path = Path(path)
    if is_raw(path):
        return FrameMetadata(raw_exif(path), None)
    try:
        with Image.open(path) as im:  # sub-IFDs of a TIFF are read from the open file
            exif = carried_exif(im.getexif())
            icc = im.info.get("icc_profile") or None
    except Exception:  # noqa: BLE001 - metadata is best effort; pixels report errors
        return FrameMetadata()
    return FrameMetadata(exif, icc)


def carried_exif(src: Image.Exif | None) -> Image.Exif:
    """The tags a result carries from ``src``: Make, Model, DateTime, Artist, Copyright,
    the EXIF sub-IFD (less the MakerNote, Interop pointer, pixel size and UserComment;
    EXIF tags that a TIFF/EP file such as a DNG holds in IFD0 are moved into it) and
    the GPS sub-IFD, the sub-IFDs as dicts."""
    out = Image.Exif()
    if src is None:
        return out
    for tag in _IFD0_KEEP:
        if tag in src:
            out[tag] = src[tag]
    exif_ifd = {tag: src[tag] for tag in _EXIF_IN_IFD0 if tag in src}
    exif_ifd.update({k: v for k, v in sub_ifd(src, EXIF_IFD).items() if k not in _EXIF_DROP})
    if exif_ifd:
        out[EXIF_IFD] = exif_ifd
    gps = sub_ifd(src, GPS_IFD)
    if gps:
        out[GPS_IFD] = gps
    return out


def exposure_text(exif: Image.Exif) -> str:
    """``"1/60 s f/8 ISO 100"`` from a frame's EXIF (the parts it has), or ``""``."""
    ifd = sub_ifd(exif, EXIF_IFD)
    parts = []
    t = exif_number(ifd.get(EXPOSURE_TIME, exif.get(EXPOSURE_TIME)))
    if t is not None:
        parts.append(f"1/{round(1 / t):d} s" if t < 0.5 else f"{t:g} s")
    n = exif_number(ifd.get(F_NUMBER, exif.get(F_NUMBER)))
    if n is not None:
        parts.append(f"f/{n:g}")
    iso = exif_number(ifd.get(ISO, exif.get(ISO)))
    if iso is not None:
        parts.append(f"ISO {iso:g}")
    return " ".join(parts)


def describe_sources(names: Sequence[str], exifs: Sequence[Image.Exif], method: str | None,
                     evs: Sequence[float] | None, reference: int) -> str:
    """The ImageDescription of a result: method, then each frame with its exposure.

    Example: ``"mefkit fused 3 frames with mertens (reference b.dng): a.dng 1/240 s f/8
    ISO 100 -2.0 EV; b.dng 1/60 s f/8 ISO 100 +0.0 EV; c.dng ..."``; the EV is relative
    to the reference, from the EXIF exposure values when every frame has one.
    """
    items = []
    for i, (name, exif) in enumerate(zip(names, exifs)):
        text = f"{name} {exposure_text(exif)}".strip()
        if evs is not None and evs[reference] > 0 and evs[i] > 0:
            text += f" {math.log2(evs[i] / evs[reference]):+.1f} EV"
        items.append(text)
    how = f" with {method}" if method else ""
    return (f"mefkit fused {len(names)} frames{how} (reference {names[reference]}): " + "; ".join(items))


def bracket_metadata(bracket: "Bracket", method: str | None = None, reference: int | None = None) -> OutputMetadata:
    """The metadata a result of ``bracket`` carries (see the module docstring).

    Parameters
    ----------
    bracket : Bracket
        The bracket as read (:func:`mefkit.io.read_bracket`); frames from arrays carry
        no EXIF and get the sRGB profile.
    method : str, optional
        The fusion method, named in the description.
    reference : int, optional
        Index of the reference frame (darkest first); default: the middle exposure
        (:func:`mefkit.align.default_reference`).

    Returns
    -------
    OutputMetadata
        Pass it to :func:`mefkit.io.write_image` as ``metadata=``.
    """
    from ..align import default_reference

    n = len(bracket.frames)
    ref = default_reference(bracket.frames) if reference is None else int(reference)
    if not 0 <= ref < n:
        ref = n // 2
    frames = [read_frame_metadata(p) if p is not None else FrameMetadata() for p in bracket.paths]
    names = [Path(p).name if p is not None else f"frame {i}" for i, p in enumerate(bracket.paths)]
    icc = frames[ref].icc or srgb_profile()
    description = describe_sources(names, [f.exif for f in frames], method, bracket.exposure_values, ref)
    return OutputMetadata(frames[ref].exif, icc, description)


__all__ = [
    "FrameMetadata",
    "OutputMetadata",
    "bracket_metadata",
    "carried_exif",
    "describe_sources",
    "exposure_text",
    "read_frame_metadata",
    "srgb_profile",
    "sub_ifd",
]
