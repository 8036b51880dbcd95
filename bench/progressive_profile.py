"""Where the time of one ``progressive`` fusion goes, step by step (12 MP by default).

Repeats the steps of :func:`mefkit.nn.tiling.fuse_full_resolution` with a timer around
each: shrinking the frames to the working size, the network pass over its tiles
(torch or ONNX Runtime; with torch, phase 1 and phase 2 are timed apart), the guided
filter's coefficients at the working size and the guided upsampling to full size.
Mertens is timed in the same process, interleaved, for the ratios.

Usage::

    python bench/progressive_profile.py [--mp 12] [--repeat 3] [--runtime torch] [--max-mp 1.0]
"""

from __future__ import annotations

import argparse
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
    ap.add_argument("--repeat", type=int, default=3)
    ap.add_argument("--threads", type=int, default=0)
    ap.add_argument("--runtime", default="torch", choices=("torch", "onnxruntime"))
    ap.add_argument("--max-mp", type=float, default=1.0)
    args = ap.parse_args()
    import cv2
    import torch

    import mefkit
    from mefkit.methods.progressive import SHIPPED_WEIGHTS, _nhwc, _onnx_pass, load_weights
    from mefkit.nn.progressive import UNET_FACTOR
    from mefkit.nn.tiling import (_to_tensor, guided_coefficients, guided_upsample, pad_to_multiple, tile_alignment,
                                  tiled_apply, working_size)

    if args.threads:
        torch.set_num_threads(args.threads)
    with tempfile.TemporaryDirectory() as tmp:
        frames = [np.ascontiguousarray(np.load(p)) for p in make_bracket(args.mp, Path(tmp))]
    model = load_weights(SHIPPED_WEIGHTS)
    rows: dict[str, list[float]] = {}

    def timed(name: str, fn, *a):
        t = time.perf_counter()
        out = fn(*a)
        rows.setdefault(name, []).append(time.perf_counter() - t)
        return out

    if args.runtime == "torch":
        def net(u, o):  # phase 1 and 2 apart, as progressive(phase=2) runs them
            u, o = _nhwc(u), _nhwc(o)
            inter = timed("network: phase 1 UNet", model.unet, u, o)
            return timed("network: phase 2 AMNet", model.amnet, u, inter, o)
    else:
        onnx = _onnx_pass(model, SHIPPED_WEIGHTS, "phase2")

        def net(u, o):
            return timed("network: both phases (ONNX Runtime)", onnx, u, o)

    h, w = frames[0].shape[:2]
    sh, sw = working_size(h, w, args.max_mp)
    print(f"{w}x{h} -> working {sw}x{sh}, {args.runtime}, torch threads {torch.get_num_threads()}, "
          f"load {os.getloadavg()[0]:.1f}")
    pair = [frames[0], frames[-1]]
    for r in range(args.repeat + 1):  # round 0 warms up (export, first calls) and is dropped
        if r == 1:
            rows.clear()
        timed("mertens (whole fusion)", lambda: mefkit.fuse(frames, method="mertens", order="given"))
        small = timed("shrink to working size", lambda: [
            np.clip(cv2.resize(f, (sw, sh), interpolation=cv2.INTER_AREA), 0, 1) for f in pair])
        padded = pad_to_multiple(small, UNET_FACTOR)
        with torch.inference_mode():
            out = timed("network pass, all tiles (incl. tiling)", lambda: tiled_apply(
                net, [_to_tensor(f, "cpu") for f in padded], tile=1024, tile_pad=32, overlap=32,
                align=tile_alignment(UNET_FACTOR, 32)))
        low = np.ascontiguousarray(out[0, :, :sh, :sw].permute(1, 2, 0).numpy())
        coef = timed("guided coefficients (working size)", guided_coefficients, np.concatenate(small, -1), low)
        timed("guided upsampling (full size)", lambda: np.clip(guided_upsample(coef, pair), 0, 1))
    mert = statistics.median(rows["mertens (whole fusion)"])
    print(f"{'step':42s} {'median s':>9s} {'x mertens':>9s}")
    total = 0.0
    for name, ts in rows.items():
        per = sum(ts) / args.repeat if name.startswith("network:") else statistics.median(ts)  # per fusion
        if not name.startswith(("network:", "mertens")):
            total += per
        print(f"{name:42s} {per:9.3f} {per / mert:9.2f}")
    print(f"{'progressive (sum of the steps)':42s} {total:9.3f} {total / mert:9.2f}")
    print(f"load after: {os.getloadavg()[0]:.1f}")


if __name__ == "__main__":
    main()
