"""Tables of an evaluation: ``results.csv`` (one row per cell) and ``summary.md``.

``summary.md`` follows the table of the seed thesis (Huang, "Two-phase progressive
MEF", quantitative results): one row per method, one column per metric (PSNR, SSIM,
MS-SSIM, VIF; MEF-SSIM added), means over the scenes, four decimals, and the best value
of each column in bold.
"""

from __future__ import annotations

import csv
import io
import math
from dataclasses import dataclass, field
from typing import Any, Sequence

#: Column titles of the metrics, as the papers print them.
METRIC_TITLES = {
    "psnr": "PSNR", "ssim": "SSIM", "ms_ssim": "MS-SSIM", "vif": "VIF", "mef_ssim": "MEF-SSIM", "mef_ssim_d": "MEF-SSIMd",
    "color_shift": "Δab", "l_mean": "L*", "gt_l": "L* GT", "dl_gt": "ΔL* GT",
}
#: Metrics where a smaller value is better: the CIE-Lab a*b* shift from the inputs.
LOWER_IS_BETTER: frozenset[str] = frozenset({"color_shift"})
#: Metrics best at zero (the smallest absolute value): the L* offset from the ground truth.
BEST_AT_ZERO: frozenset[str] = frozenset({"dl_gt"})
#: Metrics with no better side (descriptive): mean L* of the result and of the ground truth.
NO_BEST: frozenset[str] = frozenset({"l_mean", "gt_l"})
#: Decimals printed, as in the seed paper's table (e.g. 0.8768, 22.9934).
DECIMALS = 4
#: Fewer decimals for CIE-Lab quantities (OpenCV's conversion is good to about 0.1).
METRIC_DECIMALS = {"color_shift": 2, "l_mean": 2, "gt_l": 2, "dl_gt": 2}


def metric_title(name: str) -> str:
    """Display title of a metric (``"ms_ssim"`` -> ``"MS-SSIM"``)."""
    return METRIC_TITLES.get(name, name.upper().replace("_", "-"))


@dataclass
class MethodSummary:
    """Means of one method over the scenes it was scored on."""

    method: str
    source: str
    means: dict[str, float | None] = field(default_factory=dict)
    counts: dict[str, int] = field(default_factory=dict)
    n_ok: int = 0
    n_failed: int = 0
    seconds: float | None = None
    s_per_mp: float | None = None


def _mean(values: list[float]) -> float | None:
    # NaN (undefined) is left out; +inf (PSNR of an exact copy) is kept: dropping it
    # would silently lower the mean of the method that was perfect on a scene.
    vals = [v for v in values if v is not None and not math.isnan(v)]
    return sum(vals) / len(vals) if vals else None


def summarize(cells: Sequence[dict[str, Any]], metrics: Sequence[str]) -> list[MethodSummary]:
    """Mean of every metric per method, methods in the order they first appear."""
    rows: dict[str, MethodSummary] = {}
    values: dict[str, dict[str, list[float]]] = {}
    times: dict[str, tuple[list[float], list[float]]] = {}
    for cell in cells:
        name = cell["method"]
        row = rows.setdefault(name, MethodSummary(name, cell.get("source", "mefkit")))
        if cell.get("status") != "ok":
            row.n_failed += 1
            continue
        row.n_ok += 1
        per = values.setdefault(name, {m: [] for m in metrics})
        for m in metrics:
            v = cell.get("metrics", {}).get(m)
            if v is not None:
                per[m].append(float(v))
        if cell.get("seconds") is not None:
            secs, spm = times.setdefault(name, ([], []))
            secs.append(cell["seconds"])
            spm.append(cell["s_per_mp"])
    for name, row in rows.items():
        per = values.get(name, {m: [] for m in metrics})
        row.means = {m: _mean(per[m]) for m in metrics}
        row.counts = {m: len(per[m]) for m in metrics}
        if name in times:
            row.seconds, row.s_per_mp = _mean(times[name][0]), _mean(times[name][1])
    return list(rows.values())


def metric_direction(name: str) -> str:
    """``"higher"``, ``"lower"``, ``"zero"`` (best at 0) or ``"none"`` (descriptive)."""
    if name in LOWER_IS_BETTER:
        return "lower"
    if name in BEST_AT_ZERO:
        return "zero"
    if name in NO_BEST:
        return "none"
    return "higher"


def common_scene_cells(cells: Sequence[dict[str, Any]]) -> tuple[list[dict[str, Any]], list[str]]:
    """The cells of the scenes where every method of the run has a finished cell.

    Means over different scene sets do not compare (results published by other authors
    often cover only some scenes); ``mefkit eval --common-scenes`` averages over the
    scenes every compared method has, a failed cell counting as missing.

    Parameters
    ----------
    cells : sequence of dict
        The cells of a run.

    Returns
    -------
    kept : list of dict
        The cells of the common scenes, in their order.
    dropped : list of str
        The other scenes, in first-seen order.
    """
    methods = list(dict.fromkeys(c["method"] for c in cells))
    done: dict[str, set[str]] = {}
    scenes: list[str] = []
    for c in cells:
        if c["scene"] not in done:
            scenes.append(c["scene"])
        have = done.setdefault(c["scene"], set())
        if c.get("status") == "ok":
            have.add(c["method"])
    common = {s for s in scenes if done[s].issuperset(methods)}
    return [c for c in cells if c["scene"] in common], [s for s in scenes if s not in common]


