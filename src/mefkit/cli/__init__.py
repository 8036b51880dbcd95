"""Command-line interface: ``mefkit COMMAND ...``.

Every module in this package except ``app`` registers its commands on the shared
:data:`mefkit.cli.app.app`, so a new command group is one new file. A learned method's
training command lives in its own package, ``mefkit/methods/<name>/train_cli.py``.
"""

from __future__ import annotations

import importlib
import importlib.util
import pkgutil

from .app import app


def _load_commands() -> None:
    for mod in pkgutil.iter_modules(__path__):
        if mod.name != "app" and not mod.name.startswith("_"):
            importlib.import_module(f"{__name__}.{mod.name}")
    from .. import methods

    for mod in pkgutil.iter_modules(methods.__path__):
        if mod.ispkg and importlib.util.find_spec(f"{methods.__name__}.{mod.name}.train_cli") is not None:
            importlib.import_module(f"{methods.__name__}.{mod.name}.train_cli")


_load_commands()


def main() -> None:
    """Console-script entry point."""
    import sys

    from .fuse import expand_optional_values

    app(args=expand_optional_values(sys.argv[1:]))


__all__ = ["app", "main"]
