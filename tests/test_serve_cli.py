"""``mefkit serve`` as a user starts it: a real uvicorn process on a free port.

Oracle for the fused image: ``mefkit.fuse`` on the same frames (PSNR > 45 dB); for the
bad requests, a 4xx JSON error and a server that answers afterwards.
"""

from __future__ import annotations

import os
import signal
import socket
import subprocess
import sys
import time
from pathlib import Path

import cv2
import numpy as np
import pytest
from typer.testing import CliRunner

pytest.importorskip("fastapi", reason="the web extra is not installed (pip install 'mefkit[web]')")
httpx = pytest.importorskip("httpx", reason="httpx talks to the server")

import mefkit
from mefkit.cli import app as cli_app
from mefkit.example import example_bracket
from mefkit.registry import available_methods

ROOT = Path(__file__).resolve().parents[1]
UNDER, OVER = example_bracket()[0], example_bracket()[-1]


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def _listening_addresses(port: int) -> set[str]:
    """Local addresses (hex, as /proc/net/tcp writes them) of sockets listening on ``port``."""
    found = set()
    for table in ("/proc/net/tcp", "/proc/net/tcp6"):
        try:
            lines = Path(table).read_text().splitlines()[1:]
        except OSError:
            continue
        for line in lines:
            local, state = line.split()[1], line.split()[3]
            addr, hexport = local.split(":")
            if state == "0A" and int(hexport, 16) == port:  # 0A: LISTEN
                found.add(addr)
    return found


@pytest.fixture(scope="module")
def server():
    port = free_port()
    env = {**os.environ, "PYTHONPATH": str(ROOT / "src")}
    proc = subprocess.Popen([sys.executable, "-m", "mefkit", "serve", "--port", str(port)],
                            stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, env=env)
    url = f"http://127.0.0.1:{port}"
    try:
        for _ in range(600):
            if proc.poll() is not None:
                raise AssertionError(f"mefkit serve exited {proc.returncode}: {proc.stderr.read()}")
            try:
                if httpx.get(url + "/api/methods", timeout=5).status_code == 200:
                    break
            except httpx.TransportError:
                time.sleep(0.1)
        else:
            raise AssertionError("mefkit serve did not answer within 60 s")
        yield proc, port, url
    finally:
        proc.send_signal(signal.SIGINT)
        try:
            proc.wait(timeout=20)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait()


def _files(*paths: Path) -> list:
    return [("frames", (p.name, p.read_bytes(), "image/jpeg")) for p in paths]


def test_serve_page_methods_fuse_and_bad_requests(server):
    proc, port, url = server
    assert _listening_addresses(port) <= {"0100007F"} or not Path("/proc/net/tcp").exists()  # 127.0.0.1 only
    r = httpx.get(url + "/")
    assert r.status_code == 200 and r.headers["content-type"].startswith("text/html") and "<html" in r.text
    names = [m["name"] for m in httpx.get(url + "/api/methods").json()["methods"]]
    assert names == sorted(available_methods())
    r = httpx.post(url + "/api/fuse", files=_files(UNDER, OVER), timeout=120)
    assert r.status_code == 200 and r.headers["content-type"] == "image/png"
    got = cv2.imdecode(np.frombuffer(r.content, np.uint8), cv2.IMREAD_UNCHANGED)[:, :, ::-1] / 255.0
    want = mefkit.fuse([UNDER, OVER])
    assert 10 * np.log10(1 / np.mean((got - want) ** 2)) > 45
    # one frame, and a text file named .jpg: 4xx JSON, and the server goes on serving
    r = httpx.post(url + "/api/fuse", files=_files(UNDER))
    assert r.status_code == 400 and r.json() == {"error": "a bracket needs at least two frames, got 1: coffee_1_under.jpg"}
    r = httpx.post(url + "/api/fuse", files=[_files(UNDER)[0], ("frames", ("note.jpg", b"just text\n", "image/jpeg"))])
    assert r.status_code == 400
    assert r.json() == {"error": "note.jpg: cannot decode image (corrupt file or unsupported format)"}
    # another site's page: neither through the visitor's browser nor by DNS rebinding
    assert httpx.post(url + "/api/fuse", files=_files(UNDER, OVER), headers={"Origin": "https://evil.example"}).status_code == 403
    assert httpx.get(url + "/api/methods", headers={"Host": f"rebound.example:{port}"}).status_code == 400
    assert proc.poll() is None
    assert httpx.get(url + "/").status_code == 200
    assert httpx.post(url + "/api/fuse", files=_files(UNDER, OVER), timeout=120).status_code == 200


def test_serve_port_in_use_is_one_line(tmp_path):
    with socket.socket() as busy:
        busy.bind(("127.0.0.1", 0))
        busy.listen(1)
        port = busy.getsockname()[1]
        env = {**os.environ, "PYTHONPATH": str(ROOT / "src")}
        proc = subprocess.run([sys.executable, "-m", "mefkit", "serve", "--port", str(port)],
                              capture_output=True, text=True, env=env, timeout=120)
    assert proc.returncode == 2
    assert proc.stderr.strip().splitlines() == [f"error: cannot listen on 127.0.0.1:{port} (Address already in use)"]


@pytest.mark.parametrize(("args", "words"), [
    (["--port", "70000"], "error: --port must be in 0..65535, got 70000"),
    (["--max-frames", "0"], "error: --max-frames must be > 0, got 0"),
    (["--host", "no-such-host.invalid"], "error: --host no-such-host.invalid: not a usable address"),
])
def test_serve_bad_options(args, words):
    res = CliRunner().invoke(cli_app, ["serve", *args])
    assert res.exit_code == 2
    assert res.stderr.strip().startswith(words)


@pytest.mark.parametrize("open_flag", [False, True])
def test_open_opens_the_browser_only_when_asked(monkeypatch, open_flag):
    import webbrowser

    import uvicorn

    opened = []
    monkeypatch.setattr(webbrowser, "open", lambda url: opened.append(url))

    def fake_run(self, sockets=None):
        self.started = True
        time.sleep(0.5)

    monkeypatch.setattr(uvicorn.Server, "run", fake_run)
    res = CliRunner().invoke(cli_app, ["serve", "--port", "0", *(["--open"] if open_flag else [])])
    assert res.exit_code == 0, res.stderr
    assert "mefkit serve: http://127.0.0.1:" in res.stderr
    if open_flag:
        assert len(opened) == 1 and opened[0].startswith("http://127.0.0.1:") and not opened[0].endswith(":0/")
    else:
        assert opened == []


def test_all_interfaces_warns(monkeypatch):
    import uvicorn

    def fake_run(self, sockets=None):
        assert sockets[0].getsockname()[0] == "0.0.0.0"
        self.started = True
        time.sleep(0.5)

    monkeypatch.setattr(uvicorn.Server, "run", fake_run)
    res = CliRunner().invoke(cli_app, ["serve", "--host", "0.0.0.0", "--port", "0"])
    assert res.exit_code == 0
    assert "warning: listening on every network interface" in res.stderr


def test_missing_web_extra_is_one_line(monkeypatch):
    import importlib.util

    real = importlib.util.find_spec
    monkeypatch.setattr(importlib.util, "find_spec", lambda name, *a: None if name == "fastapi" else real(name, *a))
    res = CliRunner().invoke(cli_app, ["serve"])
    assert res.exit_code == 2
    assert res.stderr.strip() == "error: mefkit serve needs the web extra: pip install 'mefkit[web]' (missing: fastapi)"
