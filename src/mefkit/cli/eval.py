"""``mefkit eval``: run methods over a dataset and write a paper-style report."""

from __future__ import annotations

import fnmatch
import shlex
import shutil
import sys
import warnings
from pathlib import Path
from typing import Any, List, Optional

import typer
from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeElapsedColumn, TimeRemainingColumn

from ..api import check_method_params
from ..datasets import load_dataset
from ..errors import MefkitError, OutputError
from ..io import check_folder_writable
from ..evaluation import DEFAULT_METRICS, evaluate, plan_jobs, write_report_files
from ..evaluation.runner import check_metrics, common_scene_jobs, default_metric_fns
from ..registry import get_method, method_infos
from ..params import parse_params
from ..prepare import ALIGN_METHODS, DEGHOST_METHODS, check_stages
from .app import app, console, exit_code_for, reports_errors, show_progress


def _split(text: Optional[str]) -> list[str]:
    return [t.strip() for t in (text or "").split(",") if t.strip()]


def _methods(text: Optional[str]) -> list[str]:
    """Method names; ``all``, ``classic`` and ``learned`` expand to the registered ones."""
    out: list[str] = []
    for item in _split(text):
        if item in ("all", "classic", "learned"):
            out += [i.name for i in method_infos() if item == "all" or i.kind == item]
        else:
            out.append(item)
    return list(dict.fromkeys(out))  # drop repeats, keep order


def _method_params(items: Optional[List[str]], methods: list[str]) -> dict[str, dict[str, Any]]:
    """``-p mertens.levels=8`` -> ``{"mertens": {"levels": 8}}``; a bare ``levels=8`` is
    accepted when exactly one method runs. Values are typed by :func:`mefkit.params.parse_params`."""
    grouped: dict[str, list[str]] = {}
    for item in items or []:
        key, sep, value = item.partition("=")
        if not sep or not key.strip():
            raise MefkitError(f"parameter {item!r} must look like METHOD.KEY=VALUE")
        key = key.strip()
        if "." in key:
            meth, name = key.split(".", 1)
        elif len(methods) == 1:
            meth, name = methods[0], key
        else:
            hint = methods[0] if methods else "mertens"
            raise MefkitError(f"parameter {key!r}: say which method it is for, e.g. -p {hint}.{key}=...")
        if meth not in methods:
            raise MefkitError(f"parameter {key!r} is for {meth!r}, which is not among --methods")
        grouped.setdefault(meth, []).append(f"{name}={value}")
    return {meth: parse_params(meth, group) for meth, group in grouped.items()}


def _check_report_dir(report_dir: Path, data_dir: Path) -> None:
    """Refuse a report folder that is a file, the data folder or inside it, or not writable."""
    if report_dir.exists() and not report_dir.is_dir():
        raise OutputError(f"{report_dir}: exists and is not a folder")
    report, data = report_dir.resolve(), data_dir.resolve()
    if report == data:
        raise OutputError(f"{report_dir}: is the data folder; write the report elsewhere")
    if data in report.parents:
        raise OutputError(f"{report_dir}: is inside the data folder {data_dir}; write the report elsewhere")
    check_folder_writable(report_dir)


def _outputs(items: Optional[List[str]]) -> list[tuple[str, Path]]:
    out = []
    for item in items or []:
        label, sep, folder = item.partition("=")
        if not sep:
            folder, label = item, Path(item).resolve().name
        path = Path(folder)
        if not path.is_dir():
            raise MefkitError(f"--outputs {item}: {path} is not a folder")
        out.append((label, path))
    return out


def _stage_params(align: Optional[str], deghost: Optional[str], reference: Optional[int]) -> dict[str, Any]:
    """``mefkit.fuse`` keywords of ``--align``, ``--deghost`` and ``--reference`` (checked)."""
    check_stages(align or False, deghost or False, reference, "fill")
    if reference is not None and not (align or deghost):
        raise MefkitError("--reference needs --align or --deghost")
    out: dict[str, Any] = {}
    if align:
        out["align"] = align
    if deghost:
        out["deghost"] = deghost
    if reference is not None:
        out["reference"] = reference
    return out


