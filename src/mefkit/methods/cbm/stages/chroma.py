"""Chroma-scale colour fusion in CIE-Lab (CBM, Son et al. 2025).

The chroma scale of an input is its per-pixel distance from the neutral axis in the
a*b* plane, ``C = sqrt(a^2 + b^2)`` (CIE chroma C*ab). The fused a, b come from the
inputs, not from the network:

* ``select``: take a, b from the input with the larger chroma scale. The hard 0/1
  choice flips between neighbouring pixels where the two chromas are close, which
  shows as colour speckle, so the selection mask may be smoothed by a small Gaussian
  (``smoothing`` = its sigma in pixels; 0 keeps the hard choice). With smoothing the
  result is a soft blend near the decision boundary and a pure selection elsewhere.
* ``weighted``: blend a, b with weights proportional to the chroma scales,
  ``a = sum_i C_i a_i / sum_i C_i`` (and b alike).

Clipping guard (our addition, ``reliabilities``): where a channel of an input is
clipped, its a*b* are not the scene's colour (a clipped orange turns yellow, a clipped
yellow turns green-white) and its chroma can still be the larger one, so the literal
rule copies a wrong hue onto the darker fused lightness. Each chroma scale may be
multiplied by a per-pixel reliability in [0, 1] before the comparison / weighting;
:func:`clip_reliability` ramps it down as the largest RGB channel approaches 1.
Without reliabilities the functions follow the paper's rule exactly.
"""

from __future__ import annotations

from typing import Sequence

import cv2
import numpy as np

#: The two colour modes the paper describes (Sec. II, test process).
CHROMA_MODES = ("select", "weighted")
#: Added to the chroma sum so two neutral (C = 0) inputs blend equally instead of 0/0.
CHROMA_EPS = 1e-6
#: Default start of the clipping ramp: an input's chroma counts fully while its largest
#: RGB channel is below this, and not at all at 1.0 ([DEFAULT], ours).
CLIP_START = 0.9
#: Floor of the reliability, so pixels clipped in every input still fall back to the
#: plain chroma comparison instead of 0/0.
RELIABILITY_FLOOR = 1e-3


def clip_reliability(frame: np.ndarray, start: float = CLIP_START) -> np.ndarray:
    """How far an input's colour at each pixel can be trusted, given channel clipping.

    ``r = clip((1 - max_c) / (1 - start), RELIABILITY_FLOOR, 1)``: 1 while the largest
    RGB channel is below ``start``, falling linearly to the floor at 1.0.

    Parameters
    ----------
    frame : ndarray
        ``(H, W, 3)`` sRGB in [0, 1].
    start : float
        Channel value where the ramp starts, in [0, 1).

    Returns
    -------
    ndarray
        ``(H, W)`` float32 in [RELIABILITY_FLOOR, 1].
    """
    if not 0.0 <= start < 1.0:
        raise ValueError(f"clip start must be in [0, 1), got {start}")
    # Two elementwise maxima: several times faster than a reduction over the last axis
    # of an (H, W, 3) array, which numpy does with a stride-3 inner loop.
    frame = np.asarray(frame)
    top = np.maximum(np.maximum(frame[..., 0], frame[..., 1]), frame[..., 2]).astype(np.float32)
    return np.clip((1.0 - top) / np.float32(1.0 - start), RELIABILITY_FLOOR, 1.0)


def chroma_scale(lab: np.ndarray) -> np.ndarray:
    """Chroma scale ``sqrt(a^2 + b^2)`` of a Lab image.

    Parameters
    ----------
    lab : ndarray
        ``(H, W, 3)`` CIE-Lab (L in [0, 100]).

    Returns
    -------
    ndarray
        ``(H, W)`` float32 >= 0.
    """
    return cv2.magnitude(
        np.ascontiguousarray(lab[..., 1], np.float32), np.ascontiguousarray(lab[..., 2], np.float32)
    )


def selection_mask(chromas: Sequence[np.ndarray], smoothing: float = 0.0) -> np.ndarray:
    """Per-input selection weights: 1 where an input has the largest chroma scale.

    Parameters
    ----------
    chromas : sequence of ndarray
        K maps ``(H, W)`` of chroma scale.
    smoothing : float
        Sigma (pixels) of a Gaussian applied to each 0/1 mask before renormalising;
        0 keeps the hard selection. Ties go to the first (darker) input.

    Returns
    -------
    ndarray
        ``(K, H, W)`` float32 in [0, 1], summing to 1 over K at every pixel.
    """
    if smoothing < 0:
        raise ValueError(f"smoothing must be >= 0, got {smoothing}")
    stack = np.stack([np.asarray(c, np.float32) for c in chromas])
    winner = np.argmax(stack, axis=0)
    masks = (winner[None] == np.arange(len(stack))[:, None, None]).astype(np.float32)
    if smoothing > 0:
        for k in range(len(masks)):
            masks[k] = cv2.GaussianBlur(masks[k], (0, 0), sigmaX=float(smoothing), borderType=cv2.BORDER_REFLECT)
        masks /= np.maximum(masks.sum(axis=0, keepdims=True), np.float32(CHROMA_EPS))
    return masks


def fuse_chroma(
    labs: Sequence[np.ndarray],
    mode: str = "select",
    smoothing: float = 1.0,
    reliabilities: Sequence[np.ndarray] | None = None,
) -> np.ndarray:
    """Fused a*, b* channels from K Lab inputs by their chroma scale.

    Parameters
    ----------
    labs : sequence of ndarray
        K >= 1 images ``(H, W, 3)`` in CIE-Lab.
    mode : {"select", "weighted"}
        ``select``: a, b of the input with the largest chroma scale (mask smoothed by
        ``smoothing``). ``weighted``: a, b averaged with weights ``C_i / sum_j C_j``.
    smoothing : float
        Gaussian sigma in pixels for the ``select`` mask; ignored by ``weighted``.
    reliabilities : sequence of ndarray, optional
        K maps ``(H, W)`` in (0, 1] multiplying each chroma scale before it is compared
        or used as a weight (see :func:`clip_reliability`); None: the plain rule.

    Returns
    -------
    ndarray
        ``(H, W, 2)`` float32: fused a*, b*.
    """
    if mode not in CHROMA_MODES:
        raise ValueError(f"chroma must be one of {CHROMA_MODES}, got {mode!r}")
    chromas = [chroma_scale(lab) for lab in labs]
    if reliabilities is not None:
        chromas = [c * np.asarray(r, np.float32) for c, r in zip(chromas, reliabilities)]
    if mode == "select":
        weights = selection_mask(chromas, smoothing)
    else:
        weights = np.stack(chromas) + np.float32(CHROMA_EPS)
        weights /= weights.sum(axis=0, keepdims=True)
    out = np.zeros(labs[0].shape[:2] + (2,), np.float32)
    for lab, w in zip(labs, weights):
        out += lab[..., 1:3] * w[..., None]
    return out
