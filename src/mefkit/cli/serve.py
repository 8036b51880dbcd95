"""``mefkit serve``: the local web app (needs the ``web`` extra)."""

from __future__ import annotations

import socket
import threading
import webbrowser

import typer

from ..errors import MefkitError
from .app import app, console, reports_errors

_HOST_HELP = ("Address to listen on. 127.0.0.1 (default): this computer only. 0.0.0.0: every network "
              "interface, so anyone who can reach this machine can upload images and run fusions.")


def _check_port(port: int) -> None:
    if not 0 <= port <= 65535:
        raise MefkitError(f"--port must be in 0..65535, got {port}")


def listen_socket(host: str, port: int) -> socket.socket:
    """A TCP socket bound to ``host:port`` (port 0: a free one), for uvicorn to serve on.

    Binding here, before the server starts, turns "address in use" into one line in
    mefkit's words (exit 2) and tells the real port when 0 was asked for.

    Raises
    ------
    MefkitError
        The host is not an address of this machine, or the port cannot be bound.
    """
    try:
        infos = socket.getaddrinfo(host, port, type=socket.SOCK_STREAM, flags=socket.AI_PASSIVE)
    except socket.gaierror as exc:
        raise MefkitError(f"--host {host}: not a usable address ({exc.strerror})") from None
    family, kind, proto, _, address = infos[0]
    sock = socket.socket(family, kind, proto)
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    try:
        sock.bind(address)
    except OSError as exc:
        sock.close()
        raise MefkitError(f"cannot listen on {host}:{port} ({exc.strerror or exc})") from None
    return sock


@app.command("serve")
@reports_errors
def serve_cmd(
    host: str = typer.Option("127.0.0.1", "--host", help=_HOST_HELP),
    port: int = typer.Option(8000, "--port", help="TCP port (0: any free port)."),
    open_browser: bool = typer.Option(False, "--open", help="Open the page in the default browser once the server is up."),
    max_upload_mb: float = typer.Option(300.0, "--max-upload-mb", help="Largest request (all frames together), in MiB."),
    max_megapixels: float = typer.Option(120.0, "--max-megapixels", help="Largest bracket, in megapixels summed over its frames."),
    max_frames: int = typer.Option(16, "--max-frames", help="Most frames in one bracket."),
    queue: int = typer.Option(8, "--queue", help="Fusions that may wait behind the running one (one runs at a time)."),
) -> None:
    """Serve the web app: fuse brackets, compare the results, download them."""
    from ..serve import require_web

    require_web()
    _check_port(port)
    for name, value in (("--max-upload-mb", max_upload_mb), ("--max-megapixels", max_megapixels),
                        ("--max-frames", max_frames), ("--queue", queue)):
        if not value > 0:
            raise MefkitError(f"{name} must be > 0, got {value}")
    import uvicorn

    from ..serve.app import create_app
    from ..serve.uploads import Limits

    limits = Limits(max_upload_bytes=int(max_upload_mb * 2**20), max_pixels=int(max_megapixels * 1e6),
                    max_frames=max_frames)
    # On a loopback address only loopback names are served (no DNS rebinding); on another
    # address the user chose to be reachable by any name.
    loopback = host in ("127.0.0.1", "localhost", "::1") or host.startswith("127.")
    web = create_app(limits, max_waiting=queue,
                     allowed_hosts=(host if ":" not in host else f"[{host}]", "127.0.0.1", "localhost", "[::1]")
                     if loopback else None)
    sock = listen_socket(host, port)
    bound = sock.getsockname()[1]
    config = uvicorn.Config(web, log_level="warning", access_log=False)
    server = uvicorn.Server(config)

    def announce() -> None:
        while not server.started and not server.should_exit:
            threading.Event().wait(0.05)
        if not server.started:
            return
        shown = "127.0.0.1" if host in ("0.0.0.0", "::", "") else (f"[{host}]" if ":" in host else host)
        url = f"http://{shown}:{bound}/"
        console.print(f"mefkit serve: {url} (Ctrl-C to stop)", highlight=False)
        if host in ("0.0.0.0", "::", ""):
            console.print("[yellow]warning:[/yellow] listening on every network interface: anyone who can reach "
                          "this machine can use it", highlight=False)
        if open_browser:
            webbrowser.open(url)

    threading.Thread(target=announce, daemon=True).start()
    try:
        server.run(sockets=[sock])
    finally:
        sock.close()
