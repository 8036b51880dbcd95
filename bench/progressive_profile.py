"""Where the time of one ``progressive`` fusion goes, phase by phase (12 MP by default).

Repeats the steps of :func:`mefkit.nn.tiling.fuse_full_resolution` with a timer around
each: shrinking the frames, numpy -> tensor, phase 1 (UNet) and phase 2 (AMNet) per tile,
tensor -> numpy, the guided filter's coefficients at the working size and the guided
upsampling to full size; Mertens is timed in the same process for the ratio.

Usage::

    python bench/progressive_profile.py [--mp 12] [--repeat 3] [--threads 0]
"""

from __future__ import annotations

import argparse
import os
import statistics
import sys
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
    args = ap.parse_args()
    import tempfile

    import cv2
    import torch

    import mefkit
    from mefkit.methods.progressive import SHIPPED_WEIGHTS, _nhwc, load_weights
    from mefkit.nn.progressive import UNET_FACTOR
    from mefkit.nn.tiling import (_layout, _to_tensor, guided_coefficients, guided_upsample, pad_to_multiple,
                                  tile_alignment, working_size)

    if args.threads:
        torch.set_num_threads(args.threads)
    with tempfile.TemporaryDirectory() as tmp:
        frames = [np.ascontiguousarray(np.load(p)) for p in make_bracket(args.mp, Path(tmp))]
    model = load_weights(SHIPPED_WEIGHTS)
    h, w = frames[0].shape[:2]
    sh, sw = working_size(h, w, 1.0)
    print(f"{w}x{h} -> working {sw}x{sh}, torch threads {torch.get_num_threads()}, load {os.getloadavg()}")
    rows: dict[str, list[float]] = {}

    def tick(name: str, t0: float) -> float:
        t1 = time.perf_counter()
        rows.setdefault(name, []).append(t1 - t0)
        return t1

    for _ in range(args.repeat):
        t = time.perf_counter()
        mefkit.fuse(frames, method="mertens", order="given")
        tick("mertens (whole)", t)
        t = time.perf_counter()
        small = [np.clip(cv2.resize(f, (sw, sh), interpolation=cv2.INTER_AREA), 0, 1) for f in (frames[0], frames[-1])]
        t = tick("shrink (INTER_AREA)", t)
        padded = pad_to_multiple(small, UNET_FACTOR)
        ten = [_nhwc(_to_tensor(f, "cpu")) for f in padded]
        t = tick("numpy -> tensor", t)
        ph, pw = ten[0].shape[-2:]
        (ys, th), (xs, tw) = _layout(ph, 1024, 32, 16), _layout(pw, 1024, 32, 16)
        with torch.inference_mode():
            for y0 in ys:
                for x0 in xs:
                    cy0, cx0 = max(y0 - 32, 0), max(x0 - 32, 0)
                    cy1, cx1 = min(y0 + th + 32, ph), min(x0 + tw + 32, pw)
                    u, o = (x[..., cy0:cy1, cx0:cx1] for x in ten)
                    t = time.perf_counter()
                    inter = model.unet(u, o)
                    t = tick("phase 1 UNet", t)
                    model.amnet(u, inter, o)
                    t = tick("phase 2 AMNet", t)
        out = model(*ten)  # untimed stand-in output of the right shape
        t = time.perf_counter()
        low = np.ascontiguousarray(out[0, :, :sh, :sw].permute(1, 2, 0).numpy())
        t = tick("tensor -> numpy", t)
        coef = guided_coefficients(np.concatenate(small, -1), low)
        t = tick("guided coefficients (working size)", t)
        np.clip(guided_upsample(coef, [frames[0], frames[-1]]), 0, 1)
        t = tick("guided upsampling (full size)", t)
    mert = statistics.median(rows["mertens (whole)"])
    print(f"tiles: {len(ys)}x{len(xs)} of {th}x{tw} (+32 context)")
    print(f"{'step':40s} {'median s':>9s} {'x mertens':>9s}")
    for name, ts in rows.items():
        total = sum(ts) / args.repeat  # per fusion, summed over tiles
        print(f"{name:40s} {total:9.3f} {total / mert:9.2f}")
    steps = sum(sum(ts) for n, ts in rows.items() if n != "mertens (whole)") / args.repeat
    print(f"{'progressive (sum of steps)':40s} {steps:9.3f} {steps / mert:9.2f}")
    print(f"load after: {os.getloadavg()}")


if __name__ == "__main__":
    main()
