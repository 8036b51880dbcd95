"""Figure of the progressive method's hue option on the bundled example: docs/figures/progressive_hue.jpg.

Panels, left to right: the darkest and brightest frames (the brightest has red clipped
over the coffee), Mertens, ``progressive`` with its default colour (``hue="network"``),
and ``progressive`` with ``hue="inputs"`` (:func:`mefkit.hue.restore_hue`).

Usage::

    python scripts/progressive_hue_figure.py [-o docs/figures/progressive_hue.jpg] [--width 1500]
"""

from __future__ import annotations

import argparse
from pathlib import Path

import cv2
import numpy as np

import mefkit

ROOT = Path(__file__).resolve().parents[1]


def _label(panel: np.ndarray, text: str) -> np.ndarray:
    """``panel`` (H, W, 3) uint8 RGB with ``text`` on a dark band at the top."""
    out = panel.copy()
    out[:28] = (out[:28] * 0.35).astype(np.uint8)
    cv2.putText(out, text, (8, 20), cv2.FONT_HERSHEY_SIMPLEX, 0.6, (255, 255, 255), 1, cv2.LINE_AA)
    return out


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("-o", "--out", type=Path, default=ROOT / "docs" / "figures" / "progressive_hue.jpg")
    ap.add_argument("--width", type=int, default=1500, help="width of the whole figure in pixels")
    args = ap.parse_args()
    bracket = mefkit.read_bracket(mefkit.example_bracket())
    dark, bright = bracket.frames[0], bracket.frames[-1]
    panels = [
        (dark, "darkest frame"),
        (bright, "brightest (red clipped)"),
        (mefkit.fuse(bracket, method="mertens"), "mertens"),
        (mefkit.fuse(bracket, method="progressive"), "progressive"),
        (mefkit.fuse(bracket, method="progressive", hue="inputs"), "progressive, hue=inputs"),
    ]
    row = np.concatenate([_label((np.clip(p, 0, 1) * 255 + 0.5).astype(np.uint8), t) for p, t in panels], axis=1)
    h = round(row.shape[0] * args.width / row.shape[1])
    row = cv2.resize(row, (args.width, h), interpolation=cv2.INTER_AREA)
    args.out.parent.mkdir(parents=True, exist_ok=True)
    cv2.imwrite(str(args.out), cv2.cvtColor(row, cv2.COLOR_RGB2BGR), [cv2.IMWRITE_JPEG_QUALITY, 88])
    print(f"wrote {args.out} ({row.shape[1]}x{row.shape[0]})")


if __name__ == "__main__":
    main()
