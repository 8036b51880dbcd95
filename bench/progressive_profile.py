"""Where the time of one ``progressive`` fusion goes, step by step (12 MP by default).

Runs the real method (``mefkit.fuse(..., method="progressive")``) with timers wrapped
around its steps: shrinking the frames to the working size
(:func:`mefkit.nn.stack_fusion.shrink`), the network pass over its tiles
(:func:`mefkit.nn.tiling.tiled_apply`), the hue refinement at the working size, the
guided filter's coefficients (:func:`mefkit.nn.tiling.guided_coefficients`) and the
guided upsampling to full size (:func:`mefkit.nn.tiling.guided_upsample`); the rest
(conversions, clipping, frame choice) is the remainder. Mertens is timed in the same
process, interleaved, for the ratios; the first round (graph export, first calls) is
dropped.

Usage::

    python bench/progressive_profile.py [--mp 12] [--frames 2] [--repeat 3] [-p runtime=torch] [-p max_mp=0.5]
"""

from __future__ import annotations

import argparse
import functools
import os
import statistics
import sys
import tempfile
import time
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parent))

from progressive_speed import make_bracket  # noqa: E402


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--mp", type=float, default=12.0)
    ap.add_argument("--frames", type=int, default=2)
    ap.add_argument("--repeat", type=int, default=3)
    ap.add_argument("-p", "--param", action="append", default=[], help="progressive parameter KEY=VALUE")
    args = ap.parse_args()
    import torch

    import mefkit
    from mefkit import hue
    from mefkit.params import parse_params
    from mefkit.nn import stack_fusion, tiling

    params = parse_params("progressive", args.param)
    with tempfile.TemporaryDirectory() as tmp:
        frames = [np.ascontiguousarray(np.load(p)) for p in make_bracket(args.mp, Path(tmp), args.frames)]
    current: dict[str, float] = {}

    def timer(name: str, fn):
        @functools.wraps(fn)
        def wrapped(*a, **k):
            t = time.perf_counter()
            try:
                return fn(*a, **k)
            finally:
                current[name] = current.get(name, 0.0) + time.perf_counter() - t

        return wrapped

    stack_fusion.shrink = timer("shrink to the working size", stack_fusion.shrink)
    tiling.tiled_apply = timer("network pass (all tiles, all pairs)", tiling.tiled_apply)
    tiling.guided_coefficients = timer("guided coefficients (working size)", tiling.guided_coefficients)
    tiling.guided_upsample = timer("guided upsampling (full size)", tiling.guided_upsample)
    make_refiner = hue.hue_refiner
    hue.hue_refiner = lambda *a, **k: (lambda r: r and timer("hue refinement (working size)", r))(make_refiner(*a, **k))

    h, w = frames[0].shape[:2]
    print(f"{len(frames)} frames {w}x{h}, params {params}, torch threads {torch.get_num_threads()}, "
          f"load {os.getloadavg()[0]:.1f}")
    rows: dict[str, list[float]] = {}
    for r in range(args.repeat + 1):
        t = time.perf_counter()
        mefkit.fuse(frames, method="mertens", order="given")
        mert = time.perf_counter() - t
        current.clear()
        t = time.perf_counter()
        mefkit.fuse(frames, method="progressive", order="given", **params)
        total = time.perf_counter() - t
        if r == 0:
            continue
        rows.setdefault("mertens (whole fusion)", []).append(mert)
        for name, v in current.items():
            rows.setdefault(name, []).append(v)
        rows.setdefault("rest (conversions, clipping, frame choice)", []).append(total - sum(current.values()))
        rows.setdefault("progressive (whole fusion)", []).append(total)
    mert = statistics.median(rows["mertens (whole fusion)"])
    print(f"{'step':44s} {'median s':>9s} {'x mertens':>9s}")
    for name, ts in rows.items():
        print(f"{name:44s} {statistics.median(ts):9.3f} {statistics.median(ts) / mert:9.2f}")
    print(f"load after: {os.getloadavg()[0]:.1f}")


if __name__ == "__main__":
    main()
