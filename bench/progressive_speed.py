"""Speed and peak memory of ``progressive`` on a 2-frame 12 MP bracket, against Mertens.

Each method runs in its own long-lived subprocess, so its peak resident memory
(``ru_maxrss`` of the child: torch allocates outside Python's heap, which tracemalloc
cannot see) is its own; the frames are prepared once and memory-mapped from ``.npy``
files. After an untimed warm-up run each, the two children fuse in turn (Mertens,
progressive, Mertens, ...), so that both see the same machine load; prints the median
per method, the ratio of the medians, each round's ratio and the load average.

Usage::

    python bench/progressive_speed.py [--mp 12] [--frames 2] [--repeat 3] [--warmup 1] [--threads 0] [-p max_mp=1.0] [--weights PATH] \\
        [--variant LABEL:KEY=VALUE,...]

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

def make_bracket(mp: float, folder: Path, n: int = 2) -> list[str]:
    """Upscale ``n`` of the bundled example's frames, darkest to brightest, to ``mp`` megapixels (4:3)."""
    import cv2

    import mefkit

    paths = mefkit.example_bracket()
    w = int(round((mp * 1e6 * 4 / 3) ** 0.5))
    h = int(round(w * 3 / 4))
    out = []
    for i, k in enumerate(np.linspace(0, len(paths) - 1, n).round().astype(int)):
        p = paths[k]
        img = mefkit.read_image(p)[0]
        big = np.clip(cv2.resize(img, (w, h), interpolation=cv2.INTER_CUBIC), 0, 1).astype(np.float32)
        f = folder / f"frame{i}.npy"
        np.save(f, big)
        out.append(str(f))
    return out


class Child:
    """A subprocess holding one method's frames, fusing once per :meth:`fuse` call."""

    def __init__(self, method: str, frames: list[str], params: dict, threads: int, src: str | None = None) -> None:
        payload = json.dumps({"method": method, "frames": frames, "params": params, "threads": threads})
        self.method = method
        env = dict(os.environ, PYTHONPATH=src) if src else os.environ
        self.proc = subprocess.Popen([sys.executable, "-c", CHILD, payload], stdin=subprocess.PIPE,
                                     stdout=subprocess.PIPE, text=True, env=env)
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
    ap.add_argument("--frames", type=int, default=2, help="frames in the bracket (default 2)")
    ap.add_argument("--repeat", type=int, default=3, help="timed runs per method, interleaved (median reported)")
    ap.add_argument("--warmup", type=int, default=1, help="untimed runs per method first (imports, caches)")
    ap.add_argument("--threads", type=int, default=0, help="torch threads in the child (0: torch default)")
    ap.add_argument("--weights", default=None, help="progressive weights file (default: shipped)")
    ap.add_argument("-p", "--param", action="append", default=[], help="progressive parameter KEY=VALUE")
    ap.add_argument("--variant", action="append", default=[], metavar="LABEL:KEY=VALUE[,KEY=VALUE]",
                    help="another progressive child with these parameters on top of -p (repeatable)")
    ap.add_argument("--baseline-src", default=None, metavar="DIR",
                    help="also time progressive (default parameters) from another copy of mefkit's src/ "
                         "(e.g. an earlier commit: git archive COMMIT src | tar -x -C DIR/..), labelled 'before'")
    args = ap.parse_args()
    params = parse_params("progressive", args.param)  # as `mefkit fuse -p KEY=VALUE` reads them
    if args.weights:
        params["weights"] = args.weights
    configs = {"mertens": ("mertens", {}), "progressive": ("progressive", params)}
    if args.baseline_src:
        configs["before"] = ("progressive", {})
    for v in args.variant:
        label, _, rest = v.partition(":")
        configs[label] = ("progressive", {**params, **parse_params("progressive", [kv for kv in rest.split(",") if kv])})
    with tempfile.TemporaryDirectory() as tmp:
        frames = make_bracket(args.mp, Path(tmp), args.frames)
        shape = np.load(frames[0], mmap_mode="r").shape
        print(f"bracket: {len(frames)} frames {shape[1]}x{shape[0]} ({shape[0] * shape[1] / 1e6:.1f} MP), "
              f"cpu_count={os.cpu_count()}")
        children = {label: Child(m, frames, p, args.threads, args.baseline_src if label == "before" else None)
                    for label, (m, p) in configs.items()}
        times: dict[str, list[float]] = {label: [] for label in children}
        for _ in range(args.warmup):  # first calls: imports, weights, graph export
            for label, child in children.items():
                print(f"{label:12s} first call {child.fuse():6.2f} s (untimed)")
        loads = [os.getloadavg()[0]]
        for _ in range(args.repeat):  # interleaved, so that all see the same load
            for label, child in children.items():
                times[label].append(child.fuse())
            loads.append(os.getloadavg()[0])
        info = {label: child.close() for label, child in children.items()}
        base = statistics.median(times["mertens"])
        for label, (m, p) in configs.items():
            med = statistics.median(times[label])
            ratios = [a / b for a, b in zip(times[label], times["mertens"])]
            print(
                f"{label:12s} median {med:6.2f} s  x{med / base:5.2f} of mertens (per round: "
                f"{', '.join(f'{r:.2f}' for r in ratios)})  runs: {', '.join(f'{t:.2f}' for t in times[label])}  "
                f"peak RSS {info[label]['peak_rss_mib'] / 1024:5.2f} GiB  torch threads {info[label]['threads']}  "
                f"params {p}"
            )
        print(f"load average (1 min) during the timed runs: {min(loads):.1f}-{max(loads):.1f}")


if __name__ == "__main__":
    main()
