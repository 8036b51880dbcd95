"""Evaluate fusion methods over a dataset: run, score, store, summarise, report.

``evaluate(dataset, report_dir, methods)`` fills one cell per (scene, method), stored so
a re-run resumes; ``write_report_files`` turns the cells into ``results.csv``,
``summary.md`` (the seed paper's table) and a self-contained ``report.html``.
"""

from .publish import REPORT_HTML, RESULTS_CSV, SUMMARY_MD, write_report_files
from .runner import DEFAULT_METRICS, EvalResult, Job, evaluate, plan_jobs
from .store import CellStore
from .summary import summarize, summary_markdown

__all__ = [
    "DEFAULT_METRICS",
    "REPORT_HTML",
    "RESULTS_CSV",
    "SUMMARY_MD",
    "CellStore",
    "EvalResult",
    "Job",
    "evaluate",
    "plan_jobs",
    "summarize",
    "summary_markdown",
    "write_report_files",
]
