"""Global brightness of the learned methods against ground truth: is a simple correction principled?

For each SICE pair with a ground truth (``<data>/sice/*/gt.png``) and each method, prints
the mean CIE L* of the result and of the ground truth, PSNR and SSIM (RGB), and the same
after three global lightness corrections of the result (its a*b* kept):

* ``mid``: a gamma on L/100 mapping the mean lightness to 0.5 (mid-grey, as ``cbm``'s
  ``gamma="auto"``; exponent clipped to [0.6, 1.6]);
* ``mertens``: an L* offset to the mean L* of Mertens' fusion of the same frames;
* ``oracle``: an L* offset to the ground truth's mean L* (an upper bound, not a method).

    OMP_NUM_THREADS=1 python bench/multiframe_tone.py [--data ../shared/data] [--methods progressive,cbm,mitm]
"""

from __future__ import annotations

import argparse
from pathlib import Path

import numpy as np

ROOT = Path(__file__).resolve().parents[1]


def main() -> None:
    import torch

    import mefkit
    from mefkit.io import as_float_rgb, read_bracket
    from mefkit.io.read import read_image
    from mefkit.methods.cbm.stages.lab import lab_to_rgb, rgb_to_lab
    from mefkit.metrics import psnr, ssim

    torch.set_num_threads(1)
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--data", default=str(ROOT.parent / "shared" / "data"))
    ap.add_argument("--methods", default="progressive,cbm,mitm,mertens")
    args = ap.parse_args()

    def with_l(img: np.ndarray, new_l) -> np.ndarray:
        lab = rgb_to_lab(img)
        lab[..., 0] = np.clip(new_l(lab[..., 0]), 0, 100)
        return np.clip(lab_to_rgb(lab), 0, 1)

    scenes = sorted(p for p in (Path(args.data) / "sice").iterdir() if (p / "gt.png").exists())
    print("| scene | method | L* result / GT | PSNR | SSIM | mid: L*, PSNR, SSIM | mertens: L*, PSNR, SSIM | oracle: PSNR, SSIM |")
    print("|---|---|---|---|---|---|---|---|")
    for scene in scenes:
        bracket = read_bracket([next(scene.glob("under.*")), next(scene.glob("over.*"))])
        gt = as_float_rgb(read_image(scene / "gt.png")[0], name="gt")
        l_gt = float(rgb_to_lab(gt)[..., 0].mean())
        l_mertens = float(rgb_to_lab(mefkit.fuse(bracket, "mertens"))[..., 0].mean())
        for method in args.methods.split(","):
            out = mefkit.fuse(bracket, method)
            l_out = float(rgb_to_lab(out)[..., 0].mean())
            g = float(np.clip(np.log(0.5) / np.log(max(l_out / 100, 1e-3)), 0.6, 1.6))
            mid = with_l(out, lambda L: 100 * (L / 100) ** g)
            mer = with_l(out, lambda L: L + (l_mertens - l_out))
            ora = with_l(out, lambda L: L + (l_gt - l_out))
            cells = [f"{float(rgb_to_lab(x)[..., 0].mean()):.1f}, {psnr(x, gt):.2f}, {ssim(x, gt):.4f}" for x in (mid, mer)]
            print(f"| {scene.name} | {method} | {l_out:.1f} / {l_gt:.1f} | {psnr(out, gt):.2f} | {ssim(out, gt):.4f} | "
                  f"{cells[0]} | {cells[1]} | {psnr(ora, gt):.2f}, {ssim(ora, gt):.4f} |", flush=True)


if __name__ == "__main__":
    main()
