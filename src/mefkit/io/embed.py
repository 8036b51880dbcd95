"""Place EXIF, ICC and text metadata into encoded JPEG, PNG and TIFF data.

mefkit encodes pixels with OpenCV (JPEG; PNG, whose 16-bit RGB Pillow cannot write) and
tifffile (TIFF), neither of which writes EXIF; Pillow builds the EXIF blocks
(:meth:`PIL.Image.Exif.tobytes`) and this module puts them where readers look:

* JPEG: an ``APP1`` ``Exif`` segment and ``APP2`` ``ICC_PROFILE`` segments (EXIF 2.32,
  ICC.1:2022 annex B), after the JFIF ``APP0`` segment;
* PNG: ``iCCP``, ``eXIf`` and ``tEXt`` chunks after ``IHDR`` (PNG specification, third
  edition, W3C 2025; ``eXIf`` is the PNG extension of 2017);
* TIFF: tags in IFD0 written by tifffile (ICC 34675, ImageDescription, Make, Model...)
  and the EXIF (34665) and GPS (34853) sub-IFDs appended by Pillow's IFD writer, their
  offsets patched into IFD0 (tifffile writes no sub-IFDs of that kind).
"""

from __future__ import annotations

import io
import struct
import zlib

import numpy as np
import tifffile
from PIL import Image, TiffImagePlugin

from .metadata import sub_ifd

EXIF_IFD, GPS_IFD = 0x8769, 0x8825
_PNG_SIGNATURE = b"\x89PNG\r\n\x1a\n"
# IFD0 tags tifffile is given as ASCII (Make, Model, DateTime, Artist, Copyright).
_TIFF_ASCII = (0x010F, 0x0110, 0x0132, 0x013B, 0x8298)
_ICC_CHUNK = 65519  # an APP2 segment holds at most 65535 - 2 - 14 bytes of profile


def _png_chunk(kind: bytes, body: bytes) -> bytes:
    return struct.pack(">I", len(body)) + kind + body + struct.pack(">I", zlib.crc32(kind + body) & 0xFFFFFFFF)


def png_with_metadata(data: bytes, exif: Image.Exif, icc: bytes | None, software: str) -> bytes:
    """PNG ``data`` with ``iCCP``, ``eXIf`` and a ``tEXt`` Software chunk after IHDR.

    Parameters
    ----------
    data : bytes
        A PNG file as encoded (no such chunks yet).
    exif : PIL.Image.Exif
        The EXIF to embed (``eXIf`` holds the TIFF structure without ``Exif\\0\\0``).
    icc : bytes or None
        ICC profile (zlib-compressed into ``iCCP``), or none.
    software : str
        The Software text (also inside the EXIF).
    """
    if not data.startswith(_PNG_SIGNATURE):
        raise ValueError("not PNG data")
    end = 8 + 12 + struct.unpack(">I", data[8:12])[0]
    chunks = b""
    if icc:
        chunks += _png_chunk(b"iCCP", b"ICC profile\x00\x00" + zlib.compress(icc))
    blob = exif.tobytes()
    chunks += _png_chunk(b"eXIf", blob[6:] if blob.startswith(b"Exif\x00\x00") else blob)
    chunks += _png_chunk(b"tEXt", b"Software\x00" + software.encode("latin-1", "replace"))
    return data[:end] + chunks + data[end:]


def jpeg_with_metadata(data: bytes, exif: Image.Exif, icc: bytes | None) -> bytes:
    """JPEG ``data`` with an ``APP1`` EXIF segment and ``APP2`` ICC segments.

    Placed after SOI and, when present, the JFIF ``APP0`` segment.

    Raises
    ------
    ValueError
        Not JPEG data, or an EXIF block over the 64 KiB a segment can hold.
    """
    if not data.startswith(b"\xff\xd8"):
        raise ValueError("not JPEG data")
    payload = exif.tobytes()
    if not payload.startswith(b"Exif\x00\x00"):
        payload = b"Exif\x00\x00" + payload
    if len(payload) + 2 > 0xFFFF:
        raise ValueError(f"EXIF block of {len(payload)} bytes does not fit a JPEG segment")
    segments = b"\xff\xe1" + struct.pack(">H", len(payload) + 2) + payload
    if icc:
        parts = [icc[i:i + _ICC_CHUNK] for i in range(0, len(icc), _ICC_CHUNK)]
        for k, part in enumerate(parts, 1):
            body = b"ICC_PROFILE\x00" + bytes((k, len(parts))) + part
            segments += b"\xff\xe2" + struct.pack(">H", len(body) + 2) + body
    pos = 2
    if data[2:4] == b"\xff\xe0":
        pos = 4 + struct.unpack(">H", data[4:6])[0]
    return data[:pos] + segments + data[pos:]


def tiff_with_metadata(arr: np.ndarray, exif: Image.Exif, icc: bytes | None, software: str,
                       description: str | None) -> bytes:
    """Encode ``arr`` as a zlib-compressed RGB TIFF carrying ``exif`` and ``icc``.

    Parameters
    ----------
    arr : ndarray
        ``(H, W, 3)`` uint8 or uint16.
    exif : PIL.Image.Exif
        IFD0 tags (Make, Model, DateTime, Artist, Copyright, Orientation) and the EXIF
        and GPS sub-IFDs as dicts.
    icc : bytes or None
        ICC profile (tag 34675).
    software, description : str
        Software (305) and ImageDescription (270).

    Returns
    -------
    bytes
        The TIFF file.
    """
    extratags: list[tuple] = []
    for tag in _TIFF_ASCII:
        if exif.get(tag):
            extratags.append((tag, "s", 0, str(exif[tag]).strip("\x00"), True))
    extratags.append((0x0112, "H", 1, int(exif.get(0x0112, 1) or 1), True))
    subs = {tag: sub_ifd(exif, tag) for tag in (EXIF_IFD, GPS_IFD)}
    subs = {tag: d for tag, d in subs.items() if d}
    # tifffile refuses to write the pointer tags themselves: a placeholder with the next
    # code (which sorts into the same place of IFD0) is written, then its code and value
    # are patched to the pointer and the offset of the sub-IFD appended at the end.
    for tag in subs:
        extratags.append((tag + 1, "I", 1, 0, True))
    buf = io.BytesIO()
    tifffile.imwrite(buf, arr, photometric="rgb", compression="zlib", software=software, metadata=None,
                     description=description or None, iccprofile=icc or None, extratags=extratags)
    data = bytearray(buf.getvalue())
    if not subs:
        return bytes(data)
    with tifffile.TiffFile(io.BytesIO(bytes(data))) as tf:
        page = tf.pages[0]
        slots = {tag: page.tags[tag + 1].valueoffset for tag in subs}
        order = tf.byteorder
    prefix = b"II" if order == "<" else b"MM"
    for tag, values in subs.items():
        if len(data) % 2:
            data += b"\x00"
        ifd = TiffImagePlugin.ImageFileDirectory_v2(prefix=prefix, group=tag)
        for key, value in values.items():
            ifd[key] = value
        pos = len(data)
        data += ifd.tobytes(pos)
        struct.pack_into(order + "I", data, slots[tag], pos)
        struct.pack_into(order + "H", data, slots[tag] - 8, tag)
    return bytes(data)


__all__ = ["jpeg_with_metadata", "png_with_metadata", "tiff_with_metadata"]
