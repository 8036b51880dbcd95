"""Show what the pyramid level count does to Mertens fusion on real pairs.

    python scripts/mertens_levels.py [--data ../shared/data/mefb] [--scenes A,B,C]

For each MEFB pair: the paper's level count floor(log2(min(H, W))) vs OpenCV's one
more, their PSNR to each other, each one's MEF-SSIM, and each one's PSNR to OpenCV's
``createMergeMertens(1, 1, 1)``. Prints a Markdown table.
"""

from __future__ import annotations

import argparse
from pathlib import Path

import cv2
import numpy as np

from mefkit.devdata import data_root
import mefkit
from mefkit.metrics import mef_ssim, psnr
from mefkit.pyramid import max_levels

ROOT = Path(__file__).resolve().parents[1]
DEFAULT_SCENES = "Memorial,ICCV_01,Cave,ChineseGarden,Venice,House,Window2,SevenElevenNight"


def opencv_mertens(frames: list[np.ndarray]) -> np.ndarray:
    bgr = [np.round(f[:, :, ::-1] * 255).astype(np.uint8) for f in frames]
    return np.clip(cv2.createMergeMertens(1.0, 1.0, 1.0).process(bgr)[:, :, ::-1], 0, 1)


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--data", type=Path, default=data_root() / "mefb")
    ap.add_argument("--scenes", default=DEFAULT_SCENES)
    args = ap.parse_args()
    print("| scene | size | paper levels | MEF-SSIM (paper) | MEF-SSIM (+1, OpenCV's) | PSNR paper vs +1 | PSNR +1 vs OpenCV |")
    print("|---|---|---|---|---|---|---|")
    for name in args.scenes.split(","):
        folder = args.data / name
        if not folder.is_dir():
            continue
        br = mefkit.read_bracket([next(folder.glob("under.*")), next(folder.glob("over.*"))], order="given")
        h, w = br.shape
        n = max_levels(h, w)
        paper = mefkit.fuse(br, levels=n)
        plus = mefkit.fuse(br, levels=n + 1)
        ref = opencv_mertens(br.frames)
        print(
            f"| {name} | {w}x{h} | {n} | {mef_ssim(br.frames, paper):.4f} | {mef_ssim(br.frames, plus):.4f} | "
            f"{psnr(paper, plus):.1f} | {psnr(plus, ref):.1f} |",
            flush=True,
        )


if __name__ == "__main__":
    main()
