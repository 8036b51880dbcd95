"""Speed and peak memory of mefkit's Mertens against OpenCV MergeMertens and enfuse.

    python bench/fuse_speed.py [--sizes 1,12,24] [--frames 2,3] [--repeats 3]

Brackets are synthesised from a real frame (a MEFB pair from ../shared/data when present,
otherwise the bundled example), upscaled to each size and re-exposed with
``mefkit.synth.simulate_bracket``. Every contender runs in its own subprocess on the
same uint8 frames; after one warm-up run, time is the median of ``--repeats`` runs and
peak memory the largest growth of the process's RSS (sampled every 2 ms) over the RSS
before fusing, inputs already loaded. enfuse (Debian
package ``enfuse``) is timed when installed, on the same frames written as TIFF, with
Mertens' weights (``--exposure-weight=1 --saturation-weight=1 --contrast-weight=1``);
its time includes reading and writing files.
"""

from __future__ import annotations

import argparse
import json
import os
import shutil
import subprocess
import sys
import tempfile
from pathlib import Path

import numpy as np

from mefkit.devdata import data_root

ROOT = Path(__file__).resolve().parents[1]
SHARED = data_root()

#: The worker: one fusion on the frames in a fresh process; it imports bench/peak_memory.py.
WORKER = f"import sys; sys.path.insert(0, {str(Path(__file__).resolve().parent)!r})\n" + r"""
import json
import numpy as np
import cv2
from peak_memory import time_and_peak
kind, npz, repeats = sys.argv[1], sys.argv[2], int(sys.argv[3])
frames = list(np.load(npz).values())
if kind == "mefkit":
    import mefkit
    run = lambda: mefkit.fuse(frames, method="mertens", order="given")
elif kind == "mefkit-opencv-levels":
    import mefkit
    from mefkit.pyramid import max_levels
    h, w = frames[0].shape[:2]
    run = lambda: mefkit.fuse(frames, method="mertens", order="given", levels=max_levels(h, w) + 1)
elif kind == "opencv":
    bgr = [np.ascontiguousarray(f[:, :, ::-1]) for f in frames]
    merge = cv2.createMergeMertens(1.0, 1.0, 1.0)
    run = lambda: merge.process(bgr)
print(json.dumps(time_and_peak(run, repeats)))
"""


def source_frame() -> np.ndarray:
    import cv2

    candidate = SHARED / "mefb" / "ICCV_01" / "over.jpg"
    if candidate.exists():
        bgr = cv2.imread(str(candidate))
    else:
        import mefkit

        bgr = cv2.imread(str(mefkit.example_bracket()[1]))
    return bgr[:, :, ::-1].astype(np.float32) / 255


def make_bracket(src: np.ndarray, megapixels: float, n: int) -> list[np.ndarray]:
    import cv2

    from mefkit.synth import simulate_bracket

    h0, w0 = src.shape[:2]
    scale = (megapixels * 1e6 / (h0 * w0)) ** 0.5
    h, w = int(round(h0 * scale)), int(round(w0 * scale))
    big = np.clip(cv2.resize(src, (w, h), interpolation=cv2.INTER_CUBIC), 0, 1)
    # The source frame is bright: a stop darker is its "mid" exposure.
    evs = np.linspace(-2.5, 1.0, n)
    frames = simulate_bracket(big, evs, seed=0)
    return [np.round(f * 255).astype(np.uint8) for f in frames]


def run_worker(kind: str, npz: Path, repeats: int) -> dict:
    out = subprocess.run(
        [sys.executable, "-c", WORKER, kind, str(npz), str(repeats)],
        capture_output=True, text=True, check=True,
    )
    return json.loads(out.stdout.strip().splitlines()[-1])


def run_enfuse(frames: list[np.ndarray], tmp: Path, repeats: int) -> dict | None:
    exe = shutil.which("enfuse")
    if not exe:
        return None
    import cv2

    paths = []
    for i, f in enumerate(frames):
        p = tmp / f"f{i}.tif"
        cv2.imwrite(str(p), f[:, :, ::-1])
        paths.append(str(p))
    code = (
        "import resource, subprocess, sys, time, json, statistics\n"
        "cmd = sys.argv[2:]\n"
        "ts = []\n"
        "for _ in range(int(sys.argv[1])):\n"
        "    t = time.perf_counter(); subprocess.run(cmd, check=True, capture_output=True); ts.append(time.perf_counter() - t)\n"
        "print(json.dumps({'time': statistics.median(ts), 'peak_mib': resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss / 1024}))\n"
    )
    cmd = [exe, "--exposure-weight=1", "--saturation-weight=1", "--contrast-weight=1",
           "-o", str(tmp / "enfused.tif"), *paths]
    out = subprocess.run([sys.executable, "-c", code, str(repeats), *cmd], capture_output=True, text=True, check=True)
    return json.loads(out.stdout.strip().splitlines()[-1])


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--sizes", default="1,12,24", help="megapixels, comma separated")
    ap.add_argument("--frames", default="2,3", help="frame counts, comma separated")
    ap.add_argument("--repeats", type=int, default=3)
    ap.add_argument("--no-enfuse", action="store_true")
    args = ap.parse_args()
    src = source_frame()
    print(f"# mefkit Mertens vs OpenCV MergeMertens(1,1,1) vs enfuse; {os.cpu_count()} CPUs; median of {args.repeats}")
    print("| MP | frames | mefkit s | OpenCV s | enfuse s | OpenCV/mefkit time | mefkit MiB | OpenCV MiB | enfuse MiB | mefkit/OpenCV mem |")
    print("|---|---|---|---|---|---|---|---|---|---|")
    for mp in [float(s) for s in args.sizes.split(",")]:
        for n in [int(s) for s in args.frames.split(",")]:
            frames = make_bracket(src, mp, n)
            with tempfile.TemporaryDirectory() as td:
                tmp = Path(td)
                npz = tmp / "frames.npz"
                np.savez(npz, *frames)
                ours = run_worker("mefkit", npz, args.repeats)
                cv = run_worker("opencv", npz, args.repeats)
                en = None if args.no_enfuse else run_enfuse(frames, tmp, max(1, args.repeats - 2))
            en_t = f"{en['time']:.2f}" if en else "n/a"
            en_m = f"{en['peak_mib']:.0f}" if en else "n/a"
            print(
                f"| {mp:g} | {n} | {ours['time']:.2f} | {cv['time']:.2f} | {en_t} | "
                f"{cv['time'] / ours['time']:.2f} | {ours['peak_mib']:.0f} | {cv['peak_mib']:.0f} | {en_m} | "
                f"{ours['peak_mib'] / max(cv['peak_mib'], 1e-9):.2f} |",
                flush=True,
            )


if __name__ == "__main__":
    main()
