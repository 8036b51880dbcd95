"""Throughput of ``mefkit fuse-dir`` on a flat folder of brackets: serial against ``--workers N``.

    python bench/batch_throughput.py [--brackets 20] [--mp 6] [--workers 2]

A flat folder of ``--brackets`` 3-frame brackets at ``--mp`` megapixels is generated in a
temporary folder from the bundled example (its middle frame upscaled, each bracket a
different crop and flip, re-exposed in camera order 0, -2, +2 EV with
``mefkit.synth.simulate_bracket``, JPEG quality 95 with EXIF capture time, shutter time
and exposure bias, 1 s between frames, 3 minutes between brackets). Then, in the same
run, ``mefkit fuse-dir`` fuses the folder once serially and once with ``--workers N``
(a Dask LocalCluster), each in a fresh process and into a fresh output folder; the wall
time includes start-up (for the parallel run the cluster's start) and grouping.
CPU/wall is the child processes' user+system CPU time over wall time: how many cores a
run kept busy (the methods' own OpenCV threads included). The outputs of both runs are
compared pixel for pixel. The start-up column is measured apart: importing mefkit (serial),
or starting a LocalCluster, importing mefkit in its workers and closing it (parallel).
``--repeats`` runs of each are interleaved (serial, parallel,
parallel, serial, ...) and the median wall time is reported, because the machine may be
shared and its load drift during the run.
"""

from __future__ import annotations

import argparse
import json
import os
import resource
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from datetime import datetime, timedelta
from pathlib import Path

import cv2
import numpy as np
from PIL import Image

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))
from tests.batch_shoot import exif_for  # noqa: E402  (the test suite's EXIF writer)
CAMERA_ORDER = (0.0, -2.0, 2.0)


def make_shoot(folder: Path, brackets: int, megapixels: float) -> tuple[int, int]:
    """Write the flat folder; returns the frame size ``(w, h)``."""
    import mefkit
    from mefkit.io import read_image
    from mefkit.synth import simulate_bracket

    source = read_image(mefkit.example_bracket()[1])[0]
    h0, w0 = source.shape[:2]
    w = int(round((megapixels * 1e6 * w0 / h0) ** 0.5))
    h = int(round(w * h0 / w0))
    big = cv2.resize(source, (int(w * 1.1), int(h * 1.1)), interpolation=cv2.INTER_CUBIC)
    rng = np.random.default_rng(0)
    when = datetime(2026, 5, 1, 9, 0, 0)
    number = 1
    folder.mkdir(parents=True)
    for b in range(brackets):
        y, x = rng.integers(0, big.shape[0] - h + 1), rng.integers(0, big.shape[1] - w + 1)
        scene = np.ascontiguousarray(big[y:y + h, x:x + w][:, :: (-1 if b % 2 else 1)]).clip(0, 1)
        frames = simulate_bracket(scene.astype(np.float32), CAMERA_ORDER, seed=b)
        for frame, ev in zip(frames, CAMERA_ORDER):
            shutter = 2.0 ** ev / 125
            Image.fromarray(np.round(frame * 255).astype(np.uint8)).save(
                folder / f"IMG_{number:04d}.jpg", quality=95, exif=exif_for(when, shutter, ev))
            when += timedelta(seconds=shutter + 1.0)
            number += 1
        when += timedelta(minutes=3)
    return w, h


def run_fuse_dir(src: Path, out: Path, method: str, workers: int) -> dict:
    """One ``mefkit fuse-dir`` in a fresh process: wall time and CPU time of the children."""
    cmd = [sys.executable, "-m", "mefkit", "fuse-dir", str(src), "-o", str(out), "-m", method, "--quiet"]
    if workers > 1:
        cmd += ["--workers", str(workers)]
    env = {**os.environ, "PYTHONPATH": str(ROOT / "src")}
    before = resource.getrusage(resource.RUSAGE_CHILDREN)
    start = time.perf_counter()
    proc = subprocess.run(cmd, env=env, capture_output=True, text=True)
    wall = time.perf_counter() - start
    after = resource.getrusage(resource.RUSAGE_CHILDREN)
    if proc.returncode != 0:
        raise SystemExit(f"fuse-dir failed ({proc.returncode}): {proc.stderr}")
    cpu = (after.ru_utime - before.ru_utime) + (after.ru_stime - before.ru_stime)
    rows = json.loads((out / "manifest.json").read_text())["brackets"]
    return {"wall": wall, "cpu": cpu, "fused": sum(r["status"] == "fused" for r in rows),
            "bracket_seconds": sum(r["seconds"] or 0 for r in rows)}


