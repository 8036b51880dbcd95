"""Time every registered classic fusion method on one 2-frame 1 MP bracket.

    .venv/bin/python bench/classic_speed.py [--megapixels 1.0] [--frames 2] [--repeats 3] [--markdown]

The bracket is synthesised from a real frame (MEFB ``ICCV_01/over.jpg`` from
``../shared/data`` when present, else the bundled example), resized to the requested
size and re-exposed with :func:`mefkit.synth.simulate_bracket`, then quantised to 8
bits as a camera would write it. Each method of kind ``"classic"`` in
:func:`mefkit.registry.method_infos` runs through :func:`mefkit.fuse` with its
defaults: one warm-up call, then the median of ``--repeats`` timed calls. Printed: seconds,
seconds per megapixel, and the ratio to ``mertens`` timed in the same process.
Timings on a shared machine are noisy; run it when the machine is quiet.
"""

from __future__ import annotations

import argparse
import statistics
import time
from pathlib import Path

import cv2
import numpy as np

from mefkit.devdata import data_root
import mefkit
from mefkit.registry import method_infos
from mefkit.synth import simulate_bracket

ROOT = Path(__file__).resolve().parents[1]
SHARED = data_root()
#: Methods expected to need more than 2 s per 1 MP pair (allowed where inherent to the method).
TARGET_SECONDS = 2.0


def source_frame() -> tuple[np.ndarray, str]:
    """A real photograph as ``(H, W, 3)`` float32 RGB in [0, 1], and where it came from."""
    candidate = SHARED / "mefb" / "ICCV_01" / "over.jpg"
    path = candidate if candidate.exists() else Path(mefkit.example_bracket()[1])
    bgr = cv2.imread(str(path))
    return bgr[:, :, ::-1].astype(np.float32) / 255, str(path)


def make_bracket(src: np.ndarray, megapixels: float, n: int) -> list[np.ndarray]:
    """``n`` frames of ``src`` resized to ``megapixels``, exposures -2.5 .. +1 EV, 8-bit levels."""
    h0, w0 = src.shape[:2]
    scale = (megapixels * 1e6 / (h0 * w0)) ** 0.5
    h, w = int(round(h0 * scale)), int(round(w0 * scale))
    big = np.clip(cv2.resize(src, (w, h), interpolation=cv2.INTER_CUBIC), 0, 1)
    # The source frame is bright: a stop darker is its "mid" exposure.
    return simulate_bracket(big, np.linspace(-2.5, 1.0, n), seed=0)


def time_method(name: str, frames: list[np.ndarray], repeats: int) -> tuple[float, float]:
    """Median wall and CPU seconds of ``mefkit.fuse(frames, method=name)`` after a warm-up.

    CPU time (all threads of this process) is reported beside wall time because on a
    shared machine wall time includes waiting for a core; CPU time does not (but it
    adds up OpenCV's worker threads, so it can exceed wall time on an idle machine).
    """
    mefkit.fuse(frames, method=name, order="given")
    walls, cpus = [], []
    for _ in range(repeats):
        start, cpu = time.perf_counter(), time.process_time()
        mefkit.fuse(frames, method=name, order="given")
        walls.append(time.perf_counter() - start)
        cpus.append(time.process_time() - cpu)
    return statistics.median(walls), statistics.median(cpus)


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--megapixels", type=float, default=1.0)
    ap.add_argument("--frames", type=int, default=2)
    ap.add_argument("--repeats", type=int, default=3)
    ap.add_argument("--markdown", action="store_true", help="print a Markdown table")
    ap.add_argument("--methods", default="", help="comma-separated subset (default: all classic)")
    args = ap.parse_args(argv)

    src, origin = source_frame()
    frames = make_bracket(src, args.megapixels, args.frames)
    h, w = frames[0].shape[:2]
    mp = h * w / 1e6
    names = [i.name for i in method_infos() if i.kind == "classic"]
    if args.methods:
        wanted = set(args.methods.split(","))
        names = [n for n in names if n in wanted or n == "mertens"]
    if "mertens" in names:  # the reference first, so every ratio has it
        names.remove("mertens")
        names.insert(0, "mertens")
    print(f"{args.frames} frames of {w}x{h} ({mp:.2f} MP) from {origin}; median of {args.repeats} runs")
    results: dict[str, tuple[float, float] | str] = {}
    for name in names:
        try:
            results[name] = time_method(name, frames, args.repeats)
        except Exception as exc:  # noqa: BLE001 - one broken method must not stop the table
            results[name] = f"failed: {type(exc).__name__}: {exc}"
    ref = results.get("mertens")
    ref_wall = ref[0] if isinstance(ref, tuple) else None
    if args.markdown:
        print("| method | wall s | s/MP | x mertens | CPU s |")
        print("| --- | ---: | ---: | ---: | ---: |")
    for name in names:
        res = results[name]
        if isinstance(res, str):
            print(f"| {name} | {res} | | | |" if args.markdown else f"{name:12s} {res}")
            continue
        t, cpu = res
        ratio = f"{t / ref_wall:.2f}" if ref_wall else "n/a"
        flag = "" if t <= TARGET_SECONDS else "  (over 2 s)"
        if args.markdown:
            print(f"| {name} | {t:.3f} | {t / mp:.3f} | {ratio} | {cpu:.3f} |")
        else:
            print(
                f"{name:12s} {t:8.3f} s  {t / mp:8.3f} s/MP  x{ratio} mertens  "
                f"CPU {cpu:7.3f} s{flag}"
            )
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
