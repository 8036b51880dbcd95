"""Atomic file writes: a temporary file in the target folder, fsync, then rename.

An evaluation run can be interrupted at any moment (Ctrl-C, a killed job); a reader of
the report folder must then see either the old file or the new one, never half of one.
``os.replace`` is atomic on POSIX and Windows when source and target share a folder.
"""

from __future__ import annotations

import os
import tempfile
from pathlib import Path

#: Permissions of written files (rw-r--r--), as an ordinary ``open()`` would give.
_FILE_MODE = 0o644


def write_bytes_atomic(path: str | Path, data: bytes) -> Path:
    """Write ``data`` to ``path`` atomically (the folder is created if missing)."""
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(prefix=f".{path.name}.", suffix=".tmp", dir=path.parent)
    try:
        with os.fdopen(fd, "wb") as fh:
            fh.write(data)
            fh.flush()
            os.fsync(fh.fileno())
        os.chmod(tmp, _FILE_MODE)  # mkstemp makes 0600; a report is meant to be shared
        os.replace(tmp, path)
    finally:
        if os.path.exists(tmp):
            os.unlink(tmp)
    return path


def write_text_atomic(path: str | Path, text: str) -> Path:
    """Write UTF-8 ``text`` to ``path`` atomically."""
    return write_bytes_atomic(path, text.encode("utf-8"))
