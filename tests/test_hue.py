"""Hue restoration (mefkit.hue): hue from the unclipped inputs, lightness and chroma kept."""

from __future__ import annotations

import numpy as np
import pytest

import mefkit.hue as hue_module
from mefkit.methods.cbm.stages.lab import rgb_to_lab
from mefkit.hue import HUE_MIN_CHROMA, restore_hue


def _flat(rgb, h=6, w=5) -> np.ndarray:
    return np.full((h, w, 3), rgb, np.float32)


def _lch(image: np.ndarray) -> tuple[float, float, float]:
    """Mean L*, C* and hue angle (degrees) of an image."""
    lab = rgb_to_lab(image).reshape(-1, 3).mean(axis=0)
    return float(lab[0]), float(np.hypot(lab[1], lab[2])), float(np.degrees(np.arctan2(lab[2], lab[1])))


def test_hue_comes_from_the_unclipped_input_lightness_and_chroma_stay():
    # Hand-built case of the coffee defect: the under frame is an unclipped orange, the
    # over frame has red (and green) clipped to 1 and reads yellow, the fusion copied a
    # yellowish hue. The restored image has the under frame's hue angle and the fusion's
    # own L* and C* (the colours stay inside the sRGB gamut, so nothing is clipped).
    under = _flat((0.49, 0.33, 0.16))
    over = _flat((1.0, 1.0, 0.52))
    fused = _flat((0.75, 0.68, 0.29))
    got = restore_hue(fused, [under, over])
    l_f, c_f, h_f = _lch(fused)
    l_g, c_g, h_g = _lch(got)
    _, c_u, h_u = _lch(under)
    assert c_u > HUE_MIN_CHROMA  # the under frame is coloured enough to be trusted fully
    assert abs(h_g - h_u) < 1.0 and abs(h_f - h_u) > 10.0
    assert abs(l_g - l_f) < 0.5 and abs(c_g - c_f) < 0.5


def test_clipped_inputs_leave_the_fusion_and_grey_inputs_make_it_grey():
    # Oracle: inputs clipped everywhere (no colour to trust) leave the fused colour as
    # it is (up to the Lab round trip); unclipped grey inputs say the scene is grey, so
    # the fused chroma goes to theirs (0) and its lightness stays. With
    # mode="uncapped" grey inputs leave the fusion as it is (the earlier rule).
    fused = _flat((0.7, 0.5, 0.3))
    grey = [_flat((0.2, 0.2, 0.2)), _flat((0.8, 0.8, 0.8))]
    clipped = [_flat((1.0, 0.6, 0.1)), _flat((1.0, 1.0, 1.0))]
    assert np.allclose(restore_hue(fused, clipped), fused, atol=2e-3)
    got = restore_hue(fused, grey)
    assert np.ptp(got, axis=-1).max() <= 1 / 255
    l_f, _, _ = _lch(fused)
    l_g, c_g, _ = _lch(got)
    assert abs(l_g - l_f) < 0.5 and c_g < 0.5
    assert np.allclose(restore_hue(fused, grey, mode="uncapped"), fused, atol=2e-3)


def test_strips_give_the_same_result_as_one_pass(monkeypatch):
    # Property: the row-strip loop is an implementation detail (per-pixel operation).
    rng = np.random.default_rng(0)
    frames = [rng.random((23, 9, 3), dtype=np.float32) * s for s in (0.5, 1.0)]
    fused = rng.random((23, 9, 3), dtype=np.float32)
    whole = restore_hue(fused, frames)
    monkeypatch.setattr(hue_module, "STRIP_ROWS", 4)
    assert np.array_equal(restore_hue(fused, frames), whole)
    assert whole.dtype == np.float32 and whole.shape == fused.shape
    assert 0.0 <= whole.min() and whole.max() <= 1.0


