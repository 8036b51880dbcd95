"""mefkit's MEF-SSIM against the MEFB authors' MATLAB scores (an external oracle).

``tests/data/mefb_mef_ssim.json`` holds MEF-SSIM of MEFB's published fused images as
computed and published by the MEFB authors (X. Zhang, Information Fusion 2021), with its
provenance (``scripts/extract_mefb_scores.py`` wrote it). Scoring the same fused images
needs MEFB's images, which have no licence to redistribute: that test runs where the
development data is (``../shared/data/mefb`` or ``MEFKIT_DATA``) and skips elsewhere,
unless ``MEFKIT_REQUIRE_DATA=1`` makes missing data a failure.
"""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest

from mefkit.io import read_image
from mefkit.metrics import mef_ssim

from .conftest import shared_path

SCORES = Path(__file__).resolve().parent / "data" / "mefb_mef_ssim.json"
#: Small development pairs (231x338 to 512x339), every fused image at the input size.
PAIRS = ("Chair", "Door", "Arno", "House")
#: The published scores carry 5 decimals.
TOLERANCE = 1e-5


@pytest.fixture(scope="module")
def published():
    return json.loads(SCORES.read_text())


def test_stored_scores_reproduce_the_published_means(published):
    # Integrity of the committed extract: 100 pairs per method, and their means equal
    # MEFB's own per-method averages (evaluationMetricsAverageImg.mat), which a wrong
    # column or metric index would not.
    for method, mean in published["published_means"].items():
        values = list(published["scores"][method].values())
        assert len(values) == 100
        assert np.mean(values) == pytest.approx(mean, abs=1e-8)


@pytest.mark.data
@pytest.mark.parametrize("scene", PAIRS)
def test_mef_ssim_matches_the_mefb_authors_matlab_scores(scene, published):
    folder = shared_path("mefb", scene)
    under = read_image(next(folder.glob("under.*")))[0]
    over = read_image(next(folder.glob("over.*")))[0]
    for method, scores in published["scores"].items():
        fused = read_image(next((folder / "fused").glob(f"{method}.*")))[0]
        assert fused.shape == under.shape
        assert mef_ssim([under, over], fused) == pytest.approx(scores[scene], abs=TOLERANCE), method
