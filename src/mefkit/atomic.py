"""Atomic file writes: a temporary file in the target folder, fsync, then rename.

A run can be interrupted at any moment (Ctrl-C, a killed job, a full disk); a reader
must then see either the old file or the new one, never half of one. ``os.replace`` is
atomic on POSIX and Windows when source and target share a folder. Every writer in
mefkit goes through :func:`atomic_path` (or the two byte/text shorthands), so this
logic exists once.
"""

from __future__ import annotations

import os
import tempfile
from contextlib import contextmanager
from pathlib import Path
from typing import Iterator

@contextmanager
def atomic_path(path: str | Path) -> Iterator[Path]:
    """Yield a temporary path beside ``path``; on success it replaces ``path`` atomically.

    Write the whole file to the yielded path (with any writer: ``open``, ``torch.save``,
    ``safetensors``, ``cv2.imwrite``); when the ``with`` block ends without an
    exception the file is synced to disk and renamed over ``path``, otherwise it is
    removed and ``path`` is left as it was. The folder is created if missing. The
    temporary name keeps ``path``'s suffix, so writers that choose the format by
    extension still work.

    Examples
    --------
    >>> with atomic_path("out.json") as tmp:  # doctest: +SKIP
    ...     tmp.write_text("{}")
    """
    from .io.write import default_file_mode

    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    fd, name = tempfile.mkstemp(prefix=f".{path.stem}.", suffix=f".tmp{path.suffix}", dir=path.parent)
    os.close(fd)
    tmp = Path(name)
    try:
        yield tmp
        with open(tmp, "rb") as fh:
            os.fsync(fh.fileno())
        os.chmod(tmp, default_file_mode())  # mkstemp makes 0600; give what open() would
        os.replace(tmp, path)
    finally:
        if tmp.exists():
            tmp.unlink()


def write_bytes_atomic(path: str | Path, data: bytes) -> Path:
    """Write ``data`` to ``path`` atomically (the folder is created if missing)."""
    path = Path(path)
    with atomic_path(path) as tmp:
        tmp.write_bytes(data)
    return path


def write_text_atomic(path: str | Path, text: str) -> Path:
    """Write UTF-8 ``text`` to ``path`` atomically."""
    return write_bytes_atomic(path, text.encode("utf-8"))


__all__ = ["atomic_path", "write_bytes_atomic", "write_text_atomic"]
