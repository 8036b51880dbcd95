"""``mefkit fuse``, ``mefkit fuse-dir`` and ``mefkit methods``."""

from __future__ import annotations

import time
from pathlib import Path
from typing import List, Optional

import typer
from rich.console import Console
from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeElapsedColumn
from rich.table import Table

from ..api import fuse as fuse_bracket
from ..errors import MefkitError, OutputError
from ..io import FORMAT_BITS, list_images, read_bracket, write_image
from ..nn.stack_fusion import frames_note
from ..registry import get_method, method_infos
from .app import app, console, exit_code_for, parse_params, reports_errors

_PARAM_HELP = "Method parameter KEY=VALUE (repeatable), e.g. -p levels=9."


def _choose_bits(bits: Optional[int], out: Path, input_bits: int) -> int:
    if bits is not None:
        return bits
    can = FORMAT_BITS.get(out.suffix.lower(), (8,))
    return 16 if input_bits == 16 and 16 in can else 8


@app.command("fuse")
@reports_errors
def fuse_cmd(
    frames: List[Path] = typer.Argument(..., help="Two or more frames of one scene, or a folder of them."),
    output: Path = typer.Option(..., "-o", "--output", help="Output file (.jpg, .png, .tif)."),
    method: str = typer.Option("mertens", "-m", "--method", help="Fusion method (see `mefkit methods`)."),
    param: Optional[List[str]] = typer.Option(None, "-p", "--param", help=_PARAM_HELP),
    bits: Optional[int] = typer.Option(None, "--bits", help="8 or 16 (default: 16 if an input is 16-bit and the format allows)."),
    quality: int = typer.Option(95, "--quality", help="JPEG quality 1..100."),
    force: bool = typer.Option(False, "--force", "-f", help="Replace an existing output file."),
    keep_order: bool = typer.Option(False, "--keep-order", help="Use the frames in the order given (default: darkest first)."),
) -> None:
    """Fuse one bracket into OUTPUT."""
    params = parse_params(param)
    if output.exists() and not force:
        raise OutputError(f"{output}: already exists (use --force to replace it)")
    bracket = read_bracket(frames, order="given" if keep_order else "auto")
    out_bits = _choose_bits(bits, output, bracket.bit_depth)
    start = time.perf_counter()
    fused = fuse_bracket(bracket, method=method, **params)
    write_image(output, fused, bits=out_bits, quality=quality, force=force, inputs=bracket.paths)
    h, w = bracket.shape
    note = frames_note(get_method(method).fn, bracket.frames, params)
    used = f"fused {len(bracket.frames)} frames" if note is None else f"fused a bracket of {len(bracket.frames)} frames, {note}"
    console.print(
        f"{used} ({w}x{h}, ordered by {bracket.order_by}) "
        f"with {method} in {time.perf_counter() - start:.2f} s -> {output} ({out_bits}-bit)",
        highlight=False,
    )


def _brackets_in(folder: Path) -> list[Path]:
    subs = sorted(p for p in folder.iterdir() if p.is_dir() and not p.name.startswith("."))
    return [p for p in subs if list_images(p)]


@app.command("fuse-dir")
@reports_errors
def fuse_dir_cmd(
    in_dir: Path = typer.Argument(..., help="Folder with one sub-folder of frames per bracket."),
    out_dir: Path = typer.Option(..., "-o", "--output", help="Folder for the fused images (created)."),
    method: str = typer.Option("mertens", "-m", "--method", help="Fusion method (see `mefkit methods`)."),
    param: Optional[List[str]] = typer.Option(None, "-p", "--param", help=_PARAM_HELP),
    ext: str = typer.Option("jpg", "--ext", help="Output format: jpg, png or tif."),
    bits: Optional[int] = typer.Option(None, "--bits", help="8 or 16 (default: 16 for 16-bit input in png/tif)."),
    quality: int = typer.Option(95, "--quality", help="JPEG quality 1..100."),
    force: bool = typer.Option(False, "--force", "-f", help="Replace existing outputs (default: skip them)."),
) -> None:
    """Fuse every bracket (sub-folder) of IN_DIR into OUT_DIR/<name>.<ext>.

    A bracket that fails is reported and skipped; the exit status is 1 if any failed.
    """
    params = parse_params(param)
    if not in_dir.is_dir():
        raise MefkitError(f"{in_dir}: not a folder")
    brackets = _brackets_in(in_dir)
    if not brackets:
        raise MefkitError(f"{in_dir}: no sub-folder holds images (expected one folder per bracket)")
    out_dir.mkdir(parents=True, exist_ok=True)
    suffix = "." + ext.lower().lstrip(".")
    if suffix not in FORMAT_BITS:
        raise OutputError(f"unsupported output format {ext!r}; use jpg, png or tif")
    done, skipped, failed = [], [], []
    columns = (TextColumn("{task.description}"), BarColumn(), MofNCompleteColumn(), TimeElapsedColumn())
    with Progress(*columns, console=console, transient=False) as progress:
        task = progress.add_task(f"fusing with {method}", total=len(brackets))
        for folder in brackets:
            target = out_dir / f"{folder.name}{suffix}"
            progress.update(task, description=f"{folder.name}")
            if target.exists() and not force:
                skipped.append((folder.name, "output exists"))
                progress.advance(task)
                continue
            try:
                bracket = read_bracket(folder)
                fused = fuse_bracket(bracket, method=method, **params)
                out_bits = _choose_bits(bits, target, bracket.bit_depth)
                write_image(target, fused, bits=out_bits, quality=quality, force=force, inputs=bracket.paths)
                done.append(folder.name)
            except MefkitError as exc:
                failed.append((folder.name, str(exc)))
            except MemoryError:
                failed.append((folder.name, "out of memory"))
            progress.advance(task)
    # One plain line per bracket (not a table) so long paths stay greppable in logs.
    console.print(f"fuse-dir: {len(done)} fused, {len(skipped)} skipped, {len(failed)} failed", highlight=False)
    for name, why in failed:
        console.print(f"  [red]failed[/red]  {name}: {why}", highlight=False)
    for name, why in skipped:
        console.print(f"  [yellow]skipped[/yellow] {name}: {why} (use --force to replace)", highlight=False)
    raise typer.Exit(exit_code_for(len(failed)))


@app.command("methods")
def methods_cmd() -> None:
    """List the registered fusion methods."""
    table = Table(title="mefkit fusion methods")
    table.add_column("name", style="bold")
    table.add_column("kind")
    table.add_column("frames")
    table.add_column("description")
    for info in method_infos():
        frames = f"{info.min_frames}..{info.max_frames}" if info.max_frames else f"{info.min_frames}+"
        table.add_row(info.name, info.kind, frames, info.summary)
    Console().print(table)
