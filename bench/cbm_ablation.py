"""CBM ablation on the development data.

Rows: the teacher; CBM trained with variance-driven weights and with uniform weights;
``select`` vs ``weighted`` chroma; with and without gamma compensation; with and
without the clipping guard of the chroma stage (one factor changed at a time from the
default: variance weights, select, gamma auto, guard on). Scores:
mean MEF-SSIM on the development MEFB pairs, PSNR / SSIM against the ground truth of
the SICE pairs that have one, and the time per pair (teacher vs student).

Usage::

    python bench/cbm_ablation.py --variance W1.safetensors --uniform W2.safetensors \
        --teacher mertens --out runs/F/ablation

The U-Net runs once per model and image; the colour / gamma variants reuse its
lightness (their own cost is in the "CBM" time, which is the full default pipeline).
Timings are wall-clock on a shared CPU: compare within a run, not across runs.
"""

from __future__ import annotations

import argparse
import json
import time
from pathlib import Path

import numpy as np

from mefkit.devdata import data_root
import mefkit
from mefkit.methods.cbm.stages import clip_reliability, compose, rgb_to_lab
from mefkit.metrics import mef_ssim, psnr, ssim
from mefkit.methods.cbm import fused_lightness

DATA = data_root()

#: (row name, model key, chroma, gamma, clip guard)
VARIANTS = [
    ("CBM variance, select, gamma, guard (default)", "variance", "select", "auto", True),
    ("CBM uniform, select, gamma, guard", "uniform", "select", "auto", True),
    ("CBM variance, weighted, gamma, guard", "variance", "weighted", "auto", True),
    ("CBM variance, select, no gamma, guard", "variance", "select", "off", True),
    ("CBM variance, select, gamma, no guard", "variance", "select", "auto", False),
]


def pairs(root: Path, names: list[str] | None = None):
    for scene in sorted(p for p in root.iterdir() if p.is_dir()):
        if names and scene.name not in names:
            continue
        under = next(scene.glob("under.*"))
        over = next(scene.glob("over.*"))
        gt = next(scene.glob("gt.*"), None)
        yield scene.name, under, over, gt


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--variance", help="weights trained with variance-driven weights")
    ap.add_argument("--uniform", help="weights trained with uniform weights")
    ap.add_argument("--teacher", default="mertens")
    ap.add_argument("--baseline", default="mertens", help="extra classic row (skipped if == teacher)")
    ap.add_argument("--max-mp", type=lambda v: v if v == "train" else float(v), default="train",
                    help="U-Net size budget: 'train' (the training scale, longer side 512 px), megapixels, or 0 (full resolution)")
    ap.add_argument("--limit", type=int, default=0, help="first N MEFB pairs only (smoke test)")
    ap.add_argument("--threads", type=int, default=1)
    ap.add_argument("--shard", default="0/1", help="K/N: score only pairs with index %% N == K (run N in parallel)")
    ap.add_argument("--merge", nargs="*", help="merge these shard .json files into --out instead of scoring")
    ap.add_argument("--out", required=True, help="output prefix (.json and .md are written)")
    args = ap.parse_args()
    if args.merge:
        per_image = [r for f in args.merge for r in json.loads(Path(f).read_text())["per_image"]]
        write_summary(per_image, args)
        return
    shard_k, shard_n = (int(v) for v in args.shard.split("/"))

    import torch

    torch.set_num_threads(args.threads)
    models = {"variance": args.variance, "uniform": args.uniform}
    refs = [args.teacher] + ([args.baseline] if args.baseline and args.baseline != args.teacher else [])
    sets = [("mefb", DATA / "mefb", None)]
    sice_gt = sorted(p.name for p in (DATA / "sice").glob("samt_labeled_*"))
    sets.append(("sice", DATA / "sice", sice_gt))
    per_image = []
    for set_name, root, names in sets:
        items = list(pairs(root, names))
        if set_name == "mefb" and args.limit:
            items = items[: args.limit]
        for i, (scene, under_p, over_p, gt_p) in enumerate(items):
            if i % shard_n != shard_k:
                continue
            under, over = (mefkit.read_image(str(p))[0] for p in (under_p, over_p))
            gt = mefkit.read_image(str(gt_p))[0] if gt_p is not None else None
            mp = under.shape[0] * under.shape[1] / 1e6
            outs: dict[str, tuple[np.ndarray, float]] = {}
            for m in refs:
                t = time.perf_counter()
                fused = mefkit.fuse([under, over], method=m, order="given")
                key = f"teacher: {args.teacher}" if m == args.teacher else m
                outs[key] = (fused, time.perf_counter() - t)
            labs = None
            lums = {}
            variants = VARIANTS if args.variance and args.uniform else []  # no weights: reference rows only
            for key, path in (models.items() if variants else ()):
                t = time.perf_counter()
                labs = [rgb_to_lab(under), rgb_to_lab(over)]
                lums[key] = fused_lightness(labs[0][..., 0] / 100, labs[1][..., 0] / 100, weights=path,
                                            max_mp=args.max_mp)
                lums[key + "_sec"] = time.perf_counter() - t
            for name, model, chroma, gamma, guard in variants:
                t = time.perf_counter()
                rel = [clip_reliability(under), clip_reliability(over)] if guard else None
                out = compose(labs, lums[model], chroma=chroma, gamma=gamma, reliabilities=rel)
                outs[name] = (out, lums[model + "_sec"] + time.perf_counter() - t)
            rec = {"set": set_name, "scene": scene, "mp": mp}
            for key, (fused, sec) in outs.items():
                if set_name == "mefb":
                    rec[key] = {"mef_ssim": mef_ssim([under, over], fused), "sec": sec}
                elif gt is not None:
                    rec[key] = {"psnr": psnr(fused, gt), "ssim": ssim(fused, gt), "sec": sec}
            per_image.append(rec)
            print(set_name, scene, {k: round(v.get("mef_ssim", v.get("psnr", 0)), 4) for k, v in rec.items() if isinstance(v, dict)}, flush=True)

    write_summary(per_image, args)


