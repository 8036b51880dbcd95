"""SPD-MEF and DSIFT-EF faithfulness: mefkit against the authors' outputs published by MEFB.

For every development pair in ``../shared/data/mefb`` (or ``$MEFKIT_DATA/mefb``) and each
method, fuses the pair with mefkit and compares with MEFB's ``fused/<METHOD>.*``:

* ``psnr``: mefkit's output rounded to 8 bits against the authors' file;
* ``psnr_written``: the same, after writing mefkit's output the way the authors' file
  was written: JPEG pairs were saved by MATLAB ``imwrite`` (quality 75, 4:2:0), so
  mefkit's result goes through OpenCV's JPEG encoder at quality 75 first; PNG pairs as
  ``psnr``. Identical images score ``inf``; means cap every PSNR at 100 dB;
* MEF-SSIM (``mefkit.metrics.mef_ssim``) of both outputs against the pair (and of
  mefkit's output as written).

Pairs whose authors' output has another size (MEFB ran ``Preschool`` on the 2x
originals) are compared after resizing the authors' image to the pair (INTER_AREA).
``--upscale SCENE`` runs mefkit on the pair upsampled 2x (bicubic) instead and compares
at the authors' size, to test whether MEFB ran a pair on its full-size originals.

Usage::

    .venv/bin/python bench/spd_dsift_vs_authors.py [--method spd_mef|dsift_ef] [--csv OUT] [SCENE ...]
"""

from __future__ import annotations

import argparse
import csv
import math
import sys
import time
from pathlib import Path

import cv2
import numpy as np

from mefkit.devdata import data_root
import mefkit
from mefkit.io import read_image
from mefkit.metrics import mef_ssim

DATA = data_root()
#: mefkit method -> MEFB folder name of the authors' output.
METHODS = {"spd_mef": "SPD_MEF", "dsift_ef": "DSIFT_EF"}
#: MATLAB ``imwrite`` JPEG quality default, used by MEFB for the JPEG pairs' outputs.
MATLAB_JPEG_QUALITY = 75
PSNR_CAP = 100.0


def _psnr(a: np.ndarray, b: np.ndarray) -> float:
    mse = float(np.mean((a.astype(np.float64) - b.astype(np.float64)) ** 2))
    return math.inf if mse == 0 else 10 * math.log10(1.0 / mse)


def _as_written(fused: np.ndarray, suffix: str) -> np.ndarray:
    """``fused`` as it reads back after being saved like the authors' file (8-bit, JPEG q75)."""
    u8 = np.round(np.clip(fused, 0, 1) * 255).astype(np.uint8)
    if suffix.lower() in (".jpg", ".jpeg"):
        ok, buf = cv2.imencode(
            ".jpg", cv2.cvtColor(u8, cv2.COLOR_RGB2BGR), [cv2.IMWRITE_JPEG_QUALITY, MATLAB_JPEG_QUALITY]
        )
        u8 = cv2.cvtColor(cv2.imdecode(buf, cv2.IMREAD_COLOR), cv2.COLOR_BGR2RGB)
    return u8.astype(np.float32) / 255


