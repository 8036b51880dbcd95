"""``report.html``: one self-contained page (no external file, no network).

It holds the summary table, one matplotlib bar chart per metric, and per scene a row of
thumbnails (inputs, each method's output, ground truth), every image embedded as a
base64 data URI so the page can be mailed or archived on its own.
"""

from __future__ import annotations

import base64
import html
import io
import math
from pathlib import Path
from typing import Any, Sequence

from .summary import COLOUR_NOTE, MethodSummary, best_values, format_value, metric_direction, metric_title, shown_metrics

#: Bar colours: mefkit's own methods and results made elsewhere.
COLOURS = {"mefkit": "#3b6ea8", "external": "#c0803a"}

_CSS = """
body{font-family:system-ui,-apple-system,Segoe UI,Roboto,sans-serif;margin:24px;color:#222}
h1{font-size:22px}h2{font-size:18px;margin-top:28px}
table.summary{border-collapse:collapse;margin:8px 0}
table.summary th,table.summary td{border:1px solid #ccc;padding:4px 10px;text-align:right}
table.summary th:first-child,table.summary td:first-child{text-align:left}
table.summary td.best{font-weight:bold;background:#eef5e9}
.charts img{width:420px;margin:4px}
.scene{margin:14px 0;border-top:1px solid #ddd;padding-top:6px}
.row{display:flex;flex-wrap:wrap;gap:6px}
figure{margin:0;flex:0 0 166px;font-size:11px;text-align:center}
figure img{max-width:160px;max-height:160px;display:block;margin:auto}
figure.failed{color:#a00}
.note{color:#666;font-size:13px}
"""


def _data_uri(data: bytes, mime: str) -> str:
    return f"data:{mime};base64,{base64.b64encode(data).decode('ascii')}"


def _img_tag(path: Path, alt: str) -> str:
    try:
        data = path.read_bytes()
    except OSError:
        return f'<div class="note">({html.escape(alt)}: thumbnail missing)</div>'
    return f'<img alt="{html.escape(alt)}" src="{_data_uri(data, "image/jpeg")}">'


def bar_chart(rows: Sequence[MethodSummary], metric: str) -> bytes:
    """PNG bytes of a horizontal bar chart of one metric's means."""
    import matplotlib

    matplotlib.use("Agg")  # headless: never open a window
    from matplotlib.figure import Figure

    data = [(r.method, r.means[metric], r.source) for r in rows
            if r.means.get(metric) is not None and math.isfinite(r.means[metric])]
    infinite = [r.method for r in rows if r.means.get(metric) is not None and math.isinf(r.means[metric])]
    if not data:
        data = [("(no finite value)", 0.0, "")]
    fig = Figure(figsize=(5.6, 0.35 * len(data) + 1.2), dpi=100)
    ax = fig.add_subplot()
    names = [d[0] for d in data][::-1]
    vals = [d[1] for d in data][::-1]
    colours = [COLOURS.get(d[2], "#777") for d in data][::-1]
    ax.barh(names, vals, color=colours)
    lo, hi = min(vals), max(vals)
    pad = (hi - lo) * 0.15 or abs(hi) * 0.05 or 0.05
    ax.set_xlim(max(0.0, lo - 3 * pad) if lo >= 0 else lo - pad, hi + pad)
    for y, v in enumerate(vals):
        ax.text(v, y, f" {format_value(v, metric)}", va="center", fontsize=8)
    side = {"higher": "higher is better", "lower": "lower is better", "zero": "best at 0",
            "none": "no better side"}[metric_direction(metric)]
    title = f"{metric_title(metric)} (mean, {side})"
    if infinite:  # PSNR of an exact copy: no bar can show it
        title += "\ninfinite, not drawn: " + ", ".join(infinite)
    ax.set_title(title, fontsize=10)
    ax.tick_params(labelsize=8)
    fig.tight_layout()
    buf = io.BytesIO()
    fig.savefig(buf, format="png")
    return buf.getvalue()


def _summary_table(rows: Sequence[MethodSummary], metrics: Sequence[str]) -> str:
    shown = shown_metrics(rows, metrics)
    best = best_values(rows, shown)
    head = "".join(f"<th>{metric_title(m)}</th>" for m in shown)
    parts = [f'<table class="summary"><tr><th>Methods</th>{head}<th>scenes</th><th>failed</th><th>s / MP</th></tr>']
    for r in rows:
        tds = []
        for m in shown:
            v = r.means.get(m)
            cls = ' class="best"' if v is not None and v == best.get(m) else ""
            tds.append(f"<td{cls}>{format_value(v, m)}</td>")
        spm = "-" if r.s_per_mp is None else f"{r.s_per_mp:.3f}"
        parts.append(
            f"<tr><td>{html.escape(r.method)}</td>{''.join(tds)}<td>{r.n_ok}</td><td>{r.n_failed}</td><td>{spm}</td></tr>"
        )
    parts.append("</table>")
    return "".join(parts)


