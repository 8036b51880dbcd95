"""Command-line interface: ``mefkit COMMAND ...``.

Every module in this package except ``app`` registers its commands on the shared
:data:`mefkit.cli.app.app`, so a new command group is one new file.
"""

from __future__ import annotations

import importlib
import pkgutil

from .app import app


def _load_commands() -> None:
    for mod in pkgutil.iter_modules(__path__):
        if mod.name != "app" and not mod.name.startswith("_"):
            importlib.import_module(f"{__name__}.{mod.name}")


_load_commands()


def main() -> None:
    """Console-script entry point."""
    app()


__all__ = ["app", "main"]
