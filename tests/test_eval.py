"""``mefkit eval`` and :mod:`mefkit.evaluation`: end to end, resume, atomic writes, --outputs.

Plumbing checks, not oracles: hand-computable metrics are injected where the mechanics
are under test (PSNR of a known image, the mean of an image), with counts of fusion calls
for resume and file contents before/after a simulated crash; the end-to-end run compares
:mod:`mefkit.metrics` with itself. The metrics are checked against reference
implementations in ``test_metrics_reference.py`` and ``test_metrics_mef_ssim.py``.
"""

from __future__ import annotations

import csv
import json
import os
from pathlib import Path

import cv2
import numpy as np
import pytest
from typer.testing import CliRunner

import mefkit.atomic as atomic
import mefkit.evaluation.runner as runner
from mefkit.cli import app
from mefkit.datasets import load_dataset
from mefkit.evaluation import evaluate, write_report_files
from tests.conftest import make_bracket

# Hand-checkable stand-ins for mefkit.metrics: exact PSNR, and the mean of the fused image.
FAKE_REF = {"psnr": lambda f, g: float(10 * np.log10(1.0 / max(np.mean((f - g) ** 2), 1e-12)))}
FAKE_NOREF = {"mef_ssim": lambda frames, f: float(np.mean(f))}
FAKE = (FAKE_REF, FAKE_NOREF)
METRICS = ["psnr", "mef_ssim"]


def _save(path: Path, img: np.ndarray) -> Path:
    path.parent.mkdir(parents=True, exist_ok=True)
    cv2.imwrite(str(path), (np.clip(img, 0, 1) * 255 + 0.5).astype(np.uint8)[:, :, ::-1])
    return path


def _load(path: Path) -> np.ndarray:
    return cv2.imread(str(path))[:, :, ::-1].astype(np.float32) / 255


def make_dataset(root: Path, h: int = 48, w: int = 64) -> Path:
    """Two under/over scenes; ``s1`` has a ground truth (its middle exposure)."""
    for i, name in enumerate(("s1", "s2")):
        frames = make_bracket(h, w, n=3, seed=i)
        _save(root / name / "under.png", frames[0])
        _save(root / name / "over.png", frames[2])
        if name == "s1":
            _save(root / name / "gt.png", frames[1])
    return root


@pytest.fixture
def data(tmp_path) -> Path:
    return make_dataset(tmp_path / "data")


@pytest.fixture
def count_fuse(monkeypatch):
    """Count the fusion calls the runner makes (the real mefkit.fuse still runs)."""
    calls: list[str] = []
    real = runner.fuse

    def counting(frames, method="mertens", **kw):
        calls.append(method)
        return real(frames, method, **kw)

    monkeypatch.setattr(runner, "fuse", counting)
    return calls


def test_evaluate_fills_cells_with_hand_checkable_metrics(data, tmp_path, count_fuse):
    ds = load_dataset(data)
    res = evaluate(ds, tmp_path / "rep", ["mertens"], metrics=METRICS, metric_fns=FAKE)
    assert (res.computed, res.reused, res.failed) == (2, 0, 0) and count_fuse == ["mertens"] * 2
    s1, s2 = res.cells
    assert s2["metrics"]["psnr"] is None  # no ground truth -> no reference metric
    # Plumbing check (the code against itself): recompute both metrics from the image
    # fused again here.
    import mefkit

    fused = mefkit.fuse([_load(data / "s1" / "under.png"), _load(data / "s1" / "over.png")], order="given")
    gt = _load(data / "s1" / "gt.png")
    assert s1["metrics"]["psnr"] == pytest.approx(FAKE_REF["psnr"](fused, gt), abs=1e-9)
    assert s1["metrics"]["mef_ssim"] == pytest.approx(float(fused.mean()), abs=1e-7)
    assert s1["seconds"] > 0 and s1["s_per_mp"] == pytest.approx(s1["seconds"] / (48 * 64 / 1e6))
    assert (tmp_path / "rep" / s1["thumb"]).is_file()


