#!/usr/bin/env python3
"""Screenshot an HTML report with headless Chromium, to check that it renders.

Usage: ``python scripts/screenshot_report.py REPORT_DIR/report.html out.png [--size 1400,2000]``

Needs Chromium (Debian: ``apt-get install -y chromium``). The flags keep it offline and
stateless: no sandbox (containers run as root), no GPU, no first-run, update, sync or
background network traffic, and a throw-away profile folder.
"""

from __future__ import annotations

import argparse
import shutil
import subprocess
import sys
import tempfile
from pathlib import Path

#: Browser executables tried in order.
CANDIDATES = ("chromium", "chromium-browser", "google-chrome", "chrome")


def find_chromium() -> str | None:
    """Path of a Chromium-like browser on PATH, or ``None``."""
    for name in CANDIDATES:
        found = shutil.which(name)
        if found:
            return found
    return None


def screenshot(html: Path, png: Path, size: tuple[int, int] = (1400, 2000), timeout: float = 120) -> Path:
    """Render ``html`` to ``png`` with headless Chromium; raise on failure."""
    exe = find_chromium()
    if exe is None:
        raise FileNotFoundError("chromium not found (Debian: apt-get install -y chromium)")
    html, png = Path(html).resolve(), Path(png).resolve()
    if not html.is_file():
        raise FileNotFoundError(html)
    png.parent.mkdir(parents=True, exist_ok=True)
    with tempfile.TemporaryDirectory(prefix="mefkit-chromium-") as profile:
        cmd = [
            exe, "--headless", "--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run",
            "--disable-background-networking", "--disable-component-update", "--disable-sync",
            f"--user-data-dir={profile}", f"--screenshot={png}", f"--window-size={size[0]},{size[1]}",
            "--hide-scrollbars", html.as_uri(),
        ]
        proc = subprocess.run(cmd, capture_output=True, text=True, timeout=timeout)
    if proc.returncode != 0 or not png.is_file() or png.stat().st_size == 0:
        raise RuntimeError(f"chromium failed (exit {proc.returncode}): {proc.stderr[-2000:]}")
    return png


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("html", type=Path)
    parser.add_argument("png", type=Path)
    parser.add_argument("--size", default="1400,2000", help="window WIDTH,HEIGHT in pixels")
    args = parser.parse_args(argv)
    w, h = (int(v) for v in args.size.split(","))
    try:
        out = screenshot(args.html, args.png, (w, h))
    except (OSError, RuntimeError, subprocess.TimeoutExpired) as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 1
    print(out)
    return 0


if __name__ == "__main__":
    sys.exit(main())
