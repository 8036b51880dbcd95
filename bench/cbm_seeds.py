"""Summarise CBM ablation runs over training seeds (one ``bench/cbm_ablation.py`` JSON per seed).

Usage::

    python bench/cbm_seeds.py runs/H/ablation_mitm.json runs/H/ablation_mitm_s1.json ... \
        --out runs/H/ablation_mitm_seeds

For every row: the mean over seeds and the per-seed values of MEF-SSIM (MEFB dev), PSNR
and SSIM (SICE gt), the student's gap to the teacher row, and on how many MEFB pairs the
variance-weighted student beats the uniform one (per seed). Writes ``OUT.md`` and
``OUT.json``. The same teacher row is recomputed in each file; its spread is timing only.
"""

from __future__ import annotations

import argparse
import json
from pathlib import Path

import numpy as np

VARIANCE = "CBM variance, select, gamma, guard (default)"
UNIFORM = "CBM uniform, select, gamma, guard"


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("files", nargs="+", help="ablation JSON files, one per training seed")
    ap.add_argument("--out", required=True, help="output prefix (.md and .json)")
    args = ap.parse_args()
    runs = [json.loads(Path(f).read_text()) for f in args.files]
    rows = list(runs[0]["summary"])
    teacher = next(k for k in rows if k.startswith("teacher: "))
    out: dict[str, dict] = {}
    for key in rows:
        vals = {m: [r["summary"][key][m] for r in runs] for m in ("mef_ssim_mean", "sice_psnr_mean", "sice_ssim_mean",
                                                                    "sec_per_mp")}
        gap = [r["summary"][teacher]["mef_ssim_mean"] - r["summary"][key]["mef_ssim_mean"] for r in runs]
        above = []
        for r in runs:
            mefb = [p for p in r["per_image"] if p["set"] == "mefb"]
            above.append(int(sum(p[key]["mef_ssim"] > p[teacher]["mef_ssim"] for p in mefb)))
        out[key] = {**{m: {"mean": float(np.mean(v)), "per_seed": v} for m, v in vals.items()},
                    "gap_to_teacher": {"mean": float(np.mean(gap)), "per_seed": gap}, "pairs_above_teacher": above}
    wins = []
    for r in runs:
        mefb = [p for p in r["per_image"] if p["set"] == "mefb"]
        if mefb and VARIANCE in mefb[0] and UNIFORM in mefb[0]:
            d = np.array([p[VARIANCE]["mef_ssim"] - p[UNIFORM]["mef_ssim"] for p in mefb])
            wins.append({"variance_better_pairs": int((d > 0).sum()), "pairs": len(d), "mean_diff": float(d.mean())})
    Path(args.out).with_suffix(".json").write_text(json.dumps({"files": args.files, "rows": out,
                                                               "variance_vs_uniform": wins}, indent=1))
    f = lambda v, d: " / ".join(f"{x:.{d}f}" for x in v)  # noqa: E731
    lines = [f"seeds: {len(runs)} ({', '.join(args.files)})", "",
             "| row | MEF-SSIM mean (per seed) | gap to teacher | pairs above teacher | PSNR mean (per seed) "
             "| SSIM mean (per seed) |",
             "| --- | --- | --- | --- | --- | --- |"]
    for key, s in out.items():
        lines.append(f"| {key} | {s['mef_ssim_mean']['mean']:.4f} ({f(s['mef_ssim_mean']['per_seed'], 4)}) | "
                     f"{s['gap_to_teacher']['mean']:.4f} | {'/'.join(map(str, s['pairs_above_teacher']))} | "
                     f"{s['sice_psnr_mean']['mean']:.2f} ({f(s['sice_psnr_mean']['per_seed'], 2)}) | "
                     f"{s['sice_ssim_mean']['mean']:.4f} ({f(s['sice_ssim_mean']['per_seed'], 4)}) |")
    lines += ["", "variance vs uniform (MEFB pairs where variance is higher, mean difference), per seed: "
              + "; ".join(f"{w['variance_better_pairs']}/{w['pairs']}, {w['mean_diff']:+.4f}" for w in wins)]
    Path(args.out).with_suffix(".md").write_text("\n".join(lines) + "\n")
    print("\n".join(lines))


if __name__ == "__main__":
    main()
