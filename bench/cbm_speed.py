"""Time per megapixel: CBM (student) against its teacher and the paper's teacher (MITM).

Usage: ``python bench/cbm_speed.py [--methods mertens,cbm,mitm] [--repeat 3]``

Fuses the MEFB development pair ``ICCV_02`` (1200x800) with each method in one process,
one torch thread, after one warm-up call; prints the best of ``--repeat`` runs. The CPU
is shared with other jobs, so only the ratios within one run mean much.
"""

from __future__ import annotations

import argparse
import time
from pathlib import Path

from mefkit.devdata import data_root
import mefkit

DATA = data_root()


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--methods", default="mertens,cbm,mitm")
    ap.add_argument("--scene", default="ICCV_02")
    ap.add_argument("--repeat", type=int, default=3)
    args = ap.parse_args()

    import torch

    torch.set_num_threads(1)
    scene = DATA / "mefb" / args.scene
    frames = [mefkit.read_image(str(next(scene.glob(f"{n}.*"))))[0] for n in ("under", "over")]
    mp = frames[0].shape[0] * frames[0].shape[1] / 1e6
    print(f"{args.scene}: {frames[0].shape[1]}x{frames[0].shape[0]} ({mp:.2f} MP), best of {args.repeat}")
    for method in args.methods.split(","):
        mefkit.fuse(frames, method=method, order="given")  # warm-up: imports, weights, allocations
        best = min(_timed(frames, method) for _ in range(args.repeat))
        print(f"| {method} | {best:.2f} s | {best / mp:.2f} s/MP |", flush=True)


def _timed(frames, method: str) -> float:
    t = time.perf_counter()
    mefkit.fuse(frames, method=method, order="given")
    return time.perf_counter() - t


if __name__ == "__main__":
    main()
