"""Reference values of MEF-SSIMd from the authors' MATLAB code, run in GNU Octave.

    .venv/bin/python bench/mef_ssimd_reference.py --authors DIR [--out tests/data]

``DIR`` is a checkout of github.com/h4nwei/MEF-SSIMd (Fang, Zhu, Ma, Wang, Li, IEEE TIP
2020). Writes the test inputs (8-bit gray PNGs, darkest first) under
``OUT/mef_ssimd/<bracket>/`` and the scores under ``OUT/mef_ssimd_reference.json``; the test
``tests/test_metrics_mef_ssim_d.py`` checks :func:`mefkit.metrics.mef_ssim_d` against them.

GNU Octave 7 with its image package runs the authors' code with two stand-ins from
``bench/mef_ssimd_octave/`` (written from MATLAB's documentation, not from MATLAB's code):

* ``imhistmatch`` (Octave has none): MATLAB's ``histeq`` with the reference's histogram;
* ``strel('disk', 11)`` with MATLAB's default N = 4 is not implemented in Octave; a copy
  of the authors' code is patched to use ``strel('arbitrary', octagon_disk(11))``, the
  neighbourhood of MATLAB's four-periodic-line decomposition (a 21x21 octagon).

The cases: the bundled example (Mertens and frame-mean results) at half size, and small
synthetic brackets with an object pasted at a different place in each frame (the
bracketed fusion of those frames, and of the ghost-free frames).
"""

from __future__ import annotations

import argparse
import json
import re
import shutil
import subprocess
import tempfile
from pathlib import Path

import cv2
import numpy as np

import mefkit
from mefkit.example import example_bracket
from mefkit.metrics.mef_ssim import matlab_gray255
from mefkit.synth_motion import moving_object_bracket

HERE = Path(__file__).resolve().parent
SHIMS = HERE / "mef_ssimd_octave"


def gray8(image) -> np.ndarray:
    """The authors' demo conversion: ``rgb2gray`` of the 8-bit image, uint8."""
    return matlab_gray255(image, 1.0, True).astype(np.uint8)


def half(image):
    h, w = image.shape[:2]
    return cv2.resize(np.asarray(image, np.float32), (w // 2, h // 2), interpolation=cv2.INTER_AREA)


def brackets() -> dict[str, tuple[list[np.ndarray], dict[str, np.ndarray], str]]:
    """``{name: (gray frames darkest first, {label: gray fused}, description)}``."""
    out = {}
    ex = [half(f) for f in mefkit.load_frames(example_bracket()).frames]
    out["example"] = ([gray8(f) for f in ex],
                      {"mertens": gray8(mefkit.fuse(ex, "mertens")), "mean": gray8(np.mean(ex, axis=0))},
                      "bundled example at half size (INTER_AREA); Mertens fusion and the mean of the frames")
    scene = cv2.resize(ex[1], (128, 96), interpolation=cv2.INTER_AREA)
    for name, evs, pos, ref in (("moved3", (-2.0, 0.0, 2.0), [(10, 12), (30, 50), (44, 76)], 1),
                                ("moved2", (-1.5, 1.5), [(20, 16), (36, 70)], 1),
                                ("moved4", (-3.0, -1.0, 1.0, 3.0), [(8, 8), (20, 40), (40, 60), (44, 76)], 2)):
        frames, ideal, _ = moving_object_bracket(scene, evs, pos, reference=ref, size=40, seed=3)
        out[name] = ([gray8(f) for f in frames],
                     {"ghosted": gray8(mefkit.fuse(frames, "mertens", order="given")),
                      "ideal": gray8(mefkit.fuse(ideal, "mertens", order="given")),
                      "reference": gray8(frames[ref])},
                     f"the example's middle frame at 128x96, {len(evs)} frames at {evs} EV with a 40 px object at "
                     f"{pos} (row, col); Mertens of the frames (ghosted), of the ghost-free frames with the object "
                     f"where frame {ref} has it (ideal), and frame {ref} itself (reference)")
    return out


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--authors", type=Path, required=True, help="checkout of github.com/h4nwei/MEF-SSIMd")
    ap.add_argument("--out", type=Path, default=HERE.parent / "tests" / "data")
    args = ap.parse_args()
    all_brackets = brackets()
    root = args.out / "mef_ssimd"
    with tempfile.TemporaryDirectory() as tmp:
        authors = Path(tmp) / "authors"
        shutil.copytree(args.authors, authors)
        gi = authors / "support functions" / "generate_intermediate.m"
        text, n = re.subn(r"strel\('disk',\s*wSize\)", "strel('arbitrary', octagon_disk(wSize))", gi.read_text())
        if n != 1:
            raise SystemExit(f"{gi}: the strel('disk', wSize) line was not found once")
        gi.write_text(text)
        png = [cv2.IMWRITE_PNG_COMPRESSION, 9]
        for name, (frames, fused, _) in all_brackets.items():
            d = root / name
            if d.exists():
                shutil.rmtree(d)
            d.mkdir(parents=True)
            for k, f in enumerate(frames, 1):
                cv2.imwrite(str(d / f"frame_{k}.png"), f, png)
            for label, f in fused.items():
                cv2.imwrite(str(d / f"fused_{label}.png"), f, png)
        case_list = "{" + ", ".join(f"'{root / n}'" for n in all_brackets) + "}"
        script = f"AUTHORS = '{authors}'; SHIMS = '{SHIMS}'; CASES = {case_list}; run('{SHIMS / 'run_reference.m'}');"
        res = subprocess.run(["octave", "--no-gui", "--quiet", "--eval", script], capture_output=True, text=True)
        if res.returncode:
            raise SystemExit(f"octave failed:\n{res.stdout}\n{res.stderr}")
        version = subprocess.run(["octave", "--version"], capture_output=True, text=True).stdout.splitlines()[0]
    results = {name: {} for name in all_brackets}
    for line in res.stdout.splitlines():
        if line.startswith("RESULT "):
            _, path, fused_file, q, qmean, n = line.split()
            label = fused_file[len("fused_"):-len(".png")]
            results[Path(path).name][label] = {"score": float(q), "map_mean": float(qmean), "map_size": int(n)}
    doc = {
        "note": ("MEF-SSIMd (Fang, Zhu, Ma, Wang, Li, IEEE TIP 2020) of each case computed by the authors' "
                 "mef_ms_ssim_d.m (github.com/h4nwei/MEF-SSIMd, default parameters) in "
                 f"{version} with its image package, by bench/mef_ssimd_reference.py. Octave lacks "
                 "imhistmatch and strel('disk', 11) with N = 4: the stand-ins in bench/mef_ssimd_octave/ "
                 "follow MATLAB's documented histeq and its four-periodic-line disk (a 21x21 octagon). "
                 "Inputs: mef_ssimd/<bracket>/frame_K.png (darkest first) and fused_<label>.png, 8-bit gray; "
                 "score: the returned Q, map_mean: the mean of the returned quality map."),
        "brackets": {n: {"description": all_brackets[n][2], "fused": results[n]} for n in all_brackets},
    }
    (args.out / "mef_ssimd_reference.json").write_text(json.dumps(doc, indent=1) + "\n")
    print(json.dumps(doc, indent=1))


if __name__ == "__main__":
    main()
