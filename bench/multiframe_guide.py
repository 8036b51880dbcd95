"""Guide of the final guided upsampling: the extremes (2 frames) or darkest, middle, brightest (3).

Fuses every ``mef_database`` stack with a learned method at a forced small working size
(``max_mp``, so that the guided upsampling does the work) once with each guide and
prints MEF-SSIM against all frames per stack and the means.

    OMP_NUM_THREADS=1 python bench/multiframe_guide.py [progressive] [--max-mp 0.04] [--data ../shared/data]
"""

from __future__ import annotations

import argparse
from pathlib import Path

import numpy as np

ROOT = Path(__file__).resolve().parents[1]


def main() -> None:
    import torch

    import mefkit
    import mefkit.nn.stack_fusion as stack_fusion
    from mefkit.io import read_bracket
    from mefkit.metrics import mef_ssim

    torch.set_num_threads(1)
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("method", nargs="?", default="progressive")
    ap.add_argument("--max-mp", type=float, default=0.04)
    ap.add_argument("--data", default=str(ROOT.parent / "shared" / "data"))
    args = ap.parse_args()
    params = {"max_mp": args.max_mp, **({"flips": 1} if args.method == "progressive" else {})}
    scores: dict[int, list[float]] = {2: [], 3: []}
    for stack in sorted(p for p in (Path(args.data) / "mef_database").iterdir() if p.is_dir()):
        bracket = read_bracket(sorted(p for p in stack.iterdir() if p.suffix.lower() == ".png"))
        for count in (2, 3):
            stack_fusion.GUIDE_FRAMES = count
            scores[count].append(mef_ssim(bracket.frames, mefkit.fuse(bracket, args.method, **params)))
        print(f"{stack.name}: guide 2 {scores[2][-1]:.4f}, guide 3 {scores[3][-1]:.4f}", flush=True)
    print(f"mean: guide 2 {np.mean(scores[2]):.4f}, guide 3 {np.mean(scores[3]):.4f}")


if __name__ == "__main__":
    main()
