"""Per-cell results of an evaluation, one JSON file per (scene, method).

A cell file is written atomically once the cell's thumbnail is on disk, so a present
cell file always means a finished cell. Re-running with the same report folder reuses a
cell when its fingerprint (method, parameters, the hash of the method's and the metrics'
code, input files' size and mtime) matches and it holds every metric asked for.
"""

from __future__ import annotations

import hashlib
import json
import re
from pathlib import Path
from typing import Any, Iterable

from ..atomic import write_text_atomic

#: Sub-folders of a report folder.
CELLS_DIR = "cells"
THUMBS_DIR = "thumbs"
FUSED_DIR = "fused"

_UNSAFE = re.compile(r"[^A-Za-z0-9._-]+")


def safe_name(name: str) -> str:
    """A file-system-safe, collision-free version of a scene or method name."""
    clean = _UNSAFE.sub("_", name).strip("._") or "_"
    if clean == name:
        return clean
    # A short hash keeps two names that clean to the same text apart ("a/b" vs "a_b").
    return f"{clean}-{hashlib.sha1(name.encode()).hexdigest()[:6]}"


def file_stamp(path: Path | None) -> list[Any] | None:
    """``[path, size, mtime_ns]`` of a file: changes when the file is replaced."""
    if path is None:
        return None
    st = Path(path).stat()
    return [str(Path(path).resolve()), st.st_size, st.st_mtime_ns]


def fingerprint(**parts: Any) -> str:
    """A stable hash of JSON-serialisable settings."""
    text = json.dumps(parts, sort_keys=True, default=str)
    return hashlib.sha1(text.encode()).hexdigest()


class CellStore:
    """The cells of one report folder.

    Parameters
    ----------
    report_dir : Path
        The report folder; cells live in ``report_dir/cells/<scene>/<method>.json``.
    """

    def __init__(self, report_dir: str | Path):
        self.root = Path(report_dir)

    def path(self, scene: str, method: str) -> Path:
        return self.root / CELLS_DIR / safe_name(scene) / f"{safe_name(method)}.json"

    def thumb_path(self, scene: str, item: str) -> Path:
        return self.root / THUMBS_DIR / safe_name(scene) / f"{safe_name(item)}.jpg"

    def fused_path(self, scene: str, method: str) -> Path:
        return self.root / FUSED_DIR / safe_name(scene) / f"{safe_name(method)}.png"

    def load(self, scene: str, method: str) -> dict[str, Any] | None:
        """The stored cell, or ``None`` when absent or unreadable."""
        path = self.path(scene, method)
        try:
            return json.loads(path.read_text("utf-8"))
        except (OSError, ValueError):
            return None

    def reusable(self, scene: str, method: str, fp: str, metrics: Iterable[str]) -> dict[str, Any] | None:
        """The stored cell if it was computed with fingerprint ``fp``, finished without
        error, has every metric in ``metrics`` and its thumbnail; else ``None``."""
        cell = self.load(scene, method)
        if not cell or cell.get("fingerprint") != fp or cell.get("status") != "ok":
            return None
        if any(m not in cell.get("metrics", {}) for m in metrics):
            return None
        thumb = cell.get("thumb")
        if thumb and not (self.root / thumb).is_file():
            return None
        return cell

    def save(self, cell: dict[str, Any]) -> Path:
        """Write one cell atomically."""
        path = self.path(cell["scene"], cell["method"])
        return write_text_atomic(path, json.dumps(cell, indent=1, sort_keys=True, default=float))
