"""Quality cost of tiled and reduced-scale inference of ``progressive`` vs one full-resolution pass.

For each pair given (default: a few large MEFB development pairs), the reference is
the network run once on the whole image at full resolution (``max_mp=0, tile=0``);
compared with it (PSNR, dB, RGB in [0, 1]):

* tiled at full resolution (``tile`` 256 and 512, feathered overlaps);
* the networks at a reduced scale (``max_mp`` 0.5 and 0.25) + guided upsampling;
* for scale: plain bilinear upsampling of the reduced-scale output.

Usage::

    python bench/progressive_tiling.py [--data ../shared/data] [--scenes ICCV_01,Land] [--phase 2] [--weights PATH]
"""

from __future__ import annotations

import argparse
import time
from pathlib import Path

import cv2
import numpy as np

from mefkit.devdata import data_root
import mefkit
from mefkit.metrics import psnr

ROOT = Path(__file__).resolve().parents[1]


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--data", default=str(data_root()))
    ap.add_argument("--scenes", default="ICCV_01,Land,door2")
    ap.add_argument("--phase", type=int, default=2)
    ap.add_argument("--weights", default=None)
    args = ap.parse_args()
    base = {"phase": args.phase}
    if args.weights:
        base["weights"] = args.weights
    variants = {
        "tile 512": {"max_mp": 0, "tile": 512},
        "tile 256": {"max_mp": 0, "tile": 256},
        "0.5 MP + guided": {"max_mp": 0.5, "tile": 512},
        "0.25 MP + guided": {"max_mp": 0.25, "tile": 512},
    }
    results: dict[str, list[float]] = {k: [] for k in variants}
    results["0.25 MP + bilinear"] = []
    for name in args.scenes.split(","):
        folder = Path(args.data) / "mefb" / name
        frames = [sorted(folder.glob(f"{s}.*"))[0] for s in ("under", "over")]
        bracket = mefkit.read_bracket(frames, order="given")
        h, w = bracket.shape
        t = time.perf_counter()
        ref = mefkit.fuse(bracket, method="progressive", max_mp=0, tile=0, **base)
        line = [f"{name} {w}x{h}: full pass {time.perf_counter() - t:.1f} s"]
        for label, p in variants.items():
            t = time.perf_counter()
            out = mefkit.fuse(bracket, method="progressive", **base, **p)
            results[label].append(psnr(out, ref))
            line.append(f"{label} {results[label][-1]:.2f} dB ({time.perf_counter() - t:.1f} s)")
        from mefkit.nn.tiling import working_size

        sh, sw = working_size(h, w, 0.25)
        small = [cv2.resize(f, (sw, sh), interpolation=cv2.INTER_AREA).clip(0, 1) for f in bracket.frames]
        low = mefkit.fuse(small, method="progressive", order="given", max_mp=0, tile=512, **base)
        results["0.25 MP + bilinear"].append(psnr(np.clip(cv2.resize(low, (w, h), interpolation=cv2.INTER_LINEAR), 0, 1), ref))
        line.append(f"0.25 MP + bilinear {results['0.25 MP + bilinear'][-1]:.2f} dB")
        print("; ".join(line), flush=True)
    print("\n| variant | PSNR vs full-resolution pass (dB, mean) |\n| --- | --- |")
    for label, vals in results.items():
        print(f"| {label} | {np.mean(vals):.2f} |")


if __name__ == "__main__":
    main()
