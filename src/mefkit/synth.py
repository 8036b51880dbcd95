"""Simulate an exposure bracket from one well-exposed image.

Used for the bundled example and for synthetic training pairs. The model: undo the
display gamma to get linear radiance, scale by 2^EV, add Poisson-Gaussian sensor noise,
clip at the sensor's full well, apply a camera response curve, quantise to 8 bits.
"""

from __future__ import annotations

from typing import Sequence

import numpy as np

#: Display gamma assumed for the source image (sRGB is close to 2.2 overall).
DISPLAY_GAMMA = 2.2


def camera_response(linear: np.ndarray, gamma: float = DISPLAY_GAMMA, contrast: float = 0.0) -> np.ndarray:
    """Map linear exposure in [0, 1] to pixel values in [0, 1].

    ``gamma`` is the power-law encoding; ``contrast`` in [0, 1) blends in a smooth
    S-curve (``3v^2 - 2v^3``), as consumer cameras add.
    """
    v = np.power(np.clip(linear, 0.0, 1.0), 1.0 / gamma)
    if contrast:
        v = (1 - contrast) * v + contrast * (v * v * (3 - 2 * v))
    return v.astype(np.float32)


def simulate_bracket(
    image: np.ndarray,
    evs: Sequence[float] = (-2.0, 0.0, 2.0),
    *,
    gamma: float = DISPLAY_GAMMA,
    contrast: float = 0.0,
    shot_noise: float = 0.002,
    read_noise: float = 0.001,
    seed: int = 0,
    quantize: bool = True,
) -> list[np.ndarray]:
    """Simulate frames of ``image`` at the given exposure offsets.

    Parameters
    ----------
    image : ndarray
        ``(H, W, 3)`` float in [0, 1] (display-referred) or uint8.
    evs : sequence of float
        Exposure offsets in stops; 0 reproduces the source exposure.
    gamma, contrast : float
        Camera response (see :func:`camera_response`).
    shot_noise, read_noise : float
        Standard deviations, in linear units, of signal-dependent (times sqrt of the
        signal) and constant Gaussian noise.
    seed : int
        Seed of the noise generator.
    quantize : bool
        Round to 8-bit levels.

    Returns
    -------
    list of ndarray
        ``(H, W, 3)`` float32 in [0, 1], one per EV, in the order given.
    """
    img = np.asarray(image)
    if img.dtype == np.uint8:
        img = img.astype(np.float32) / 255
    linear = np.power(np.clip(img.astype(np.float32), 0, 1), DISPLAY_GAMMA)
    rng = np.random.default_rng(seed)
    frames = []
    for ev in evs:
        signal = linear * np.float32(2.0**ev)
        noise = rng.standard_normal(signal.shape).astype(np.float32)
        sigma = np.sqrt(shot_noise**2 * np.clip(signal, 0, None) + read_noise**2).astype(np.float32)
        frame = camera_response(signal + sigma * noise, gamma, contrast)
        if quantize:
            frame = np.round(frame * 255) / 255
        frames.append(frame.astype(np.float32))
    return frames
