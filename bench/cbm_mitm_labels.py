"""Build MITM teacher labels for CBM training, one shard of the stacks per process.

    python bench/cbm_mitm_labels.py K N [CACHE_DIR]   (shard K of N; default cache runs/cbm_label_cache_mitm)
"""
import sys, time
from pathlib import Path
from mefkit.devdata import data_root
from mefkit.train.stacks import find_stacks, split_excluded, guess_data_root
from mefkit.methods.cbm.teacher_labels import TeacherLabels, TeacherSpec, choose_pairs
import torch; torch.set_num_threads(1)
k, n = int(sys.argv[1]), int(sys.argv[2])
root = str(data_root() / "train_stacks")
cache = sys.argv[3] if len(sys.argv) > 3 else "runs/cbm_label_cache_mitm"
kept, excl = split_excluded(find_stacks(root), [guess_data_root(root) / x for x in ("mefb", "mef_database", "memorial")])
kept = kept[k::n]
pairs = {s.id: (s, choose_pairs(s, 8, seed=0)) for s in kept}
# the task's validation pairs (extreme pair) are among choose_pairs' output already
lab = TeacherLabels(TeacherSpec("mitm"), cache, max_side=512)
t = time.time()
print(lab.build(pairs, on_progress=lambda s, d, m: print(d, m, s, round(time.time() - t, 1), flush=True)))
