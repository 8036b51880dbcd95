"""Synthetic training brackets simulated from well-exposed images.

A well-exposed image (a photo, or a stack's label) becomes the label; its under- and
over-exposed inputs come from :func:`mefkit.synth.simulate_bracket` (display gamma
undone to linear light, exposure shifted by 2^EV, Poisson-Gaussian noise, clipping at
full well, a random camera response curve, 8-bit quantisation), then each frame is
re-encoded as JPEG at a random quality, as a camera would store it.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import Sequence

import cv2
import numpy as np

from ..synth import simulate_bracket


@dataclass(frozen=True)
class SynthRanges:
    """Uniform ranges the simulation parameters are drawn from, per sample.

    Attributes
    ----------
    under_ev, over_ev : (float, float)
        Exposure offsets in stops of the under and over frame.
    gamma : (float, float)
        Power of the simulated camera response.
    contrast : (float, float)
        S-curve blend of the response (see :func:`mefkit.synth.camera_response`).
    shot_noise, read_noise : (float, float)
        Noise standard deviations in linear units.
    jpeg_prob : float
        Probability that a frame is JPEG re-encoded.
    jpeg_quality : (int, int)
        JPEG quality range (inclusive).
    """

    under_ev: tuple[float, float] = (-3.0, -1.0)
    over_ev: tuple[float, float] = (1.0, 3.0)
    gamma: tuple[float, float] = (1.8, 2.6)
    contrast: tuple[float, float] = (0.0, 0.5)
    shot_noise: tuple[float, float] = (0.0, 0.01)
    read_noise: tuple[float, float] = (0.0, 0.004)
    jpeg_prob: float = 0.7
    jpeg_quality: tuple[int, int] = (60, 98)


def jpeg_roundtrip(image: np.ndarray, quality: int) -> np.ndarray:
    """Encode ``(H, W, 3)`` float RGB in [0, 1] as JPEG at ``quality`` and decode it again."""
    u8 = np.round(np.clip(image, 0, 1) * 255).astype(np.uint8)[:, :, ::-1]
    ok, buf = cv2.imencode(".jpg", u8, [cv2.IMWRITE_JPEG_QUALITY, int(quality)])
    if not ok:  # pragma: no cover - OpenCV always encodes a valid uint8 image
        raise RuntimeError("JPEG encoding failed")
    out = cv2.imdecode(buf, cv2.IMREAD_COLOR)[:, :, ::-1]
    return out.astype(np.float32) * np.float32(1 / 255)


def simulate_pair(
    image: np.ndarray, rng: np.random.Generator, ranges: SynthRanges = SynthRanges(), with_mid: bool = False
) -> dict[str, np.ndarray]:
    """Simulate an (under, over) pair of one well-exposed image.

    Parameters
    ----------
    image : ndarray
        ``(H, W, 3)`` float32 RGB in [0, 1], display-referred (the label).
    rng : numpy Generator
        Source of every random choice (use the sample's generator).
    ranges : SynthRanges
        Parameter ranges.
    with_mid : bool
        Also simulate a frame at 0 EV through the same camera (key ``"mid"``).

    Returns
    -------
    dict
        ``"under"``, ``"over"`` (and ``"mid"``): ``(H, W, 3)`` float32 in [0, 1];
        ``"label"``: the input image.
    """
    u = lambda r: float(rng.uniform(*r))  # noqa: E731
    evs = [u(ranges.under_ev), u(ranges.over_ev)] + ([0.0] if with_mid else [])
    frames = simulate_bracket(
        image,
        evs,
        gamma=u(ranges.gamma),
        contrast=u(ranges.contrast),
        shot_noise=u(ranges.shot_noise),
        read_noise=u(ranges.read_noise),
        seed=int(rng.integers(0, 2**31 - 1)),
    )
    out = {}
    for name, frame in zip(("under", "over", "mid"), frames):
        if rng.random() < ranges.jpeg_prob:
            lo, hi = ranges.jpeg_quality
            frame = jpeg_roundtrip(frame, int(rng.integers(lo, hi + 1)))
        out[name] = frame
    out["label"] = np.asarray(image, np.float32)
    return out


def well_exposed_images(folder: str | Path, extensions: Sequence[str] = (".jpg", ".jpeg", ".png", ".tif", ".tiff")) -> list[Path]:
    """Image files directly in ``folder`` or one level below, sorted."""
    root = Path(folder)
    files = [p for p in root.rglob("*") if p.suffix.lower() in extensions and p.is_file()]
    return sorted(p for p in files if len(p.relative_to(root).parts) <= 2)
