"""One Markdown table from three ``mefkit eval`` report folders: the MEF database with all
frames, the MEFB pairs and the SICE pairs, side by side, one row per method.

Reads each folder's ``results.csv`` (one row per scene x method, written by ``mefkit
eval``) and prints, per method: mean MEF-SSIM over the MEF-database stacks (scored against
every frame) with its worst stack, mean CIE-Lab a*b* shift (``Δab``) and mean L*; the same
three on MEFB; on SICE the PSNR and SSIM over the pairs with a ground truth, the L*
offset from the ground truth (``ΔL* GT``) and ``Δab`` over all pairs. Usage (after
``bench/eval_tables.sh`` or the commands in ``docs/benchmarks.md``)::

    python bench/eval_combined_table.py reports/mef_database_all reports/mefb reports/sice

A folder given as ``-`` leaves its columns empty.
"""

from __future__ import annotations

import argparse
import csv
import math
from pathlib import Path


def read_cells(report_dir: Path) -> dict[str, dict[str, dict[str, float]]]:
    """``{method: {scene: {metric: value}}}`` of the finished cells of a report folder
    (empty for ``-``: that data set's columns stay empty)."""
    out: dict[str, dict[str, dict[str, float]]] = {}
    if str(report_dir) == "-":
        return out
    path = Path(report_dir) / "results.csv"
    if not path.is_file():
        raise SystemExit(f"{path}: not found (run mefkit eval into {report_dir} first)")
    with path.open(newline="") as fh:
        for row in csv.DictReader(fh):
            if row["status"] != "ok":
                continue
            vals = {}
            for key, text in row.items():
                try:
                    vals[key] = float(text)
                except (TypeError, ValueError):
                    continue
            out.setdefault(row["method"], {})[row["scene"]] = vals
    return out


def mean(cells: dict[str, dict[str, float]] | None, metric: str) -> float | None:
    if not cells:
        return None
    vals = [v[metric] for v in cells.values() if metric in v and not math.isnan(v[metric])]
    return sum(vals) / len(vals) if vals else None


def worst(cells: dict[str, dict[str, float]] | None, metric: str) -> str:
    if not cells:
        return "-"
    vals = [(v[metric], s) for s, v in cells.items() if metric in v]
    if not vals:
        return "-"
    value, scene = min(vals)
    return f"{scene} {value:.3f}"


def fmt(v: float | None, digits: int) -> str:
    return "-" if v is None else f"{v:.{digits}f}"


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("mef_database", type=Path, help="report folder of the MEF database run (--pairs all)")
    ap.add_argument("mefb", type=Path, help="report folder of the MEFB run")
    ap.add_argument("sice", type=Path, help="report folder of the SICE run")
    args = ap.parse_args()
    db, mefb, sice = read_cells(args.mef_database), read_cells(args.mefb), read_cells(args.sice)
    methods = list(dict.fromkeys([*db, *mefb, *sice]))
    methods.sort(key=lambda m: -(mean(db.get(m), "mef_ssim") or mean(mefb.get(m), "mef_ssim") or 0))
    n_db = max((len(c) for c in db.values()), default=0)
    n_mefb = max((len(c) for c in mefb.values()), default=0)
    n_gt = max((sum("psnr" in v for v in c.values()) for c in sice.values()), default=0)
    n_sice = max((len(c) for c in sice.values()), default=0)
    print(f"| method | MEF DB MEF-SSIM ({n_db} stacks, all frames) | worst stack | MEF DB Δab | MEF DB L* "
          f"| MEFB MEF-SSIM ({n_mefb}) | MEFB Δab | MEFB L* | SICE PSNR ({n_gt} gt) | SICE SSIM | SICE ΔL* GT "
          f"| SICE Δab ({n_sice}) |")
    print("|---|" + "---:|" * 3 + "---:|" * 8)
    for m in methods:
        d, b, s = db.get(m), mefb.get(m), sice.get(m)
        print(f"| {m} | {fmt(mean(d, 'mef_ssim'), 4)} | {worst(d, 'mef_ssim')} | {fmt(mean(d, 'color_shift'), 2)} "
              f"| {fmt(mean(d, 'l_mean'), 1)} | {fmt(mean(b, 'mef_ssim'), 4)} | {fmt(mean(b, 'color_shift'), 2)} "
              f"| {fmt(mean(b, 'l_mean'), 1)} | {fmt(mean(s, 'psnr'), 2)} | {fmt(mean(s, 'ssim'), 4)} "
              f"| {fmt(mean(s, 'dl_gt'), 1)} | {fmt(mean(s, 'color_shift'), 2)} |")


if __name__ == "__main__":
    main()
