"""Write the three report files of a run: ``results.csv``, ``summary.md``, ``report.html``."""

from __future__ import annotations

from pathlib import Path
from typing import Any, Sequence

from ..datasets.scene import Scene
from ..atomic import write_text_atomic
from .report import report_html
from .store import CellStore
from .summary import results_csv, summarize, summary_markdown

#: File names inside a report folder.
RESULTS_CSV = "results.csv"
SUMMARY_MD = "summary.md"
REPORT_HTML = "report.html"


def write_report_files(
    report_dir: str | Path,
    scenes: Sequence[Scene],
    cells: Sequence[dict[str, Any]],
    metrics: Sequence[str],
    *,
    title: str = "mefkit evaluation",
    notes: Sequence[str] = (),
) -> dict[str, Path]:
    """Write the CSV, the Markdown summary and the HTML report, each atomically.

    Returns
    -------
    dict of str to Path
        ``{"csv": ..., "summary": ..., "html": ...}``.
    """
    root = Path(report_dir)
    store = CellStore(root)
    rows = summarize(cells, metrics)
    md = summary_markdown(rows, metrics, title=title)
    if notes:
        md += "\n" + "\n".join(f"- {n}" for n in notes) + "\n"
    page = report_html(root, rows, cells, scenes, metrics, title=title, notes=notes, thumb_path=store.thumb_path)
    return {
        "csv": write_text_atomic(root / RESULTS_CSV, results_csv(cells, metrics)),
        "summary": write_text_atomic(root / SUMMARY_MD, md),
        "html": write_text_atomic(root / REPORT_HTML, page),
    }