def compare_pair(scene: Path, method: str, upscale: bool = False) -> dict:
    """Fuse one MEFB pair with ``method`` and score it against the authors' output."""
    under = read_image(next(scene.glob("under.*")))[0]
    over = read_image(next(scene.glob("over.*")))[0]
    ref_path = next((scene / "fused").glob(f"{METHODS[method]}.*"))
    ref = read_image(ref_path)[0]
    frames = [under, over]
    if upscale:
        h, w = under.shape[:2]
        frames = [np.clip(cv2.resize(f, (2 * w, 2 * h), interpolation=cv2.INTER_CUBIC), 0, 1) for f in frames]
    start = time.perf_counter()
    ours = mefkit.fuse(frames, method=method, order="given")
    seconds = time.perf_counter() - start
    if upscale:
        ours = cv2.resize(ours, (ref.shape[1], ref.shape[0]), interpolation=cv2.INTER_AREA)
    resized = ref.shape != ours.shape
    if resized:
        ref = cv2.resize(ref, (ours.shape[1], ours.shape[0]), interpolation=cv2.INTER_AREA)
    ours8 = np.round(ours * 255) / 255
    written = _as_written(ours, ref_path.suffix)
    pair = [under, over]
    if pair[0].shape != ours.shape:  # --upscale with an authors' output at 2x
        pair = [np.clip(cv2.resize(f, ours.shape[1::-1], interpolation=cv2.INTER_CUBIC), 0, 1) for f in pair]
    return {
        "method": method,
        "scene": scene.name,
        "size": f"{ours.shape[1]}x{ours.shape[0]}",
        "ext": ref_path.suffix.lstrip("."),
        "resized_ref": resized,
        "psnr": _psnr(ours8, ref),
        "psnr_written": _psnr(written, ref),
        "mef_ssim_ours": mef_ssim(pair, ours8),
        "mef_ssim_written": mef_ssim(pair, written),
        "mef_ssim_theirs": mef_ssim(pair, ref),
        "seconds": seconds,
        "megapixels": ours.shape[0] * ours.shape[1] / 1e6,
    }


def summarise(rows: list[dict]) -> str:
    """Markdown summary lines of one method's rows."""
    cap = lambda v: min(v, PSNR_CAP)  # noqa: E731
    psnr = np.array([cap(r["psnr"]) for r in rows])
    written = np.array([cap(r["psnr_written"]) for r in rows])
    ours = np.array([r["mef_ssim_ours"] for r in rows])
    theirs = np.array([r["mef_ssim_theirs"] for r in rows])
    ours_w = np.array([r["mef_ssim_written"] for r in rows])
    exact = sum(math.isinf(r["psnr_written"]) for r in rows)
    spmp = sum(r["seconds"] for r in rows) / sum(r["megapixels"] for r in rows)
    return (
        f"{rows[0]['method']}: {len(rows)} pairs; PSNR mean {psnr.mean():.2f} dB (median "
        f"{np.median(psnr):.2f}, min {psnr.min():.2f}); as written: mean {written.mean():.2f} dB, "
        f"{exact} pairs bit-identical; MEF-SSIM mefkit {ours.mean():.4f} vs authors "
        f"{theirs.mean():.4f} (mean |diff| {np.abs(ours - theirs).mean():.4f}; as written "
        f"{ours_w.mean():.4f}, mean |diff| {np.abs(ours_w - theirs).mean():.4f}); "
        f"{spmp:.2f} s/MP"
    )


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("scenes", nargs="*", help="scene names (default: all development pairs)")
    ap.add_argument("--method", choices=sorted(METHODS), action="append", help="default: both")
    ap.add_argument("--csv", type=Path, help="write every row to this CSV file")
    ap.add_argument("--upscale", action="store_true", help="run on the pair upsampled 2x")
    args = ap.parse_args(argv)
    root = DATA / "mefb"
    if not root.is_dir():
        print(f"no MEFB data at {root}", file=sys.stderr)
        return 2
    scenes = sorted(p for p in root.iterdir() if (p / "fused").is_dir())
    if args.scenes:
        scenes = [p for p in scenes if p.name in args.scenes]
    all_rows = []
    for method in args.method or sorted(METHODS):
        rows = []
        for scene in scenes:
            row = compare_pair(scene, method, args.upscale)
            rows.append(row)
            print(
                f"{method:8s} {row['scene']:18s} {row['size']:>9s} {row['ext']:4s} "
                f"PSNR {row['psnr']:6.2f} written {row['psnr_written']:6.2f} dB  "
                f"MEF-SSIM ours {row['mef_ssim_ours']:.4f} theirs {row['mef_ssim_theirs']:.4f}  "
                f"{row['seconds']:.2f} s",
                flush=True,
            )
        print(summarise(rows), flush=True)
        all_rows += rows
    if args.csv:
        with open(args.csv, "w", newline="") as fh:
            writer = csv.DictWriter(fh, fieldnames=list(all_rows[0]))
            writer.writeheader()
            writer.writerows(all_rows)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
