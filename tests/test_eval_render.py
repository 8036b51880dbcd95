"""report.html renders in headless Chromium: table, charts and thumbnails are drawn.

Oracle: colours that only the rendered page can contain. The best cell of the summary
table has the background #eef5e9, the bars are #3b6ea8 (mefkit) and #c0803a (external),
and one external result is a pure magenta image, so its thumbnail must show up as a
block of (255, 0, 255) pixels. Skipped where Chromium is not installed.
"""

from __future__ import annotations

import importlib.util
from pathlib import Path

import cv2
import numpy as np
import pytest

from mefkit.datasets import load_dataset
from mefkit.evaluation import evaluate, write_report_files
from tests.test_eval import FAKE, METRICS, _save, make_dataset

ROOT = Path(__file__).resolve().parents[1]


def _screenshot_module():
    spec = importlib.util.spec_from_file_location("screenshot_report", ROOT / "scripts" / "screenshot_report.py")
    mod = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(mod)
    return mod


def _count(img: np.ndarray, rgb, tol: int = 6) -> int:
    return int(np.all(np.abs(img.astype(int) - np.array(rgb)) <= tol, axis=2).sum())


@pytest.mark.slow
def test_report_renders_in_headless_chromium(tmp_path):
    shot = _screenshot_module()
    if shot.find_chromium() is None:
        pytest.skip("chromium not installed (Debian: apt-get install -y chromium)")
    data = make_dataset(tmp_path / "data")
    magenta = np.zeros((48, 64, 3), np.float32)
    magenta[..., 0] = magenta[..., 2] = 1.0
    _save(tmp_path / "out" / "s1" / "magenta.png", magenta)
    ds = load_dataset(data)
    res = evaluate(ds, tmp_path / "rep", ["mertens"], metrics=METRICS, outputs=[("x", tmp_path / "out")],
                   metric_fns=FAKE)
    files = write_report_files(tmp_path / "rep", ds.scenes, res.cells, METRICS, title="render test")
    png = shot.screenshot(files["html"], tmp_path / "shot.png", size=(1400, 2000))
    img = cv2.imread(str(png))[:, :, ::-1]
    assert img.shape[:2] == (2000, 1400)
    assert _count(img, (0xEE, 0xF5, 0xE9), 2) > 200  # the bold "best" table cells
    assert _count(img, (0x3B, 0x6E, 0xA8)) > 500  # mefkit bars in the charts
    assert _count(img, (0xC0, 0x80, 0x3A)) > 500  # external bars
    assert _count(img, (255, 0, 255), 40) > 60 * 40  # the magenta thumbnail, ~160x120 px
