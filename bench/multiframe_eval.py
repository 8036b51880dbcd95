"""Compare K-frame fusion designs on development brackets (one thread, a log of every run).

Each ``--config NAME=METHOD[:KEY=VALUE,...]`` is fused on

* ``mef_database``: every stack with ALL its frames (3 to 30), MEF-SSIM against all
  frames (mean and worst stack);
* ``mefb`` (``--mefb``): the under/over development pairs, MEF-SSIM against the pair;
* ``sice`` (``--sice``): the pairs with ground truth, PSNR / SSIM against it and the
  mean CIE-L* offset of the result from the ground truth.

Also printed: the mean CIE L* of the results and seconds per scene (the machine may
be shared: times are indicative; ``bench/multiframe_speed.py`` times cleanly).

Usage::

    OMP_NUM_THREADS=1 python bench/multiframe_eval.py --config mertens=mertens \\
        --config prog=progressive:flips=1 [--mefb] [--sice] [--only House,Studio] \\
        [--log /tmp/multi_eval.log] [--csv out.csv]

Values are parsed as ``mefkit fuse -p`` parses them.
"""

from __future__ import annotations

import argparse
import csv
import json
import time
from pathlib import Path

import numpy as np

ROOT = Path(__file__).resolve().parents[1]
IMAGE_EXT = (".png", ".jpg", ".jpeg", ".tif", ".tiff", ".bmp")


def _frames(folder: Path) -> list[Path]:
    return sorted(p for p in folder.iterdir() if p.suffix.lower() in IMAGE_EXT and p.stem != "gt")


def _lab_l_mean(img: np.ndarray) -> float:
    from mefkit.methods.cbm.stages.lab import rgb_to_lab

    return float(rgb_to_lab(img)[..., 0].mean())


def main() -> None:
    import torch

    import mefkit
    from mefkit.params import parse_params
    from mefkit.io import as_float_rgb, read_bracket
    from mefkit.io.read import read_image
    from mefkit.metrics import mef_ssim, psnr, ssim

    torch.set_num_threads(1)
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--data", default=str(ROOT.parent / "shared" / "data"))
    ap.add_argument("--config", action="append", required=True, help="NAME=METHOD[:K=V,K=V]")
    ap.add_argument("--only", default="", help="comma list of mef_database stacks")
    ap.add_argument("--no-madb", action="store_true", help="skip mef_database")
    ap.add_argument("--mefb", action="store_true")
    ap.add_argument("--sice", action="store_true")
    ap.add_argument("--log", default="/tmp/multi_eval.log")
    ap.add_argument("--csv", default=None)
    args = ap.parse_args()
    data = Path(args.data)
    configs = []
    for spec in args.config:
        name, _, rest = spec.partition("=")
        method, _, plist = rest.partition(":")
        params = parse_params(method, [p for p in plist.split(",") if p]) if plist else {}
        configs.append((name, method, params))
    rows = []
    log = open(args.log, "a")

    def emit(line: str) -> None:
        print(line, flush=True)
        log.write(line + "\n")
        log.flush()

    emit(f"# {time.strftime('%H:%M:%S')} {' '.join(args.config)}")
    suites = []
    if not args.no_madb:
        stacks = sorted(p for p in (data / "mef_database").iterdir() if p.is_dir())
        if args.only:
            keep = set(args.only.split(","))
            stacks = [s for s in stacks if s.name in keep]
        suites.append(("madb", [(s.name, _frames(s), None) for s in stacks]))
    if args.mefb:
        scenes = sorted(p for p in (data / "mefb").iterdir() if p.is_dir())
        suites.append(("mefb", [(s.name, [next(s.glob("under.*")), next(s.glob("over.*"))], None) for s in scenes]))
    if args.sice:
        scenes = sorted(p for p in (data / "sice").iterdir() if p.is_dir() and (p / "gt.png").exists())
        suites.append(("sice", [(s.name, [next(s.glob("under.*")), next(s.glob("over.*"))], s / "gt.png") for s in scenes]))
    for suite, items in suites:
        for name, method, params in configs:
            scores, times, extra = [], [], []
            for scene, paths, gt in items:
                bracket = read_bracket(paths, order="auto")
                t0 = time.perf_counter()
                out = mefkit.fuse(bracket, method, **params)
                dt = time.perf_counter() - t0
                times.append(dt)
                if suite == "sice":
                    ref = as_float_rgb(read_image(gt)[0], name=str(gt))
                    score = (psnr(out, ref), ssim(out, ref), _lab_l_mean(out) - _lab_l_mean(ref))
                else:
                    score = (mef_ssim(bracket.frames, out), _lab_l_mean(out))
                scores.append(score)
                rows.append({"suite": suite, "config": name, "scene": scene, "frames": len(paths),
                             "score": list(map(float, score)), "seconds": dt})
                if suite == "madb":
                    extra.append(f"{scene}:{score[0]:.3f}")
            arr = np.array(scores)
            if suite == "sice":
                emit(f"{suite:5s} {name:28s} PSNR {arr[:, 0].mean():.2f} SSIM {arr[:, 1].mean():.4f} "
                     f"dL* {' '.join(f'{v:+.1f}' for v in arr[:, 2])}  {np.mean(times):.2f} s/scene")
            else:
                worst = int(np.argmin(arr[:, 0]))
                emit(f"{suite:5s} {name:28s} mean {arr[:, 0].mean():.4f} worst {items[worst][0]} {arr[worst, 0]:.4f} "
                     f" L* {arr[:, 1].mean():.1f}  {np.mean(times):.2f} s/scene")
                if extra:
                    emit("      " + " ".join(extra))
    if args.csv:
        with open(args.csv, "w", newline="") as fh:
            w = csv.DictWriter(fh, fieldnames=list(rows[0]))
            w.writeheader()
            for r in rows:
                w.writerow({**r, "score": json.dumps(r["score"])})


if __name__ == "__main__":
    main()
