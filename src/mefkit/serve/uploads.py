"""Uploaded frames: checked against the server's caps, kept in a private temporary folder.

A client's file name never reaches the filesystem as a path: it is reduced to a plain
base name of safe characters (its folders, ``..``, drive letters and odd characters
dropped) and only used inside a fresh folder made by :func:`tempfile.mkdtemp` (mode
0700), which is removed as soon as the frames are decoded. Error messages name the file
as the client called it, in the CLI's words (the folder prefix is taken out).

The pixel cap is checked from each file's header (Pillow reads width and height without
decoding), before any decoding: a small file that would decode to billions of pixels (a
"decompression bomb") is refused without allocating them.
"""

from __future__ import annotations

import io
import os
import re
import shutil
import tempfile
import warnings
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Iterator, Sequence

from PIL import Image, UnidentifiedImageError

from ..errors import BracketError, MefkitError
from ..io import IMAGE_EXTENSIONS, Bracket, read_bracket

#: Pillow format names of the images accepted (MPO: a JPEG with extra frames, as some cameras write).
ACCEPTED_FORMATS = {"JPEG": "JPEG", "MPO": "JPEG", "PNG": "PNG", "TIFF": "TIFF"}


class TooLarge(MefkitError):
    """An upload over the server's caps (bytes, frames or pixels): HTTP 413."""


class NotAnImage(BracketError):
    """A file that is not a JPEG, PNG or TIFF image: HTTP 415."""


@dataclass(frozen=True)
class Limits:
    """The caps a server puts on one request.

    Attributes
    ----------
    max_upload_bytes : int
        Largest request body, in bytes (all frames and fields together).
    max_pixels : int
        Largest total pixel count of a bracket (width x height summed over the frames).
    max_frames : int
        Most frames in one bracket.
    """

    max_upload_bytes: int = 300 * 2**20
    max_pixels: int = 120_000_000
    max_frames: int = 16

    def __post_init__(self) -> None:
        for name in ("max_upload_bytes", "max_pixels", "max_frames"):
            if int(getattr(self, name)) < 1:
                raise ValueError(f"{name} must be >= 1, got {getattr(self, name)}")


def safe_name(client_name: str | None, index: int) -> str:
    """A plain file name for an uploaded file: the client's base name, safe characters only.

    Parameters
    ----------
    client_name : str or None
        The name the client sent (may hold folders, ``..``, backslashes, anything).
    index : int
        Position of the file in the upload, for a name when nothing usable is left.

    Returns
    -------
    str
        ``[A-Za-z0-9._-]`` characters, not starting with a dot, at most 100 long, e.g.
        ``"../../etc/passwd"`` -> ``"passwd"``, ``"C:\\x\\f 1.jpg"`` -> ``"f_1.jpg"``.
    """
    base = re.split(r"[\\/]", client_name or "")[-1]
    base = re.sub(r"[^A-Za-z0-9._-]", "_", base).lstrip(".")[-100:]
    return base if base.strip("._-") else f"frame{index}"


def _tiff_size(data: bytes) -> tuple[int, int] | None:
    """``(width, height)`` of a TIFF's first page from its tags (tifffile), or None."""
    if data[:4] not in (b"II*\x00", b"MM\x00*", b"II+\x00", b"MM\x00+"):
        return None
    import tifffile

    try:
        with tifffile.TiffFile(io.BytesIO(data)) as tif:
            page = tif.pages.first
            return int(page.imagewidth), int(page.imagelength)
    except Exception:  # noqa: BLE001 - any malformed TIFF is "cannot decode", as the reader says
        return None


def _header(name: str, data: bytes) -> tuple[str, int, int] | None:
    """``(format, width, height)`` from the file's header, without decoding the pixels.

    ``None`` for an empty file (the reader says so in the CLI's words).
    """
    if not data:
        return None
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore", Image.DecompressionBombWarning)
            with Image.open(io.BytesIO(data)) as im:
                fmt, (w, h) = im.format or "", im.size
    except Image.DecompressionBombError:
        raise TooLarge(f"{name}: too many pixels to decode safely (a decompression bomb?)") from None
    except (UnidentifiedImageError, OSError, ValueError, SyntaxError):
        size = _tiff_size(data)  # float TIFFs, which Pillow does not open but the reader does
        if size is None:
            # The reader's own words for a file it cannot decode (as `mefkit fuse` prints them).
            raise BracketError(f"{name}: cannot decode image (corrupt file or unsupported format)") from None
        return "TIFF", size[0], size[1]
    if fmt not in ACCEPTED_FORMATS:
        raise NotAnImage(f"{name}: a {fmt or 'non-image'} file; only JPEG, PNG and TIFF images are accepted")
    return fmt, int(w), int(h)