def test_resume_reuses_finished_cells_and_redoes_changed_ones(data, tmp_path, count_fuse):
    rep = tmp_path / "rep"
    evaluate(load_dataset(data), rep, ["mertens"], metrics=METRICS, metric_fns=FAKE)
    assert len(count_fuse) == 2
    again = evaluate(load_dataset(data), rep, ["mertens"], metrics=METRICS, metric_fns=FAKE)
    assert len(count_fuse) == 2 and (again.reused, again.computed) == (2, 0)
    # New parameters -> a different cell fingerprint -> fused again.
    evaluate(load_dataset(data), rep, ["mertens"], params={"mertens": {"levels": 3}}, metrics=METRICS,
             metric_fns=FAKE)
    assert len(count_fuse) == 4
    # A replaced input file (new size/mtime) invalidates only that scene's cell.
    img = _load(data / "s2" / "over.png")
    _save(data / "s2" / "over.png", img * 0.9)
    os.utime(data / "s2" / "over.png", ns=(1, 1))
    res = evaluate(load_dataset(data), rep, ["mertens"], params={"mertens": {"levels": 3}}, metrics=METRICS,
                   metric_fns=FAKE)
    assert len(count_fuse) == 5 and (res.reused, res.computed) == (1, 1)
    # A metric not stored yet -> recomputed; --fresh recomputes everything.
    evaluate(load_dataset(data), rep, ["mertens"], metrics=["mef_ssim", "ssim"],
             metric_fns=({"ssim": lambda f, g: 1.0}, FAKE_NOREF))
    assert len(count_fuse) == 7
    evaluate(load_dataset(data), rep, ["mertens"], metrics=["mef_ssim"], metric_fns=FAKE, fresh=True)
    assert len(count_fuse) == 9


def test_changed_code_invalidates_cells(data, tmp_path, count_fuse, monkeypatch):
    # Edited method or metric code (a new source hash) must not reuse old numbers.
    rep = tmp_path / "rep"
    evaluate(load_dataset(data), rep, ["mertens"], metrics=METRICS, metric_fns=FAKE)
    monkeypatch.setattr(runner, "code_hash", lambda fn, include_weights=False: "edited")
    res = evaluate(load_dataset(data), rep, ["mertens"], metrics=METRICS, metric_fns=FAKE)
    assert (res.reused, res.computed) == (0, 2) and len(count_fuse) == 4


def test_source_digest_ignores_documentation_only(tmp_path):
    # Hand-built cases: two files that differ only in docstrings/comments compute the same thing.
    from mefkit.evaluation.provenance import source_digest

    a, b, c = tmp_path / "a.py", tmp_path / "b.py", tmp_path / "c.py"
    a.write_text('"""Doc."""\ndef f(x):\n    """Old doc."""\n    return x + 1\n')
    b.write_text('"""New doc."""\n\n# a comment\ndef f(x):\n    """New."""\n    return x + 1  # why\n')
    c.write_text('"""Doc."""\ndef f(x):\n    """Old doc."""\n    return x + 2\n')
    assert source_digest(a) == source_digest(b) != source_digest(c)


def test_code_closure_follows_mefkit_imports():
    # Hand-read imports: mertens.py does "from .. import pyramid" and "from ..registry
    # import"; the metrics modules import only their siblings and the shared checks, never a
    # fusion method.
    from mefkit.evaluation.provenance import module_closure

    def rel(mod):
        return {p.relative_to(p.parents[1]).as_posix() if p.parent.name != "mefkit" else p.name
                for p in module_closure(mod)}

    assert {"methods/mertens.py", "pyramid.py", "registry.py"} <= rel("mefkit.methods.mertens")
    assert "methods/gff.py" not in rel("mefkit.methods.mertens")
    metric_files = rel("mefkit.metrics.mef_ssim")
    assert "metrics/mef_ssim.py" in metric_files
    assert all(f.startswith("metrics/") or f == "checks.py" for f in metric_files), metric_files


def test_interrupted_run_keeps_finished_cells_and_resumes(data, tmp_path, count_fuse):
    rep = tmp_path / "rep"

    def stop_after_first(job, cell, reused):
        raise KeyboardInterrupt

    with pytest.raises(KeyboardInterrupt):
        evaluate(load_dataset(data), rep, ["mertens"], metrics=METRICS, metric_fns=FAKE, on_cell=stop_after_first)
    cells = list((rep / "cells").rglob("*.json"))
    assert len(cells) == 1 and json.loads(cells[0].read_text())["status"] == "ok"
    res = evaluate(load_dataset(data), rep, ["mertens"], metrics=METRICS, metric_fns=FAKE)
    assert (res.reused, res.computed) == (1, 1) and len(count_fuse) == 2
    assert not list(rep.rglob("*.tmp*"))


