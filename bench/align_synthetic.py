"""Synthetic benchmark of alignment and deghosting with known truth.

    OMP_NUM_THREADS=1 .venv/bin/python bench/align_synthetic.py [--method mertens] [--timing-mp 12] [--no-timing | --timing-only]

Scenes: the bundled example and the middle frame of a few static stacks of
``../shared/data/train_stacks`` (those whose frames were found aligned to 0.15 px;
skipped when the data is absent). From each scene ``mefkit.synth.simulate_bracket``
makes an exactly aligned bracket, so the fusion of the unmoved frames is the truth.

1. 2-frame pairs (EV -1.5, +1.5): the non-reference frame moved by three known warps
   (3 % shift + 1.5 deg rotation; 2 % scale + rotation + shift; perspective tilt).
2. 3-frame stacks (EV -2, 0, +2): both outer frames moved by different warps.
3. Already aligned pairs, fused with and without ``align=True``.
4. Moving objects: a textured square at a different place in each of 3 frames; the
   truth keeps it where the reference (middle) frame has it. PSNR in the ghost regions
   (every place the object occupies in some frame) and elsewhere.
5. Small non-rigid motion: both outer frames of a 3-frame stack under a smooth
   displacement of 1, 2 or 3 px (``mefkit.synth_motion.nonrigid_warp``), fused plain,
   with ``deghost="consistency"`` and with ``deghost="flow"`` (DIS optical flow first);
   PSNR against the static fusion and the share of the outer frames replaced.

PSNR is measured on the central 80 % (the border of a moved frame holds content no
alignment can recover). Finally the time ``align=True, deghost=True`` (and
``deghost="flow"``) adds on a 3-frame bracket of ``--timing-mp`` megapixels (outer frames
moved), next to the method's own time in the same run, one thread.
"""

from __future__ import annotations

import argparse
import os
import time
import warnings
from pathlib import Path

os.environ.setdefault("OMP_NUM_THREADS", "1")

import cv2  # noqa: E402
import numpy as np  # noqa: E402

import mefkit  # noqa: E402
from mefkit.align import default_reference  # noqa: E402
from mefkit.devdata import data_root  # noqa: E402
from mefkit.prepare import prepare_frames  # noqa: E402
from mefkit.synth import simulate_bracket  # noqa: E402
from mefkit.synth_motion import central, move_frame, moving_object_bracket, nonrigid_warp, similarity  # noqa: E402

DATA = data_root() / "train_stacks"
SCENES = ["pmef_dataset3/FORTH1", "pmef_dataset3/CreteSeashore1", "pmef_deepfuse/Seq_27", "pmef_hdrps/507",
          "pmef_hdrps/ArtistPalette"]
PAIR_WARPS = {
    "shift3%+rot1.5": dict(angle=1.5, shift=(0.03, 0.0)),
    "scale2%+rot-1+shift": dict(angle=-1.0, scale=1.02, shift=(-0.02, 0.01)),
    "perspective": dict(angle=0.5, shift=(0.01, 0.01), perspective=(0.04, 0.02)),
}
STACK_WARPS = (dict(angle=-1.0, scale=0.99, shift=(-0.02, 0.01)), dict(angle=1.5, scale=1.01, shift=(0.03, -0.01),
                                                                      perspective=(0.03, 0.0)))


def psnr(a, b, mask=None):
    d = (a - b) ** 2 if mask is None else (a - b)[mask] ** 2
    return float(10 * np.log10(1 / max(float(np.mean(d)), 1e-12)))


