"""``fuse-dir --workers``: brackets fused on a Dask LocalCluster give the serial run's pixels."""

from __future__ import annotations

import json
import sys

import cv2
import numpy as np
import pytest
from typer.testing import CliRunner

from mefkit.batch.run import Job, Outcome, run_job, run_jobs
from mefkit.cli import app

from .batch_shoot import write_shoot

runner = CliRunner()


def _pixels(path):
    return cv2.imread(str(path), cv2.IMREAD_UNCHANGED)


def test_run_job_reports_a_bad_bracket_instead_of_raising(tmp_path):
    (tmp_path / "a.jpg").write_bytes(b"garbage")
    (tmp_path / "b.jpg").write_bytes(b"garbage")
    outcome = run_job(Job("bad", (str(tmp_path / "a.jpg"), str(tmp_path / "b.jpg")), str(tmp_path / "o.jpg")))
    assert outcome.status == "failed" and "a.jpg: cannot decode image" in outcome.message
    assert not (tmp_path / "o.jpg").exists()


def test_run_jobs_serial_calls_back_in_order(tmp_path):
    brackets = write_shoot(tmp_path / "in", [0.0, 100.0])
    jobs = [Job(f"b{k}", tuple(map(str, files)), str(tmp_path / f"b{k}.png")) for k, files in enumerate(brackets)]
    seen: list[Outcome] = []
    run_jobs(jobs, seen.append)
    assert [o.name for o in seen] == ["b0", "b1"] and all(o.status == "fused" for o in seen)
    assert all(o.seconds > 0 and o.bits == 8 for o in seen)


def test_workers_without_dask_is_one_line_naming_the_extra(tmp_path, monkeypatch):
    write_shoot(tmp_path / "shoot", [0.0])
    monkeypatch.setitem(sys.modules, "distributed", None)  # import distributed -> ImportError
    res = runner.invoke(app, ["fuse-dir", str(tmp_path / "shoot"), "-o", str(tmp_path / "out"), "--workers", "2"])
    assert res.exit_code == 2
    assert res.stderr.strip() == 'error: --workers 2 needs Dask distributed: pip install "mefkit[distributed]"'
    assert not (tmp_path / "out").exists()


def test_workers_2_on_a_local_cluster_match_the_serial_run(tmp_path):
    pytest.importorskip("distributed", reason="needs the distributed extra (Dask)")
    src = tmp_path / "shoot"
    for name, start in (("a", 0.0), ("b", 1.0), ("c", 2.0)):
        write_shoot(src / name, [start], seeds=[ord(name)])
    bad = src / "d_bad"
    bad.mkdir()
    (bad / "x.jpg").write_bytes(b"garbage")
    (bad / "y.jpg").write_bytes(b"garbage")
    serial, parallel = tmp_path / "serial", tmp_path / "parallel"
    res = runner.invoke(app, ["fuse-dir", str(src), "-o", str(serial), "--ext", "png"])
    assert res.exit_code == 1, res.stderr
    res = runner.invoke(app, ["fuse-dir", str(src), "-o", str(parallel), "--ext", "png", "--workers", "2"])
    # the failing bracket is reported, the others are fused
    assert res.exit_code == 1, res.stderr
    assert "3 fused, 0 skipped, 1 failed" in res.stderr and "d_bad" in res.stderr and "x.jpg" in res.stderr
    for name in ("a", "b", "c"):
        assert np.array_equal(_pixels(parallel / f"{name}.png"), _pixels(serial / f"{name}.png"))
    rows = {r["bracket"]: r for r in json.loads((parallel / "manifest.json").read_text())["brackets"]}
    assert [rows[n]["status"] for n in ("a", "b", "c", "d_bad")] == ["fused", "fused", "fused", "failed"]
    assert "cannot decode image" in rows["d_bad"]["message"] and rows["d_bad"]["output"] is None
    # a re-run skips what is finished and tries the failed bracket again
    stamp = (parallel / "a.png").stat().st_mtime_ns
    res = runner.invoke(app, ["fuse-dir", str(src), "-o", str(parallel), "--ext", "png", "--workers", "2"])
    assert "0 fused, 3 skipped, 1 failed" in res.stderr
    assert (parallel / "a.png").stat().st_mtime_ns == stamp


def test_scheduler_joins_a_running_cluster(tmp_path):
    distributed = pytest.importorskip("distributed", reason="needs the distributed extra (Dask)")
    import logging

    src = tmp_path / "shoot"
    write_shoot(src, [0.0, 200.0])
    serial, joined = tmp_path / "serial", tmp_path / "joined"
    assert runner.invoke(app, ["fuse-dir", str(src), "-o", str(serial), "--ext", "png"]).exit_code == 0
    with distributed.LocalCluster(n_workers=1, threads_per_worker=1, processes=False, dashboard_address=None,
                                  silence_logs=logging.ERROR) as cluster:
        with distributed.Client(cluster) as client, distributed.get_task_stream(client=client) as stream:
            res = runner.invoke(app, ["fuse-dir", str(src), "-o", str(joined), "--ext", "png",
                                      "--scheduler", cluster.scheduler_address])
        assert res.exit_code == 0, res.stderr
        done = [t["key"] for t in stream.data if "mefkit-fuse" in str(t["key"])]
    assert len(done) == 2, "the cluster's worker did not run the two brackets"
    names = sorted(p.name for p in serial.glob("*.png"))
    assert names == sorted(p.name for p in joined.glob("*.png")) and len(names) == 2
    for name in names:
        assert np.array_equal(_pixels(joined / name), _pixels(serial / name))


def test_bad_scheduler_address_is_one_line(tmp_path):
    pytest.importorskip("distributed", reason="needs the distributed extra (Dask)")
    write_shoot(tmp_path / "shoot", [0.0])
    res = runner.invoke(app, ["fuse-dir", str(tmp_path / "shoot"), "-o", str(tmp_path / "out"),
                              "--scheduler", "nonsense://nowhere"])
    assert res.exit_code == 2
    lines = res.stderr.strip().splitlines()
    assert len(lines) == 1 and lines[0].startswith("error: --scheduler nonsense://nowhere: cannot connect")


def test_output_bits_follow_input_and_format(tmp_path):
    from mefkit.batch.run import output_bits

    assert output_bits(None, tmp_path / "a.png", 16) == 16
    assert output_bits(None, tmp_path / "a.jpg", 16) == 8
    assert output_bits(8, tmp_path / "a.tif", 16) == 8


def test_limit_threads_sets_opencv_threads():
    from mefkit.batch.run import limit_threads

    before = cv2.getNumThreads()
    try:
        limit_threads(1, "mertens")
        assert cv2.getNumThreads() == 1
    finally:
        cv2.setNumThreads(before)


def test_read_manifest_of_a_missing_or_foreign_file_is_empty(tmp_path):
    from mefkit.batch.manifest import Entry, Manifest, read_manifest

    assert read_manifest(tmp_path / "none.json") == {}
    (tmp_path / "other.json").write_text('{"format": "something else", "brackets": [{"bracket": "x"}]}')
    assert read_manifest(tmp_path / "other.json") == {}
    (tmp_path / "broken.json").write_text("{")
    assert read_manifest(tmp_path / "broken.json") == {}
    m = Manifest(tmp_path / "m.json", source="in", grouping="g", method="mertens")
    m.add(Entry("b", ["f1.jpg", "f2.jpg"], "b.jpg", "mertens"))
    m.update("b", status="fused", seconds=1.5)
    m.save()
    assert read_manifest(m.path) == {"b": Entry("b", ["f1.jpg", "f2.jpg"], "b.jpg", "mertens", 1.5, "fused")}
