"""Registry and the `mefkit.fuse` API: names, parameters, frame-count checks."""

from __future__ import annotations

import numpy as np
import pytest

import mefkit
from mefkit.registry import _REGISTRY, get_method, register_method


def test_available_methods_has_mertens_with_summary():
    methods = mefkit.available_methods()
    assert "mertens" in methods and "pyramid" in methods["mertens"].lower()
    assert get_method("mertens").params[:3] == ("contrast_weight", "saturation_weight", "exposure_weight")


def test_register_and_fuse_custom_method():
    @register_method("test_mean", summary="mean of frames", max_frames=3)
    def _mean(frames, *, scale=1.0):
        return np.mean(frames, axis=0) * scale

    try:
        a = np.full((8, 8, 3), 0.2, np.float32)
        b = np.full((8, 8, 3), 0.6, np.float32)
        np.testing.assert_allclose(mefkit.fuse([a, b], method="test_mean"), 0.4)
        np.testing.assert_allclose(mefkit.fuse([a, b], method="test_mean", scale=3.0), 1.0)  # clipped
        with pytest.raises(mefkit.MethodError, match="takes 2..3 frames"):
            mefkit.fuse([a, b, a, b], method="test_mean")
    finally:
        _REGISTRY.pop("test_mean")


def test_duplicate_registration_rejected():
    with pytest.raises(ValueError, match="registered twice"):
        register_method("mertens", summary="x")(lambda frames: frames[0])


def test_fuse_accepts_uint8_uint16_float_and_gray():
    u8 = np.full((8, 8, 3), 128, np.uint8)
    u16 = np.full((8, 8, 3), 128 * 257, np.uint16)
    gray = np.full((8, 8), 128 / 255, np.float32)
    out = mefkit.fuse([u8, u16, gray])
    np.testing.assert_allclose(out, 128 / 255, atol=1e-5)


def test_fuse_rejects_mixed_sizes_naming_frame():
    with pytest.raises(mefkit.BracketError, match="frame 1: size"):
        mefkit.fuse([np.zeros((8, 8, 3), np.float32), np.zeros((9, 8, 3), np.float32)])
