"""Figure: fusion of real hand-held brackets with and without alignment and deghosting.

    OMP_NUM_THREADS=1 .venv/bin/python bench/align_eval_figure.py [--out docs/figures/align_eval.jpg]

One row per bracket: the plain Mertens result (the crop marked), then the crop from Mertens
and from ``progressive``, each as read and with ``align=True, deghost=True``. The crop is
where the two Mertens results differ most (a box-filtered absolute difference). Each crop
is labelled with the method, the stages and the result's MEF-SSIMd (Fang, Zhu, Ma, Wang,
Li, IEEE TIP 2020) against the frames as read.
"""

from __future__ import annotations

import argparse
import os
from pathlib import Path

os.environ.setdefault("OMP_NUM_THREADS", "1")

import cv2  # noqa: E402
import numpy as np  # noqa: E402

import mefkit  # noqa: E402
from mefkit.devdata import data_root  # noqa: E402
from mefkit.io import list_images  # noqa: E402
from mefkit.metrics import mef_ssim_d  # noqa: E402

SCENES = ("misaligned/crmef_127", "train_stacks_dynamic/pmef_mefb_src/TableLamp",
          "train_stacks_dynamic/cvp/SculptureGardenSequence", "train_stacks_dynamic/pmef_dataset3/MarketMires2")
METHODS = ("mertens", "progressive")
CROP = 150  # crop side at the frame's resolution
TILE = 220  # displayed crop side


def most_changed(a: np.ndarray, b: np.ndarray, side: int) -> tuple[int, int]:
    """Top-left corner of the ``side`` x ``side`` window where ``a`` and ``b`` differ most."""
    diff = cv2.boxFilter(np.abs(a - b).mean(axis=2), -1, (side, side), normalize=True)
    h, w = diff.shape
    r = side // 2
    inner = diff[r:h - r, r:w - r]
    y, x = np.unravel_index(np.argmax(inner), inner.shape)
    return int(y), int(x)


def label(img: np.ndarray, text: str) -> np.ndarray:
    out = np.ascontiguousarray((np.clip(img, 0, 1) * 255 + 0.5).astype(np.uint8))
    cv2.rectangle(out, (0, 0), (out.shape[1], 18), (0, 0, 0), -1)
    cv2.putText(out, text, (3, 13), cv2.FONT_HERSHEY_SIMPLEX, 0.4, (255, 255, 255), 1, cv2.LINE_AA)
    return out


def row(name: str, frames: list[np.ndarray]) -> np.ndarray:
    results = {}
    for m in METHODS:
        results[(m, False)] = mefkit.fuse(frames, m)
        results[(m, True)] = mefkit.fuse(frames, m, align=True, deghost=True)
    side = min(CROP, *frames[0].shape[:2])
    y, x = most_changed(results[("mertens", False)], results[("mertens", True)], side)
    plain = results[("mertens", False)]
    h, w = plain.shape[:2]
    scale = TILE / h
    overview = cv2.resize(plain, (round(w * scale), TILE), interpolation=cv2.INTER_AREA)
    overview = label(overview, name.split("/")[-1])
    p0 = (round(x * scale), round(y * scale))
    p1 = (round((x + side) * scale), round((y + side) * scale))
    cv2.rectangle(overview, p0, p1, (255, 255, 0), 2)
    tiles = [overview]
    for (m, staged), img in results.items():
        score = mef_ssim_d(frames, img)
        crop = cv2.resize(img[y:y + side, x:x + side], (TILE, TILE), interpolation=cv2.INTER_CUBIC)
        tiles.append(label(crop, f"{m}{' +align+deghost' if staged else ''}  {score:.3f}"))
        print(f"{name} {m} staged={staged} MEF-SSIMd {score:.4f}", flush=True)
    gap = np.full((TILE, 4, 3), 255, np.uint8)
    parts = []
    for t in tiles:
        parts += [t, gap]
    return np.concatenate(parts[:-1], axis=1)


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--out", type=Path, default=Path("docs/figures/align_eval.jpg"))
    args = ap.parse_args()
    root = data_root()
    rows = []
    for name in SCENES:
        folder = root / name
        if not folder.is_dir():
            print(f"{folder}: not found, skipped")
            continue
        frames = mefkit.load_frames(list_images(folder)).frames
        rows.append(row(name, frames))
    if not rows:
        raise SystemExit("no data found")
    width = max(r.shape[1] for r in rows)
    rows = [np.pad(r, ((0, 4), (0, width - r.shape[1]), (0, 0)), constant_values=255) for r in rows]
    fig = np.concatenate(rows, axis=0)[:-4]
    args.out.parent.mkdir(parents=True, exist_ok=True)
    mefkit.write_image(args.out, fig.astype(np.float32) / 255, force=True)
    print(f"wrote {args.out} ({fig.shape[1]}x{fig.shape[0]})")


if __name__ == "__main__":
    main()
