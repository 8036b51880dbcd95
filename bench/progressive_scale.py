"""How much a smaller network working size costs large brackets, measured where it can be.

A large bracket runs the networks at a reduced working size and comes back to full
size by guided upsampling (``mefkit.nn.tiling``); what matters is the ratio of the
full size to the working size (12 for 12 MP at the default 1 MP, 24 at 0.5 MP). No
development bracket is that large, so the ratio is reproduced on the largest MEFB
development pairs (about 1 MP): the reference is the network at full resolution
(``max_mp=0``), and each variant runs it at ``1/ratio`` of the pixels, then upsamples.
Printed per variant: PSNR against the reference (dB, RGB in [0, 1]), and MEF-SSIM
against the two inputs (Ma et al. 2015), with the reference's MEF-SSIM beside it.

On the 12 MP bench bracket (the bundled example upsampled, as ``progressive_speed.py``
makes it) it prints the PSNR of each ``--max-mp`` working size against the 1 MP one.

Usage::

    python bench/progressive_scale.py [--data ../shared/data] [--ratios 12,24,48] [--radius 4] [--bench-mp 0.5]
"""

from __future__ import annotations

import argparse
import sys
import tempfile
from pathlib import Path

import numpy as np

import mefkit
from mefkit.metrics import mef_ssim, psnr

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT / "bench"))

from progressive_speed import make_bracket  # noqa: E402

#: The largest MEFB development pairs (0.96-0.97 MP each).
SCENES = "ICCV_01,ICCV_02,ICCV_03,ICCV_04,ICCV_06,ICCV_07,ICCV_08,Land"


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--data", default=str(ROOT.parent / "shared" / "data"))
    ap.add_argument("--scenes", default=SCENES)
    ap.add_argument("--ratios", default="12,24,48", help="full size / working size, in pixels")
    ap.add_argument("--radius", default="4", help="guided-filter radii to try (comma-separated)")
    ap.add_argument("--bench-mp", default="0.5", help="working sizes (MP) to compare with 1 MP on the 12 MP bracket")
    args = ap.parse_args()
    radii = [int(r) for r in args.radius.split(",")]
    ratios = [float(r) for r in args.ratios.split(",")]
    rows: dict[str, list[tuple[float, float]]] = {}
    ref_scores = []
    for name in args.scenes.split(","):
        folder = Path(args.data) / "mefb" / name
        if not folder.is_dir():
            raise SystemExit(f"{folder}: not found (set --data)")
        paths = [sorted(folder.glob(f"{s}.*"))[0] for s in ("under", "over")]
        bracket = mefkit.read_bracket(paths, order="given")
        h, w = bracket.shape
        ref = mefkit.fuse(bracket, method="progressive", max_mp=0, flips=1)
        ref_scores.append(mef_ssim(list(bracket.frames), ref))
        line = [f"{name} {w}x{h}: reference MEF-SSIM {ref_scores[-1]:.4f}"]
        for ratio in ratios:
            for radius in radii:
                out = _fuse_radius(bracket, h * w / ratio / 1e6, radius)
                label = f"1/{ratio:g} of the pixels, radius {radius}"
                rows.setdefault(label, []).append((psnr(out, ref), mef_ssim(list(bracket.frames), out)))
                line.append(f"{label}: {rows[label][-1][0]:.2f} dB, {rows[label][-1][1]:.4f}")
        print("; ".join(line), flush=True)
    print(f"\nMEFB large pairs ({len(ref_scores)}), reference (full resolution) MEF-SSIM {np.mean(ref_scores):.4f}")
    print("| working size | PSNR vs full resolution (dB) | MEF-SSIM |\n| --- | --- | --- |")
    for label, vals in rows.items():
        print(f"| {label} | {np.mean([v[0] for v in vals]):.2f} | {np.mean([v[1] for v in vals]):.4f} |")
    if args.bench_mp:
        with tempfile.TemporaryDirectory() as tmp:
            frames = [np.load(p) for p in make_bracket(12.0, Path(tmp))]
            base = mefkit.fuse(frames, method="progressive", order="given", max_mp=1.0)
            print(f"\n12 MP bench bracket: MEF-SSIM at 1 MP working size {mef_ssim(frames, base):.4f}")
            for mp in (float(v) for v in args.bench_mp.split(",")):
                out = mefkit.fuse(frames, method="progressive", order="given", max_mp=mp)
                print(f"  {mp:g} MP working size: PSNR vs 1 MP {psnr(out, base):.2f} dB, MEF-SSIM {mef_ssim(frames, out):.4f}")


def _fuse_radius(bracket, max_mp: float, radius: int) -> np.ndarray:
    """``progressive`` at ``max_mp``, one pass, with the guided filter's radius set to ``radius``."""
    from mefkit.nn import tiling

    saved = tiling.GUIDE_RADIUS
    tiling.GUIDE_RADIUS = radius  # read by the guided upsampling at call time
    try:
        return mefkit.fuse(bracket, method="progressive", max_mp=max_mp, flips=1)
    finally:
        tiling.GUIDE_RADIUS = saved


if __name__ == "__main__":
    main()
