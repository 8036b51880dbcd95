"""MEF-SSIM and MEF-SSIMd with and without alignment and deghosting on real hand-held stacks.

    OMP_NUM_THREADS=1 .venv/bin/python bench/align_eval.py [--methods mertens,progressive] [--out runs/align_eval]

Runs ``mefkit eval`` on ``../shared/data/misaligned`` (5 under/over pairs) and
``../shared/data/train_stacks_dynamic`` (9 stacks, all frames) five times: as read, with
``--align``, with ``--deghost``, with both, and with ``--align --deghost flow``, and prints one table per data set
(method x stages, means over the scenes). Both metrics compare every result with the
frames as read (MEF-SSIMd: Fang, Zhu, Ma, Wang, Li, IEEE TIP 2020, splits each image into
static and moving regions; MEF-SSIM: Ma, Zeng, Wang, IEEE TIP 2015, assumes a static
scene). Finished cells in the report folders are reused.
"""

from __future__ import annotations

import argparse
import csv
import math
import subprocess
import sys
from pathlib import Path

from mefkit.devdata import data_root

CONFIGS = {"none": [], "align": ["--align"], "deghost": ["--deghost"], "align+deghost": ["--align", "--deghost"],
           "align+flow": ["--align", "--deghost", "flow"]}
DATASETS = {"misaligned": ["--pairs", "under-over"], "train_stacks_dynamic": ["--pairs", "all"]}
METRICS = ("mef_ssim", "mef_ssim_d")


def run(data: Path, out: Path, methods: str, extra: list[str]) -> None:
    cmd = [sys.executable, "-m", "mefkit", "eval", str(data), "--methods", methods, "--metrics", ",".join(METRICS),
           "-o", str(out), "-q", *extra]
    res = subprocess.run(cmd)
    if res.returncode not in (0, 1):  # 1: some cells failed, still a report
        raise SystemExit(f"{' '.join(cmd)}: exit {res.returncode}")


def read(out: Path) -> dict[tuple[str, str], dict[str, float]]:
    cells = {}
    with open(out / "results.csv", newline="") as fh:
        for row in csv.DictReader(fh):
            if row["status"] == "ok":
                cells[(row["scene"], row["method"])] = {m: float(row[m]) for m in METRICS if row[m]}
    return cells


def table(name: str, results: dict[str, dict], methods: list[str]) -> str:
    head = "| method | " + " | ".join(f"MEF-SSIM {c} | MEF-SSIMd {c}" for c in CONFIGS) + " |"
    lines = [f"### {name}", "", head, "|---|" + "---:|" * (2 * len(CONFIGS))]
    for m in methods:
        row = [m]
        for c in CONFIGS:
            for metric in METRICS:
                vals = [v[metric] for (s, mm), v in results[c].items() if mm == m and metric in v]
                row.append(f"{sum(vals) / len(vals):.4f}" if vals else "-")
        lines.append("| " + " | ".join(row) + " |")
    return "\n".join(lines)


def per_scene(results: dict[str, dict], method: str) -> str:
    scenes = sorted({s for (s, m) in results["none"] if m == method})
    lines = [f"| scene ({method}) | " + " | ".join(f"MEF-SSIMd {c}" for c in CONFIGS) + " |",
             "|---|" + "---:|" * len(CONFIGS)]
    for s in scenes:
        vals = [results[c].get((s, method), {}).get("mef_ssim_d", math.nan) for c in CONFIGS]
        lines.append(f"| {s} | " + " | ".join(f"{v:.4f}" for v in vals) + " |")
    return "\n".join(lines)


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--methods", default="mertens,progressive")
    ap.add_argument("--out", type=Path, default=Path("runs/align_eval"))
    ap.add_argument("--per-scene", default="mertens", help="method whose per-scene MEF-SSIMd is printed")
    args = ap.parse_args()
    root = data_root()
    methods = [m.strip() for m in args.methods.split(",") if m.strip()]
    for ds, extra in DATASETS.items():
        data = root / ds
        if not data.is_dir():
            print(f"{data}: not found, skipped")
            continue
        results = {}
        for c, flags in CONFIGS.items():
            out = args.out / f"{ds}_{c.replace('+', '_')}"
            run(data, out, args.methods, [*extra, *flags])
            results[c] = read(out)
        print(table(f"{ds} ({len({s for s, _ in results['none']})} scenes)", results, methods))
        print()
        print(per_scene(results, args.per_scene))
        print()


if __name__ == "__main__":
    main()
