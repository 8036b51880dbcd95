"""The CBM example figure of ``docs/bench/cbm.md``: the bundled example, five panels.

Usage::

    python bench/cbm_example_figure.py [--weights W.safetensors] [--teacher mitm] \
        [--out docs/bench/cbm_example.jpg]

Panels, left to right, 300 px wide each: darkest frame, brightest frame, CBM without the
clip guard (the paper's literal chroma rule), CBM as shipped (clip guard on), the teacher.
"""

from __future__ import annotations

import argparse

import cv2
import numpy as np

import mefkit


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--weights", default=None, help="CBM weights (default: the shipped ones)")
    ap.add_argument("--teacher", default="mitm")
    ap.add_argument("--width", type=int, default=300, help="panel width in pixels")
    ap.add_argument("--out", default="docs/bench/cbm_example.jpg")
    args = ap.parse_args()

    import torch

    torch.set_num_threads(1)
    frames = mefkit.load_frames(mefkit.example_bracket()).frames
    pair = [frames[0], frames[-1]]
    extra = {"weights": args.weights} if args.weights else {}
    panels = [
        pair[0],
        pair[1],
        mefkit.fuse(pair, method="cbm", order="given", clip_guard=None, **extra),
        mefkit.fuse(pair, method="cbm", order="given", **extra),
        mefkit.fuse(pair, method=args.teacher, order="given"),
    ]
    h, w = pair[0].shape[:2]
    size = (args.width, round(h * args.width / w))
    row = np.concatenate([cv2.resize(np.clip(p, 0, 1), size, interpolation=cv2.INTER_AREA) for p in panels], axis=1)
    cv2.imwrite(args.out, np.round(row[:, :, ::-1] * 255).astype(np.uint8), [cv2.IMWRITE_JPEG_QUALITY, 88])
    print(f"wrote {args.out} ({row.shape[1]}x{row.shape[0]})")


if __name__ == "__main__":
    main()
