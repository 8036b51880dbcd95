"""Write the three report files of a run: ``results.csv``, ``summary.md``, ``report.html``."""

from __future__ import annotations

from pathlib import Path
from typing import Any, Sequence

from ..datasets.scene import Scene
from ..atomic import write_text_atomic
from .report import report_html
from .store import CellStore
from ..errors import MefkitError
from .summary import common_scene_cells, results_csv, summarize, summary_markdown

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
    common_scenes: bool = False,
) -> dict[str, Path]:
    """Write the CSV, the Markdown summary and the HTML report, each atomically.

    With ``common_scenes`` the summary and the page average only over the scenes where
    every method has a finished cell (:func:`~mefkit.evaluation.summary.common_scene_cells`);
    ``results.csv`` keeps every cell.

    Raises
    ------
    MefkitError
        ``common_scenes`` and no scene has a finished cell of every method.

    Returns
    -------
    dict of str to Path
        ``{"csv": ..., "summary": ..., "html": ...}``.
    """
    root = Path(report_dir)
    store = CellStore(root)
    shown_cells = list(cells)
    notes = list(notes)
    if common_scenes:
        shown_cells, dropped = common_scene_cells(cells)
        if not shown_cells:
            methods = ", ".join(dict.fromkeys(c["method"] for c in cells))
            raise MefkitError(f"--common-scenes: no scene has a finished result of every method ({methods}); "
                              "choose scenes they share with --scenes")
        kept = sorted({c["scene"] for c in shown_cells})
        notes.append(f"common scenes only: means over the {len(kept)} scenes every method has ({', '.join(kept)})"
                     + (f"; left out: {', '.join(dropped)}" if dropped else ""))
        scenes = [s for s in scenes if s.name in set(kept)]
    rows = summarize(shown_cells, metrics)
    md = summary_markdown(rows, metrics, title=title)
    if notes:
        md += "\n" + "\n".join(f"- {n}" for n in notes) + "\n"
    page = report_html(root, rows, shown_cells, scenes, metrics, title=title, notes=notes, thumb_path=store.thumb_path)
    return {
        "csv": write_text_atomic(root / RESULTS_CSV, results_csv(cells, metrics)),
        "summary": write_text_atomic(root / SUMMARY_MD, md),
        "html": write_text_atomic(root / REPORT_HTML, page),
    }
