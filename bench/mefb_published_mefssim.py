"""MEF-SSIM of MEFB's published fusions over the development pairs (same-size ones).

    python bench/mefb_published_mefssim.py
"""
import time
from pathlib import Path

import numpy as np

from mefkit.devdata import data_root
from mefkit.io import read_image
from mefkit.metrics import mef_ssim

root = data_root() / "mefb"
scores = {}
t0 = time.time()
n = 0
for scene in sorted(p for p in root.iterdir() if p.is_dir()):
    u = read_image(next(scene.glob("under.*")))[0]
    o = read_image(next(scene.glob("over.*")))[0]
    n += 1
    for name, img in [("under (input)", u), ("over (input)", o)] + [
        (p.stem, read_image(p)[0]) for p in sorted((scene / "fused").glob("*"))
    ]:
        if img.shape != u.shape:
            continue
        scores.setdefault(name, []).append(mef_ssim([u, o], img))
print(f"{n} scenes, {time.time() - t0:.0f} s")
print("| image | pairs | mean MEF-SSIM |")
print("| --- | --- | --- |")
for k, v in sorted(scores.items(), key=lambda kv: -np.mean(kv[1])):
    print(f"| {k} | {len(v)} | {np.mean(v):.4f} |")
