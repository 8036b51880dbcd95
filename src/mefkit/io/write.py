"""Write fused images atomically, never clobbering an input or (without force) an output."""

from __future__ import annotations

import io
import os
import tempfile
import warnings
from pathlib import Path
from typing import TYPE_CHECKING, Iterable

import cv2
import numpy as np
import tifffile
from PIL import Image

from ..errors import OutputError
from .provenance import software_string, tag_jpeg, tag_png

if TYPE_CHECKING:  # pragma: no cover
    from .metadata import OutputMetadata

#: Output formats and the bit depths each can hold.
FORMAT_BITS = {".jpg": (8,), ".jpeg": (8,), ".png": (8, 16), ".tif": (8, 16), ".tiff": (8, 16)}


def quantize(image: np.ndarray, bits: int) -> np.ndarray:
    """Round an ``(H, W, 3)`` float image in [0, 1] to uint8 or uint16 (values clipped)."""
    if bits not in (8, 16):
        raise OutputError(f"bits must be 8 or 16, got {bits}")
    peak = 255.0 if bits == 8 else 65535.0
    out = np.clip(image, 0.0, 1.0) * np.float32(peak) + np.float32(0.5)
    return out.astype(np.uint8 if bits == 8 else np.uint16)


def _encode(image: np.ndarray, suffix: str, bits: int, quality: int, software: str,
            metadata: "OutputMetadata | None" = None) -> bytes:
    arr = quantize(image, bits)
    exif = metadata.exif_for(arr.shape[1], arr.shape[0], software) if metadata is not None else None
    if suffix in (".tif", ".tiff") and metadata is not None:
        from .embed import tiff_with_metadata

        return tiff_with_metadata(arr, exif, metadata.icc, software, metadata.description)
    if suffix in (".tif", ".tiff"):
        # tifffile writes the Software tag (305); zlib (Adobe deflate) needs no extra codec.
        buf = io.BytesIO()
        tifffile.imwrite(buf, arr, photometric="rgb", compression="zlib", software=software, metadata=None)
        return buf.getvalue()
    params: list[int] = []
    if suffix in (".jpg", ".jpeg"):
        params = [cv2.IMWRITE_JPEG_QUALITY, int(quality)]
    elif suffix == ".png":
        params = [cv2.IMWRITE_PNG_COMPRESSION, 3]
    ok, buf = cv2.imencode(suffix, np.ascontiguousarray(arr[:, :, ::-1]), params)  # OpenCV encodes BGR
    if not ok:
        raise OutputError(f"could not encode image as {suffix}")
    data = buf.tobytes()
    if metadata is not None:
        from .embed import jpeg_with_metadata, png_with_metadata

        if suffix == ".png":
            return png_with_metadata(data, exif, metadata.icc, software)
        try:
            return jpeg_with_metadata(data, exif, metadata.icc)
        except ValueError as exc:  # a JPEG segment holds 64 KiB of EXIF at most
            warnings.warn(f"{exc}: the JPEG keeps the Software field and ICC profile only "
                          "(PNG and TIFF hold any size)", stacklevel=3)
            slim = Image.Exif()
            slim[0x0112], slim[0x0131] = 1, software
            return jpeg_with_metadata(data, slim, metadata.icc)
    return tag_png(data, software) if suffix == ".png" else tag_jpeg(data, software)


def default_file_mode() -> int:
    """Mode a new file gets from ``open()``: 0o666 minus the process umask."""
    try:  # Linux exposes the umask without changing it
        with open("/proc/self/status") as fh:
            for line in fh:
                if line.startswith("Umask:"):
                    return 0o666 & ~int(line.split()[1], 8)
    except OSError:
        pass
    mask = os.umask(0o022)
    os.umask(mask)
    return 0o666 & ~mask


def check_folder_writable(target: str | Path) -> None:
    """Check that the folder ``target`` exists or can be created, and is writable.

    The nearest existing folder on the way to ``target`` must be a folder in which a
    file can be created (checked by creating and removing a temporary file there:
    ``os.access()`` answers for the real user and ignores read-only mounts and
    immutable folders, so creating a file is the only sure test).

    Raises
    ------
    OutputError
        ``"<target>: cannot create it (<parent> is not a folder)"`` or
        ``"<target>: cannot write in <folder> (<reason>)"``.
    """
    target = Path(target)
    folder = target
    while not folder.exists() and folder != folder.parent:
        folder = folder.parent
    if not folder.is_dir():
        raise OutputError(f"{target}: cannot create it ({folder} is not a folder)")
    try:
        fd, probe = tempfile.mkstemp(prefix=".mefkit-", suffix=".probe", dir=folder)
    except OSError as exc:
        raise OutputError(f"{target}: cannot write in {folder} ({exc.strerror or exc})") from None
    os.close(fd)
    os.unlink(probe)