def _figure(img: str, caption: str, failed: bool = False) -> str:
    cls = ' class="failed"' if failed else ""
    return f"<figure{cls}>{img}<figcaption>{caption}</figcaption></figure>"


def _scene_rows(report_dir: Path, cells: Sequence[dict[str, Any]], scenes: Sequence[Any],
                metrics: Sequence[str], thumb_path) -> str:
    by_scene: dict[str, list[dict[str, Any]]] = {}
    for c in cells:
        by_scene.setdefault(c["scene"], []).append(c)
    out = []
    for scene in scenes:
        figs = []
        for i, p in enumerate(scene.frames):
            figs.append(_figure(_img_tag(thumb_path(scene.name, f"input_{i + 1}"), p.name),
                                f"input {i + 1}: {html.escape(p.name)}"))
        for c in by_scene.get(scene.name, []):
            name = html.escape(c["method"])
            if c.get("status") != "ok":
                figs.append(_figure('<div class="note">no image</div>',
                                    f"{name}<br>failed: {html.escape(c.get('error', ''))[:160]}", True))
                continue
            vals = ", ".join(
                f"{metric_title(m)} {format_value(c['metrics'][m], m)}" for m in metrics if c.get("metrics", {}).get(m) is not None
            )
            extra = " (resized)" if c.get("resized_from") else ""
            figs.append(_figure(_img_tag(report_dir / c["thumb"], c["method"]), f"<b>{name}</b>{extra}<br>{vals}"))
        if scene.gt is not None:
            figs.append(_figure(_img_tag(thumb_path(scene.name, "gt"), "ground truth"), "ground truth"))
        out.append(f'<div class="scene"><h3>{html.escape(scene.name)}</h3><div class="row">{"".join(figs)}</div></div>')
    return "".join(out)


def report_html(
    report_dir: Path,
    rows: Sequence[MethodSummary],
    cells: Sequence[dict[str, Any]],
    scenes: Sequence[Any],
    metrics: Sequence[str],
    *,
    title: str,
    notes: Sequence[str] = (),
    thumb_path=None,
) -> str:
    """The whole page as a string.

    Parameters
    ----------
    report_dir : Path
        Where the thumbnails referenced by the cells live.
    rows : list of MethodSummary
        From :func:`mefkit.evaluation.summary.summarize`.
    cells : list of dict
        The cells of the run.
    scenes : list of Scene
        The scenes, in display order.
    metrics : sequence of str
    title : str
    notes : sequence of str
        Lines shown under the title (command, dataset, skipped folders...).
    thumb_path : callable
        ``thumb_path(scene_name, item) -> Path`` of input/gt thumbnails.
    """
    shown = shown_metrics(rows, metrics)
    charts = "".join(
        f'<img alt="{metric_title(m)} chart" src="{_data_uri(bar_chart(rows, m), "image/png")}">' for m in shown
    )
    legend = " ".join(
        f'<span style="color:{c}">&#9632;</span> {html.escape(k)}' for k, c in COLOURS.items()
    )
    note_html = "".join(f'<div class="note">{html.escape(n)}</div>' for n in notes)
    return (
        "<!DOCTYPE html><html><head><meta charset=\"utf-8\">"
        f"<title>{html.escape(title)}</title><style>{_CSS}</style></head><body>"
        f"<h1>{html.escape(title)}</h1>{note_html}"
        f"<h2>Summary</h2>{_summary_table(rows, metrics)}"
        '<div class="note">Means over the scenes each method was scored on; best of each column in bold. '
        "s / MP: seconds of the fusion call per megapixel (noisy on a shared machine)."
        f"{html.escape(COLOUR_NOTE) if any(metric_direction(m) != 'higher' for m in shown) else ''}</div>"
        f'<h2>Charts</h2><div class="note">{legend}</div><div class="charts">{charts}</div>'
        f"<h2>Scenes</h2>{_scene_rows(report_dir, cells, scenes, metrics, thumb_path)}"
        "</body></html>"
    )