def scenes() -> dict[str, np.ndarray]:
    out = {"example": mefkit.load_frames(mefkit.example_bracket()).frames[1]}
    for name in SCENES:
        folder = DATA / name
        if folder.is_dir():
            frames = mefkit.load_frames(sorted(folder.iterdir())).frames
            out[name.split("/")[1]] = frames[len(frames) // 2]
    return out


def fuse(frames, method, **kw):
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        return mefkit.fuse(frames, method, order="given", **kw)


def run_warps(all_scenes, method):
    pairs, stacks, still = [], [], []
    for name, scene in all_scenes.items():
        shape = scene.shape[:2]
        pair = simulate_bracket(scene, (-1.5, 1.5), seed=1)
        ref = default_reference(pair)
        truth = fuse(pair, method)
        aligned_again = fuse(pair, method, align=True)
        still.append((name, psnr(central(aligned_again), central(truth))))
        for wname, warp in PAIR_WARPS.items():
            moved = list(pair)
            moved[1 - ref] = move_frame(pair[1 - ref], similarity(shape, **warp))
            before = psnr(central(fuse(moved, method)), central(truth))
            after = psnr(central(fuse(moved, method, align=True)), central(truth))
            pairs.append((name, wname, before, after))
        stack = simulate_bracket(scene, (-2, 0, 2), seed=2)
        truth = fuse(stack, method)
        moved = [move_frame(stack[0], similarity(shape, **STACK_WARPS[0])), stack[1],
                 move_frame(stack[2], similarity(shape, **STACK_WARPS[1]))]
        stacks.append((name, psnr(central(fuse(moved, method)), central(truth)),
                       psnr(central(fuse(moved, method, align=True)), central(truth))))
    return pairs, stacks, still


def run_ghosts(all_scenes, method):
    rows = []
    for name, scene in all_scenes.items():
        h, w = scene.shape[:2]
        size = max(24, w // 10)
        positions = [(h // 5, w // 6), (h // 2 - size // 2, w // 2 - size // 2), (h - h // 5 - size, w - w // 6 - size)]
        frames, ideal_frames, ghost = moving_object_bracket(scene, (-2, 0, 2), positions, reference=1, size=size)
        inner = np.zeros((h, w), bool)
        central(inner)[...] = True
        ideal = fuse(ideal_frames, method)
        plain = fuse(frames, method)
        fixed = fuse(frames, method, deghost=True, reference=1)
        g, rest = ghost & inner, ~ghost & inner
        rows.append((name, psnr(plain, ideal, g), psnr(fixed, ideal, g), psnr(plain, ideal, rest),
                     psnr(fixed, ideal, rest)))
    return rows


def run_nonrigid(all_scenes, method):
    """3-frame stacks whose outer frames have a smooth non-rigid warp (1-3 px): PSNR of the
    central 80 % against the static fusion, and the share of the outer frames replaced by
    the reference, with deghost "consistency" and "flow"."""
    from mefkit.deghost import deghost_frames

    rows = []
    for name, scene in all_scenes.items():
        stack = simulate_bracket(scene, (-2, 0, 2), seed=2)
        static = fuse(stack, method)
        for amp in (1.0, 2.0, 3.0):
            moved = [nonrigid_warp(stack[0], amp, 1), stack[1], nonrigid_warp(stack[2], amp, 2)]
            row = [name, amp, psnr(central(fuse(moved, method)), central(static))]
            for d in ("consistency", "flow"):
                row.append(psnr(central(fuse(moved, method, deghost=d, reference=1)), central(static)))
                masks = deghost_frames(moved, 1, method=d).masks
                row.append(100 * float(np.mean([np.mean(masks[i] > 0.5) for i in (0, 2)])))
            rows.append(row)
    return rows


def run_timing(scene, mp, method):
    cv2.setNumThreads(1)
    h0, w0 = scene.shape[:2]
    s = np.sqrt(mp * 1e6 / (h0 * w0))
    big = cv2.resize(scene, (round(w0 * s), round(h0 * s)), interpolation=cv2.INTER_CUBIC).clip(0, 1)
    frames = simulate_bracket(big, (-2, 0, 2), seed=3)
    shape = big.shape[:2]
    frames = [move_frame(frames[0], similarity(shape, **STACK_WARPS[0])), frames[1],
              move_frame(frames[2], similarity(shape, **STACK_WARPS[1]))]
    t = time.perf_counter()
    fuse(frames, method)
    t_method = time.perf_counter() - t
    t = time.perf_counter()
    prep = prepare_frames(frames, align=True)
    t_align = time.perf_counter() - t
    t = time.perf_counter()
    prepare_frames(prep.frames, deghost=True, reference=1)
    t_deghost = time.perf_counter() - t
    t = time.perf_counter()
    prepare_frames(prep.frames, deghost="flow", reference=1)
    t_flow = time.perf_counter() - t
    return big.shape, t_method, t_align, t_deghost, t_flow


def print_timing(shape, tm, ta, td, tf, method):
    print(f"timing, 3 frames {shape[1]}x{shape[0]} ({shape[0] * shape[1] / 1e6:.1f} MP), 1 thread: "
          f"{method} {tm:.2f} s, align {ta:.2f} s, deghost {td:.2f} s, deghost flow {tf:.2f} s; "
          f"align+deghost = {(ta + td) / tm:.2f}x {method}'s time, align+deghost flow = {(ta + tf) / tm:.2f}x, "
          f"flow deghost alone = {tf / tm:.2f}x")


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--method", default="mertens")
    ap.add_argument("--timing-mp", type=float, default=12.0)
    ap.add_argument("--no-timing", action="store_true")
    ap.add_argument("--timing-only", action="store_true")
    args = ap.parse_args()
    all_scenes = scenes()
    if args.timing_only:
        all_scenes = {"example": all_scenes["example"]}
    print(f"method {args.method}; {len(all_scenes)} scenes: {', '.join(all_scenes)}\n")
    if args.timing_only:
        print_timing(*run_timing(all_scenes["example"], args.timing_mp, args.method), args.method)
        return
    pairs, stacks, still = run_warps(all_scenes, args.method)
    print("| 2-frame pair | warp | PSNR unaligned | PSNR aligned |\n|---|---|---|---|")
    for name, wname, b, a in pairs:
        print(f"| {name} | {wname} | {b:.2f} | {a:.2f} |")
    after = [p[3] for p in pairs]
    print(f"\npairs aligned: mean {np.mean(after):.2f} dB, min {np.min(after):.2f} dB "
          f"(unaligned mean {np.mean([p[2] for p in pairs]):.2f})\n")
    print("| 3-frame stack | PSNR unaligned | PSNR aligned |\n|---|---|---|")
    for name, b, a in stacks:
        print(f"| {name} | {b:.2f} | {a:.2f} |")
    print(f"\nstacks aligned: mean {np.mean([s[2] for s in stacks]):.2f} dB, min {np.min([s[2] for s in stacks]):.2f}\n")
    print("| already aligned pair | PSNR align=True vs align=False |\n|---|---|")
    for name, p in still:
        print(f"| {name} | {'identical' if p >= 119 else f'{p:.2f}'} |")
    print(f"\nalready aligned: min {min(p for _, p in still):.2f} dB (120 = bit-identical)\n")
    ghosts = run_ghosts(all_scenes, args.method)
    print("| moving object | ghost plain | ghost deghost | elsewhere plain | elsewhere deghost |\n|---|---|---|---|---|")
    for row in ghosts:
        print(f"| {row[0]} | " + " | ".join(f"{v:.2f}" for v in row[1:]) + " |")
    g = np.array([r[1:] for r in ghosts])
    print(f"\nghost regions: plain mean {g[:, 0].mean():.2f}, deghost mean {g[:, 1].mean():.2f} min {g[:, 1].min():.2f}; "
          f"elsewhere: plain {g[:, 2].mean():.2f}, deghost mean {g[:, 3].mean():.2f} min {g[:, 3].min():.2f}\n")
    nonrigid = run_nonrigid(all_scenes, args.method)
    print("| non-rigid warp | amplitude px | PSNR plain | PSNR consistency | replaced % | PSNR flow | replaced % |\n"
          "|---|---|---|---|---|---|---|")
    for row in nonrigid:
        print(f"| {row[0]} | {row[1]:.0f} | " + " | ".join(f"{v:.2f}" if i % 2 == 0 else f"{v:.1f}"
                                                      for i, v in enumerate(row[2:])) + " |")
    n = np.array([r[2:] for r in nonrigid])
    print(f"\nnon-rigid: plain {n[:, 0].mean():.2f} dB, consistency {n[:, 1].mean():.2f} dB ({n[:, 2].mean():.1f} % "
          f"replaced), flow {n[:, 3].mean():.2f} dB ({n[:, 4].mean():.1f} % replaced)\n")
    if not args.no_timing:
        print_timing(*run_timing(all_scenes["example"], args.timing_mp, args.method), args.method)


if __name__ == "__main__":
    main()
