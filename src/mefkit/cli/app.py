"""The typer application shared by every command module, and its error handling."""

from __future__ import annotations

import functools
import signal
import warnings
from typing import Any, Callable, TypeVar

import typer
from rich.console import Console
from rich.markup import escape

from ..errors import MefkitError

app = typer.Typer(
    name="mefkit",
    help="Multi-exposure image fusion: fuse brackets, evaluate and train methods.",
    no_args_is_help=True,
    pretty_exceptions_enable=False,
    add_completion=False,
)

console = Console(stderr=True, soft_wrap=True)
_STATE = {"debug": False}

F = TypeVar("F", bound=Callable[..., Any])


@app.callback()
def _root(
    debug: bool = typer.Option(False, "--debug", help="Show full tracebacks on errors."),
) -> None:
    _STATE["debug"] = debug
    # OpenCV's own log lines ("[ WARN:0@...] ... PNG input buffer is incomplete") would
    # add to the one line mefkit prints for each unreadable file; keep them for --debug.
    import cv2

    cv2.utils.logging.setLogLevel(
        cv2.utils.logging.LOG_LEVEL_WARNING if debug else cv2.utils.logging.LOG_LEVEL_SILENT)


def _show_warning(message, category, filename, lineno, file=None, line=None) -> None:  # noqa: ANN001
    console.print(f"[yellow]warning:[/yellow] {escape(str(message))}", highlight=False)


class Terminated(KeyboardInterrupt):
    """Raised in the main thread on SIGTERM, so it unwinds (and cleans up) like Ctrl-C."""


def _on_sigterm(signum: int, frame: Any) -> None:  # noqa: ARG001 - signal handler signature
    raise Terminated()


def reports_errors(fn: F) -> F:
    """Run a command; print a mefkit error as one line and exit with status 2.

    SIGTERM is handled as SIGINT: the command unwinds (temporary files are removed,
    training saves its checkpoint) and exits with 143 (130 for Ctrl-C). With
    ``--debug`` a mefkit error propagates with its traceback instead.
    """

    @functools.wraps(fn)
    def wrapper(*args: Any, **kwargs: Any) -> Any:
        warnings.showwarning = _show_warning
        try:
            previous = signal.signal(signal.SIGTERM, _on_sigterm)
        except ValueError:  # not the main thread: leave signals alone
            previous = None
        try:
            return fn(*args, **kwargs)
        except MefkitError as exc:
            if _STATE["debug"]:
                raise
            console.print(f"[red]error:[/red] {escape(str(exc))}", highlight=False)  # a message may hold [brackets]
            raise typer.Exit(2) from None
        except Terminated:
            console.print("[red]terminated[/red]")
            raise typer.Exit(143) from None
        except KeyboardInterrupt:
            console.print("[red]interrupted[/red]")
            raise typer.Exit(130) from None
        except MemoryError:
            if _STATE["debug"]:
                raise
            console.print("[red]error:[/red] out of memory; try a smaller bracket or a tiled method")
            raise typer.Exit(2) from None
        finally:
            if previous is not None:
                signal.signal(signal.SIGTERM, previous)

    return wrapper  # type: ignore[return-value]


def show_progress(quiet: bool) -> bool:
    """Whether to draw a progress display: stderr is a terminal and ``--quiet`` is off."""
    return console.is_terminal and not quiet


def exit_code_for(failures: int) -> int:
    """Process exit status: 0 when nothing failed, 1 otherwise."""
    return 0 if failures == 0 else 1


__all__ = ["Terminated", "app", "console", "exit_code_for", "reports_errors", "show_progress"]
