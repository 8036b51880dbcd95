"""``mefkit fuse`` and ``mefkit methods`` (``mefkit fuse-dir`` is in :mod:`.fuse_dir`)."""

from __future__ import annotations

import functools
import inspect
import time
import warnings
from contextlib import ExitStack
from pathlib import Path
from typing import Any, Callable, List, Optional

import typer
from rich.console import Console
from rich.progress import BarColumn, MofNCompleteColumn, Progress, SpinnerColumn, TextColumn, TimeElapsedColumn
from rich.table import Table

from ..api import check_method_params
from ..api import fuse as fuse_bracket
from ..errors import OutputError
from ..io import FORMAT_BITS, check_output, is_mefkit_output, list_images, read_bracket, write_image
from ..io.metadata import bracket_metadata
from ..io.raw import HIGHLIGHT_MODES, WHITE_BALANCES, RawOptions, is_raw
from ..io.order import order_warning
from ..params import describe_params, parse_params, type_name
from ..progress import report_tiles
from ..nn.stack_fusion import frames_note
from ..prepare import ALIGN_METHODS, BORDERS, DEGHOST_METHODS, check_stages, prepare_frames
from ..registry import get_method, method_infos
from .app import app, console, reports_errors, show_progress

_PARAM_HELP = "Method parameter KEY=VALUE (repeatable), e.g. -p levels=9; see `mefkit methods NAME`."
_QUIET_HELP = "No progress display and no summary line (errors and warnings still print)."
_ALIGN_HELP = (f"Align hand-held frames first: --align [{'|'.join(ALIGN_METHODS)}] (bare: {ALIGN_METHODS[0]}; "
               "SIFT + RANSAC homography, falling back to affine and MTB translation, ECC refinement).")
_DEGHOST_HELP = f"Replace moving content by the reference's: --deghost [{'|'.join(DEGHOST_METHODS)}] (bare: {DEGHOST_METHODS[0]})."
_REFERENCE_HELP = ("Reference frame for --align/--deghost, index darkest first (default: the middle exposure; "
                   "of an even count the middle frame with more well-exposed pixels).")
_BORDER_HELP = "With --align: fill (keep the size; uncovered borders take the exposure-mapped reference) or crop."
_VERBOSE_HELP = "Print the per-frame transforms and deghosting masks."
_RAW_WB_HELP = (f"White balance of RAW/DNG frames: {'|'.join(WHITE_BALANCES)} (camera: as shot; auto: grey world; "
                "daylight: the camera's daylight multipliers).")
_RAW_HIGHLIGHT_HELP = (f"Clipped highlights of RAW/DNG frames: {'|'.join(HIGHLIGHT_MODES)} "
                       "(LibRaw highlight mode 0, 2 or 5).")

#: Options whose value may be left out (``--align`` alone means ``--align features``).
OPTIONAL_VALUES = {"--align": ALIGN_METHODS, "--deghost": DEGHOST_METHODS}


def expand_optional_values(argv: list[str]) -> list[str]:
    """Insert the default name after a bare ``--align`` / ``--deghost``.

    The command-line parser has no options with an optional value; since the names
    form a closed set, a bare option is recognised by the next word not being a name.
    """
    out: list[str] = []
    for i, arg in enumerate(argv):
        out.append(arg)
        if arg in OPTIONAL_VALUES:
            nxt = argv[i + 1] if i + 1 < len(argv) else None
            if nxt not in OPTIONAL_VALUES[arg]:
                out.append(OPTIONAL_VALUES[arg][0])
    return out


def _print_preparation(prep) -> None:
    for line in prep.describe():
        console.print(line, highlight=False)


def _choose_bits(bits: Optional[int], out: Path, input_bits: int) -> int:
    if bits is not None:
        return bits
    can = FORMAT_BITS.get(out.suffix.lower(), (8,))
    return 16 if input_bits == 16 and 16 in can else 8


def _check_bits(bits: Optional[int]) -> None:
    if bits is not None and bits not in (8, 16):
        raise OutputError(f"--bits must be 8 or 16, got {bits}")


def _frames_text(method: str, n: int, frames: list | None = None, params: dict | None = None) -> str:
    info = get_method(method)
    if frames is not None:
        # Methods with a frame cap (the learned ones) say which frames their rule used.
        note = frames_note(info.fn, frames, params or {})
        if note is not None:
            return f"a bracket of {n} frames, {note}"
    used = info.frames_used
    if used is not None and used < n:
        return f"the darkest and brightest of {n} frames" if used == 2 else f"{used} of {n} frames"
    return f"{n} frames"


