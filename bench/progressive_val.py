"""Progressive weights and options on the held-out validation stacks (not development data).

The validation pairs are those every ``mefkit train progressive`` run validates on
(``mefkit.train.data.build_data``: about 5 kept training stacks held out by scene, a
fixed under/over draw, each stack's whole-stack classic label). This script scores
whole fusions through ``mefkit.fuse`` (so options such as ``hue`` count) against those
labels, with Mertens on the same pairs for the ratio. Use it to choose between
checkpoints and options without looking at MEFB or SICE.

Usage::

    python bench/progressive_val.py [--data ../shared/data/train_stacks]
        [--weights NAME=PATH ...] [--hue inputs,network]
        [--label-methods mertens,dem,spd_mef]

Prints a Markdown table of mean PSNR / SSIM (RGB, against the label) and MEF-SSIM
(against the input pair), one row per weights x hue mode, plus Mertens.
"""

from __future__ import annotations

import argparse
from pathlib import Path

import numpy as np

import mefkit
from mefkit.metrics import mef_ssim, psnr, ssim
from mefkit.train.config import DataConfig
from mefkit.train.data import build_data

ROOT = Path(__file__).resolve().parents[1]


def validation_pairs(stacks: Path, label_methods: tuple[str, ...]) -> list[tuple[str, dict[str, np.ndarray]]]:
    """The training runs' validation pairs: ``(name, {"under", "over", "label"})`` in [0, 1]."""
    bundle = build_data(DataConfig(stacks=str(stacks), label_methods=label_methods), seed=0)
    out = []
    for i in range(len(bundle.val)):
        item = bundle.val[i]
        out.append((item["name"], {k: item[k].permute(1, 2, 0).numpy() for k in ("under", "over", "label")}))
    return out


def score(fused: np.ndarray, pair: dict[str, np.ndarray]) -> dict[str, float]:
    """PSNR and SSIM against the label, MEF-SSIM against the input pair."""
    return {
        "psnr": psnr(fused, pair["label"]),
        "ssim": ssim(fused, pair["label"]),
        "mef_ssim": mef_ssim([pair["under"], pair["over"]], fused),
    }


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--data", type=Path, default=ROOT.parent / "shared" / "data" / "train_stacks")
    ap.add_argument("--weights", action="append", default=[],
                    help="NAME=PATH of progressive weights (repeatable; default: the shipped ones)")
    ap.add_argument("--hue", default="inputs,network", help="comma list of hue modes to score")
    ap.add_argument("--label-methods", default="mertens,dem,spd_mef")
    args = ap.parse_args()
    if not args.data.is_dir():
        raise SystemExit(f"{args.data}: no train_stacks folder")
    weights = [("shipped", None)] + [tuple(w.split("=", 1)) for w in args.weights]
    if args.weights:
        weights = weights[1:]
    pairs = validation_pairs(args.data, tuple(args.label_methods.split(",")))
    rows: list[tuple[str, dict[str, float]]] = []
    ref = [score(mefkit.fuse([p["under"], p["over"]], method="mertens"), p) for _, p in pairs]
    rows.append(("mertens", {k: float(np.mean([r[k] for r in ref])) for k in ref[0]}))
    for name, path in weights:
        for hue in args.hue.split(","):
            params = {"hue": hue, **({"weights": path} if path else {})}
            got = [score(mefkit.fuse([p["under"], p["over"]], method="progressive", **params), p) for _, p in pairs]
            rows.append((f"{name}, hue={hue}", {k: float(np.mean([r[k] for r in got])) for k in got[0]}))
    print(f"{len(pairs)} validation pairs: " + ", ".join(n for n, _ in pairs))
    print("| fusion | PSNR (dB) | SSIM | MEF-SSIM |")
    print("| --- | --- | --- | --- |")
    for name, m in rows:
        print(f"| {name} | {m['psnr']:.2f} | {m['ssim']:.4f} | {m['mef_ssim']:.4f} |")


if __name__ == "__main__":
    main()
