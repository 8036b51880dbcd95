"""DEM faithfulness: mefkit's ``dem`` against the authors' outputs published by MEFB.

For every development pair in ``../shared/data/mefb`` (or ``$MEFKIT_DATA/mefb``):
PSNR between mefkit's DEM and MEFB's ``fused/DEM.*`` (both quantised to 8 bits, as
MEFB stored theirs), and MEF-SSIM of each against the pair. Where MEFB's file is a
JPEG (re-encoded by MATLAB ``imwrite``, default quality 75), also the PSNR and
MEF-SSIM of mefkit's output after the same JPEG encoding (OpenCV, quality 75), which
separates JPEG loss from algorithmic difference. Prints one row per pair and the
means; ``--markdown`` prints a Markdown table for ``docs/bench/``.

Usage::

    .venv/bin/python bench/dem_vs_authors.py [--markdown] [SCENE ...]
"""

from __future__ import annotations

import argparse
import sys
import time
from pathlib import Path

import cv2
import numpy as np

from mefkit.devdata import data_root
import mefkit
from mefkit.io import read_image
from mefkit.metrics import mef_ssim, psnr

#: MATLAB ``imwrite`` JPEG quality default, with which MEFB wrote its JPEG results.
MATLAB_JPEG_QUALITY = 75

DATA = data_root()


def compare_pair(scene: Path, method: str = "dem", reference: str = "DEM") -> dict:
    """Fuse one MEFB pair with ``method`` and score it against MEFB's ``reference`` output."""
    under = read_image(next(scene.glob("under.*")))[0]
    over = read_image(next(scene.glob("over.*")))[0]
    ref_path = next((scene / "fused").glob(f"{reference}.*"))
    ref = read_image(ref_path)[0]
    start = time.perf_counter()
    ours = mefkit.fuse([under, over], method=method, order="given")
    seconds = time.perf_counter() - start
    if ref.shape != ours.shape:
        # Preschool, SevenElevenNight: MEFB ran the methods on 2x originals (MANIFEST.md).
        ref = cv2.resize(ref, (ours.shape[1], ours.shape[0]), interpolation=cv2.INTER_AREA)
    ours8 = np.round(ours * 255) / 255  # the 8-bit file the authors' pipeline would write
    jpeg_psnr = jpeg_mef = float("nan")
    if ref_path.suffix.lower() in (".jpg", ".jpeg"):
        bgr = (ours8[:, :, ::-1] * 255).astype(np.uint8)
        ok, buf = cv2.imencode(".jpg", bgr, [cv2.IMWRITE_JPEG_QUALITY, MATLAB_JPEG_QUALITY])
        ours_jpeg = cv2.imdecode(buf, cv2.IMREAD_COLOR)[:, :, ::-1].astype(np.float32) / 255
        jpeg_psnr = psnr(ours_jpeg, ref)
        jpeg_mef = mef_ssim([under, over], ours_jpeg)
    return {
        "scene": scene.name,
        "size": f"{ours.shape[1]}x{ours.shape[0]}",
        "ext": ref_path.suffix.lstrip("."),
        "resized_ref": ref.shape != read_image(ref_path)[0].shape,
        "psnr": psnr(ours8, ref),
        "mef_ssim_ours": mef_ssim([under, over], ours8),
        "mef_ssim_theirs": mef_ssim([under, over], ref),
        "psnr_jpeg": jpeg_psnr,
        "mef_ssim_jpeg": jpeg_mef,
        "seconds": seconds,
    }


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("scenes", nargs="*", help="scene names (default: all development pairs)")
    ap.add_argument("--markdown", action="store_true", help="print a Markdown table")
    args = ap.parse_args(argv)
    root = DATA / "mefb"
    if not root.is_dir():
        print(f"no MEFB data at {root}", file=sys.stderr)
        return 2
    scenes = sorted(p for p in root.iterdir() if (p / "fused").is_dir())
    if args.scenes:
        scenes = [p for p in scenes if p.name in args.scenes]
    rows = []
    for scene in scenes:
        row = compare_pair(scene)
        rows.append(row)
        if not args.markdown:
            print(
                f"{row['scene']:20s} {row['size']:>10s} {row['ext']:4s} PSNR {row['psnr']:6.2f} dB  "
                f"MEF-SSIM ours {row['mef_ssim_ours']:.4f} theirs {row['mef_ssim_theirs']:.4f}  "
                f"as JPEG: PSNR {row['psnr_jpeg']:6.2f} MEF-SSIM {row['mef_ssim_jpeg']:.4f}  "
                f"{row['seconds']:.2f} s",
                flush=True,
            )
    if args.markdown:
        print(
            "| scene | size | ref | PSNR (dB) | MEF-SSIM mefkit | MEF-SSIM authors "
            "| PSNR, mefkit as JPEG q75 | MEF-SSIM, mefkit as JPEG q75 |"
        )
        print("| --- | --- | --- | ---: | ---: | ---: | ---: | ---: |")
        for r in rows:
            note = ", resized" if r["resized_ref"] else ""
            jp = "" if np.isnan(r["psnr_jpeg"]) else f"{r['psnr_jpeg']:.2f}"
            jm = "" if np.isnan(r["mef_ssim_jpeg"]) else f"{r['mef_ssim_jpeg']:.4f}"
            print(
                f"| {r['scene']} | {r['size']} | {r['ext']}{note} | {r['psnr']:.2f} | "
                f"{r['mef_ssim_ours']:.4f} | {r['mef_ssim_theirs']:.4f} | {jp} | {jm} |"
            )
    p = np.array([r["psnr"] for r in rows])
    mo = np.array([r["mef_ssim_ours"] for r in rows])
    mt = np.array([r["mef_ssim_theirs"] for r in rows])
    print(
        f"\n{len(rows)} pairs: mean PSNR {p.mean():.2f} dB (min {p.min():.2f}); "
        f"mean MEF-SSIM mefkit {mo.mean():.4f}, authors {mt.mean():.4f}, "
        f"difference {mo.mean() - mt.mean():+.4f}"
    )
    png = [r for r in rows if np.isnan(r["psnr_jpeg"])]
    jpg = [r for r in rows if not np.isnan(r["psnr_jpeg"])]
    if png:
        print(f"lossless references ({len(png)}): mean PSNR {np.mean([r['psnr'] for r in png]):.2f} dB, "
              f"min {min(r['psnr'] for r in png):.2f}")
    if jpg:
        print(f"JPEG references ({len(jpg)}): mean PSNR {np.mean([r['psnr'] for r in jpg]):.2f} dB; "
              f"mefkit re-encoded as JPEG q75: mean PSNR {np.mean([r['psnr_jpeg'] for r in jpg]):.2f} dB, "
              f"MEF-SSIM difference to authors "
              f"{np.mean([r['mef_ssim_jpeg'] - r['mef_ssim_theirs'] for r in jpg]):+.4f}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
