"""``mefkit eval --common-scenes`` and the colour / tone columns of the summary."""

from __future__ import annotations

import csv

import pytest
from typer.testing import CliRunner

from mefkit.cli import app
from mefkit.datasets import load_dataset
from mefkit.evaluation.runner import common_scene_jobs, plan_jobs
from mefkit.evaluation.summary import best_values, common_scene_cells, summarize, summary_markdown
from tests.test_eval import _load, _save, make_dataset


def _cell(scene, method, value, status="ok"):
    return {"scene": scene, "method": method, "status": status, "metrics": {"mef_ssim": value}}


def test_common_scene_cells_keeps_scenes_every_method_finished():
    cells = [
        _cell("a", "m1", 0.9), _cell("a", "ext", 0.5),
        _cell("b", "m1", 0.7),                                  # ext has no result on b
        _cell("c", "m1", 0.8), _cell("c", "ext", 0.6, "failed"),  # a failed cell counts as missing
    ]
    kept, dropped = common_scene_cells(cells)
    assert [(c["scene"], c["method"]) for c in kept] == [("a", "m1"), ("a", "ext")]
    assert dropped == ["b", "c"]
    rows = {r.method: r for r in summarize(kept, ["mef_ssim"])}
    assert rows["m1"].means["mef_ssim"] == pytest.approx(0.9)  # not the mean over a, b, c (0.8)
    assert common_scene_cells([_cell("a", "m1", 1.0), _cell("b", "ext", 1.0)]) == ([], ["a", "b"])


def test_common_scene_jobs_drops_scenes_without_every_result(tmp_path):
    data = make_dataset(tmp_path / "data")
    _save(data / "s2" / "fused" / "X.png", _load(data / "s2" / "over.png"))
    jobs = plan_jobs(load_dataset(data), ["mertens"], published="data")
    kept, dropped = common_scene_jobs(jobs)
    assert [(j.scene.name, j.method) for j in kept] == [("s2", "mertens"), ("s2", "data:X")]
    assert dropped == ["s1"]


def test_cli_common_scenes(tmp_path):
    pytest.importorskip("mefkit.metrics")
    data = make_dataset(tmp_path / "data")
    _save(data / "s2" / "fused" / "X.png", _load(data / "s2" / "over.png"))
    r = CliRunner()
    args = ["eval", str(data), "-m", "mertens", "--published", "--metrics", "mef_ssim,color_shift,l_mean"]
    res = r.invoke(app, [*args, "--common-scenes", "-o", str(tmp_path / "common")])
    assert res.exit_code == 0, res.output
    rows = list(csv.DictReader((tmp_path / "common" / "results.csv").open()))
    assert [(x["scene"], x["method"]) for x in rows] == [("s2", "mertens"), ("s2", "data:X")]  # s1 not run
    md = (tmp_path / "common" / "summary.md").read_text()
    assert "common scenes only: means over the 1 scenes every method has (s2)" in md
    assert "| Δab | L* |" in md and "lower is better" in md
    res = r.invoke(app, [*args, "-o", str(tmp_path / "all")])
    assert res.exit_code == 0, res.output
    assert len(list(csv.DictReader((tmp_path / "all" / "results.csv").open()))) == 3
    # Results that cover different scenes have nothing in common: a clear error, no table.
    _save(tmp_path / "o" / "s1" / "Y.png", _load(data / "s1" / "over.png"))
    res = r.invoke(app, [*args, "--outputs", f"tool={tmp_path / 'o'}", "--common-scenes", "-o", str(tmp_path / "none")])
    assert res.exit_code != 0 and "--common-scenes: no scene" in res.output
    assert not (tmp_path / "none" / "summary.md").exists()


def test_colour_columns_best_value_rules():
    cells = [
        {"scene": "a", "method": "m1", "status": "ok", "metrics": {"color_shift": 3.0, "l_mean": 40.0, "dl_gt": -5.0}},
        {"scene": "a", "method": "m2", "status": "ok", "metrics": {"color_shift": 1.0, "l_mean": 60.0, "dl_gt": 2.0}},
        {"scene": "a", "method": "m3", "status": "ok", "metrics": {"color_shift": 2.0, "l_mean": 50.0, "dl_gt": 9.0}},
    ]
    metrics = ["color_shift", "l_mean", "dl_gt"]
    rows = summarize(cells, metrics)
    best = best_values(rows, metrics)
    assert best == {"color_shift": 1.0, "dl_gt": 2.0}  # lowest shift, L* offset nearest 0, no best L*
    md = summary_markdown(rows, metrics)
    assert "| m2 | **1.00** | 60.00 | **2.00** |" in md
    assert "| m1 | 3.00 | 40.00 | -5.00 |" in md
