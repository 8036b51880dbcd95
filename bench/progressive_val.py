"""Progressive weights and options on the held-out validation stacks (not development data).

The validation pairs are those every ``mefkit train progressive`` run validates on
(``mefkit.train.data.build_data``: about 5 kept training stacks held out by scene, a
fixed under/over draw, each stack's whole-stack classic label). This script scores
whole fusions through ``mefkit.fuse`` (so options such as ``hue`` count) against those
labels, with Mertens on the same pairs for the ratio. Use it to choose between
checkpoints and options without looking at MEFB or SICE.

A second, no-reference set comes from ``train_stacks_dynamic`` (stacks that failed the
static check, so they are never trained on; the evaluation scenes among them, such as
``pmef_mefb_src``, are left out by the training's own exclusion rule): for each
stack its darkest + brightest frames and one fixed random under/over draw, at their
stored size, scored by MEF-SSIM against the pair, as MEFB is. Ghosts from the motion
affect every fusion alike; the column compares methods, it is no absolute quality.

Usage::

    python bench/progressive_val.py [--data ../shared/data/train_stacks]
        [--dynamic ../shared/data/train_stacks_dynamic]
        [--weights NAME=PATH ...] [--hue inputs,network]
        [--label-methods mertens,dem,spd_mef]

Prints a Markdown table of mean PSNR / SSIM (RGB, against the label) and MEF-SSIM
(against the input pair) on the validation pairs, and MEF-SSIM on the dynamic pairs,
one row per weights x hue mode, plus Mertens.
"""

from __future__ import annotations

import argparse
from pathlib import Path

import numpy as np

from mefkit.devdata import data_root
import mefkit
from mefkit.params import parse_params
from mefkit.metrics import mef_ssim, psnr, ssim
from mefkit.train.config import DataConfig
from mefkit.train.augment import sample_rng
from mefkit.train.data import build_data
from mefkit.train.stacks import draw_pair, find_stacks, guess_data_root, split_excluded

ROOT = Path(__file__).resolve().parents[1]


def validation_pairs(stacks: Path, label_methods: tuple[str, ...]) -> list[tuple[str, dict[str, np.ndarray]]]:
    """The training runs' validation pairs: ``(name, {"under", "over", "label"})`` in [0, 1]."""
    bundle = build_data(DataConfig(stacks=str(stacks), label_methods=label_methods), seed=0)
    out = []
    for i in range(len(bundle.val)):
        item = bundle.val[i]
        out.append((item["name"], {k: item[k].permute(1, 2, 0).numpy() for k in ("under", "over", "label")}))
    return out


def dynamic_pairs(root: Path) -> list[tuple[str, dict[str, np.ndarray]]]:
    """Per non-evaluation stack of ``root``: darkest + brightest, and one fixed draw (seed 0, stream 11)."""
    data_root = guess_data_root(root)
    kept, _ = split_excluded(find_stacks(root), [data_root / n for n in ("mefb", "mef_database", "memorial")])
    out = []
    for k, stack in enumerate(kept):
        n = len(stack.frames)
        drawn = draw_pair(n, sample_rng(0, k, stream=11))
        for u, o in dict.fromkeys([(0, n - 1), drawn]):
            frames = mefkit.read_bracket([stack.frames[u], stack.frames[o]], order="given").frames
            out.append((f"{stack.id}[{u + 1},{o + 1}]", {"under": frames[0], "over": frames[1]}))
    return out


def score(fused: np.ndarray, pair: dict[str, np.ndarray]) -> dict[str, float]:
    """PSNR and SSIM against the label (when the pair has one), MEF-SSIM against the input pair."""
    out = {"mef_ssim": mef_ssim([pair["under"], pair["over"]], fused)}
    if "label" in pair:
        out.update(psnr=psnr(fused, pair["label"]), ssim=ssim(fused, pair["label"]))
    return out


def mean_scores(fuse, pairs) -> dict[str, float]:  # noqa: ANN001 - fuse(under, over) -> image
    """Mean of :func:`score` over ``pairs`` for one fusion."""
    got = [score(fuse(p["under"], p["over"]), p) for _, p in pairs]
    return {k: float(np.mean([r[k] for r in got])) for k in got[0]}


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--data", type=Path, default=data_root() / "train_stacks")
    ap.add_argument("--dynamic", default=str(data_root() / "train_stacks_dynamic"),
                    help="train_stacks_dynamic root ('' to skip)")
    ap.add_argument("--weights", action="append", default=[],
                    help="NAME=PATH of progressive weights (repeatable; default: the shipped ones)")
    ap.add_argument("--hue", default="inputs,network", help="comma list of hue modes to score")
    ap.add_argument("--label-methods", default="mertens,dem,spd_mef")
    ap.add_argument("-p", "--param", action="append", default=[],
                    help="KEY=VALUE progressive parameter for every row, read as by mefkit fuse -p, e.g. flips=1")
    args = ap.parse_args()
    if not args.data.is_dir():
        raise SystemExit(f"{args.data}: no train_stacks folder")
    weights = [tuple(w.split("=", 1)) for w in args.weights] or [("shipped", None)]
    pairs = validation_pairs(args.data, tuple(args.label_methods.split(",")))
    dynamic = dynamic_pairs(Path(args.dynamic)) if args.dynamic and Path(args.dynamic).is_dir() else []
    extra = parse_params("progressive", args.param)  # as `mefkit fuse -p KEY=VALUE` reads them
    fusions = [("mertens", "mertens", {})]
    for name, path in weights:
        for hue in args.hue.split(","):
            fusions.append((f"{name}, hue={hue}" + "".join(f", {p}" for p in args.param), "progressive",
                            {**extra, "hue": hue, **({"weights": path} if path else {})}))
    print(f"{len(pairs)} validation pairs: " + ", ".join(n for n, _ in pairs))
    print(f"{len(dynamic)} dynamic pairs: " + ", ".join(n for n, _ in dynamic))
    print("| fusion | val. PSNR (dB) | val. SSIM | val. MEF-SSIM | dynamic MEF-SSIM |")
    print("| --- | --- | --- | --- | --- |")
    for name, method, params in fusions:
        def fuse(under, over, method=method, params=params):
            return mefkit.fuse([under, over], method=method, order="given", **params)

        m = mean_scores(fuse, pairs)
        d = f"{mean_scores(fuse, dynamic)['mef_ssim']:.4f}" if dynamic else "-"
        print(f"| {name} | {m['psnr']:.2f} | {m['ssim']:.4f} | {m['mef_ssim']:.4f} | {d} |", flush=True)


if __name__ == "__main__":
    main()
