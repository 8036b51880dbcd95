"""``mefkit fuse-dir``: find the brackets in a folder and fuse each, serially or on Dask distributed."""

from __future__ import annotations

import os
import shutil
import warnings
from contextlib import nullcontext
from datetime import datetime, timezone
from pathlib import Path
from typing import Any, Callable, List, Optional

import typer
from rich.console import Console
from rich.markup import escape
from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeElapsedColumn

from ..api import check_method_params
from ..batch.grouping import Group, Grouping, group_folder, parse_group
from ..batch.manifest import MANIFEST_NAME, Entry, Manifest, read_manifest
from ..batch.run import Job, Outcome, dask_client, require_distributed, run_jobs
from ..errors import BracketError, MefkitError, OutputError
from ..io import FORMAT_BITS, check_folder_writable
from ..io.capture import read_capture
from ..params import parse_params
from ..prepare import check_stages
from .app import app, console, exit_code_for, reports_errors, show_progress
from .fuse import _PARAM_HELP, _check_bits, _has_raw, _raw_settings, with_stage_options

_GROUP_HELP = ("How brackets are found: auto (sub-folders if any, else a flat folder split by capture time, "
               "exposure pattern and file number), folder (one per sub-folder), N (N frames at a time) or "
               "gap=SECONDS (auto with that pause between brackets).")
_WORKERS_HELP = ("Brackets fused in parallel on a local Dask cluster of N worker processes "
                 "(needs the distributed extra).")
_SCHEDULER_HELP = ("Address of a running Dask scheduler (tcp://host:8786): fuse on that cluster "
                   "(workers need mefkit and the same paths).")


def _check_out_dir(out_dir: Path, in_dir: Path, folders: list[Path]) -> None:
    """Refuse an output folder that is a file, an input folder, or not creatable/writable."""
    if out_dir.exists() and not out_dir.is_dir():
        raise OutputError(f"{out_dir}: exists and is not a folder")
    resolved = out_dir.resolve()
    if resolved == in_dir.resolve() or any(resolved == b.resolve() for b in folders):
        raise OutputError(f"{out_dir}: is an input folder; write the results to another folder")
    check_folder_writable(out_dir)


def _relative(path: str | Path, root: Path) -> str:
    try:
        return str(Path(path).resolve().relative_to(root.resolve()))
    except ValueError:
        return str(path)


def _frame_line(path: Path) -> str:
    info = read_capture(path)
    parts = [path.name]
    if info.time is not None:
        stamp = datetime.fromtimestamp(info.time, timezone.utc)
        parts.append(stamp.strftime("%Y-%m-%d %H:%M:%S.") + f"{stamp.microsecond // 10000:02d}")
    if info.exposure_time is not None:
        t = info.exposure_time
        parts.append(f"1/{1 / t:.0f} s" if t < 0.5 else f"{t:g} s")
    if info.bias is not None:
        parts.append(f"{info.bias:+g} EV")
    return "  ".join(parts)


def _print_groups(grouping: Grouping, out_dir: Path, suffix_of: Callable[[Group], str]) -> None:
    """``--dry-run``: each group, why it was formed, and its frames (stdout)."""
    out = Console(soft_wrap=True, highlight=False)
    n, s = len(grouping.brackets), sum(len(g.frames) for g in grouping.strays)
    out.print(f"{grouping.how}: {n} bracket{'s' if n != 1 else ''}"
              + (f", {s} stray frame{'s' if s != 1 else ''}" if s else ""), markup=False)
    for g in grouping.groups:
        if g.stray:
            out.print(f"stray    {', '.join(f.name for f in g.frames)}: {g.reason}; not fused", markup=False)
            continue
        out.print(f"bracket  {g.name} -> {out_dir / (g.name + suffix_of(g))}  ({len(g.frames)} frames: {g.reason})",
                  markup=False)
        for f in g.frames:
            out.print(f"    {_frame_line(f)}", markup=False)


