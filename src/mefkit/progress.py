"""Progress of long computations, reported to whoever listens (the CLI's progress display).

Library code calls :func:`tile_done` after each tile of a tiled network pass; the
``mefkit fuse`` command listens with :func:`report_tiles`. Without a listener the call
costs one context-variable lookup. A context variable, rather than a callback passed
down through every method's parameters, keeps the methods' signatures about fusion.
"""

from __future__ import annotations

from contextlib import contextmanager
from contextvars import ContextVar
from typing import Callable, Iterator

TileCallback = Callable[[int, int], None]

_LISTENER: ContextVar[TileCallback | None] = ContextVar("mefkit_tile_listener", default=None)


@contextmanager
def report_tiles(callback: TileCallback) -> Iterator[None]:
    """Call ``callback(done, total)`` after each tile of every tiled pass inside the block."""
    token = _LISTENER.set(callback)
    try:
        yield
    finally:
        _LISTENER.reset(token)


def tile_done(done: int, total: int) -> None:
    """Report that ``done`` of ``total`` tiles of the current pass are finished."""
    listener = _LISTENER.get()
    if listener is not None:
        listener(done, total)


__all__ = ["TileCallback", "report_tiles", "tile_done"]