def check_uploads(files: Sequence[tuple[str | None, bytes]], limits: Limits) -> list[str]:
    """Check uploaded files against ``limits`` before anything is written or decoded.

    Parameters
    ----------
    files : sequence of (name, bytes)
        The client's file names and contents, in upload order.
    limits : Limits

    Returns
    -------
    list of str
        The safe, unique file names to store them under (:func:`safe_name`).

    Raises
    ------
    TooLarge
        More than ``max_frames`` files, or more than ``max_pixels`` pixels in all.
    NotAnImage
        A name without a JPEG/PNG/TIFF extension, or content of another image format.
    BracketError
        Content that is no image at all (the CLI's "cannot decode image" words).
    """
    if len(files) > limits.max_frames:
        raise TooLarge(f"{len(files)} frames uploaded; this server takes at most {limits.max_frames} per bracket")
    names: list[str] = []
    total = 0
    for i, (client, data) in enumerate(files):
        name = safe_name(client, i)
        stem, dot, ext = name.rpartition(".")
        unique, n = name, 1
        while unique in names:
            n += 1
            unique = f"{stem}_{n}.{ext}" if dot else f"{name}_{n}"
        if Path(unique).suffix.lower() not in IMAGE_EXTENSIONS:
            raise NotAnImage(f"{unique}: not a .jpg, .png or .tif file; only images are accepted")
        header = _header(unique, data)
        if header is not None:
            total += header[1] * header[2]
            if total > limits.max_pixels:
                raise TooLarge(f"{unique}: the bracket exceeds this server's limit of "
                               f"{limits.max_pixels / 1e6:g} megapixels in all frames")
        names.append(unique)
    return names


@contextmanager
def private_folder() -> Iterator[Path]:
    """A fresh folder only this process can read (mode 0700), removed with its content on exit."""
    folder = Path(tempfile.mkdtemp(prefix="mefkit-serve-"))
    try:
        yield folder
    finally:
        shutil.rmtree(folder, ignore_errors=True)


def _strip(text: str, folder: Path) -> str:
    return text.replace(f"{folder}{os.sep}", "")


def read_uploads(files: Sequence[tuple[str | None, bytes]], limits: Limits) -> tuple[Bracket, list[str], list[str]]:
    """Check, store, decode and order uploaded frames; the stored copies are gone on return.

    Parameters
    ----------
    files : sequence of (name, bytes)
    limits : Limits

    Returns
    -------
    bracket : Bracket
        Frames darkest first (EXIF, else mean luminance), ``paths`` set to ``None``.
    names : list of str
        The safe file name of each frame, in the bracket's order.
    notes : list of str
        The reader's warnings (an alpha channel dropped...), file names as uploaded.

    Raises
    ------
    MefkitError
        :class:`TooLarge`, :class:`NotAnImage` or the reader's :class:`BracketError`
        (one frame, sizes differ, corrupt, empty...), in the CLI's words with the
        file's name and without the temporary folder.
    """
    names = check_uploads(files, limits)
    with private_folder() as folder:
        paths = []
        for name, (_, data) in zip(names, files):
            path = folder / name
            fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL | getattr(os, "O_NOFOLLOW", 0), 0o600)
            with os.fdopen(fd, "wb") as fh:
                fh.write(data)
            paths.append(path)
        try:
            with warnings.catch_warnings(record=True) as caught:
                warnings.simplefilter("always")
                bracket = read_bracket(paths)
        except MefkitError as exc:
            raise type(exc)(_strip(str(exc), folder)) from None
        notes = [_strip(str(w.message), folder) for w in caught]
        ordered = [p.name for p in bracket.paths]  # type: ignore[union-attr]
        bracket.paths = [None] * len(bracket.frames)
        bracket.warnings = notes
    return bracket, ordered, notes


__all__ = ["ACCEPTED_FORMATS", "Limits", "NotAnImage", "TooLarge", "check_uploads", "private_folder",
           "read_uploads", "safe_name"]
