"""Transforms found on real hand-held brackets (no ground truth): ``../shared/data/misaligned``
(five under/over pairs) and ``../shared/data/train_stacks_dynamic``.

    OMP_NUM_THREADS=1 .venv/bin/python bench/align_real.py [--out-dir DIR]

Prints each frame's transform (``Alignment.describe``) and the gradient correlation of
each frame with the reference before and after alignment (an exposure-robust sign that
the edges line up). With ``--out-dir`` writes Mertens fusions without and with
``align=True, deghost=True`` side by side for inspection.
"""

from __future__ import annotations

import argparse
import os
import warnings
from pathlib import Path

os.environ.setdefault("OMP_NUM_THREADS", "1")

import cv2  # noqa: E402
import numpy as np  # noqa: E402

cv2.setNumThreads(1)

import mefkit  # noqa: E402
from mefkit.align.estimate import gradient_magnitude  # noqa: E402
from mefkit.align.normalise import luma  # noqa: E402
from mefkit.devdata import data_root  # noqa: E402
from mefkit.io import list_images  # noqa: E402
from mefkit.prepare import prepare_frames  # noqa: E402

DATA = data_root()


def edge_corr(a, b) -> float:
    """Correlation of the gradient magnitudes of two frames (central 80 %)."""
    h, w = a.shape[:2]
    sl = np.s_[h // 10:h - h // 10, w // 10:w - w // 10]
    ga, gb = gradient_magnitude(luma(a))[sl], gradient_magnitude(luma(b))[sl]
    ga, gb = ga - ga.mean(), gb - gb.mean()
    return float((ga * gb).sum() / np.sqrt((ga * ga).sum() * (gb * gb).sum()))


def brackets():
    for d in sorted((DATA / "misaligned").glob("crmef_*")):
        yield f"misaligned/{d.name}", [d / "under.png", d / "over.png"]
    root = DATA / "train_stacks_dynamic"
    for src in sorted(p for p in root.iterdir() if p.is_dir()) if root.is_dir() else []:
        for scene in sorted(p for p in src.iterdir() if p.is_dir()):
            yield f"dynamic/{scene.name}", list_images(scene)


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--out-dir", type=Path)
    args = ap.parse_args()
    for name, paths in brackets():
        frames = mefkit.load_frames(paths).frames
        with warnings.catch_warnings(record=True) as caught:
            warnings.simplefilter("always")
            prep = prepare_frames(frames, align=True)
        ref = prep.reference
        print(f"{name} ({len(frames)} frames, reference {ref}):")
        for line in prep.describe():
            print("  " + line)
        for c in caught:
            print(f"  warning: {c.message}")
        before = [edge_corr(f, frames[ref]) for i, f in enumerate(frames) if i != ref]
        after = [edge_corr(f, prep.frames[ref]) for i, f in enumerate(prep.frames) if i != ref]
        print(f"  edge correlation with the reference: before {np.mean(before):.3f}, after {np.mean(after):.3f}")
        if args.out_dir:
            args.out_dir.mkdir(parents=True, exist_ok=True)
            plain = mefkit.fuse(frames)
            fixed = mefkit.fuse(frames, align=True, deghost=True, reference=ref)
            mefkit.write_image(args.out_dir / f"{name.replace('/', '_')}.jpg", np.concatenate([plain, fixed], 1),
                               force=True)


if __name__ == "__main__":
    main()