@app.command("eval")
@reports_errors
def eval_cmd(
    data_dir: Path = typer.Argument(..., help="Dataset folder (one sub-folder per scene; see mefkit.datasets)."),
    report_dir: Path = typer.Option(..., "-o", "--output", help="Report folder (created; re-use it to resume)."),
    methods: Optional[str] = typer.Option(None, "--methods", "-m", help="Comma list of fusion methods; 'all', 'classic' or 'learned' name the registered ones."),
    metrics: str = typer.Option(",".join(DEFAULT_METRICS), "--metrics", help="Comma list of metrics."),
    pairs: str = typer.Option("under-over", "--pairs", help="Frames given to a method: under-over, all, or indices like 1,7."),
    layout: str = typer.Option("auto", "--layout", help="Dataset layout: auto, under-over (mefb, sice), numbered, sice-release, generic."),
    outputs: Optional[List[str]] = typer.Option(None, "--outputs", help="Folder of results made elsewhere ([LABEL=]DIR, repeatable): DIR/<scene>/<method>.*, DIR/<scene>/fused/<method>.* or DIR/<scene>_<method>.*."),
    published: bool = typer.Option(False, "--published", help="Also score each scene's own fused/<method>.* results (MEFB)."),
    param: Optional[List[str]] = typer.Option(None, "-p", "--param", help="Method parameter METHOD.KEY=VALUE (repeatable)."),
    scenes: Optional[str] = typer.Option(None, "--scenes", help="Only these scenes (comma list of names or glob patterns)."),
    common_scenes: bool = typer.Option(False, "--common-scenes", help="Average only over the scenes every compared method has (results made elsewhere often cover only some); others are not run."),
    limit: Optional[int] = typer.Option(None, "--limit", help="Only the first N scenes."),
    save_fused: bool = typer.Option(False, "--save-fused", help="Keep every fused image at full size (PNG) in the report folder."),
    fresh: bool = typer.Option(False, "--fresh", help="Recompute every cell, even finished ones."),
    title: Optional[str] = typer.Option(None, "--title", help="Report title (default: from the data folder)."),
    quiet: bool = typer.Option(False, "--quiet", "-q", help="No progress display and no summary line (errors, warnings and failed cells still print)."),
    align: Optional[str] = typer.Option(None, "--align", metavar="[NAME]", help=f"Align each bracket before every method fuses it: --align [{'|'.join(ALIGN_METHODS)}] (bare: {ALIGN_METHODS[0]}). Metrics still compare with the frames as read."),
    deghost: Optional[str] = typer.Option(None, "--deghost", metavar="[NAME]", help=f"Deghost each bracket before every method fuses it: --deghost [{'|'.join(DEGHOST_METHODS)}] (bare: {DEGHOST_METHODS[0]})."),
    reference: Optional[int] = typer.Option(None, "--reference", help="Reference frame of --align/--deghost, index in the frames given to the method (default: the middle exposure)."),
) -> None:
    """Fuse every scene of DATA_DIR with each method, score it, and write REPORT_DIR/results.csv,
    summary.md and report.html. Re-running with the same REPORT_DIR reuses finished cells.

    Exit status: 0 when every cell is scored, 1 when some failed, 2 when none could be
    (the report folder is then not left behind if this run created it)."""
    method_list = _methods(methods)
    for m in method_list:
        get_method(m)  # unknown names fail now, not after an hour of work
    metric_list = _split(metrics)
    try:
        metric_fns = default_metric_fns()
    except ImportError as exc:
        raise MefkitError(f"metrics are not available ({exc})") from None
    check_metrics(metric_list, metric_fns)
    params = _method_params(param, method_list)
    for name, values in params.items():
        check_method_params(name, values)
    stages = _stage_params(align, deghost, reference)
    if stages:
        # The stages go to mefkit.fuse with each method's own parameters; they are part
        # of every cell's parameters, so a report folder never mixes runs with and without.
        params = {name: {**params.get(name, {}), **stages} for name in method_list}
    out_dirs = _outputs(outputs)
    if not method_list and not out_dirs and not published:
        raise MefkitError("nothing to evaluate: give --methods, --outputs or --published")
    if not data_dir.exists():
        raise MefkitError(f"{data_dir}: not found")
    _check_report_dir(report_dir, data_dir)
    with warnings.catch_warnings(record=True) as notices:
        warnings.simplefilter("always")
        dataset = load_dataset(data_dir, layout=layout, pairs=pairs)  # its error names the skipped folders
    for notice in notices:
        warnings.warn(str(notice.message), stacklevel=1)
    chosen = dataset.scenes
    if scenes:
        pats = _split(scenes)
        chosen = [s for s in chosen if any(fnmatch.fnmatchcase(s.name, p) for p in pats)]
    if limit is not None:
        chosen = chosen[:limit]
    if not chosen:
        raise MefkitError(f"{data_dir}: no scene selected")
    dataset.scenes = chosen
    label = Path(data_dir).resolve().name
    jobs = plan_jobs(dataset, method_list, params, out_dirs, label if published else None)
    if not jobs:
        raise MefkitError("nothing to evaluate: no method ran and no result made elsewhere was found")
    if common_scenes:
        jobs, dropped = common_scene_jobs(jobs)
        if not jobs:
            raise MefkitError("--common-scenes: no scene has a result of every compared method; "
                              "choose scenes they share with --scenes")
        if dropped:
            console.print(f"--common-scenes: {len(dropped)} scene(s) left out (not every method has them): "
                          + ", ".join(dropped), highlight=False)

    created = not report_dir.exists()
    live = show_progress(quiet)
    failures: list[str] = []
    columns = (TextColumn("{task.description}"), BarColumn(), MofNCompleteColumn(),
               TimeElapsedColumn(), TimeRemainingColumn())
    with Progress(*columns, console=console, transient=False, disable=not live) as progress:
        task = progress.add_task("evaluating", total=len(jobs))

        def on_cell(job, cell, reused):  # noqa: ANN001
            progress.update(task, advance=1, description=f"{job.scene.name} / {job.method}")
            if cell["status"] != "ok":
                failures.append(f"{job.scene.name} / {job.method}: {cell['error']}")
                if live:  # in a log, failures are listed once at the end
                    progress.console.print(f"[red]failed[/red] {failures[-1]}", highlight=False)

        result = evaluate(dataset, report_dir, method_list, metrics=metric_list, save_fused=save_fused,
                          fresh=fresh, metric_fns=metric_fns, on_cell=on_cell, jobs=jobs)

    if result.cells and result.failed == len(result.cells):
        # Nothing could be scored: an error, and a report folder made for it goes again.
        if created:
            shutil.rmtree(report_dir, ignore_errors=True)
        if len(failures) == 1:
            raise MefkitError(failures[0])
        if not live:
            for line in failures:
                console.print(f"[red]failed[/red] {line}", highlight=False)
        raise MefkitError(f"none of the {len(failures)} cells could be scored")
    if not live:
        for line in failures:
            console.print(f"[red]failed[/red] {line}", highlight=False)

    resized = sorted({c["scene"] for c in result.cells if c.get("resized_from")})
    notes = [
        "command: mefkit " + " ".join(shlex.quote(a) for a in sys.argv[1:]),
        f"data: {Path(data_dir).resolve()} ({len(chosen)} scenes, layout {', '.join(dataset.layouts)}, pairs {dataset.pairs})",
    ]
    if dataset.skipped:
        notes.append("skipped folders: " + "; ".join(f"{n} ({w})" for n, w in dataset.skipped))
    if resized:
        notes.append("results made elsewhere resized to the input size (INTER_AREA) for: " + ", ".join(resized))
    files = write_report_files(report_dir, chosen, result.cells, metric_list,
                               title=title or f"mefkit eval: {label}", notes=notes, common_scenes=common_scenes)
    if not quiet or result.failed:
        console.print(
            f"{len(result.cells)} cells: {result.computed} computed, {result.reused} reused, "
            f"{result.failed} failed -> {files['csv']}, {files['summary']}, {files['html']}",
            highlight=False,
        )
    raise typer.Exit(exit_code_for(result.failed))
