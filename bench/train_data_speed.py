"""Samples/s of the training data pipeline (stack pairs, synthetic), crop 256, one process.

    python bench/train_data_speed.py [TRAIN_STACKS]   (default ../shared/data/train_stacks)
"""
import sys, time
from pathlib import Path

import torch
from mefkit.devdata import data_root
from mefkit.train.config import DataConfig
from mefkit.train.data import build_data
torch.set_num_threads(1)
STACKS = Path(sys.argv[1]) if len(sys.argv) > 1 else data_root() / "train_stacks"
t = time.perf_counter()
b = build_data(DataConfig(stacks=str(STACKS), synthetic="labels", synthetic_fraction=0.5), seed=0)
print(f"build_data (labels cached, exclusion incl. content check): {time.perf_counter() - t:.1f} s; {b.info['sources']}")
for name, src in (("stacks", b.train.sources[0]), ("synthetic", b.train.sources[1])):
    from mefkit.train.data import TrainPairs
    ds = TrainPairs([(src, 1.0)], seed=0, crop=256)
    for k in range(300): ds[k]  # warm the image cache (every stack read once)
    t = time.perf_counter(); n = 200
    for k in range(1000, 1000 + n): ds[k]
    print(f"{name}: {n / (time.perf_counter() - t):.1f} samples/s (crop 256, warm cache)")
