"""mefkit.checks: the shared input checks of the metrics."""

from __future__ import annotations

import numpy as np
import pytest

from mefkit.checks import check_exposures


def test_check_exposures_accepts_a_stack_and_a_single_frame():
    rng = np.random.default_rng(0)
    frames = [rng.random((6, 7, 3)) for _ in range(3)]
    arrs, fused = check_exposures(frames, frames[1], 1.0)
    assert len(arrs) == 3 and fused.shape == (6, 7, 3)
    single, _ = check_exposures(frames[0], frames[0], 1.0)  # one (H, W, 3) array is one exposure
    assert len(single) == 1 and single[0].shape == (6, 7, 3)


@pytest.mark.parametrize("frames,fused,match", [
    ([], np.zeros((4, 4)), "at least one exposure"),
    ([np.zeros((4, 5))], np.zeros((4, 4)), r"frames\[0\] has shape \(4, 5\) but fused has shape \(4, 4\)"),
    ([np.full((4, 4), np.nan)], np.zeros((4, 4)), "NaN"),
])
def test_check_exposures_names_the_problem(frames, fused, match):
    with pytest.raises(ValueError, match=match):
        check_exposures(frames, fused, 1.0)