STARTUP = r"""
import sys, time, logging
start = time.perf_counter()
if sys.argv[1] == "cluster":
    from distributed import Client, LocalCluster
    cluster = LocalCluster(n_workers=int(sys.argv[2]), threads_per_worker=1, dashboard_address=None,
                           silence_logs=logging.ERROR)
    client = Client(cluster)
    client.run(lambda: __import__("mefkit.batch.run"))  # the workers' own imports
    client.close(); cluster.close()
else:
    import mefkit.batch.run
print(time.perf_counter() - start)
"""


def startup_seconds(kind: str, workers: int) -> float:
    """Seconds to import mefkit here (``plain``) or to start, use and close a local cluster (``cluster``)."""
    env = {**os.environ, "PYTHONPATH": str(ROOT / "src")}
    out = subprocess.run([sys.executable, "-c", STARTUP, kind, str(workers)], env=env, capture_output=True, text=True,
                         check=True)
    return float(out.stdout.strip().splitlines()[-1])


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--brackets", type=int, default=20)
    parser.add_argument("--mp", type=float, default=6.0, help="megapixels per frame")
    parser.add_argument("--workers", type=int, default=2)
    parser.add_argument("--method", default="mertens")
    parser.add_argument("--repeats", type=int, default=2,
                        help="runs of each, interleaved serial, parallel, parallel, serial... (the median is reported)")
    args = parser.parse_args()
    with tempfile.TemporaryDirectory(prefix="mefkit_batch_") as tmp:
        src = Path(tmp) / "shoot"
        w, h = make_shoot(src, args.brackets, args.mp)
        print(f"{args.brackets} brackets x 3 frames, {w}x{h} ({w * h / 1e6:.1f} MP), method {args.method}, "
              f"{os.cpu_count()} CPUs", flush=True)
        runs: dict[str, list[dict]] = {"serial": [], f"--workers {args.workers}": []}
        pair = [("serial", 1), (f"--workers {args.workers}", args.workers)]
        for r in range(args.repeats):
            # ABBA order: a load that drifts during the run weighs on both alike.
            for label, workers in (pair if r % 2 == 0 else pair[::-1]):
                out = Path(tmp) / f"out_{workers}"
                if out.exists():
                    shutil.rmtree(out)
                runs[label].append(run_fuse_dir(src, out, args.method, workers))
                print(f"  {label}: {runs[label][-1]}", flush=True)
        results = {label: {"wall": statistics.median(x["wall"] for x in rs), "cpu": statistics.median(x["cpu"] for x in rs),
                           "fused": min(x["fused"] for x in rs)} for label, rs in runs.items()}
        fixed = {"serial": startup_seconds("plain", 1), f"--workers {args.workers}": startup_seconds("cluster", args.workers)}
        outs = [Path(tmp) / "out_1", Path(tmp) / f"out_{args.workers}"]
        names = sorted(p.name for p in outs[0].glob("*.jpg"))
        same = names == sorted(p.name for p in outs[1].glob("*.jpg")) and all(
            np.array_equal(cv2.imread(str(outs[0] / n)), cv2.imread(str(outs[1] / n))) for n in names)
    serial = results["serial"]["wall"]
    print()
    print("| run | brackets | wall s | brackets / min | CPU / wall | speed-up vs serial | of which start-up s |")
    print("|---|---:|---:|---:|---:|---:|---:|")
    for label, r in results.items():
        print(f"| `fuse-dir {label}` | {r['fused']} | {r['wall']:.1f} | {60 * r['fused'] / r['wall']:.1f} | "
              f"{r['cpu'] / r['wall']:.2f} | x{serial / r['wall']:.2f} | {fixed[label]:.1f} |")
    print(f"\nmedian of {args.repeats} runs each; outputs identical pixel for pixel: {same} ({len(names)} files)")


if __name__ == "__main__":
    main()