def _default_of(fn, name: str):
    """The default value of parameter ``name`` of ``fn``."""
    import inspect

    return inspect.signature(fn).parameters[name].default


def _input_files(frames: List[Path]) -> list[Path]:
    """The files an output must not replace: each given file, and each given folder's
    frames (not the results mefkit saved there, which the bracket leaves out)."""
    out: list[Path] = []
    for p in frames:
        if p.is_dir():
            out.extend(f for f in list_images(p) if not is_mefkit_output(f))
        else:
            out.append(p)
    return out


#: The alignment, deghosting and reporting options that ``fuse`` and ``fuse-dir`` share,
#: added to both commands by :func:`with_stage_options`.
_PREPARE_OPTIONS = {
    "align": typer.Option(None, "--align", metavar="[NAME]", help=_ALIGN_HELP),
    "deghost": typer.Option(None, "--deghost", metavar="[NAME]", help=_DEGHOST_HELP),
    "reference": typer.Option(None, "--reference", help=_REFERENCE_HELP),
    "border": typer.Option("fill", "--border", help=_BORDER_HELP),
    "verbose": typer.Option(False, "--verbose", "-v", help=_VERBOSE_HELP),
    "quiet": typer.Option(False, "--quiet", "-q", help=_QUIET_HELP),
    "raw_wb": typer.Option("camera", "--raw-wb", help=_RAW_WB_HELP),
    "raw_highlight": typer.Option("clip", "--raw-highlight", help=_RAW_HIGHLIGHT_HELP),
}
#: Their types (this module's own annotations are strings; typer needs the types).
_PREPARE_TYPES = {"align": Optional[str], "deghost": Optional[str], "reference": Optional[int], "border": str,
                  "verbose": bool, "quiet": bool, "raw_wb": str, "raw_highlight": str}
_STAGE_KEYS = ("align", "deghost", "reference", "border", "verbose", "quiet")


def _raw_settings(stage_options: dict[str, Any]) -> RawOptions:
    """The RAW development options of ``--raw-wb`` / ``--raw-highlight`` (checked)."""
    return RawOptions(white_balance=stage_options["raw_wb"], highlight=stage_options["raw_highlight"])


def _has_raw(files: List[Path]) -> bool:
    """True when a file is RAW / DNG (by extension): the bracket is then read as RAW
    (a folder of RAW + JPEG pairs uses its RAW files; a mix given file by file is refused)."""
    return any(is_raw(f) for f in files)


def with_stage_options(fn: Callable[..., Any]) -> Callable[..., Any]:
    """``fn`` with the shared :data:`_PREPARE_OPTIONS` added to its signature, for typer.

    ``fn`` declares ``**stage_options`` and receives them there by name; typer builds a
    command's options from its signature, so the declarations live once, here.
    """
    sig = inspect.signature(fn)
    own = [p for p in sig.parameters.values() if p.kind is not inspect.Parameter.VAR_KEYWORD]
    extra = [inspect.Parameter(name, inspect.Parameter.KEYWORD_ONLY, default=option, annotation=_PREPARE_TYPES[name])
             for name, option in _PREPARE_OPTIONS.items()]

    @functools.wraps(fn)
    def command(**kwargs: Any) -> Any:
        return fn(**kwargs)

    command.__signature__ = sig.replace(parameters=own + extra)  # type: ignore[attr-defined]
    command.__annotations__ = {**fn.__annotations__, **_PREPARE_TYPES}
    return command