def check_output(
    path: str | Path,
    *,
    bits: int | None = None,
    quality: int = 95,
    force: bool = False,
    inputs: Iterable[str | Path | None] = (),
) -> Path:
    """Check that ``path`` can be written, before any input is read or fused.

    Parameters
    ----------
    path : str or Path
        The output file.
    bits : {8, 16} or None
        Bit depth to write; ``None`` when it is chosen later from the inputs.
    quality : int
        JPEG quality, 1..100.
    force : bool
        An existing file may be replaced.
    inputs : iterable of paths
        Files that must never be overwritten (the bracket's frames).

    Returns
    -------
    Path
        ``path``.

    Raises
    ------
    OutputError
        ``path`` is a folder, its format or bit depth is unsupported, it is an input,
        it exists (without ``force``), or its folder is missing, not a folder or not
        writable (checked by creating and removing a temporary file there).
    """
    path = Path(path)
    if path.is_dir():
        raise OutputError(f"{path}: is a folder; give an output file name such as {path / 'fused.jpg'}")
    suffix = path.suffix.lower()
    if suffix not in FORMAT_BITS:
        raise OutputError(f"{path}: unsupported output format {suffix or '(no extension)'}; use .jpg, .png or .tif")
    if bits is not None and bits not in (8, 16):
        raise OutputError(f"bits must be 8 or 16, got {bits}")
    if bits is not None and bits not in FORMAT_BITS[suffix]:
        raise OutputError(f"{path}: {suffix} holds only 8-bit data; use .png or .tif for 16 bits")
    if not 1 <= int(quality) <= 100:
        raise OutputError(f"JPEG quality must be in 1..100, got {quality}")
    target = path.resolve()
    for src in inputs:
        if src is not None and Path(src).resolve() == target:
            raise OutputError(f"{path}: refusing to overwrite an input of the bracket")
    if path.exists() and not force:
        raise OutputError(f"{path}: already exists (use --force / force=True to replace it)")
    folder = path.parent if str(path.parent) else Path(".")
    if not folder.exists():
        raise OutputError(f"{path}: folder {folder} does not exist")
    if not folder.is_dir():
        raise OutputError(f"{path}: {folder} is not a folder")
    try:
        check_folder_writable(folder)
    except OutputError as exc:
        raise OutputError(f"{path}: {str(exc).split(': ', 1)[1]}") from None
    return path


def write_image(
    path: str | Path,
    image: np.ndarray,
    *,
    bits: int = 8,
    quality: int = 95,
    force: bool = False,
    inputs: Iterable[str | Path | None] = (),
    method: str | None = None,
    metadata: "OutputMetadata | None" = None,
) -> Path:
    """Write ``image`` to ``path`` atomically, tagged as written by mefkit.

    The image is encoded in memory, written to a temporary file in the target folder,
    then renamed into place, so an interrupted write (an error, Ctrl-C, SIGTERM) never
    leaves a partial file. The file's Software field says ``mefkit <version> (<method>)``
    (:mod:`mefkit.io.provenance`), so mefkit does not take it as a frame later.

    Parameters
    ----------
    path : str or Path
        ``.jpg``/``.jpeg`` (8-bit only), ``.png`` or ``.tif``/``.tiff`` (8- or 16-bit).
    image : ndarray
        ``(H, W, 3)`` float array in [0, 1] (clipped), RGB.
    bits : {8, 16}
        Bit depth of the file.
    quality : int
        JPEG quality, 1..100.
    force : bool
        Replace an existing file. An input of the bracket is never replaced.
    inputs : iterable of paths
        The bracket's source files, which must not be overwritten.
    method : str, optional
        The fusion method, recorded in the Software field.
    metadata : OutputMetadata, optional
        Camera EXIF, ICC profile and source list to carry
        (:func:`mefkit.io.metadata.bracket_metadata`); written with Orientation 1 and the
        Software field. Without it the file carries the Software field only.

    Returns
    -------
    Path
        The path written.

    Raises
    ------
    OutputError
        Any reason of :func:`check_output`, NaN in the image, or an OS error while
        writing.
    """
    path = check_output(path, bits=bits, quality=quality, force=force, inputs=inputs)
    img = np.asarray(image)
    if img.ndim != 3 or img.shape[2] != 3:
        raise OutputError(f"{path}: expected an (H, W, 3) image, got shape {img.shape}")
    if not np.isfinite(img).all():
        raise OutputError(f"{path}: image contains NaN or infinite values; nothing written")
    try:
        data = _encode(img, path.suffix.lower(), bits, quality, software_string(method), metadata)
    except OutputError:
        raise
    except Exception as exc:  # noqa: BLE001 - a frame's odd EXIF must not cost the result
        if metadata is None:
            raise
        warnings.warn(f"{path}: the camera metadata could not be written ({exc}); "
                      "the file carries the Software field only", stacklevel=2)
        data = _encode(img, path.suffix.lower(), bits, quality, software_string(method), None)
    folder = path.parent if str(path.parent) else Path(".")
    tmp: str | None = None
    try:
        fd, tmp = tempfile.mkstemp(prefix=f".{path.name}.", suffix=".tmp", dir=folder)
        # mkstemp creates 0600 files; give the output the usual permissions.
        os.chmod(tmp, default_file_mode())
        with os.fdopen(fd, "wb") as fh:
            fh.write(data)
            fh.flush()
            os.fsync(fh.fileno())
        if force:
            os.replace(tmp, path)
        else:
            # link() fails if the target appeared meanwhile: no silent clobbering.
            try:
                os.link(tmp, path)
            except FileExistsError:
                raise OutputError(f"{path}: already exists (use --force to replace it)") from None
            except OSError:
                if path.exists():
                    raise OutputError(f"{path}: already exists (use --force to replace it)") from None
                os.replace(tmp, path)
    except OSError as exc:
        raise OutputError(f"{path}: cannot write ({exc.strerror or exc})") from None
    finally:
        if tmp is not None and os.path.exists(tmp):
            os.unlink(tmp)
    return path