def test_interrupted_write_leaves_no_partial_file(tmp_path, monkeypatch):
    target = tmp_path / "results.csv"
    atomic.write_text_atomic(target, "old,complete\n")

    def crash(src, dst):
        raise KeyboardInterrupt  # the process dies between writing the data and renaming

    monkeypatch.setattr(atomic.os, "replace", crash)
    with pytest.raises(KeyboardInterrupt):
        atomic.write_text_atomic(target, "new," * 100000)
    assert target.read_text() == "old,complete\n"  # the old file, whole
    with pytest.raises(KeyboardInterrupt):
        atomic.write_text_atomic(tmp_path / "fresh.md", "x")
    assert not (tmp_path / "fresh.md").exists()
    assert sorted(p.name for p in tmp_path.iterdir()) == ["results.csv"]  # no temporary left


def test_outputs_folder_scored_and_2x_results_resized(data, tmp_path):
    # Results made elsewhere: DIR/<scene>/<method>.png; s1's is twice the input size
    # (the MEFB Preschool quirk) and a copy of its gt, so after resizing PSNR is exact.
    out = tmp_path / "other"
    gt = _load(data / "s1" / "gt.png")
    _save(out / "s1" / "X.png", np.repeat(np.repeat(gt, 2, axis=0), 2, axis=1))
    under2 = _load(data / "s2" / "under.png")
    _save(out / "s2" / "X.png", under2)
    _save(out / "s2" / "bad.png", under2[:, :40])  # another aspect ratio: reported, not resized
    ds = load_dataset(data)
    res = evaluate(ds, tmp_path / "rep", [], metrics=METRICS, outputs=[("tool", out)], metric_fns=FAKE)
    by = {(c["scene"], c["method"]): c for c in res.cells}
    assert set(by) == {("s1", "tool:X"), ("s2", "tool:X"), ("s2", "tool:bad")}
    assert by["s1", "tool:X"]["resized_from"] == [128, 96]
    assert by["s1", "tool:X"]["metrics"]["psnr"] == pytest.approx(120.0)  # identical after INTER_AREA 2x
    assert by["s2", "tool:X"]["metrics"]["mef_ssim"] == pytest.approx(float(under2.mean()), abs=1e-6)
    assert by["s2", "tool:bad"]["status"] == "failed" and "aspect" in by["s2", "tool:bad"]["error"]
    assert by["s1", "tool:X"]["seconds"] is None


def test_published_fused_folder_and_data_as_outputs(data, tmp_path):
    # MEFB layout: the scene's own fused/<method>.* (via published= or the data as outputs).
    _save(data / "s1" / "fused" / "DEM.png", _load(data / "s1" / "gt.png"))
    ds = load_dataset(data)
    pub = evaluate(ds, tmp_path / "a", [], metrics=METRICS, published="mefb", metric_fns=FAKE)
    via = evaluate(ds, tmp_path / "b", [], metrics=METRICS, outputs=[("mefb", data)], metric_fns=FAKE)
    assert [(c["scene"], c["method"]) for c in pub.cells] == [("s1", "mefb:DEM")]
    assert [(c["scene"], c["method"]) for c in via.cells] == [("s1", "mefb:DEM")]
    assert pub.cells[0]["metrics"]["psnr"] == pytest.approx(120.0)
    both = evaluate(ds, tmp_path / "c", [], metrics=METRICS, published="mefb", outputs=[("mefb", data)],
                    metric_fns=FAKE)
    assert len(both.cells) == 1  # one cell, not the same result twice


def test_report_files_layout_and_bold_best(data, tmp_path):
    ds = load_dataset(data)
    _save(tmp_path / "o" / "s1" / "copy.png", _load(data / "s1" / "gt.png"))
    res = evaluate(ds, tmp_path / "rep", ["mertens"], metrics=METRICS, outputs=[("o", tmp_path / "o")],
                   metric_fns=FAKE)
    files = write_report_files(tmp_path / "rep", ds.scenes, res.cells, METRICS, title="t")
    rows = list(csv.DictReader(files["csv"].open()))
    assert [(r["scene"], r["method"]) for r in rows] == [("s1", "mertens"), ("s1", "o:copy"), ("s2", "mertens")]
    md = files["summary"].read_text()
    # Seed-paper layout: "Methods | PSNR | ... ", one row per method; o:copy == gt is best in PSNR.
    assert "| Methods | PSNR | MEF-SSIM |" in md and "| o:copy | **120.0000** |" in md
    assert "PSNR 1, MEF-SSIM 1-2" in md  # s2 has no gt; o:copy exists for s1 only
    page = files["html"].read_text()
    assert page.count("data:image/png;base64,") == 2  # one chart per metric
    assert page.count("data:image/jpeg;base64,") == 3 + 3 + 2  # s1: 2 inputs, 2 outputs, gt; s2: 2 + 1
    assert "src=\"http" not in page and "src=\"file" not in page  # self-contained


