"""The small fusion problem the learned methods' quality and regression tests share.

A 192 x 256 crop (the cup, saucer, spoon and table) of the bundled CC0 example, its
darkest (-2 EV) and brightest (+2 EV) frames; the 0 EV frame is held out (the learned
methods fuse two frames) and serves as an extra reference. ``scripts/learned_regression.py``
writes the stored outputs from here, so the tests and the script cannot drift apart.
"""

from __future__ import annotations

from pathlib import Path

import cv2
import numpy as np

import mefkit

from .shipped import weights_path

#: Rows and columns of the crop in the 400 x 600 example.
CROP = (slice(40, 232), slice(150, 406))
#: The committed regression outputs (every fourth pixel of each method's result, each way).
REFERENCE = Path(__file__).resolve().parent / "data" / "learned_regression.npz"
#: Stored in the reference file and checked by the tests: what the file is.
REFERENCE_NOTE = "self-generated regression reference, not an external oracle"
#: Subsampling of the stored outputs (keeps the committed file small).
REFERENCE_STRIDE = 4


def example_crop() -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """``(under, mid, over)``: the crop of the example's three frames, ``(192, 256, 3)`` float32 in [0, 1]."""
    frames = mefkit.load_frames(mefkit.example_bracket()).frames
    under, mid, over = (np.ascontiguousarray(f[CROP]) for f in frames)
    return under, mid, over


def fuse_crop(method: str, weights: str | None = None, **params) -> np.ndarray:
    """``method`` with its shipped weights (or ``weights``) on the crop's darkest and brightest frames."""
    under, _, over = example_crop()
    path = weights or str(weights_path(method))
    return mefkit.fuse([under, over], method=method, order="given", weights=path, **params)


def _luma(image: np.ndarray) -> np.ndarray:
    return np.ascontiguousarray(image @ np.array([0.299, 0.587, 0.114], np.float32), dtype=np.float32)


def gradient_magnitude(image: np.ndarray) -> np.ndarray:
    """Sobel gradient magnitude of the luma (BT.601) of ``(H, W, 3)`` ``image``: ``(H, W)``."""
    y = _luma(image)
    return np.hypot(cv2.Sobel(y, cv2.CV_32F, 1, 0), cv2.Sobel(y, cv2.CV_32F, 0, 1))


def detail_kept(fused: np.ndarray, inputs: list[np.ndarray]) -> float:
    """Share of the inputs' local detail a fusion keeps.

    The mean gradient magnitude of ``fused`` over the mean of the per-pixel largest
    gradient magnitude among ``inputs``: 1 when the fusion keeps, everywhere, the
    sharpest input's edges (fusion's goal, as in the gradient-based fusion metrics of
    Xydeas and Petrovic, Electronics Letters 2000), lower for a blend that averages
    detail away (the mean of a dark and a bright frame halves each frame's contrast).

    Parameters
    ----------
    fused : ndarray
        ``(H, W, 3)`` float in [0, 1].
    inputs : list of ndarray
        The fused frames, same shape.

    Returns
    -------
    float
        Usually in (0, 1.2]; above 1 for a result sharper (or noisier) than any input.
    """
    best = np.maximum.reduce([gradient_magnitude(f) for f in inputs])
    return float(gradient_magnitude(fused).mean() / best.mean())
