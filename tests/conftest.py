"""Shared fixtures. Tests that need ../shared/data skip with a reason when it is absent."""

from __future__ import annotations

import os
from pathlib import Path

import numpy as np
import pytest

from mefkit.devdata import data_root

#: The development data lives beside the repository (``../shared/data``), or where
#: ``MEFKIT_DATA`` points (:func:`mefkit.devdata.data_root`).
SHARED_DATA = data_root()
#: ``MEFKIT_REQUIRE_DATA=1``: a test whose development data is missing fails instead of
#: skipping (for a CI job that has the data: no real-data oracle may silently drop out).
REQUIRE_DATA = os.environ.get("MEFKIT_REQUIRE_DATA", "") not in ("", "0")


def shared_path(*parts: str) -> Path:
    """Path under the development data, or skip the calling test when it is missing."""
    path = SHARED_DATA.joinpath(*parts)
    if not path.exists():
        message = f"development data not available: {path} (set MEFKIT_DATA)"
        if REQUIRE_DATA:
            pytest.fail(message + "; MEFKIT_REQUIRE_DATA is set, so missing data is a failure")
        pytest.skip(message)
    return path


@pytest.fixture
def shared_data() -> Path:
    """Root of the development data (skips the test when absent)."""
    return shared_path()


@pytest.fixture
def one_torch_thread():
    """Run a test with one torch thread, restored afterwards.

    Tiny convolutions gain nothing from more threads, and on a busy shared CPU
    multi-threaded OpenMP regions wait on descheduled threads. Use it per module with
    ``pytestmark = pytest.mark.usefixtures("one_torch_thread")``.
    """
    import torch

    before = torch.get_num_threads()
    torch.set_num_threads(1)
    yield
    torch.set_num_threads(before)


@pytest.fixture
def rng() -> np.random.Generator:
    return np.random.default_rng(1234)


def make_bracket(h: int = 48, w: int = 64, n: int = 3, seed: int = 0) -> list[np.ndarray]:
    """A small synthetic bracket: a textured scene at n exposures, float32 in [0, 1]."""
    from mefkit.synth import simulate_bracket

    r = np.random.default_rng(seed)
    yy, xx = np.mgrid[0:h, 0:w].astype(np.float32)
    base = 0.5 + 0.35 * np.sin(xx / 5.0)[..., None] * np.cos(yy / 7.0)[..., None]
    scene = np.clip(base * np.array([1.0, 0.8, 0.6], np.float32) + 0.05 * r.random((h, w, 3)), 0, 1)
    evs = np.linspace(-2, 2, n)
    return simulate_bracket(scene.astype(np.float32), evs, seed=seed)


@pytest.fixture
def bracket3() -> list[np.ndarray]:
    return make_bracket()
