"""Speed and peak memory of ``progressive`` on a 2-frame 12 MP bracket, against Mertens.

Each method runs in its own subprocess, so its peak resident memory (``ru_maxrss`` of
the child: torch allocates outside Python's heap, which tracemalloc cannot see) is its
own; the frames are prepared once and memory-mapped from ``.npy`` files. Prints one
line per method and the ratio to Mertens from the same run.

Usage::

    python bench/progressive_speed.py [--mp 12] [--repeat 2] [--threads 0] [-p max_mp=1.0] [--weights PATH]

The CPU may be shared with other jobs: compare the ratio, not the absolute seconds.
"""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
import tempfile
from pathlib import Path

import numpy as np

from mefkit.params import parse_params

CHILD = r"""
import json, resource, sys, time
import numpy as np
import torch
args = json.loads(sys.argv[1])
if args["threads"]:
    torch.set_num_threads(args["threads"])
import mefkit
frames = [np.load(p, mmap_mode="r") for p in args["frames"]]
frames = [np.ascontiguousarray(f) for f in frames]
params = dict(args["params"])
times = []
for _ in range(args["repeat"]):
    t = time.perf_counter()
    out = mefkit.fuse(frames, method=args["method"], order="given", **params)
    times.append(time.perf_counter() - t)
rss_kib = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
print(json.dumps({"times": times, "peak_rss_mib": rss_kib / 1024, "shape": list(out.shape),
                  "threads": torch.get_num_threads()}))
"""


def make_bracket(mp: float, folder: Path) -> list[str]:
    """Upscale the bundled example's darkest and brightest frames to ``mp`` megapixels (4:3)."""
    import cv2

    import mefkit

    paths = mefkit.example_bracket()
    w = int(round((mp * 1e6 * 4 / 3) ** 0.5))
    h = int(round(w * 3 / 4))
    out = []
    for i, p in enumerate((paths[0], paths[-1])):
        img = mefkit.read_image(p)[0]
        big = np.clip(cv2.resize(img, (w, h), interpolation=cv2.INTER_CUBIC), 0, 1).astype(np.float32)
        f = folder / f"frame{i}.npy"
        np.save(f, big)
        out.append(str(f))
    return out


def run(method: str, frames: list[str], params: dict, repeat: int, threads: int) -> dict:
    payload = json.dumps({"method": method, "frames": frames, "params": params, "repeat": repeat, "threads": threads})
    proc = subprocess.run([sys.executable, "-c", CHILD, payload], capture_output=True, text=True, env=os.environ)
    if proc.returncode != 0:
        raise SystemExit(f"{method} failed:\n{proc.stderr}")
    return json.loads(proc.stdout.strip().splitlines()[-1])


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--mp", type=float, default=12.0, help="bracket size in megapixels (default 12)")
    ap.add_argument("--repeat", type=int, default=2, help="timed runs per method (best is reported)")
    ap.add_argument("--threads", type=int, default=0, help="torch threads in the child (0: torch default)")
    ap.add_argument("--weights", default=None, help="progressive weights file (default: shipped)")
    ap.add_argument("-p", "--param", action="append", default=[], help="progressive parameter KEY=VALUE")
    args = ap.parse_args()
    params = parse_params("progressive", args.param)  # as `mefkit fuse -p KEY=VALUE` reads them
    if args.weights:
        params["weights"] = args.weights
    with tempfile.TemporaryDirectory() as tmp:
        frames = make_bracket(args.mp, Path(tmp))
        shape = np.load(frames[0], mmap_mode="r").shape
        print(f"bracket: 2 frames {shape[1]}x{shape[0]} ({shape[0] * shape[1] / 1e6:.1f} MP), cpu_count={os.cpu_count()}")
        results = {}
        for method, p in (("mertens", {}), ("progressive", params)):
            r = run(method, frames, p, args.repeat, args.threads)
            results[method] = r
            print(
                f"{method:12s} best {min(r['times']):6.2f} s  (runs: {', '.join(f'{t:.2f}' for t in r['times'])})  "
                f"peak RSS {r['peak_rss_mib'] / 1024:5.2f} GiB  torch threads {r['threads']}  params {p}"
            )
        ratio = min(results["progressive"]["times"]) / min(results["mertens"]["times"])
        mem = results["progressive"]["peak_rss_mib"] / results["mertens"]["peak_rss_mib"]
        print(f"progressive / mertens: time x{ratio:.2f}, peak memory x{mem:.2f}")


if __name__ == "__main__":
    main()
