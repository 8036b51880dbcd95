"""``mefkit eval --align/--deghost/--reference`` and the ``mef_ssim_d`` column."""

from __future__ import annotations

import csv
import json

import numpy as np
import pytest
from typer.testing import CliRunner

import mefkit.evaluation.runner as runner
from mefkit.cli import app
from mefkit.cli.fuse import expand_optional_values
from tests.test_eval import _save, make_dataset


@pytest.fixture
def data(tmp_path):
    return make_dataset(tmp_path / "data", h=96, w=128)


@pytest.fixture
def fuse_kwargs(monkeypatch):
    """The keywords each fusion call gets (the real mefkit.fuse still runs)."""
    calls: list[dict] = []
    real = runner.fuse

    def recording(frames, method="mertens", **kw):
        calls.append(dict(kw))
        return real(frames, method, **kw)

    monkeypatch.setattr(runner, "fuse", recording)
    return calls


def _rows(rep):
    return list(csv.DictReader((rep / "results.csv").open()))


def test_stages_reach_fuse_and_are_part_of_the_cells(data, tmp_path, fuse_kwargs):
    rep = tmp_path / "rep"
    base = ["eval", str(data), "-m", "mertens", "--metrics", "mef_ssim,mef_ssim_d", "-o", str(rep)]
    r = CliRunner().invoke(app, base)
    assert r.exit_code == 0, r.output
    assert all("align" not in kw and "deghost" not in kw for kw in fuse_kwargs)
    plain = {row["scene"]: float(row["mef_ssim_d"]) for row in _rows(rep)}
    assert all(0 < v <= 1 for v in plain.values())
    fuse_kwargs.clear()
    # The same folder with the stages: no cell is reused (their parameters differ).
    r = CliRunner().invoke(app, [*base, "--align", "features", "--deghost", "consistency", "--reference", "1"])
    assert r.exit_code == 0, r.output
    assert "reused" not in r.output or "0 reused" in r.output
    assert len(fuse_kwargs) == 2
    assert all(kw["align"] == "features" and kw["deghost"] == "consistency" and kw["reference"] == 1
               for kw in fuse_kwargs)
    cells = [json.loads(p.read_text()) for p in rep.rglob("*.json") if "fingerprint" in p.read_text()]
    assert cells and all(c["params"].get("align") == "features" for c in cells)
    assert "MEF-SSIMd" in (rep / "summary.md").read_text()


def test_stage_options_are_checked_before_any_work(data, tmp_path):
    r = CliRunner()
    out = tmp_path / "r"
    res = r.invoke(app, ["eval", str(data), "-m", "mertens", "--align", "nope", "-o", str(out)])
    assert res.exit_code == 2 and "align" in res.output
    res = r.invoke(app, ["eval", str(data), "-m", "mertens", "--reference", "0", "-o", str(out)])
    assert res.exit_code == 2 and "--reference needs" in res.output
    res = r.invoke(app, ["eval", str(data), "-m", "mertens", "--deghost", "consistency", "--reference", "-1",
                         "-o", str(out)])
    assert res.exit_code == 2 and "reference" in res.output
    assert not out.exists()


def test_bare_stage_options_take_the_default_names():
    argv = ["eval", "d", "-m", "mertens", "--align", "--deghost", "-o", "r"]
    assert expand_optional_values(argv) == ["eval", "d", "-m", "mertens", "--align", "features", "--deghost",
                                            "consistency", "-o", "r"]
    assert expand_optional_values(["fuse", "--deghost", "flow", "a.jpg"]) == ["fuse", "--deghost", "flow", "a.jpg"]


def test_alignment_raises_mef_ssim_d_of_a_shifted_pair(tmp_path):
    # A pair whose bright frame is shifted by 4 px: aligned fusion scores higher.
    from tests.conftest import make_bracket

    frames = make_bracket(160, 200, n=3, seed=4)
    over = np.roll(frames[2], (4, 3), axis=(0, 1))
    _save(tmp_path / "data" / "s" / "under.png", frames[0])
    _save(tmp_path / "data" / "s" / "over.png", over)
    scores = {}
    for name, flags in (("plain", []), ("aligned", ["--align", "features"])):
        rep = tmp_path / name
        res = CliRunner().invoke(app, ["eval", str(tmp_path / "data"), "-m", "mertens", "--metrics", "mef_ssim_d",
                                       "-o", str(rep), *flags])
        assert res.exit_code == 0, res.output
        scores[name] = float(_rows(rep)[0]["mef_ssim_d"])
    assert scores["aligned"] > scores["plain"]
