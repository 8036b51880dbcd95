"""Surround switching maps (SMap, and TSMap when computed from translated/ME images).

Reconstruction (Go, Lee, Lee, Mathematics 2024; the map's formula is an open choice): the paper says a
switching map marks, from the local surround luminance, which exposure holds the
information. Here ``SMap_sigma(X) = sigmoid(k * (G_sigma * L_X - tau))``: about 1 where the
surround is bright (the low exposure holds the detail there), about 0 where it is dark (the
high exposure does). It lies in [0, 1] and increases monotonically with the surround
lightness because the sigmoid does and k > 0.
"""

from __future__ import annotations

from typing import Sequence

import numpy as np

from .surround import MSR_SIGMAS, REFERENCE_SIZE, lightness, scaled_sigma, surround

#: Sigmoid slope k of the switching map (reconstruction default).
SMAP_SLOPE = 10.0
#: Sigmoid centre tau on L*/100 (mid grey) (reconstruction default).
SMAP_CENTRE = 0.5
#: Surround sigma of the generator's input map as a fraction of min(H, W) (reconstruction default).
INPUT_SIGMA_FRACTION = 0.02


def switching_map_from_surround(surround_lightness: np.ndarray, slope: float = SMAP_SLOPE, centre: float = SMAP_CENTRE) -> np.ndarray:
    """The sigmoid that turns a surround lightness into a switching map.

    Parameters
    ----------
    surround_lightness : ndarray
        Surround lightness in [0, 1], any shape.
    slope : float
        Sigmoid slope k (> 0).
    centre : float
        Sigmoid centre tau.

    Returns
    -------
    ndarray
        Same shape, float32 in [0, 1], non-decreasing in ``surround_lightness``.
    """
    if slope <= 0:
        raise ValueError(f"slope must be > 0, got {slope}")
    z = np.float32(slope) * (np.asarray(surround_lightness, np.float32) - np.float32(centre))
    # tanh form of the logistic: no overflow warning for large |z|.
    return (0.5 + 0.5 * np.tanh(0.5 * z)).astype(np.float32)


def switching_map(
    image: np.ndarray,
    sigma: float,
    *,
    slope: float = SMAP_SLOPE,
    centre: float = SMAP_CENTRE,
    light: np.ndarray | None = None,
) -> np.ndarray:
    """``SMap_sigma(image)``: sigmoid of the Gaussian surround of CIELAB lightness.

    Parameters
    ----------
    image : ndarray
        ``(H, W, 3)`` float RGB in [0, 1].
    sigma : float
        Surround standard deviation in pixels of ``image``.
    slope, centre : float
        Sigmoid slope k and centre tau.
    light : ndarray, optional
        ``(H, W)`` lightness of ``image`` when already computed.

    Returns
    -------
    ndarray
        ``(H, W)`` float32 in [0, 1].
    """
    if light is None:
        light = lightness(image)
    return switching_map_from_surround(surround(light, sigma), slope, centre)


def input_map(image: np.ndarray, *, fraction: float = INPUT_SIGMA_FRACTION, slope: float = SMAP_SLOPE, centre: float = SMAP_CENTRE) -> np.ndarray:
    """The single-scale SMap fed to a generator as its fourth channel.

    Its sigma is ``fraction * min(H, W)`` (spec: 0.02).
    """
    sigma = max(fraction * min(image.shape[:2]), 0.5)
    return switching_map(image, sigma, slope=slope, centre=centre)


def multiscale_maps(
    image: np.ndarray,
    sigmas: Sequence[float] = MSR_SIGMAS,
    *,
    reference_size: int | None = REFERENCE_SIZE,
    slope: float = SMAP_SLOPE,
    centre: float = SMAP_CENTRE,
) -> list[np.ndarray]:
    """Switching maps at several surround scales (default 15, 80, 250 px at a 512 short side).

    Returns
    -------
    list of ndarray
        One ``(H, W)`` float32 map in [0, 1] per sigma, finest first.
    """
    light = lightness(image)
    return [
        switching_map(image, scaled_sigma(s, image.shape, reference_size), slope=slope, centre=centre, light=light)
        for s in sigmas
    ]
