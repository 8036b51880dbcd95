"""Quality of ``progressive`` (phase 1 alone and phase 2) against Mertens on development data.

* MEFB development pairs (``<data>/mefb/<scene>/under.*, over.*``; no ground truth):
  mean MEF-SSIM of each fusion against its input pair.
* SICE pairs with ground truth (``<data>/sice/samt_labeled_*/under, over, gt``): PSNR
  and SSIM against the ground truth (RGB, ``mefkit.metrics`` defaults), and MEF-SSIM.

None of these scenes is in the training data (the exclusion of ``mefkit.train``
keeps MEFB / MEF-database scenes out; SICE is not used for training here).

Usage::

    python bench/progressive_quality.py [--data ../shared/data] [--weights PATH] [-p max_mp=1.0]
        [--limit N] [--csv out.csv]

Prints a Markdown table; ``--csv`` also writes one row per scene and method.
"""

from __future__ import annotations

import argparse
import csv
import time
from pathlib import Path

import numpy as np

from mefkit.devdata import data_root
import mefkit
from mefkit.params import parse_params
from mefkit.methods.progressive import fuse_both_phases
from mefkit.metrics import mef_ssim, psnr, ssim

ROOT = Path(__file__).resolve().parents[1]


def _pair(folder: Path) -> tuple[Path, Path, Path | None]:
    def one(stem: str) -> Path | None:
        hits = sorted(folder.glob(f"{stem}.*"))
        return hits[0] if hits else None

    return one("under"), one("over"), one("gt")


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--data", default=str(data_root()))
    ap.add_argument("--weights", default=None)
    ap.add_argument("-p", "--param", action="append", default=[], help="progressive parameter KEY=VALUE")
    ap.add_argument("--limit", type=int, default=0, help="only the first N MEFB scenes")
    ap.add_argument("--csv", default=None)
    ap.add_argument("--only", default="", help="comma list among mertens,phase1,phase2 (default: all)")
    ap.add_argument("--from-csv", action="append", default=[], help="summarise earlier --csv files instead of fusing")
    args = ap.parse_args()
    params = parse_params("progressive", args.param)  # as `mefkit fuse -p KEY=VALUE` reads them
    if args.weights:
        params["weights"] = args.weights
    data = Path(args.data)
    methods = {
        "mertens": ("mertens", {}),
        "progressive phase 1": ("progressive", {**params, "phase": 1}),
        "progressive phase 2": ("progressive", {**params, "phase": 2}),
    }
    if args.only:
        keep = {"mertens": "mertens", "phase1": "progressive phase 1", "phase2": "progressive phase 2"}
        wanted = {keep[k.strip()] for k in args.only.split(",")}
        methods = {k: v for k, v in methods.items() if k in wanted}
    rows: list[dict] = []
    if args.from_csv:
        for path in args.from_csv:
            with open(path, newline="") as f:
                for r in csv.DictReader(f):
                    rows.append({k: (float(v) if k in ("seconds", "mef_ssim", "psnr", "ssim") and v else v)
                                 for k, v in r.items()})
        methods = {r["method"]: None for r in rows}
        summarise(rows, methods)
        return
    sets = [("mefb", sorted(p for p in (data / "mefb").iterdir() if p.is_dir()))]
    if args.limit:
        sets[0] = ("mefb", sets[0][1][: args.limit])
    sets.append(("sice", sorted(p for p in (data / "sice").glob("samt_labeled_*") if p.is_dir())))
    for set_name, scenes in sets:
        for scene in scenes:
            under, over, gt = _pair(scene)
            if under is None or over is None:
                continue
            bracket = mefkit.read_bracket([under, over], order="given")
            ref = mefkit.read_image(gt)[0] if gt is not None else None
            both = None
            if "progressive phase 1" in methods and "progressive phase 2" in methods:
                # One pass gives both phases (phase 2 runs phase 1 anyway); time split evenly.
                t = time.perf_counter()
                p = {k: v for k, v in params.items() if k != "phase"}
                both = dict(zip(("progressive phase 1", "progressive phase 2"), fuse_both_phases(bracket.frames, **p)))
                both_s = (time.perf_counter() - t) / 2
            for label, (method, p) in methods.items():
                t = time.perf_counter()
                if both is not None and label in both:
                    fused, seconds = both[label], both_s
                else:
                    fused = mefkit.fuse(bracket, method=method, **p)
                    seconds = time.perf_counter() - t
                row = {"set": set_name, "scene": scene.name, "method": label, "seconds": round(seconds, 3),
                       "mef_ssim": mef_ssim(bracket.frames, fused)}
                if ref is not None:
                    row["psnr"] = psnr(fused, ref)
                    row["ssim"] = ssim(fused, ref)
                rows.append(row)
            done = rows[-len(methods):]
            print(set_name, scene.name, " ".join(f"{r['method']}={r['mef_ssim']:.4f}" for r in done), flush=True)
    if args.csv:
        with open(args.csv, "w", newline="") as f:
            w = csv.DictWriter(f, fieldnames=["set", "scene", "method", "seconds", "mef_ssim", "psnr", "ssim"])
            w.writeheader()
            w.writerows(rows)
    summarise(rows, methods)


def summarise(rows: list[dict], methods: dict) -> None:
    """Print the mean of each metric per set and method as Markdown tables."""
    print()
    for set_name, cols in (("mefb", ("mef_ssim",)), ("sice", ("psnr", "ssim", "mef_ssim"))):
        sel = [r for r in rows if r["set"] == set_name]
        if not sel:
            continue
        n = len({r["scene"] for r in sel})
        print(f"{set_name} ({n} scenes)\n")
        print("| method | " + " | ".join(cols) + " | s/pair |")
        print("| --- | " + " | ".join("---" for _ in cols) + " | --- |")
        for label in methods:
            mine = [r for r in sel if r["method"] == label]
            if not mine:
                continue
            vals = " | ".join(f"{np.mean([r[c] for r in mine]):.4f}" for c in cols)
            print(f"| {label} | {vals} | {np.mean([r['seconds'] for r in mine]):.2f} |")
        print()


if __name__ == "__main__":
    main()