@pytest.mark.parametrize(
    "fused, frames, kwargs, match",
    [
        (_flat((0.5, 0.5, 0.5)), [], {}, "at least one"),
        (_flat((0.5, 0.5, 0.5)), [_flat((0.5, 0.5, 0.5), h=4)], {}, "frame 0 has shape"),
        (np.zeros((4, 4), np.float32), [np.zeros((4, 4), np.float32)], {}, r"\(H, W, 3\)"),
        (_flat((0.5, 0.5, 0.5)), [_flat((0.5, 0.5, 0.5))], {"min_chroma": 0.0}, "min_chroma"),
        (_flat((0.5, 0.5, 0.5)), [_flat((0.5, 0.5, 0.5))], {"clip_start": 1.0}, "clip start"),
    ],
)
def test_bad_arguments_are_refused(fused, frames, kwargs, match):
    with pytest.raises(ValueError, match=match):
        restore_hue(fused, frames, **kwargs)


def test_neutral_mode_keeps_the_fused_hue_and_only_caps_neutral_scenes():
    # Oracle: without taking the hue, a fusion of coloured inputs is left as it is (up
    # to the Lab round trip) even where its hue differs from theirs, and a fusion of
    # grey inputs still becomes grey; hue_refiner knows the three modes.
    from mefkit.hue import HUE_MODES, hue_refiner

    fused = _flat((0.7, 0.5, 0.3))
    coloured = [_flat((0.3, 0.35, 0.6)), _flat((0.5, 0.55, 0.9))]  # blue inputs
    assert np.allclose(restore_hue(fused, coloured, mode="neutral"), fused, atol=2e-3)
    grey = [_flat((0.2, 0.2, 0.2)), _flat((0.8, 0.8, 0.8))]
    assert np.ptp(restore_hue(fused, grey, mode="neutral"), axis=-1).max() <= 1 / 255
    assert set(HUE_MODES) == {"network", "neutral", "inputs", "clipped"} and hue_refiner("network") is None
    with pytest.raises(ValueError, match="hue must be one of"):
        hue_refiner("camera")


def test_near_clipped_takes_the_input_hue_only_around_clipped_pixels():
    # Left half: the coffee case (over frame clipped, fusion copied its yellow hue).
    # Right half, 60 px away: nothing clipped, and the fusion's hue differs from the
    # inputs' on purpose (a network's own colour choice), which near_clipped must keep.
    h, w = 20, 120
    under = np.zeros((h, w, 3), np.float32)
    over = np.zeros((h, w, 3), np.float32)
    fused = np.zeros((h, w, 3), np.float32)
    under[:, :40], over[:, :40], fused[:, :40] = (0.49, 0.33, 0.16), (1.0, 1.0, 0.52), (0.75, 0.68, 0.29)
    under[:, 40:], over[:, 40:], fused[:, 40:] = (0.20, 0.30, 0.45), (0.45, 0.60, 0.85), (0.30, 0.45, 0.55)
    got = restore_hue(fused, [under, over], mode="clipped")
    everywhere = restore_hue(fused, [under, over])
    _, _, h_u = _lch(under[:, :20])
    _, _, h_g = _lch(got[:, :20])
    assert abs(h_g - h_u) < 1.0  # the clipped side gets the unclipped input's hue
    np.testing.assert_allclose(got[:, 80:], fused[:, 80:], atol=2e-3)  # far side untouched
    assert np.abs(everywhere[:, 80:] - fused[:, 80:]).max() > 0.02  # ... where hue=inputs changes it


def test_clipped_presence_is_one_at_clipped_pixels_and_zero_far_away():
    frame = np.full((50, 200, 3), 0.4, np.float32)
    frame[20:30, 10:20] = 1.0
    p = hue_module.clipped_presence([frame, frame * 0.5])
    assert p[25, 15] > 0.99 and p[25, 150] == 0.0 and p.min() >= 0.0 and p.max() <= 1.0


def test_hue_modes_keep_a_gray_bracket_gray():
    from mefkit.hue import HUE_MODES, hue_refiner

    gray = [_flat(v, 30, 40) for v in (0.1, 0.45, 0.95)]
    tinted = _flat((0.55, 0.5, 0.42), 30, 40)
    for mode in HUE_MODES:
        refine = hue_refiner(mode)
        if refine is None:
            continue
        out = refine(tinted, gray)
        assert np.ptp(out, axis=-1).max() <= 2 / 255, mode
