"""``mefkit serve``: a local web app to fuse brackets, compare results and download them.

The app (:func:`create_app`) is a FastAPI application: a page shipped as package data
(``static/``: HTML, CSS and JavaScript, no build step, nothing fetched from the network)
and a JSON API (``/api/methods``, ``/api/inspect``, ``/api/fuse``, ``/api/jobs``).

* :mod:`.uploads`: uploaded frames into a private temporary folder, size and pixel caps;
* :mod:`.catalog`: the registry's methods and typed parameters as JSON;
* :mod:`.jobs`: one fusion at a time, a bounded queue, progress and cancellation;
* :mod:`.app`: the routes and the error responses (4xx, ``{"error": "..."}``).

FastAPI, uvicorn and python-multipart come with the ``web`` extra
(``pip install 'mefkit[web]'``); importing this package without them raises
:class:`mefkit.errors.MefkitError` naming the extra.
"""

from __future__ import annotations

from ..errors import MefkitError

WEB_EXTRA_HINT = "mefkit serve needs the web extra: pip install 'mefkit[web]'"


def require_web() -> None:
    """Raise :class:`MefkitError` naming the ``web`` extra if FastAPI or uvicorn is missing."""
    import importlib.util

    missing = [m for m in ("fastapi", "uvicorn", "multipart") if importlib.util.find_spec(m) is None]
    if missing:
        raise MefkitError(f"{WEB_EXTRA_HINT} (missing: {', '.join(missing)})")


def create_app(*args, **kwargs):  # noqa: ANN002, ANN003 - forwards to .app.create_app
    """Build the FastAPI application; see :func:`mefkit.serve.app.create_app`."""
    require_web()
    from .app import create_app as _create

    return _create(*args, **kwargs)


__all__ = ["WEB_EXTRA_HINT", "create_app", "require_web"]