def best_values(rows: Sequence[MethodSummary], metrics: Sequence[str]) -> dict[str, float]:
    """Best mean of each metric over the methods (see :func:`metric_direction`; none for
    descriptive metrics such as the mean L*)."""
    best: dict[str, float] = {}
    for m in metrics:
        vals = [r.means[m] for r in rows if r.means.get(m) is not None]
        if not vals or metric_direction(m) == "none":
            continue
        if metric_direction(m) == "zero":
            best[m] = min(vals, key=abs)
        else:
            best[m] = min(vals) if m in LOWER_IS_BETTER else max(vals)
    return best


def shown_metrics(rows: Sequence[MethodSummary], metrics: Sequence[str]) -> list[str]:
    """The metrics with at least one value (reference metrics vanish without ground truth)."""
    return [m for m in metrics if any(r.means.get(m) is not None for r in rows)]


#: How to read the colour and tone columns (written under a table that has them).
COLOUR_NOTE = (
    " Δab: mean CIE-Lab a*b* distance of the result from the exposure-weighted chroma of the"
    " input pixels that are neither clipped (> 250/255) nor near black (< 16/255), lower is"
    " better; L*: mean CIE L* (0-100) of the result; L* GT / ΔL* GT: of the ground truth, and"
    " result minus ground truth (best at 0, negative = darker)."
)


def format_value(v: float | None, metric: str = "") -> str:
    """A mean as printed in the tables (``"-"`` when there is none)."""
    return "-" if v is None else f"{v:.{METRIC_DECIMALS.get(metric, DECIMALS)}f}"


def summary_markdown(rows: Sequence[MethodSummary], metrics: Sequence[str], title: str = "") -> str:
    """``summary.md``: the seed paper's table (best in bold), then timings and counts."""
    shown = shown_metrics(rows, metrics)
    best = best_values(rows, shown)
    out = io.StringIO()
    if title:
        out.write(f"# {title}\n\n")
    out.write("| Methods | " + " | ".join(metric_title(m) for m in shown) + " |\n")
    out.write("|---|" + "---:|" * len(shown) + "\n")
    for r in rows:
        cells = []
        for m in shown:
            text = format_value(r.means.get(m), m)
            cells.append(f"**{text}**" if r.means.get(m) is not None and r.means[m] == best.get(m) else text)
        out.write(f"| {r.method} | " + " | ".join(cells) + " |\n")
    missing = [m for m in metrics if m not in shown]
    out.write("\nMeans over the scenes each method was scored on; best of each column in bold.")
    if any(metric_direction(m) != "higher" for m in shown):
        out.write(COLOUR_NOTE)
    if missing:
        out.write(
            f" Not shown (no value on any scene, e.g. no ground truth): {', '.join(metric_title(m) for m in missing)}."
        )
    per_metric = {m: sorted({r.counts.get(m, 0) for r in rows if r.counts.get(m)}) for m in shown}
    if len({n for ns in per_metric.values() for n in ns}) > 1:
        parts = [f"{metric_title(m)} {ns[0]}" if len(ns) == 1 else f"{metric_title(m)} {ns[0]}-{ns[-1]}"
                 for m, ns in per_metric.items()]
        out.write(f" Scenes per column (reference metrics need a ground truth): {', '.join(parts)}.")
    out.write("\n\n| Methods | source | scenes | failed | s / image | s / MP |\n|---|---|---:|---:|---:|---:|\n")
    timed = [r.s_per_mp for r in rows if r.s_per_mp is not None]
    fastest = min(timed) if timed else None
    for r in rows:
        spm = "-" if r.s_per_mp is None else f"{r.s_per_mp:.3f}"
        if r.s_per_mp is not None and r.s_per_mp == fastest:
            spm = f"**{spm}**"
        secs = "-" if r.seconds is None else f"{r.seconds:.3f}"
        out.write(f"| {r.method} | {r.source} | {r.n_ok} | {r.n_failed} | {secs} | {spm} |\n")
    out.write("\nTimes are wall-clock seconds of the fusion call only (frames already in memory); "
              "results made elsewhere have none.\n")
    return out.getvalue()


#: Columns of ``results.csv`` before and after the metric columns.
CSV_HEAD = ("scene", "method", "source", "status", "n_frames", "width", "height")
CSV_TAIL = ("seconds", "s_per_mp", "resized_from", "error")


def results_csv(cells: Sequence[dict[str, Any]], metrics: Sequence[str]) -> str:
    """``results.csv``: one row per (scene, method) cell; empty where not computed."""
    buf = io.StringIO()
    writer = csv.writer(buf, lineterminator="\n")
    writer.writerow([*CSV_HEAD, *metrics, *CSV_TAIL])
    for c in cells:
        vals = c.get("metrics", {})
        errs = dict(c.get("metric_errors", {}))
        error = c.get("error", "") or "; ".join(f"{k}: {v}" for k, v in errs.items())
        resized = c.get("resized_from")
        writer.writerow([
            *(c.get(k, "") if c.get(k) is not None else "" for k in CSV_HEAD),
            *("" if vals.get(m) is None else repr(float(vals[m])) for m in metrics),
            "" if c.get("seconds") is None else f"{c['seconds']:.6f}",
            "" if c.get("s_per_mp") is None else f"{c['s_per_mp']:.6f}",
            "" if not resized else f"{resized[0]}x{resized[1]}",
            error,
        ])
    return buf.getvalue()
