"""Extract MEFB's published MEF-SSIM scores into ``tests/data/mefb_mef_ssim.json``.

MEFB (X. Zhang, "Benchmarking and comparing multi-exposure image fusion algorithms",
Information Fusion 74, 2021) publishes its MATLAB metric results in
``output/evaluation_metrics/evaluationMetrics.mat`` (``resultsMetrics``: 100 pairs x
21 methods x 20 metrics) and the per-method means in ``evaluationMetricsAverageImg.mat``.
This keeps the MEF-SSIM scores of the four methods whose fused images the project's
development data holds, with their provenance, so that ``tests/test_mefb_reference.py``
can compare mefkit's MEF-SSIM with the authors' MATLAB code.

Axis order, as checked: pairs follow ``util/configImgs.m``; MEF-SSIM is metric 17 of
``util/configMetrics.m`` (0-based 16). The method columns do NOT follow
``util/configMethods.m`` throughout: DEM, DSIFT_EF and MEFNet sit at 0-based 0, 1 and 15,
but SPD_MEF at 12 (not 13). The columns were identified by scoring the published fused
images with mefkit (all four agree to < 5e-6 there, and nowhere else), and the stored
per-method means equal the means of the columns kept.

Usage (with a checkout of github.com/xingchenzhang/MEFB at commit 82014f4 or later)::

    python scripts/extract_mefb_scores.py MEFB_CHECKOUT
"""

from __future__ import annotations

import hashlib
import json
import re
import sys
from pathlib import Path

import numpy as np
import scipy.io

OUT = Path(__file__).resolve().parents[1] / "tests" / "data" / "mefb_mef_ssim.json"
METRIC = 16
COLUMNS = {"DEM": 0, "DSIFT_EF": 1, "SPD_MEF": 12, "MEFNet": 15}
COMMIT = "82014f491760ce5ff7a8fdf37d0898d48b51cbed"


def main(checkout: Path) -> None:
    mat = checkout / "output" / "evaluation_metrics" / "evaluationMetrics.mat"
    avg = checkout / "output" / "evaluation_metrics" / "evaluationMetricsAverageImg.mat"
    results = scipy.io.loadmat(mat)["resultsMetrics"]
    means = scipy.io.loadmat(avg)["resultsMetricsAverageImg"][0]
    names = re.findall(r"'name','([^']+)'", (checkout / "util" / "configImgs.m").read_text())
    assert results.shape == (100, 21, 20) and len(names) == 100
    scores = {
        method: {name: round(float(results[i, col, METRIC]), 8) for i, name in enumerate(names)}
        for method, col in COLUMNS.items()
    }
    published_means = {method: round(float(means[col, METRIC]), 8) for method, col in COLUMNS.items()}
    for method in COLUMNS:
        assert abs(np.mean(list(scores[method].values())) - published_means[method]) < 1e-8
    data = {
        "what": "MEF-SSIM (Ma, Zeng, Wang, IEEE TIP 2015) of MEFB's published fused images, computed by the "
        "MEFB authors' MATLAB code; an external reference, not produced by mefkit",
        "source": {
            "repository": "https://github.com/xingchenzhang/MEFB",
            "commit": COMMIT,
            "file": "output/evaluation_metrics/evaluationMetrics.mat",
            "file_sha256": hashlib.sha256(mat.read_bytes()).hexdigest(),
            "means_file": "output/evaluation_metrics/evaluationMetricsAverageImg.mat",
            "means_file_sha256": hashlib.sha256(avg.read_bytes()).hexdigest(),
            "array": "resultsMetrics[pair, method, metric], pairs in util/configImgs.m order",
            "metric_index_0_based": METRIC,
            "method_columns_0_based": COLUMNS,
            "paper": "X. Zhang, Benchmarking and comparing multi-exposure image fusion algorithms, "
            "Information Fusion 74 (2021) 111-131",
            "licence": "the MEFB repository states no licence; these are 400 numbers quoted as a reference",
        },
        "published_means": published_means,
        "scores": scores,
    }
    OUT.write_text(json.dumps(data, indent=1) + "\n")
    print(f"wrote {OUT}: {sum(len(v) for v in scores.values())} scores")


if __name__ == "__main__":
    main(Path(sys.argv[1]))