def write_summary(per_image: list[dict], args: argparse.Namespace) -> None:
    """Means per row over the scored pairs; writes ``OUT.json`` and ``OUT.md``."""
    keys = [k for k, v in per_image[0].items() if isinstance(v, dict)]
    rows = {k: {"mefb": [], "psnr": [], "ssim": [], "sec": [], "mp": []} for k in keys}
    for rec in per_image:
        for key in keys:
            v = rec[key]
            rows[key]["sec"].append(v["sec"])
            rows[key]["mp"].append(rec["mp"])
            if "mef_ssim" in v:
                rows[key]["mefb"].append(v["mef_ssim"])
            else:
                rows[key]["psnr"].append(v["psnr"])
                rows[key]["ssim"].append(v["ssim"])
    summary = {}
    for key, r in rows.items():
        summary[key] = {
            "mef_ssim_mean": float(np.mean(r["mefb"])) if r["mefb"] else None,
            "n_mefb": len(r["mefb"]),
            "sice_psnr_mean": float(np.mean(r["psnr"])) if r["psnr"] else None,
            "sice_ssim_mean": float(np.mean(r["ssim"])) if r["ssim"] else None,
            "n_sice": len(r["psnr"]),
            "sec_per_mp": float(np.sum(r["sec"]) / np.sum(r["mp"])),
            "sec_total": float(np.sum(r["sec"])),
        }
    out = Path(args.out)
    out.parent.mkdir(parents=True, exist_ok=True)
    out.with_suffix(".json").write_text(json.dumps({"args": vars(args), "summary": summary, "per_image": per_image}, indent=1))
    lines = [
        f"| method | MEF-SSIM, MEFB dev ({summary[next(iter(summary))]['n_mefb']} pairs) | PSNR, SICE gt | SSIM, SICE gt | s / MP |",
        "| --- | --- | --- | --- | --- |",
    ]
    for key, s in summary.items():
        fmt = lambda v, d: "-" if v is None else f"{v:.{d}f}"  # noqa: E731
        lines.append(f"| {key} | {fmt(s['mef_ssim_mean'], 4)} | {fmt(s['sice_psnr_mean'], 2)} | "
                     f"{fmt(s['sice_ssim_mean'], 4)} | {s['sec_per_mp']:.2f} |")
    out.with_suffix(".md").write_text("\n".join(lines) + "\n")
    print("\n".join(lines))


if __name__ == "__main__":
    main()