@app.command("fuse-dir")
@reports_errors
@with_stage_options
def fuse_dir_cmd(
    in_dir: Path = typer.Argument(..., help="Folder with one sub-folder of frames per bracket, or a flat folder of frames."),
    out_dir: Path = typer.Option(..., "-o", "--output", help="Folder for the fused images and manifest.json (created)."),
    method: str = typer.Option("mertens", "-m", "--method", help="Fusion method (see `mefkit methods`)."),
    param: Optional[List[str]] = typer.Option(None, "-p", "--param", help=_PARAM_HELP),
    ext: Optional[str] = typer.Option(None, "--ext", help="Output format: jpg, png or tif (default: tif for RAW brackets, else jpg)."),
    bits: Optional[int] = typer.Option(None, "--bits", help="8 or 16 (default: 16 for 16-bit input in png/tif)."),
    quality: int = typer.Option(95, "--quality", help="JPEG quality 1..100."),
    force: bool = typer.Option(False, "--force", "-f", help="Replace existing outputs (default: skip them)."),
    group: str = typer.Option("auto", "--group", "-g", help=_GROUP_HELP),
    dry_run: bool = typer.Option(False, "--dry-run", help="Print the brackets found and why; fuse nothing."),
    workers: int = typer.Option(1, "--workers", "-j", help=_WORKERS_HELP),
    scheduler: Optional[str] = typer.Option(None, "--scheduler", help=_SCHEDULER_HELP),
    **stage_options: Any,
) -> None:
    """Find the brackets of IN_DIR and fuse each into OUT_DIR/<bracket>.<ext>.

    A bracket that fails is reported and skipped; frames that fit no bracket are
    reported and not fused; OUT_DIR/manifest.json lists every bracket. The exit status
    is 1 if some bracket failed, 2 if none could be fused.
    """
    params = parse_params(method, param)
    check_method_params(method, params)
    align, deghost, reference, border, verbose, quiet = (stage_options[k] for k in
                                                         ("align", "deghost", "reference", "border", "verbose", "quiet"))
    raw = _raw_settings(stage_options)
    check_stages(align, deghost, reference, border)
    _check_bits(bits)
    chosen = "." + ext.lower().lstrip(".") if ext is not None else None
    suffix = chosen or ".jpg"
    if suffix not in FORMAT_BITS:
        raise OutputError(f"unsupported output format {ext!r}; use jpg, png or tif")
    if bits is not None and bits not in FORMAT_BITS[suffix]:
        raise OutputError(f"--ext {ext or 'jpg'} holds only 8-bit data; use png or tif for --bits {bits}")
    if not 1 <= quality <= 100:
        raise OutputError(f"JPEG quality must be in 1..100, got {quality}")
    spec = parse_group(group)
    if workers < 1:
        raise MefkitError(f"--workers must be at least 1, got {workers}")
    parallel = workers > 1 or bool(scheduler)
    if parallel and not dry_run:
        require_distributed("--scheduler" if scheduler else f"--workers {workers}")
    if not in_dir.exists():
        raise BracketError(f"{in_dir}: not found")
    if not in_dir.is_dir():
        raise BracketError(f"{in_dir}: not a folder")
    grouping = group_folder(in_dir, spec)
    for note in grouping.notes:
        warnings.warn(note, stacklevel=1)
    def suffix_of(g: Group) -> str:
        return chosen or (".tif" if _has_raw(g.frames) else ".jpg")  # RAW in: 16-bit TIFF out unless told

    if dry_run:
        _print_groups(grouping, out_dir, suffix_of)
        raise typer.Exit(0)
    brackets = grouping.brackets
    strays = grouping.strays
    if not brackets:
        frames = sum(len(g.frames) for g in strays)
        raise BracketError(f"{in_dir}: no bracket found; its {frames} frame{'s' if frames != 1 else ''} fit no bracket "
                           "(see --dry-run, or set --group)")
    _check_out_dir(out_dir, in_dir, [s for g in brackets for s in g.sources if s.is_dir()])
    manifest = Manifest(out_dir / MANIFEST_NAME, source=str(in_dir), grouping=grouping.how, method=method,
                        params=dict(params))
    previous = read_manifest(manifest.path)
    # Local workers share this machine's cores: each gets its share of threads (a cluster's
    # workers keep their libraries' defaults).
    threads = max(1, (os.cpu_count() or 1) // workers) if workers > 1 and not scheduler else None
    jobs: list[Job] = []
    skipped: list[tuple[str, str]] = []
    for g in grouping.groups:
        target = out_dir / f"{g.name}{suffix_of(g)}"
        entry = Entry(bracket=g.name, frames=[_relative(f, in_dir) for f in g.frames],
                      output=None if g.stray else target.name, method=method, reason=g.reason)
        if g.stray:
            entry.status = "stray"
        elif target.exists() and not force:
            old = previous.get(g.name)
            entry.status, entry.message = "skipped", "output exists"
            if old is not None and old.status in ("fused", "skipped"):
                entry.method, entry.seconds = old.method, old.seconds
            skipped.append((g.name, "output exists"))
        else:
            jobs.append(Job(name=g.name, sources=tuple(str(s) for s in g.sources), target=str(target), method=method,
                            params=tuple(params.items()), bits=bits, quality=quality, force=force, align=align,
                            deghost=deghost, reference=reference, border=border, raw=raw, threads=threads))
        manifest.add(entry)

    done: list[str] = []
    failed: list[tuple[str, str]] = []
    columns = (TextColumn("{task.description}"), BarColumn(), MofNCompleteColumn(), TimeElapsedColumn())
    where = f" on {scheduler}" if scheduler else (f" on {workers} workers" if workers > 1 else "")
    # The cluster is reached before the output folder is made: a bad --scheduler leaves nothing behind.
    with dask_client(workers, scheduler, threads=threads or 1) if parallel and jobs else nullcontext(None) as client:
        created = not out_dir.exists()
        out_dir.mkdir(parents=True, exist_ok=True)
        manifest.save()
        with Progress(*columns, console=console, transient=False, disable=not show_progress(quiet)) as progress:
            task = progress.add_task(f"fusing with {method}{where}", total=len(jobs))

            def finished(outcome: Outcome) -> None:
                for message in outcome.warnings:
                    warnings.warn(message, stacklevel=1)
                if verbose and outcome.details:
                    progress.console.print(f"{escape(outcome.name)}:", highlight=False)
                    for line in outcome.details:
                        progress.console.print("  " + escape(line), highlight=False)
                if outcome.status == "fused":
                    done.append(outcome.name)
                else:
                    failed.append((outcome.name, outcome.message))
                fields: dict[str, object] = {"status": outcome.status, "seconds": round(outcome.seconds, 3),
                                             "message": outcome.message}
                if outcome.frames:
                    fields["frames"] = [_relative(f, in_dir) for f in outcome.frames]
                if outcome.status != "fused":
                    fields["output"] = None
                manifest.update(outcome.name, **fields)
                manifest.save()
                progress.update(task, description=f"{outcome.name}")
                progress.advance(task)

            run_jobs(jobs, finished, client=client)
    if failed and not done and not skipped:
        # Nothing could be fused: an error, and the output folder made for it goes again.
        if created:
            shutil.rmtree(out_dir, ignore_errors=True)
        if len(failed) == 1:
            raise MefkitError(f"{failed[0][0]}: {failed[0][1]}")
        for name, why in failed:
            console.print(f"  [red]failed[/red]  {escape(name)}: {escape(why)}", highlight=False)
        raise MefkitError(f"none of the {len(failed)} brackets could be fused")
    stray_frames = [f for g in strays for f in g.frames]
    # One plain line per bracket (not a table) so long paths stay greppable in logs.
    if not quiet or failed or stray_frames:
        extra = f", {len(stray_frames)} stray frame{'s' if len(stray_frames) != 1 else ''} not fused" if stray_frames else ""
        console.print(f"fuse-dir: {len(done)} fused, {len(skipped)} skipped, {len(failed)} failed{extra}", highlight=False)
    for name, why in failed:
        console.print(f"  [red]failed[/red]  {escape(name)}: {escape(why)}", highlight=False)
    for g in strays:
        console.print(f"  [yellow]stray[/yellow]   {escape(', '.join(f.name for f in g.frames))}: {escape(g.reason)}",
                      highlight=False)
    if not quiet:
        for name, why in skipped:
            console.print(f"  [yellow]skipped[/yellow] {escape(name)}: {why} (use --force to replace)", highlight=False)
    raise typer.Exit(exit_code_for(len(failed)))
