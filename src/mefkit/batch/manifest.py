"""The batch manifest: one JSON file in the output folder listing every bracket and what became of it.

``OUT/manifest.json`` is rewritten atomically (:mod:`mefkit.atomic`) after every bracket,
so an interrupted run leaves a valid manifest of what was done so far. Its form::

    {"format": "mefkit-batch/1", "mefkit": "0.1.0", "source": "shoot/", "grouping": "...",
     "method": "mertens", "params": {}, "updated": "2026-12-02T11:40:00Z",
     "brackets": [{"bracket": "IMG_0001-0003", "frames": ["IMG_0001.jpg", ...],
                   "output": "IMG_0001-0003.jpg", "method": "mertens", "seconds": 0.41,
                   "status": "fused", "message": "", "reason": "first frame"}, ...]}

``status`` is ``fused``, ``skipped`` (output already there: a re-run), ``failed``
(``message`` says why), ``stray`` (frames that fit no bracket, not fused) or
``pending`` (not finished when the manifest was written). ``frames`` are relative to
``source``; ``output`` to the manifest's folder; ``seconds`` is the bracket's reading,
preparation, fusion and writing time.
"""

from __future__ import annotations

import json
from dataclasses import asdict, dataclass, field
from datetime import datetime, timezone
from pathlib import Path

from ..atomic import write_text_atomic

#: File name of the manifest inside the output folder.
MANIFEST_NAME = "manifest.json"
FORMAT = "mefkit-batch/1"
STATUSES = ("fused", "skipped", "failed", "stray", "pending")


@dataclass
class Entry:
    """One row of the manifest (see the module docstring for the fields)."""

    bracket: str
    frames: list[str]
    output: str | None
    method: str
    seconds: float | None = None
    status: str = "pending"
    message: str = ""
    reason: str = ""


@dataclass
class Manifest:
    """The manifest of one ``fuse-dir`` run; :meth:`save` writes it atomically."""

    path: Path
    source: str
    grouping: str
    method: str
    params: dict = field(default_factory=dict)
    entries: dict[str, Entry] = field(default_factory=dict)

    def add(self, entry: Entry) -> None:
        """Add or replace the entry of ``entry.bracket``."""
        self.entries[entry.bracket] = entry

    def update(self, bracket: str, **fields: object) -> None:
        """Set fields of one bracket's entry."""
        entry = self.entries[bracket]
        for key, value in fields.items():
            setattr(entry, key, value)

    def to_dict(self) -> dict:
        """The JSON document."""
        from .. import __version__

        return {
            "format": FORMAT,
            "mefkit": __version__,
            "source": self.source,
            "grouping": self.grouping,
            "method": self.method,
            "params": {k: v if isinstance(v, (int, float, str, bool, type(None))) else str(v)
                       for k, v in self.params.items()},
            "updated": datetime.now(timezone.utc).strftime("%Y-%m-%dT%H:%M:%SZ"),
            "brackets": [asdict(e) for e in self.entries.values()],
        }

    def save(self) -> Path:
        """Write the manifest atomically; returns its path."""
        return write_text_atomic(self.path, json.dumps(self.to_dict(), indent=1) + "\n")


def read_manifest(path: str | Path) -> dict[str, Entry]:
    """The entries of an earlier manifest by bracket name; empty when missing or unreadable.

    A re-run uses it to keep the method and time of brackets it skips.
    """
    try:
        data = json.loads(Path(path).read_text(encoding="utf-8"))
        rows = data["brackets"] if data.get("format") == FORMAT else []
        return {row["bracket"]: Entry(**{k: row.get(k) for k in Entry.__dataclass_fields__}) for row in rows}
    except (OSError, ValueError, KeyError, TypeError, AttributeError):
        return {}


__all__ = ["Entry", "FORMAT", "MANIFEST_NAME", "Manifest", "STATUSES", "read_manifest"]
