"""Guided upsampling of the progressive result: time and fidelity of the variants.

Captures the working-size network result and guide of a real ``progressive`` fusion
of the 12 MP bench bracket (``progressive_speed.py``'s) and of the largest MEFB
development pairs run at 1/12 of their pixels (the 12 MP ratio), then brings it to
full size by:

* ``fit at working size``: the guided filter's coefficients fitted at the working
  size (radius 4), as shipped;
* ``fit at 1/s``: the coefficients fitted on the working-size guide and result shrunk
  ``s`` times (radius ``4 / s``), the fast guided filter of He and Sun (arXiv
  1505.00996, 2015); the final bilinear interpolation of the coefficients to full size
  is the same.

Prints the time of each (median, Mertens on the same frames beside it) and the PSNR
of each against the first, and on MEFB against the network at full resolution.

Usage::

    python bench/progressive_guided.py [--subsample 2,3] [--repeat 3] [--data ../shared/data]
"""

from __future__ import annotations

import argparse
import os
import statistics
import sys
import tempfile
import time
from pathlib import Path

import cv2
import numpy as np

import mefkit
from mefkit.metrics import mef_ssim, psnr
from mefkit.nn import tiling

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT / "bench"))

from progressive_speed import make_bracket  # noqa: E402


def capture(frames, **params):
    """``(guide_small, low, guide_full, out)`` of one progressive fusion."""
    seen = {}
    fit, up = tiling.guided_coefficients, tiling.guided_upsample

    def fit_spy(guide, target, **k):
        seen["guide"], seen["low"] = guide, target
        return fit(guide, target, **k)

    def up_spy(coef, full, **k):
        seen["full"] = full
        return up(coef, full, **k)

    tiling.guided_coefficients, tiling.guided_upsample = fit_spy, up_spy
    try:
        out = mefkit.fuse(frames, method="progressive", order="given", **params)
    finally:
        tiling.guided_coefficients, tiling.guided_upsample = fit, up
    return seen["guide"], seen["low"], seen["full"], out


def fit_subsampled(guide, low, s: int):
    if s == 1:
        return tiling.guided_coefficients(guide, low)
    h, w = guide.shape[:2]
    size = (max(1, round(w / s)), max(1, round(h / s)))
    shrink = lambda im: np.stack([cv2.resize(np.ascontiguousarray(im[..., c]), size, interpolation=cv2.INTER_AREA)  # noqa: E731
                                  for c in range(im.shape[-1])], -1)  # INTER_AREA takes at most 4 channels
    g, t = shrink(guide), shrink(low)
    return tiling.guided_coefficients(g, t, radius=max(1, round(tiling.GUIDE_RADIUS / s)))


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--subsample", default="2,3")
    ap.add_argument("--repeat", type=int, default=3)
    ap.add_argument("--data", default=str(ROOT.parent / "shared" / "data"))
    ap.add_argument("--scenes", default="ICCV_01,ICCV_02,ICCV_03,ICCV_04,Land")
    args = ap.parse_args()
    subs = [1] + [int(s) for s in args.subsample.split(",")]
    with tempfile.TemporaryDirectory() as tmp:
        frames = [np.load(p) for p in make_bracket(12.0, Path(tmp))]
    guide, low, full, out = capture(frames)
    times: dict[int, list[float]] = {s: [] for s in subs}
    fit_times: dict[int, list[float]] = {s: [] for s in subs}
    mert = []
    results = {}
    for _ in range(args.repeat):
        t = time.perf_counter()
        mefkit.fuse(frames, method="mertens", order="given")
        mert.append(time.perf_counter() - t)
        for s in subs:
            t = time.perf_counter()
            coef = fit_subsampled(guide, low, s)
            t1 = time.perf_counter()
            results[s] = np.clip(tiling.guided_upsample(coef, full), 0, 1)
            fit_times[s].append(t1 - t)
            times[s].append(time.perf_counter() - t)
    m = statistics.median(mert)
    print(f"12 MP bench bracket (load {os.getloadavg()[0]:.1f}); Mertens {m:.2f} s; "
          f"MEF-SSIM as shipped {mef_ssim(frames, results[1]):.4f}")
    for s in subs:
        ft, tt = statistics.median(fit_times[s]), statistics.median(times[s])
        print(f"  fit at 1/{s}: fit {ft:.2f} s (x{ft / m:.2f} Mertens), fit + upsampling {tt:.2f} s (x{tt / m:.2f}); "
              f"PSNR vs fit at working size {psnr(results[s], results[1]):.2f} dB; "
              f"MEF-SSIM {mef_ssim(frames, results[s]):.4f}")
    rows: dict[int, list[tuple[float, float]]] = {s: [] for s in subs}
    for name in args.scenes.split(","):
        folder = Path(args.data) / "mefb" / name
        if not folder.is_dir():
            print(f"{folder}: missing, MEFB part skipped")
            return
        paths = [sorted(folder.glob(f"{x}.*"))[0] for x in ("under", "over")]
        pair = list(mefkit.read_bracket(paths, order="given").frames)
        h, w = pair[0].shape[:2]
        ref = mefkit.fuse(pair, method="progressive", order="given", max_mp=0, flips=1)
        guide, low, full, _ = capture(pair, max_mp=h * w / 12 / 1e6, flips=1)
        for s in subs:
            res = np.clip(tiling.guided_upsample(fit_subsampled(guide, low, s), full), 0, 1)
            rows[s].append((psnr(res, ref), mef_ssim(pair, res)))
    print(f"MEFB {args.scenes} at 1/12 of their pixels; reference: the network at full resolution")
    for s in subs:
        print(f"  fit at 1/{s}: PSNR vs reference {np.mean([r[0] for r in rows[s]]):.2f} dB, "
              f"MEF-SSIM {np.mean([r[1] for r in rows[s]]):.4f}")


if __name__ == "__main__":
    main()
