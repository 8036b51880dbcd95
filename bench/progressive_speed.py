"""Speed and peak memory of ``progressive`` on a 2-frame 12 MP bracket, against Mertens.

Each method runs in its own long-lived subprocess, so its peak resident memory
(``ru_maxrss`` of the child: torch allocates outside Python's heap, which tracemalloc
cannot see) is its own; the frames are prepared once and memory-mapped from ``.npy``
files. After an untimed warm-up run each, the two children fuse in turn (Mertens,
progressive, Mertens, ...), so that both see the same machine load; prints the median
per method, the ratio of the medians, each round's ratio and the load average.

Usage::

    python bench/progressive_speed.py [--mp 12] [--repeat 3] [--warmup 1] [--threads 0] [-p max_mp=1.0] [--weights PATH]

The CPU may be shared with other jobs: compare the ratio, not the absolute seconds.
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import subprocess
import sys
import tempfile
from pathlib import Path

import numpy as np

from mefkit.cli.app import parse_params

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
print("ready", flush=True)
for line in sys.stdin:  # one fusion per "go" line, so that the parent can interleave methods
    if line.strip() != "go":
        break
    t = time.perf_counter()
    out = mefkit.fuse(frames, method=args["method"], order="given", **params)
    print(json.dumps({"time": time.perf_counter() - t}), flush=True)
rss_kib = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
print(json.dumps({"peak_rss_mib": rss_kib / 1024, "shape": list(out.shape), "threads": torch.get_num_threads()}))
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


class Child:
    """A subprocess holding one method's frames, fusing once per :meth:`fuse` call."""

    def __init__(self, method: str, frames: list[str], params: dict, threads: int) -> None:
        payload = json.dumps({"method": method, "frames": frames, "params": params, "threads": threads})
        self.method = method
        self.proc = subprocess.Popen([sys.executable, "-c", CHILD, payload], stdin=subprocess.PIPE,
                                     stdout=subprocess.PIPE, text=True, env=os.environ)
        self._expect("ready")

    def _expect(self, what: str | None = None) -> str:
        line = self.proc.stdout.readline()
        if not line or (what and line.strip() != what):
            self.proc.wait()
            raise SystemExit(f"{self.method} failed (exit {self.proc.returncode}); see its stderr above")
        return line

    def fuse(self) -> float:
        self.proc.stdin.write("go\n")
        self.proc.stdin.flush()
        return json.loads(self._expect())["time"]

    def close(self) -> dict:
        self.proc.stdin.close()
        info = json.loads(self._expect())
        self.proc.wait()
        return info


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--mp", type=float, default=12.0, help="bracket size in megapixels (default 12)")
    ap.add_argument("--repeat", type=int, default=3, help="timed runs per method, interleaved (median reported)")
    ap.add_argument("--warmup", type=int, default=1, help="untimed runs per method first (imports, caches)")
    ap.add_argument("--threads", type=int, default=0, help="torch threads in the child (0: torch default)")
    ap.add_argument("--weights", default=None, help="progressive weights file (default: shipped)")
    ap.add_argument("-p", "--param", action="append", default=[], help="progressive parameter KEY=VALUE")
    args = ap.parse_args()
    params = parse_params(args.param)  # as `mefkit fuse -p KEY=VALUE` reads them
    if args.weights:
        params["weights"] = args.weights
    with tempfile.TemporaryDirectory() as tmp:
        frames = make_bracket(args.mp, Path(tmp))
        shape = np.load(frames[0], mmap_mode="r").shape
        print(f"bracket: 2 frames {shape[1]}x{shape[0]} ({shape[0] * shape[1] / 1e6:.1f} MP), cpu_count={os.cpu_count()}")
        children = {m: Child(m, frames, p, args.threads) for m, p in (("mertens", {}), ("progressive", params))}
        times: dict[str, list[float]] = {m: [] for m in children}
        for _ in range(args.warmup):
            for child in children.values():
                child.fuse()
        loads = [os.getloadavg()[0]]
        for _ in range(args.repeat):  # interleaved, so that both see the same load
            for m, child in children.items():
                times[m].append(child.fuse())
            loads.append(os.getloadavg()[0])
        info = {m: child.close() for m, child in children.items()}
        for m, p in (("mertens", {}), ("progressive", params)):
            print(
                f"{m:12s} median {statistics.median(times[m]):6.2f} s  (runs: {', '.join(f'{t:.2f}' for t in times[m])})  "
                f"peak RSS {info[m]['peak_rss_mib'] / 1024:5.2f} GiB  torch threads {info[m]['threads']}  params {p}"
            )
        ratios = [a / b for a, b in zip(times["progressive"], times["mertens"])]
        ratio = statistics.median(times["progressive"]) / statistics.median(times["mertens"])
        mem = info["progressive"]["peak_rss_mib"] / info["mertens"]["peak_rss_mib"]
        print(f"progressive / mertens: time x{ratio:.2f} (ratio of medians; per round: "
              f"{', '.join(f'{r:.2f}' for r in ratios)}), peak memory x{mem:.2f}, "
              f"load average (1 min) {min(loads):.1f}-{max(loads):.1f}")


if __name__ == "__main__":
    main()
