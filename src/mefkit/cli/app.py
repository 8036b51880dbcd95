"""The typer application shared by every command module, and its error handling."""

from __future__ import annotations

import functools
import warnings
from typing import Any, Callable, TypeVar

import typer
from rich.console import Console

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


def _show_warning(message, category, filename, lineno, file=None, line=None) -> None:  # noqa: ANN001
    console.print(f"[yellow]warning:[/yellow] {message}", highlight=False)


def reports_errors(fn: F) -> F:
    """Run a command; print a mefkit error as one line and exit with status 2.

    With ``--debug`` the exception propagates with its traceback instead.
    """

    @functools.wraps(fn)
    def wrapper(*args: Any, **kwargs: Any) -> Any:
        warnings.showwarning = _show_warning
        try:
            return fn(*args, **kwargs)
        except MefkitError as exc:
            if _STATE["debug"]:
                raise
            console.print(f"[red]error:[/red] {exc}", highlight=False)
            raise typer.Exit(2) from None
        except KeyboardInterrupt:
            console.print("[red]interrupted[/red]")
            raise typer.Exit(130) from None
        except MemoryError:
            if _STATE["debug"]:
                raise
            console.print("[red]error:[/red] out of memory; try a smaller bracket or a tiled method")
            raise typer.Exit(2) from None

    return wrapper  # type: ignore[return-value]


def exit_code_for(failures: int) -> int:
    """Process exit status: 0 when nothing failed, 1 otherwise."""
    return 0 if failures == 0 else 1


__all__ = ["app", "console", "exit_code_for", "reports_errors"]
