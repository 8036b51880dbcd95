"""Known camera and object motion for testing alignment and deghosting.

Used by the tests and ``bench/align_synthetic.py``: a static bracket is moved by a
known warp (the truth for alignment) or has an object pasted at a different place in
each frame (the truth is the same object, in the reference's place, in every frame).
"""

from __future__ import annotations

from typing import Sequence

import cv2
import numpy as np

from .synth import simulate_bracket


def similarity(shape: tuple[int, int], *, angle: float = 0.0, scale: float = 1.0, shift: tuple[float, float] = (0, 0),
               perspective: tuple[float, float] = (0.0, 0.0)) -> np.ndarray:
    """A ``(3, 3)`` map about the frame centre: rotation (degrees), scale, shift and perspective.

    ``shift`` is ``(dx, dy)`` as fractions of the width and height; ``perspective``
    ``(px, py)`` tilts the frame so that the scale changes by about ``px`` from its left
    to its right edge (``py`` top to bottom).
    """
    h, w = shape
    m = np.vstack([cv2.getRotationMatrix2D((w / 2, h / 2), angle, scale), [0, 0, 1]])
    m[0, 2] += shift[0] * w
    m[1, 2] += shift[1] * h
    c = np.array([[1, 0, -w / 2], [0, 1, -h / 2], [0, 0, 1]], np.float64)
    p = np.array([[1, 0, 0], [0, 1, 0], [perspective[0] / w, perspective[1] / h, 1]], np.float64)
    return m @ np.linalg.inv(c) @ p @ c


def move_frame(frame: np.ndarray, matrix: np.ndarray) -> np.ndarray:
    """``frame`` seen by a camera moved by ``matrix`` (forward map, Lanczos, reflected borders).

    Returns
    -------
    ndarray
        ``(H, W, 3)`` float32 in [0, 1].
    """
    h, w = frame.shape[:2]
    out = cv2.warpPerspective(np.asarray(frame, np.float32), matrix, (w, h), flags=cv2.INTER_LANCZOS4,
                              borderMode=cv2.BORDER_REFLECT)
    return np.clip(out, 0, 1)


def nonrigid_warp(frame: np.ndarray, amplitude: float, seed: int = 0) -> np.ndarray:
    """``frame`` under a smooth non-rigid displacement of at most ``amplitude`` pixels.

    Each of x and y is displaced by a product of a sine and a cosine with wavelengths
    of 120-190 pixels and random phases (small local motion: leaves, cloth, parallax).

    Parameters
    ----------
    frame : ndarray
        ``(H, W, 3)`` float in [0, 1].
    amplitude : float
        Largest displacement along each axis, pixels.
    seed : int
        Seed of the phases.

    Returns
    -------
    ndarray
        ``(H, W, 3)`` float32 in [0, 1] (bilinear, reflected borders).
    """
    h, w = frame.shape[:2]
    ph = np.random.default_rng(seed).random(4) * 2 * np.pi
    gx, gy = np.meshgrid(np.arange(w, dtype=np.float32), np.arange(h, dtype=np.float32))
    dx = amplitude * np.sin(2 * np.pi * gy / 140 + ph[0]) * np.cos(2 * np.pi * gx / 190 + ph[1])
    dy = amplitude * np.sin(2 * np.pi * gx / 160 + ph[2]) * np.cos(2 * np.pi * gy / 120 + ph[3])
    out = cv2.remap(np.asarray(frame, np.float32), (gx + dx).astype(np.float32), (gy + dy).astype(np.float32),
                    cv2.INTER_LINEAR, borderMode=cv2.BORDER_REFLECT)
    return np.clip(out, 0, 1)


def textured_object(size: int, seed: int = 0) -> np.ndarray:
    """A ``(size, size, 3)`` float32 patch of smooth coloured texture in [0.1, 0.9]."""
    rng = np.random.default_rng(seed)
    small = rng.random((max(2, size // 6), max(2, size // 6), 3)).astype(np.float32)
    obj = cv2.resize(small, (size, size), interpolation=cv2.INTER_CUBIC)
    return np.clip(0.1 + 0.8 * obj, 0, 1)


def moving_object_bracket(scene: np.ndarray, evs: Sequence[float], positions: Sequence[tuple[int, int]],
                          reference: int, *, size: int = 48, seed: int = 0):
    """A bracket with an object at ``positions[k]`` in frame k, and its ghost-free truth.

    Parameters
    ----------
    scene : ndarray
        ``(H, W, 3)`` float in [0, 1], display-referred, well exposed.
    evs : sequence of float
        Exposure offsets (stops), darkest first.
    positions : sequence of (row, col)
        Top-left corner of the object in each frame.
    reference : int
        The frame whose object position the truth keeps.
    size : int
        Side of the square object.

    Returns
    -------
    frames : list of ndarray
        The bracket with the moving object.
    ideal : list of ndarray
        The same exposures (same noise) with the object where the reference has it.
    ghost : ndarray
        ``(H, W)`` bool: every place the object occupies in some frame.
    """
    obj = textured_object(size, seed)

    def paste(y, x):
        out = np.array(scene, np.float32, copy=True)
        out[y:y + size, x:x + size] = obj
        return out

    frames = [simulate_bracket(paste(*positions[k]), [ev], seed=seed + k)[0] for k, ev in enumerate(evs)]
    ideal = [simulate_bracket(paste(*positions[reference]), [ev], seed=seed + k)[0] for k, ev in enumerate(evs)]
    ghost = np.zeros(scene.shape[:2], bool)
    for y, x in positions:
        ghost[y:y + size, x:x + size] = True
    return frames, ideal, ghost


def central(image: np.ndarray, fraction: float = 0.8) -> np.ndarray:
    """The central ``fraction`` of ``image`` along each side."""
    h, w = image.shape[:2]
    dy, dx = round(h * (1 - fraction) / 2), round(w * (1 - fraction) / 2)
    return image[dy:h - dy, dx:w - dx]
