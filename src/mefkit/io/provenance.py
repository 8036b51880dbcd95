"""Provenance tags: mark every image mefkit writes, and recognise those images later.

Each output carries the standard "Software" field, ``"mefkit <version> (<method>)"``:

* PNG: a ``tEXt`` chunk with keyword ``Software`` (PNG 1.2 specification, section 11.3.4);
* JPEG: an EXIF ``APP1`` segment whose IFD0 holds tag 0x0131 (Software, EXIF 2.32);
* TIFF: baseline tag 305 (Software, TIFF 6.0), written by tifffile.

:func:`is_mefkit_output` reads it back (Pillow, headers only), so a result saved inside a
bracket folder is not taken as one more frame of that bracket on the next run.
"""

from __future__ import annotations

import struct
import zlib
from pathlib import Path

from PIL import Image

#: EXIF / TIFF tag number of the "Software" field.
SOFTWARE_TAG = 0x0131
#: Prefix of the Software field of every image mefkit writes.
SOFTWARE_PREFIX = "mefkit "

_PNG_SIGNATURE = b"\x89PNG\r\n\x1a\n"


def software_string(method: str | None = None) -> str:
    """``"mefkit <version> (<method>)"``, the Software field mefkit writes."""
    from .. import __version__

    return f"{SOFTWARE_PREFIX}{__version__}" + (f" ({method})" if method else "")


def tag_png(data: bytes, software: str) -> bytes:
    """Insert a ``tEXt`` ``Software`` chunk right after the IHDR chunk of PNG ``data``.

    Written by hand because OpenCV (which mefkit uses to encode 16-bit RGB PNG, which
    Pillow cannot write) has no option for text chunks; a chunk is length, type, data
    and a CRC-32 of type and data.
    """
    if not data.startswith(_PNG_SIGNATURE):
        raise ValueError("not PNG data")
    ihdr_len = struct.unpack(">I", data[8:12])[0]
    end = 8 + 12 + ihdr_len  # signature, then IHDR: length, type, data, CRC
    body = b"tEXt" + b"Software\x00" + software.encode("latin-1", "replace")
    chunk = struct.pack(">I", len(body) - 4) + body + struct.pack(">I", zlib.crc32(body) & 0xFFFFFFFF)
    return data[:end] + chunk + data[end:]


def tag_jpeg(data: bytes, software: str) -> bytes:
    """Insert an EXIF ``APP1`` segment holding the Software tag into JPEG ``data``.

    The EXIF block is built by Pillow (:class:`PIL.Image.Exif`) and placed after the
    SOI marker and a JFIF ``APP0`` segment when there is one, where readers look for it.
    """
    if not data.startswith(b"\xff\xd8"):
        raise ValueError("not JPEG data")
    exif = Image.Exif()
    exif[SOFTWARE_TAG] = software
    payload = exif.tobytes()  # starts with b"Exif\0\0"
    segment = b"\xff\xe1" + struct.pack(">H", len(payload) + 2) + payload
    pos = 2
    if data[2:4] == b"\xff\xe0":  # keep JFIF APP0 first
        pos = 4 + struct.unpack(">H", data[4:6])[0]
    return data[:pos] + segment + data[pos:]


def read_software(path: str | Path) -> str | None:
    """The Software field of an image file (PNG text, JPEG EXIF, TIFF tag), or ``None``.

    Only the headers are read. Any unreadable file gives ``None`` (the frame reader
    reports those properly).
    """
    try:
        with Image.open(path) as im:
            value = im.info.get("Software") or im.getexif().get(SOFTWARE_TAG)
    except Exception:  # noqa: BLE001 - provenance is best effort; decoding errors are reported elsewhere
        return None
    if isinstance(value, bytes):
        value = value.decode("latin-1", "replace")
    return str(value).strip("\x00 ") if value else None


def is_mefkit_output(path: str | Path) -> bool:
    """True when ``path`` carries the Software tag mefkit writes on its results."""
    software = read_software(path)
    return bool(software) and software.startswith(SOFTWARE_PREFIX)


__all__ = ["SOFTWARE_TAG", "is_mefkit_output", "read_software", "software_string", "tag_jpeg", "tag_png"]