@app.command("fuse")
@reports_errors
@with_stage_options
def fuse_cmd(
    frames: List[Path] = typer.Argument(..., help="Two or more frames of one scene, or a folder of them."),
    output: Path = typer.Option(..., "-o", "--output", help="Output file (.jpg, .png, .tif; RAW frames and no extension: .tif)."),
    method: str = typer.Option("mertens", "-m", "--method", help="Fusion method (see `mefkit methods`)."),
    param: Optional[List[str]] = typer.Option(None, "-p", "--param", help=_PARAM_HELP),
    bits: Optional[int] = typer.Option(None, "--bits", help="8 or 16 (default: 16 if an input is 16-bit and the format allows)."),
    quality: int = typer.Option(95, "--quality", help="JPEG quality 1..100."),
    force: bool = typer.Option(False, "--force", "-f", help="Replace an existing output file."),
    keep_order: bool = typer.Option(False, "--keep-order", help="Use the frames in the order given (default: darkest first); warns, naming the darkest-first order, when yours differs."),
    **stage_options: Any,
) -> None:
    """Fuse one bracket into OUTPUT."""
    # Everything that can be checked without the pixels is checked first, so a mistake
    # costs no fusion time: method, parameters, output format, bits, folder, overwrite.
    params = parse_params(method, param)
    check_method_params(method, params)
    align, deghost, reference, border, verbose, quiet = (stage_options[k] for k in _STAGE_KEYS)
    raw = _raw_settings(stage_options)
    check_stages(align, deghost, reference, border)
    _check_bits(bits)
    inputs = _input_files(frames)
    if not output.suffix and _has_raw(inputs):
        output = output.with_name(output.name + ".tif")  # RAW in: 16-bit TIFF out unless told otherwise
    check_output(output, bits=bits, quality=quality, force=force, inputs=inputs)
    columns = (SpinnerColumn(), TextColumn("{task.description}"), BarColumn(), MofNCompleteColumn(), TimeElapsedColumn())
    with ExitStack() as stack:
        progress = None
        if show_progress(quiet):
            progress = stack.enter_context(Progress(*columns, console=console, transient=True))
        stage = progress.add_task("reading", total=None) if progress else None

        def say(description: str, completed: int | None = None, total: int | None = None) -> None:
            if progress is not None:
                progress.update(stage, description=description, completed=completed or 0, total=total)

        bracket = read_bracket(frames, order="given" if keep_order else "auto", raw=raw)
        if keep_order:
            message = order_warning(bracket)  # methods are written for frames darkest first
            if message:
                warnings.warn(f"{message} (drop --keep-order to use it)", stacklevel=1)
        out_bits = _choose_bits(bits, output, bracket.bit_depth)
        if align or deghost:
            say("aligning" if align else "deghosting")
            prep = prepare_frames(bracket.frames, align=align or False, deghost=deghost or False,
                                  reference=reference, border=border)
            bracket.frames = prep.frames
            if verbose:
                _print_preparation(prep)
        say(f"fusing with {method}")
        stack.enter_context(report_tiles(lambda done, total: say(f"fusing with {method}: tile {done}/{total}", done, total)))
        start = time.perf_counter()
        fused = fuse_bracket(bracket, method=method, **params)
        seconds = time.perf_counter() - start
        say(f"writing {output.name}")
        metadata = bracket_metadata(bracket, method, reference)
        write_image(output, fused, bits=out_bits, quality=quality, force=force, inputs=bracket.paths, method=method,
                    metadata=metadata)
    if not quiet:
        h, w = bracket.shape
        console.print(
            f"fused {_frames_text(method, len(bracket.frames), bracket.frames, params)} ({w}x{h}, ordered by {bracket.order_by}) "
            f"with {method} in {seconds:.2f} s -> {output} ({out_bits}-bit)",
            highlight=False,
        )


def _default_text(value: object) -> str:
    if value is inspect.Parameter.empty:
        return "(required)"
    return repr(value) if isinstance(value, str) else str(value)


@app.command("methods")
@reports_errors
def methods_cmd(
    name: Optional[str] = typer.Argument(None, help="A method: show its parameters (type, default, description)."),
) -> None:
    """List the registered fusion methods, or one method's parameters."""
    out = Console(soft_wrap=False)
    if name is None:
        table = Table(title="mefkit fusion methods")
        table.add_column("name", style="bold")
        table.add_column("kind")
        table.add_column("frames")
        table.add_column("description")
        for info in method_infos():
            frames = f"{info.min_frames}..{info.max_frames}" if info.max_frames else f"{info.min_frames}+"
            if info.frames_used:
                frames += f" (uses {'darkest + brightest' if info.frames_used == 2 else info.frames_used})"
            elif "max_frames" in info.params:
                frames += f" (uses up to {_default_of(info.fn, 'max_frames')})"
            table.add_row(info.name, info.kind, frames, info.summary)
        out.print(table)
        out.print("Parameters of one method: mefkit methods NAME (set them with -p KEY=VALUE).", highlight=False)
        return
    info = get_method(name)
    table = Table(title=f"{info.name}: {info.summary}", title_justify="left")
    for col in ("parameter", "type", "default", "description"):
        table.add_column(col, style="bold" if col == "parameter" else None)
    for doc in describe_params(name):
        kind = type_name(doc.annotation)
        if doc.choices:
            kind = "{" + ", ".join(repr(c) for c in doc.choices) + "}"
        table.add_row(doc.name, kind, _default_text(doc.default), doc.summary)
    out.print(table)
    if info.citation:
        out.print(f"Paper: {info.citation}", highlight=False)
    out.print(f"Example: mefkit fuse FRAMES... -o out.jpg -m {info.name} -p KEY=VALUE", highlight=False)
