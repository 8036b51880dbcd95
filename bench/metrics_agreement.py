"""Agreement of mefkit.metrics with independent libraries on the development data, and MEF-SSIM timing.

Run: python bench/metrics_agreement.py [DATA_DIR]   (default ../shared/data beside the repository)
"""
import statistics
import sys
import time
from pathlib import Path

import numpy as np
import torch
from sewar.full_ref import vifp
from skimage.metrics import peak_signal_noise_ratio, structural_similarity
from torch.nn.functional import avg_pool2d
from torchmetrics.functional.image import structural_similarity_index_measure as tm_ssim
from torchmetrics.functional.image import visual_information_fidelity as tm_vif

from mefkit.devdata import data_root
from mefkit.io import read_image
from mefkit.metrics import mef_ssim, ms_ssim, psnr, ssim, vif
from mefkit.metrics.color import to_channels

torch.set_num_threads(1)
data = Path(sys.argv[1]) if len(sys.argv) > 1 else data_root()
rd = lambda p: read_image(p)[0].astype(np.float64)


def pairs():
    for scene in sorted((data / "mefb").iterdir()):
        if not (scene / "fused").is_dir():
            continue
        f, r = next((scene / "fused").glob("DEM.*"), None), next((scene / "fused").glob("SPD_MEF.*"), None)
        if f is None or r is None:
            continue
        a, b = rd(f), rd(r)
        if a.shape == b.shape:
            yield f"mefb/{scene.name} DEM vs SPD_MEF", a, b
    for name in ("samt_labeled_001", "samt_labeled_002"):
        d = data / "sice" / name
        gt, u, o = rd(d / "gt.png"), rd(d / "under.png"), rd(d / "over.png")
        yield f"sice/{name} over vs gt", o, gt
        yield f"sice/{name} mean vs gt", (u + o) / 2, gt


def sk_ssim(a, b, ch):
    return structural_similarity(a, b, gaussian_weights=True, sigma=1.5, use_sample_covariance=False,
                                 data_range=1.0, channel_axis=ch)


def tt(x, dtype=torch.float32):
    # float32 for the SSIM oracles: torch's float64 CPU convolution is ~15x slower and the
    # float32 terms are accurate to ~1e-6; VIF (0..255, log ratios) stays float64.
    return torch.from_numpy(np.ascontiguousarray(x)).to(dtype)[None, None]


def tm_valid_ssim(x, y):
    _, full = tm_ssim(x, y, data_range=1.0, return_full_image=True)
    return float(full[..., 5:-5, 5:-5].mean())


def tm_msssim(x, y):
    s = 1.0
    for lvl, w in enumerate((0.0448, 0.2856, 0.3001, 0.2363, 0.1333)):
        if lvl < 4:
            _, cs = tm_ssim(x, y, data_range=1.0, return_contrast_sensitivity=True)
            s *= float(cs) ** w
            x, y = avg_pool2d(x, 2), avg_pool2d(y, 2)
        else:
            s *= tm_valid_ssim(x, y) ** w
    return s


diffs = {k: [] for k in ["psnr_rgb/skimage", "psnr_y/skimage", "ssim_rgb/skimage", "ssim_y/skimage",
                         "ssim_y/torchmetrics f32 (valid crop)", "ssim_y/torchmetrics f32 (as shipped)",
                         "ms_ssim_y/torchmetrics f32 terms", "ms_ssim_y/torchmetrics f32 (as shipped)",
                         "vif_y/sewar", "vif_y/torchmetrics (every 10th pair)", "vif_y/sewar on [0,1] (wrong scale)"]}
n = 0
t0 = time.time()
for name, f, r in pairs():
    n += 1
    fy, ry = to_channels(f, "y", 1.0)[0], to_channels(r, "y", 1.0)[0]
    h, w = fy.shape
    cf, cr = fy[: h - h % 16, : w - w % 16], ry[: h - h % 16, : w - w % 16]
    diffs["psnr_rgb/skimage"].append(psnr(f, r) - peak_signal_noise_ratio(r, f, data_range=1.0))
    diffs["psnr_y/skimage"].append(psnr(f, r, color="y") - peak_signal_noise_ratio(ry, fy, data_range=1.0))
    diffs["ssim_rgb/skimage"].append(ssim(f, r) - sk_ssim(f, r, -1))
    diffs["ssim_y/skimage"].append(ssim(f, r, color="y") - sk_ssim(fy, ry, None))
    diffs["ssim_y/torchmetrics f32 (valid crop)"].append(ssim(f, r, color="y") - tm_valid_ssim(tt(fy), tt(ry)))
    diffs["ssim_y/torchmetrics f32 (as shipped)"].append(ssim(f, r, color="y") - float(tm_ssim(tt(fy), tt(ry), data_range=1.0)))
    ours_ms = ms_ssim(cf, cr)
    diffs["ms_ssim_y/torchmetrics f32 terms"].append(ours_ms - tm_msssim(tt(cf), tt(cr)))
    from torchmetrics.functional.image import multiscale_structural_similarity_index_measure as tm_ms
    diffs["ms_ssim_y/torchmetrics f32 (as shipped)"].append(ours_ms - float(tm_ms(tt(cf), tt(cr), data_range=1.0)))
    ours_vif = vif(f, r)
    diffs["vif_y/sewar"].append(ours_vif - vifp(ry * 255, fy * 255))
    if n % 10 == 1:  # torchmetrics VIF in float64 takes ~8 s per image on this CPU: every 10th pair
        diffs["vif_y/torchmetrics (every 10th pair)"].append(ours_vif - float(tm_vif(tt(fy * 255, torch.float64), tt(ry * 255, torch.float64))))
    diffs["vif_y/sewar on [0,1] (wrong scale)"].append(ours_vif - vifp(ry, fy))
    print(f"{n:3d} {name}: psnr {psnr(f, r):.3f} ssim {ssim(f, r):.4f} ms_ssim {ours_ms:.4f} vif {ours_vif:.4f}", flush=True)

print(f"\n{n} pairs, {time.time() - t0:.0f} s")
print("| comparison | max abs diff | mean abs diff |")
print("| --- | --- | --- |")
for k, v in diffs.items():
    v = np.abs(v)
    print(f"| {k} | {v.max():.2e} | {v.mean():.2e} |")

# MEF-SSIM timing on a 1200x800 two-frame bracket (3 scales), median of 7 after a warm-up.
rng = np.random.default_rng(0)
frames = [rng.random((800, 1200, 3)).astype(np.float32) for _ in range(2)]
fused = np.mean(frames, axis=0)
mef_ssim(frames, fused)
times = []
for _ in range(7):
    t = time.perf_counter()
    mef_ssim(frames, fused)
    times.append(time.perf_counter() - t)
print(f"\nMEF-SSIM 1200x800, K=2: median {statistics.median(times):.3f} s, min {min(times):.3f} s")
frames3 = frames + [rng.random((800, 1200, 3)).astype(np.float32)]
times = []
for _ in range(5):
    t = time.perf_counter()
    mef_ssim(frames3, fused)
    times.append(time.perf_counter() - t)
print(f"MEF-SSIM 1200x800, K=3: median {statistics.median(times):.3f} s, min {min(times):.3f} s")
