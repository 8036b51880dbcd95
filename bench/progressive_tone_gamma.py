"""Would a global mid-grey gamma make progressive's tone better? MEF-SSIM, L* and SICE.

    OMP_NUM_THREADS=1 python bench/progressive_tone_gamma.py [--method progressive] > tone.jsonl

For every ``mef_database`` stack (all frames), every ``mefb`` pair and the two ``sice``
pairs with a ground truth, the method's result is scored as it is (``none``), after
CBM's gamma compensation of the lightness (``mid``: the exponent that takes the mean
L*/100 to 0.5, bounded to [0.6, 1.6], :func:`mefkit.methods.cbm.stages.gamma.gamma_exponent`)
and after half of it in log (``half``: the square root of that exponent). One JSON
line per scene: MEF-SSIM against the frames, mean L*, the exponent, the median frame's
mean L*, and PSNR / SSIM against the ground truth where there is one. The summary
(means per set) is printed to stderr at the end.
"""

from __future__ import annotations

import argparse
import json
import math
import statistics
import sys

import numpy as np


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--method", default="progressive")
    args = ap.parse_args()
    import torch

    torch.set_num_threads(1)
    import mefkit
    from mefkit.devdata import data_root
    from mefkit.io.convert import lab_to_rgb, rgb_to_lab
    from mefkit.io.read import read_image
    from mefkit.methods.cbm.stages.gamma import gamma_exponent
    from mefkit.metrics import mef_ssim, psnr, ssim

    root = data_root()
    if not root.is_dir():
        sys.exit("development data not found (../shared/data or MEFKIT_DATA)")
    ext = (".png", ".jpg", ".jpeg", ".tif", ".tiff", ".bmp")

    def frames_of(folder):
        return [read_image(p)[0] for p in sorted(folder.iterdir()) if p.suffix.lower() in ext and p.stem != "gt"]

    def variants(img):
        lab = rgb_to_lab(img)
        light = np.clip(lab[..., 0] / 100, 0, 1)
        g = gamma_exponent(light)
        out = {"none": img}
        for name, e in (("mid", g), ("half", math.sqrt(g))):
            toned = lab.copy()
            toned[..., 0] = 100 * light ** np.float32(e)
            out[name] = np.clip(lab_to_rgb(toned), 0, 1)
        return out, g

    sets = [("mef_database", sorted(p for p in (root / "mef_database").iterdir() if p.is_dir())),
            ("sice", [root / "sice/samt_labeled_001", root / "sice/samt_labeled_002"]),
            ("mefb", sorted(p for p in (root / "mefb").iterdir() if p.is_dir()))]
    rows = []
    for set_name, folders in sets:
        for folder in folders:
            frames = frames_of(folder)
            if len(frames) < 2:
                continue
            outs, g = variants(mefkit.fuse(frames, args.method))
            ls = sorted(float(rgb_to_lab(f)[..., 0].mean()) for f in frames)
            row = {"set": set_name, "scene": folder.name, "k": len(frames), "gamma": g,
                   "median_frame_L": float(np.median(ls))}
            gt = folder / "gt.png"
            for name, img in outs.items():
                row[f"L_{name}"] = float(rgb_to_lab(img)[..., 0].mean())
                row[f"mef_{name}"] = float(mef_ssim(frames, img))
                if gt.exists():
                    ref = read_image(gt)[0]
                    row[f"psnr_{name}"], row[f"ssim_{name}"] = float(psnr(img, ref)), float(ssim(img, ref))
            rows.append(row)
            print(json.dumps(row), flush=True)
    for set_name, _ in sets:
        rr = [r for r in rows if r["set"] == set_name]
        for v in ("none", "mid", "half"):
            line = (f"{set_name:13s} {v:5s} n={len(rr):3d} MEF-SSIM {statistics.mean(r['mef_' + v] for r in rr):.4f}"
                    f" (lowest {min(r['mef_' + v] for r in rr):.4f}) L* {statistics.mean(r['L_' + v] for r in rr):.1f}")
            if rr and f"psnr_{v}" in rr[0]:
                line += (f"  PSNR {statistics.mean(r['psnr_' + v] for r in rr):.2f}"
                         f" SSIM {statistics.mean(r['ssim_' + v] for r in rr):.4f}")
            print(line, file=sys.stderr)


if __name__ == "__main__":
    main()
