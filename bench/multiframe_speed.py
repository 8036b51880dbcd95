"""CPU time and peak memory of the learned methods on a 3-frame 12 MP bracket, against Mertens.

    OMP_NUM_THREADS=1 python bench/multiframe_speed.py [--mp 12] [--methods progressive,cbm]
        [--repeats 1] [--threads 1] [-p progressive:flips=1]

The bracket is synthesised from the bundled example's middle frame, upscaled (cubic) to
``--mp`` megapixels and re-exposed at -2, 0, +2 EV by ``mefkit.synth.simulate_bracket``
(camera response, noise, clipping, 8-bit). Every (method, frame count) runs in its own
subprocess on the same uint8 frames: after one warm-up run (lazy imports, weights),
time is the median of ``--repeats`` runs and peak memory the largest growth of the
process's resident memory (sampled every 2 ms; torch allocates outside Python's heap)
over the memory before fusing, inputs already loaded. For each learned method the
two-frame bracket (the darkest and brightest of the three: the method's cost before it
used every frame) is timed in the same run, and the ratios printed are 3-frame over
2-frame and over Mertens' 3-frame time. The machine may be shared: compare ratios.
"""

from __future__ import annotations

import argparse
import json
import subprocess
import sys
import tempfile
from pathlib import Path

import numpy as np

#: The worker: one method on the frames in a fresh process; it imports bench/peak_memory.py.
WORKER = f"import sys; sys.path.insert(0, {str(Path(__file__).resolve().parent)!r})\n" + r"""
import json
import numpy as np
args = json.loads(sys.argv[1])
import torch
torch.set_num_threads(args["threads"])
import mefkit
from peak_memory import time_and_peak
frames = [np.load(p) for p in args["frames"]]
run = lambda: mefkit.fuse(frames, args["method"], order="given", **args["params"])
print(json.dumps(time_and_peak(run, args["repeats"])))
"""


def make_bracket(megapixels: float) -> list[np.ndarray]:
    """Three uint8 frames ``(H, W, 3)`` at -2, 0, +2 EV of the upscaled example."""
    import cv2

    import mefkit
    from mefkit.synth import simulate_bracket

    bgr = cv2.imread(str(mefkit.example_bracket()[1]))
    src = bgr[:, :, ::-1].astype(np.float32) / 255
    h0, w0 = src.shape[:2]
    s = (megapixels * 1e6 / (h0 * w0)) ** 0.5
    big = np.clip(cv2.resize(src, (round(w0 * s), round(h0 * s)), interpolation=cv2.INTER_CUBIC), 0, 1)
    return [np.round(f * 255).astype(np.uint8) for f in simulate_bracket(big, [-2.0, 0.0, 2.0], seed=0)]


def run(method: str, paths: list[Path], params: dict, repeats: int, threads: int) -> dict:
    arg = json.dumps({"method": method, "frames": [str(p) for p in paths], "params": params,
                      "repeats": repeats, "threads": threads})
    out = subprocess.run([sys.executable, "-c", WORKER, arg], capture_output=True, text=True, check=True)
    return json.loads(out.stdout.strip().splitlines()[-1])


def main() -> None:
    from mefkit.params import parse_params

    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--mp", type=float, default=12.0)
    ap.add_argument("--methods", default="progressive,cbm")
    ap.add_argument("--repeats", type=int, default=1)
    ap.add_argument("--threads", type=int, default=1)
    ap.add_argument("-p", "--param", action="append", default=[], help="METHOD:KEY=VALUE")
    args = ap.parse_args()
    params: dict[str, dict] = {}
    for spec in args.param:
        m, _, kv = spec.partition(":")
        params.setdefault(m, {}).update(parse_params(m, [kv]))
    frames = make_bracket(args.mp)
    h, w = frames[0].shape[:2]
    print(f"# {w}x{h} ({w * h / 1e6:.1f} MP), 3 frames at -2/0/+2 EV; {args.threads} thread(s); "
          f"median of {args.repeats} after a warm-up")
    with tempfile.TemporaryDirectory() as td:
        paths = []
        for i, f in enumerate(frames):
            paths.append(Path(td) / f"f{i}.npy")
            np.save(paths[-1], f)
        ref = run("mertens", paths, {}, args.repeats, args.threads)
        print("| method | frames | s | peak MiB | vs own 2-frame time | vs Mertens 3-frame time |")
        print("|---|---|---|---|---|---|")
        print(f"| mertens | 3 | {ref['time']:.2f} | {ref['peak_mib']:.0f} | | 1.00 |", flush=True)
        for method in [m for m in args.methods.split(",") if m]:
            p = params.get(method, {})
            two = run(method, [paths[0], paths[2]], p, args.repeats, args.threads)
            three = run(method, paths, p, args.repeats, args.threads)
            print(f"| {method} | 2 | {two['time']:.2f} | {two['peak_mib']:.0f} | 1.00 | {two['time'] / ref['time']:.1f} |")
            print(f"| {method} | 3 | {three['time']:.2f} | {three['peak_mib']:.0f} | {three['time'] / two['time']:.2f} | "
                  f"{three['time'] / ref['time']:.1f} |", flush=True)


if __name__ == "__main__":
    main()
