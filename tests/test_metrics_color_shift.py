"""Colour shift and mean L* (mefkit.metrics.color_shift) on hand-computed cases."""

from __future__ import annotations

import math

import cv2
import numpy as np
import pytest

from mefkit.metrics import NO_REFERENCE_METRICS, REFERENCE_METRICS
from mefkit.metrics.color_shift import (
    color_shift,
    lightness_offset,
    mean_lightness,
    reference_chroma,
    reference_lightness,
    result_lightness,
)

# sRGB red (1, 0, 0) in CIE-Lab D65 (Lindbloom's calculator; CIE 15:2004 formulas).
RED_LAB = (53.2408, 80.0925, 67.2032)
# OpenCV's float sRGB -> Lab interpolates tables: a gray pixel gets |ab| up to about 0.07,
# and a Lab -> sRGB -> Lab round trip moves a*b* by about 0.1 (measured against
# scikit-image: mean 0.12, max 0.55 on random colours), far below a just-noticeable 2.3.
AB_TOL = 0.1


def flat(rgb, shape=(8, 10)):
    return np.broadcast_to(np.asarray(rgb, np.float32), (*shape, 3)).copy()


def test_gray_gives_zero_shift():
    frames = [flat((0.2, 0.2, 0.2)), flat((0.5, 0.5, 0.5)), flat((0.9, 0.9, 0.9))]
    assert color_shift(frames, flat((0.6, 0.6, 0.6))) == pytest.approx(0.0, abs=AB_TOL)
    # gray (H, W) arrays are accepted and are colourless too
    assert color_shift([f[..., 0] for f in frames], flat((0.4, 0.4, 0.4))[..., 0]) == pytest.approx(0.0, abs=AB_TOL)


def test_colour_cast_on_gray_inputs_is_its_chroma():
    # Gray inputs, pure red result: the shift is red's chroma sqrt(a^2 + b^2), hand-computed.
    frames = [flat((0.3, 0.3, 0.3)), flat((0.6, 0.6, 0.6))]
    expected = math.hypot(RED_LAB[1], RED_LAB[2])  # 104.55
    assert color_shift(frames, flat((1.0, 0.0, 0.0))) == pytest.approx(expected, abs=0.05)


def test_known_hue_rotation():
    # Result = input with its a*b* rotated by theta at the same L* and chroma C: the shift is
    # the chord 2 C sin(theta / 2).
    src = flat((0.55, 0.35, 0.25))
    lab = cv2.cvtColor(src, cv2.COLOR_RGB2Lab)
    a, b = lab[0, 0, 1], lab[0, 0, 2]
    chroma = math.hypot(a, b)
    theta = math.radians(30)
    rot = lab.copy()
    rot[..., 1] = a * math.cos(theta) - b * math.sin(theta)
    rot[..., 2] = a * math.sin(theta) + b * math.cos(theta)
    fused = cv2.cvtColor(rot, cv2.COLOR_Lab2RGB)
    assert fused.min() > 0.0 and fused.max() < 1.0  # in gamut, nothing clipped away
    assert color_shift([src], fused) == pytest.approx(2 * chroma * math.sin(theta / 2), abs=2 * AB_TOL)
    assert color_shift([src], src) == pytest.approx(0.0, abs=1e-6)  # same pixels, same Lab


def test_clipped_and_black_pixels_are_excluded():
    # Frame 1 is clipped (one channel 255) and coloured; frame 2 is usable and gray.
    # Only frame 2 defines the reference, so a gray result has no shift.
    clipped = flat((1.0, 0.6, 0.2))
    gray = flat((0.5, 0.5, 0.5))
    assert color_shift([clipped, gray], flat((0.7, 0.7, 0.7))) == pytest.approx(0.0, abs=AB_TOL)
    # At 250/255 the channel is not clipped yet: the orange frame counts and pulls the
    # reference away from gray; one level higher it is left out again.
    at_limit = flat((250 / 255, 0.6, 0.2))
    assert color_shift([at_limit, gray], flat((0.7, 0.7, 0.7))) > 10
    above = flat((251 / 255, 0.6, 0.2))
    assert color_shift([above, gray], flat((0.7, 0.7, 0.7))) == pytest.approx(0.0, abs=AB_TOL)
    # Without the gray frame no pixel is usable: undefined, not 0.
    assert math.isnan(color_shift([clipped, flat((0.03, 0.01, 0.0))], flat((0.5, 0.5, 0.5))))
    # The usable mask says why.
    _, usable = reference_chroma([clipped, flat((0.03, 0.01, 0.0))])
    assert not usable.any()
    _, usable = reference_chroma([clipped, gray])
    assert usable.all()


