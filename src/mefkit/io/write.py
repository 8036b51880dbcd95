"""Write fused images atomically, never clobbering an input or (without force) an output."""

from __future__ import annotations

import os
import tempfile
from pathlib import Path
from typing import Iterable

import cv2
import numpy as np

from ..errors import OutputError

#: Output formats and the bit depths each can hold.
FORMAT_BITS = {".jpg": (8,), ".jpeg": (8,), ".png": (8, 16), ".tif": (8, 16), ".tiff": (8, 16)}


def quantize(image: np.ndarray, bits: int) -> np.ndarray:
    """Round an ``(H, W, 3)`` float image in [0, 1] to uint8 or uint16 (values clipped)."""
    if bits not in (8, 16):
        raise OutputError(f"bits must be 8 or 16, got {bits}")
    peak = 255.0 if bits == 8 else 65535.0
    out = np.clip(image, 0.0, 1.0) * np.float32(peak) + np.float32(0.5)
    return out.astype(np.uint8 if bits == 8 else np.uint16)


def _encode(image: np.ndarray, suffix: str, bits: int, quality: int) -> bytes:
    arr = quantize(image, bits)[:, :, ::-1]  # OpenCV encodes BGR
    params: list[int] = []
    if suffix in (".jpg", ".jpeg"):
        params = [cv2.IMWRITE_JPEG_QUALITY, int(quality)]
    elif suffix == ".png":
        params = [cv2.IMWRITE_PNG_COMPRESSION, 3]
    ok, buf = cv2.imencode(suffix, np.ascontiguousarray(arr), params)
    if not ok:
        raise OutputError(f"could not encode image as {suffix}")
    return buf.tobytes()


def _default_file_mode() -> int:
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


def write_image(
    path: str | Path,
    image: np.ndarray,
    *,
    bits: int = 8,
    quality: int = 95,
    force: bool = False,
    inputs: Iterable[str | Path | None] = (),
) -> Path:
    """Write ``image`` to ``path`` atomically.

    The image is encoded in memory, written to a temporary file in the target folder,
    then renamed into place, so an interrupted write never leaves a partial file.

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

    Returns
    -------
    Path
        The path written.

    Raises
    ------
    OutputError
        Unsupported extension or bit depth, target exists (without ``force``), target
        is an input, NaN in the image, or an OS error while writing.
    """
    path = Path(path)
    suffix = path.suffix.lower()
    if suffix not in FORMAT_BITS:
        raise OutputError(f"{path}: unsupported output format {suffix or '(none)'}; use .jpg, .png or .tif")
    if bits not in FORMAT_BITS[suffix]:
        raise OutputError(f"{path}: {suffix} cannot hold {bits}-bit data; use .png or .tif for 16 bits")
    if not 1 <= int(quality) <= 100:
        raise OutputError(f"JPEG quality must be in 1..100, got {quality}")
    target = path.resolve()
    for src in inputs:
        if src is not None and Path(src).resolve() == target:
            raise OutputError(f"{path}: refusing to overwrite an input of the bracket")
    if path.exists() and not force:
        raise OutputError(f"{path}: already exists (use --force / force=True to replace it)")
    img = np.asarray(image)
    if img.ndim != 3 or img.shape[2] != 3:
        raise OutputError(f"{path}: expected an (H, W, 3) image, got shape {img.shape}")
    if not np.isfinite(img).all():
        raise OutputError(f"{path}: image contains NaN or infinite values; nothing written")
    data = _encode(img, suffix, bits, quality)
    folder = path.parent if str(path.parent) else Path(".")
    if not folder.is_dir():
        raise OutputError(f"{path}: folder {folder} does not exist")
    fd, tmp = tempfile.mkstemp(prefix=f".{path.name}.", suffix=".tmp", dir=folder)
    try:
        # mkstemp creates 0600 files; give the output the usual permissions.
        os.chmod(tmp, _default_file_mode())
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
        if os.path.exists(tmp):
            os.unlink(tmp)
    return path