def test_failing_method_is_reported_not_fatal(data, tmp_path, monkeypatch):
    def broken(frames, method="mertens", **kw):
        raise RuntimeError("boom")

    monkeypatch.setattr(runner, "fuse", broken)
    res = evaluate(load_dataset(data), tmp_path / "rep", ["mertens"], metrics=METRICS, metric_fns=FAKE)
    assert res.failed == 2 and all("boom" in c["error"] for c in res.cells)


def test_cli_end_to_end_with_real_metrics(tmp_path):
    # Two scenes, Mertens, the real mefkit.metrics (images big enough for MS-SSIM's 5 scales).
    pytest.importorskip("mefkit.metrics")
    data = make_dataset(tmp_path / "data", h=180, w=192)
    (tmp_path / "data" / "broken").mkdir()
    _save(tmp_path / "data" / "broken" / "under.png", np.zeros((8, 8, 3)))
    rep = tmp_path / "rep"
    args = ["eval", str(data), "--methods", "mertens", "-o", str(rep), "-p", "mertens.levels=6"]
    result = CliRunner().invoke(app, args)
    assert result.exit_code == 0, result.output
    assert {p.name for p in rep.iterdir()} >= {"results.csv", "summary.md", "report.html"}
    rows = list(csv.DictReader((rep / "results.csv").open()))
    assert [r["scene"] for r in rows] == ["s1", "s2"] and rows[1]["psnr"] == ""
    for key in ("psnr", "ssim", "ms_ssim", "vif", "mef_ssim"):
        assert rows[0][key] != ""
    assert 0 < float(rows[0]["mef_ssim"]) <= 1 and 0 < float(rows[0]["ssim"]) <= 1
    assert "broken" in (rep / "summary.md").read_text()  # the skipped folder is named
    again = CliRunner().invoke(app, args)
    assert "2 reused" in again.output


def test_cli_rejects_unknown_method_metric_and_ambiguous_param(data, tmp_path):
    r = CliRunner()
    assert r.invoke(app, ["eval", str(data), "-m", "nope", "-o", str(tmp_path / "r")]).exit_code == 2
    assert r.invoke(app, ["eval", str(data), "-m", "mertens", "--metrics", "nope", "-o", str(tmp_path / "r")]).exit_code == 2
    res = r.invoke(app, ["eval", str(data), "-m", "mertens,dem", "-p", "levels=3", "-o", str(tmp_path / "r")])
    assert res.exit_code == 2 and "which method" in res.output
    assert r.invoke(app, ["eval", str(data), "-o", str(tmp_path / "r")]).exit_code == 2


def test_flat_outputs_naming_and_save_fused(data, tmp_path):
    # MEFB's original naming, DIR/<scene>_<method>.*, and full-size fused PNGs kept on request.
    flat = tmp_path / "flat"
    under = _load(data / "s2" / "under.png")
    _save(flat / "s2_DEM.png", under)
    ds = load_dataset(data)
    res = evaluate(ds, tmp_path / "rep", ["mertens"], metrics=METRICS, outputs=[("m", flat)], metric_fns=FAKE,
                   save_fused=True)
    assert [(c["scene"], c["method"]) for c in res.cells] == [("s1", "mertens"), ("s2", "mertens"), ("s2", "m:DEM")]
    kept = tmp_path / "rep" / res.cells[2]["fused_file"]
    assert np.array_equal(cv2.imread(str(kept)), cv2.imread(str(flat / "s2_DEM.png")))  # lossless copy


def test_cli_published_outputs_label_and_scene_filter(data, tmp_path):
    pytest.importorskip("mefkit.metrics")
    _save(data / "s1" / "fused" / "DEM.png", _load(data / "s1" / "gt.png"))
    _save(tmp_path / "o" / "s1" / "Y.png", _load(data / "s1" / "gt.png"))
    rep = tmp_path / "rep"
    res = CliRunner().invoke(app, ["eval", str(data), "-m", "mertens", "--published", "--outputs",
                                   f"tool={tmp_path / 'o'}", "--metrics", "psnr,mef_ssim", "--scenes", "s1",
                                   "-o", str(rep)])
    assert res.exit_code == 0, res.output
    rows = list(csv.DictReader((rep / "results.csv").open()))
    assert [r["method"] for r in rows] == ["mertens", "data:DEM", "tool:Y"]
    assert rows[1]["psnr"] == rows[2]["psnr"] == "inf"  # both are the gt itself: PSNR is infinite
    assert "| data:DEM | **inf** |" in (rep / "summary.md").read_text()