def test_only_usable_pixels_enter_the_mean():
    # Left half: usable red-ish input; right half: every frame clipped. A result that is
    # right on the left and wildly off on the right scores 0: the right half is not counted.
    frame = flat((0.6, 0.3, 0.2), (6, 8))
    frame[:, 4:] = 1.0
    fused = frame.copy()
    fused[:, 4:] = (0.0, 0.0, 1.0)
    assert color_shift([frame], fused) == pytest.approx(0.0, abs=1e-6)
    # ... and the left half is compared: a gray result there shifts by the input's chroma.
    fused[:, :4] = 0.4
    lab = cv2.cvtColor(flat((0.6, 0.3, 0.2)), cv2.COLOR_RGB2Lab)
    assert color_shift([frame], fused) == pytest.approx(float(np.hypot(lab[0, 0, 1], lab[0, 0, 2])), abs=0.05)


def test_reference_is_exposure_weighted():
    # Two usable frames with different chroma: the one nearer L* = 50 weighs more, so the
    # reference lies between them, closer to the mid-exposed frame.
    dark = flat((0.12, 0.08, 0.08))
    mid = flat((0.5, 0.42, 0.42))
    ab, _ = reference_chroma([dark, mid])
    ab_dark = cv2.cvtColor(dark, cv2.COLOR_RGB2Lab)[0, 0, 1:]
    ab_mid = cv2.cvtColor(mid, cv2.COLOR_RGB2Lab)[0, 0, 1:]
    d_mid = np.linalg.norm(ab[0, 0] - ab_mid)
    d_dark = np.linalg.norm(ab[0, 0] - ab_dark)
    assert 0 < d_mid < d_dark


def test_mean_lightness_known_values():
    assert mean_lightness(flat((0.0, 0.0, 0.0))) == pytest.approx(0.0, abs=1e-3)
    assert mean_lightness(flat((1.0, 1.0, 1.0))) == pytest.approx(100.0, abs=1e-2)
    assert mean_lightness(flat((0.5, 0.5, 0.5))) == pytest.approx(53.39, abs=0.02)  # sRGB mid-gray
    assert mean_lightness(flat((1.0, 0.0, 0.0))) == pytest.approx(RED_LAB[0], abs=0.02)
    # 8-bit data with its data range
    assert mean_lightness(np.full((4, 4, 3), 255, np.uint8), data_range=255) == pytest.approx(100.0, abs=1e-2)
    half = np.zeros((4, 4, 3), np.float32)
    half[:2] = 1.0
    assert mean_lightness(half) == pytest.approx(50.0, abs=1e-2)


def test_lightness_adapters_and_registration():
    dark, bright = flat((0.2, 0.2, 0.2)), flat((0.5, 0.5, 0.5))
    assert result_lightness([bright], dark) == pytest.approx(mean_lightness(dark))
    assert reference_lightness(dark, bright) == pytest.approx(53.39, abs=0.02)
    assert lightness_offset(dark, bright) == pytest.approx(mean_lightness(dark) - 53.39, abs=0.02)
    assert lightness_offset(dark, bright) < 0  # darker than the reference
    assert NO_REFERENCE_METRICS["color_shift"] is color_shift
    assert NO_REFERENCE_METRICS["l_mean"] is result_lightness
    assert REFERENCE_METRICS["dl_gt"] is lightness_offset and REFERENCE_METRICS["gt_l"] is reference_lightness


def test_bad_input():
    with pytest.raises(ValueError, match="one size"):
        color_shift([flat((0.5, 0.5, 0.5)), flat((0.5, 0.5, 0.5), (4, 4))], flat((0.5, 0.5, 0.5)))
    with pytest.raises(ValueError, match="sizes must match"):
        color_shift([flat((0.5, 0.5, 0.5))], flat((0.5, 0.5, 0.5), (4, 4)))
    with pytest.raises(ValueError, match="at least one"):
        color_shift([], flat((0.5, 0.5, 0.5)))
    with pytest.raises(ValueError, match="NaN"):
        color_shift([flat((0.5, 0.5, 0.5))], flat((np.nan, 0.5, 0.5)))
