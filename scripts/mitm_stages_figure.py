"""Stage-by-stage figure of MITM for one scene: docs/figures/mitm_stages.png.

Panels: the input pair (LE, HE), the mutual translations (HE' = G_LH(LE), LE' = G_HL(HE)),
the middle exposure ME and its trans-switching map T, the high-mid and mid-low images,
the stretched multiscale-retinex lightness, and the output.

Usage::

    python scripts/mitm_stages_figure.py                       # MEFB dev scene "Venice"
    python scripts/mitm_stages_figure.py --scene example      # the bundled example bracket
    python scripts/mitm_stages_figure.py --under U.png --over O.png -o fig.png --weights W.safetensors
"""

from __future__ import annotations

import argparse
from pathlib import Path

import numpy as np

from mefkit.devdata import data_root
import mefkit
from mefkit.methods.mitm import mitm_stages

ROOT = Path(__file__).resolve().parents[1]
DATA = data_root()


def _pair(args: argparse.Namespace) -> tuple[list[Path], str]:
    if args.under and args.over:
        return [Path(args.under), Path(args.over)], Path(args.under).parent.name
    if args.scene == "example":
        paths = mefkit.example_bracket()
        return [paths[0], paths[-1]], "bundled example"
    folder = DATA / "mefb" / args.scene
    under = sorted(folder.glob("under.*"))
    over = sorted(folder.glob("over.*"))
    if not under or not over:
        raise SystemExit(f"no under/over pair in {folder} (set MEFKIT_DATA or use --scene example)")
    return [under[0], over[0]], f"MEFB {args.scene}"


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--scene", default="Venice", help="MEFB development scene, or 'example'.")
    parser.add_argument("--under", help="Under-exposed image (with --over, instead of --scene).")
    parser.add_argument("--over", help="Over-exposed image.")
    parser.add_argument("--weights", help="Translator file (default: the shipped pair).")
    parser.add_argument("--translator", default="learned", choices=("learned", "curve"))
    parser.add_argument("-o", "--output", default=str(ROOT / "docs" / "figures" / "mitm_stages.png"))
    parser.add_argument("--width", type=float, default=12.0, help="Figure width in inches.")
    parser.add_argument("--dpi", type=int, default=80)
    args = parser.parse_args()

    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    paths, title = _pair(args)
    frames = mefkit.load_frames(paths).frames
    s = mitm_stages(frames, translator=args.translator, weights=args.weights)
    panels = [
        ("LE (input)", s.under), ("HE (input)", s.over), ("HE' = G_LH(LE)", s.over_from_under),
        ("LE' = G_HL(HE)", s.under_from_over), ("ME (middle exposure)", s.middle), ("T = SMap(ME)", s.tsmap),
        ("high-mid HM", s.high_mid), ("mid-low ML", s.mid_low), ("multiscale SSR lightness", s.detail),
        ("output", s.output),
    ]
    cols = 5
    rows = (len(panels) + cols - 1) // cols
    h, w = s.under.shape[:2]
    fig, axes = plt.subplots(rows, cols, figsize=(args.width, (args.width / cols * h / w + 0.35) * rows + 0.5))
    for ax, (name, img) in zip(axes.ravel(), panels):
        if img.ndim == 2:
            ax.imshow(img, cmap="gray", vmin=0, vmax=1)
        else:
            ax.imshow(np.clip(img, 0, 1))
        ax.set_title(name, fontsize=9)
        ax.axis("off")
    for ax in axes.ravel()[len(panels):]:
        ax.axis("off")
    fig.suptitle(f"MITM (reconstructed) stages, {title}", fontsize=11)
    fig.tight_layout(h_pad=1.2)
    out = Path(args.output)
    out.parent.mkdir(parents=True, exist_ok=True)
    fig.savefig(out, dpi=args.dpi)
    print(f"wrote {out} ({out.stat().st_size // 1024} KiB)")


if __name__ == "__main__":
    main()
