"""Multilayer single-scale-retinex (SSR) tone compression fused with switching maps.

Reconstruction of the paper's "multilayer SSR" stage (Go, Lee, Lee, Mathematics 2024; the
layer count and weights are open choices, here parameters). At each surround
scale s the SSR of the high-mid and mid-low lightness, ``R_s(X) = log(L + eps) -
log(G_s * L + eps)`` (Land's centre/surround retinex, Jobson et al. 1997), are blended with
that scale's trans-switching map ``T_s = SMap_s(ME)``; the layers are averaged, stretched to
the display range (simplest colour balance, 1 % / 99 %), and mixed with the map-fused base
lightness so the result keeps its global tone instead of looking flat. Colour comes from
the map-fused base image, scaled by the lightness ratio.
"""

from __future__ import annotations

from typing import Sequence

import numpy as np

from .smap import SMAP_CENTRE, SMAP_SLOPE, switching_map_from_surround
from .surround import MSR_SIGMAS, REFERENCE_SIZE, scaled_sigma, surround

#: Offset inside the retinex logarithms: one 8-bit code value (reconstruction default).
SSR_EPSILON = 1.0 / 255.0
#: Percentiles clipped by the simplest colour balance before stretching (reconstruction default).
CLIP_PERCENTILES = (1.0, 99.0)
#: Share of the stretched retinex lightness in the output; the rest is the base (reconstruction default).
RETINEX_SHARE = 0.5
#: Percentile spread below which a plane counts as flat (stretching it would amplify noise).
FLAT_SPREAD = 1e-5
#: Colour saturation factor applied with the lightness ratio (reconstruction default: 1).
SATURATION = 1.0


def ssr(light: np.ndarray, sigma: float, eps: float = SSR_EPSILON) -> np.ndarray:
    """Single-scale retinex ``log(L + eps) - log(G_sigma * L + eps)``.

    Parameters
    ----------
    light : ndarray
        ``(H, W)`` lightness in [0, 1].
    sigma : float
        Surround sigma in pixels.
    eps : float
        Offset inside the logarithms (> 0).

    Returns
    -------
    ndarray
        ``(H, W)`` float32, 0 where the pixel equals its surround.
    """
    if eps <= 0:
        raise ValueError(f"eps must be > 0, got {eps}")
    light = np.asarray(light, np.float32)
    return (np.log(light + eps) - np.log(surround(light, sigma) + eps)).astype(np.float32)


def multiscale_ssr_fusion(
    light_high_mid: np.ndarray,
    light_mid_low: np.ndarray,
    light_me: np.ndarray,
    *,
    sigmas: Sequence[float] = MSR_SIGMAS,
    layer_weights: Sequence[float] | None = None,
    reference_size: int | None = REFERENCE_SIZE,
    eps: float = SSR_EPSILON,
    slope: float = SMAP_SLOPE,
    centre: float = SMAP_CENTRE,
) -> tuple[np.ndarray, list[np.ndarray]]:
    """``F = sum_s w_s (T_s R_s(ML) + (1 - T_s) R_s(HM))`` with ``T_s = SMap_s(ME)``.

    Parameters
    ----------
    light_high_mid, light_mid_low, light_me : ndarray
        ``(H, W)`` lightness of HM, ML and ME, in [0, 1].
    sigmas : sequence of float
        Surround scales (pixels at ``reference_size``; default 15, 80, 250).
    layer_weights : sequence of float, optional
        ``w_s``; default equal weights (1/3 each). Normalised to sum 1.
    reference_size : int or None
        Short side at which ``sigmas`` apply (None: absolute pixels).
    eps, slope, centre : float
        SSR offset and switching-map sigmoid parameters.

    Returns
    -------
    fused : ndarray
        ``(H, W)`` float32 log-ratio detail layer (unbounded, about 0 on average).
    maps : list of ndarray
        The ``T_s`` used, ``(H, W)`` float32 in [0, 1], finest first.
    """
    if not sigmas:
        raise ValueError("sigmas must not be empty")
    weights = np.ones(len(sigmas)) if layer_weights is None else np.asarray(layer_weights, float)
    if weights.shape != (len(sigmas),) or (weights < 0).any() or weights.sum() <= 0:
        raise ValueError(f"layer_weights must be {len(sigmas)} non-negative numbers, got {layer_weights}")
    weights = weights / weights.sum()
    fused = np.zeros(light_me.shape, np.float32)
    maps = []
    for sigma, weight in zip(sigmas, weights):
        s = scaled_sigma(sigma, light_me.shape, reference_size)
        t = switching_map_from_surround(surround(light_me, s), slope, centre)
        fused += np.float32(weight) * (t * ssr(light_mid_low, s, eps) + (1 - t) * ssr(light_high_mid, s, eps))
        maps.append(t)
    return fused, maps


def clip_stretch(plane: np.ndarray, percentiles: tuple[float, float] = CLIP_PERCENTILES) -> np.ndarray:
    """Simplest colour balance: clip at two percentiles and stretch linearly to [0, 1].

    Parameters
    ----------
    plane : ndarray
        ``(H, W)`` float.
    percentiles : (float, float)
        Low and high percentiles in [0, 100], low < high.

    Returns
    -------
    ndarray
        ``(H, W)`` float32 in [0, 1] (0.5 everywhere for a flat plane).
    """
    low, high = percentiles
    if not 0.0 <= low < high <= 100.0:
        raise ValueError(f"percentiles must satisfy 0 <= low < high <= 100, got {percentiles}")
    lo, hi = np.percentile(plane, [low, high])
    # A spread this small is float noise (e.g. the SSR of a flat image), not detail.
    if hi - lo <= FLAT_SPREAD:
        return np.full(plane.shape, 0.5, np.float32)
    return np.clip((plane - lo) / (hi - lo), 0.0, 1.0).astype(np.float32)


def recolour(
    base: np.ndarray,
    light_base: np.ndarray,
    light_out: np.ndarray,
    *,
    saturation: float = SATURATION,
    eps: float = SSR_EPSILON,
) -> np.ndarray:
    """Give the base image the new lightness by scaling its RGB by ``L_out / L_base``.

    Parameters
    ----------
    base : ndarray
        ``(H, W, 3)`` float32 RGB in [0, 1] (the colour source).
    light_base, light_out : ndarray
        ``(H, W)`` lightness of ``base`` and the wanted lightness, in [0, 1].
    saturation : float
        Scales the distance of each pixel's RGB from its grey (1: unchanged, >= 0).
    eps : float
        Keeps the ratio finite in black regions.

    Returns
    -------
    ndarray
        ``(H, W, 3)`` float32 in [0, 1].
    """
    if saturation < 0:
        raise ValueError(f"saturation must be >= 0, got {saturation}")
    ratio = ((light_out + eps) / (light_base + eps))[:, :, None]
    colour = base
    if saturation != 1.0:
        grey = base.mean(axis=2, keepdims=True)
        colour = grey + np.float32(saturation) * (base - grey)
    return np.clip(colour * ratio, 0.0, 1.0).astype(np.float32)
