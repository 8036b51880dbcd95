"""Visual gamma compensation of the fused lightness (CBM, Son et al. 2025).

The paper applies a gamma to the U-Net's luminance "for global contrast" and a
consistent perceived luminance; the formula is not public. Our
reconstruction maps the mean normalised lightness ``m = mean(L) `` to a target ``t``
(mid-grey, 0.5, by default)::

    gamma = clip(log(t) / log(m), GAMMA_MIN, GAMMA_MAX)
    L_out = L ** gamma                      (L, L_out normalised to [0, 1])

For ``gamma > 0`` the curve is strictly increasing on [0, 1] and maps 0 -> 0 and
1 -> 1, so it never leaves [0, 1] and never reverses tones. The clip keeps it from
crushing a deliberately dark or bright scene (a night shot stays a night shot).
"""

from __future__ import annotations

import math

import numpy as np

#: Default target of the mean normalised lightness: mid-grey (a reconstruction default).
GAMMA_TARGET = 0.5
#: Bounds of the automatic exponent (a reconstruction default): at most a moderate
#: brightening (0.6) or darkening (1.6).
GAMMA_MIN, GAMMA_MAX = 0.6, 1.6
#: The mean lightness is kept inside [MEAN_EPS, 1 - MEAN_EPS] so log(m) is finite and nonzero.
MEAN_EPS = 1e-3


def gamma_exponent(
    lum: np.ndarray,
    target: float = GAMMA_TARGET,
    bounds: tuple[float, float] = (GAMMA_MIN, GAMMA_MAX),
) -> float:
    """The automatic exponent ``clip(log(target) / log(mean(lum)), *bounds)``.

    Parameters
    ----------
    lum : ndarray
        ``(H, W)`` normalised lightness in [0, 1].
    target : float
        Desired mean lightness, in (0, 1).
    bounds : (float, float)
        ``(low, high)`` limits of the exponent, ``0 < low <= high``.

    Returns
    -------
    float
        The exponent, in ``bounds``.
    """
    if not 0.0 < target < 1.0:
        raise ValueError(f"gamma target must be in (0, 1), got {target}")
    low, high = bounds
    if not 0.0 < low <= high:
        raise ValueError(f"gamma bounds must satisfy 0 < low <= high, got {bounds}")
    mean = min(max(float(np.mean(lum)), MEAN_EPS), 1.0 - MEAN_EPS)
    return float(min(max(math.log(target) / math.log(mean), low), high))


def gamma_compensate(
    lum: np.ndarray,
    gamma: float | str | None = "auto",
    target: float = GAMMA_TARGET,
) -> np.ndarray:
    """Apply gamma compensation ``lum ** gamma`` to a normalised lightness map.

    Parameters
    ----------
    lum : ndarray
        ``(H, W)`` float normalised lightness in [0, 1].
    gamma : "auto", float, or None
        ``"auto"``: the exponent from :func:`gamma_exponent` (mean lightness to
        ``target``). A positive number: that fixed exponent. ``None``, ``"off"`` or
        ``1``: no compensation.
    target : float
        Target mean lightness for ``"auto"``.

    Returns
    -------
    ndarray
        ``(H, W)`` float32 in [0, 1], a strictly increasing function of ``lum``.
    """
    lum = np.clip(np.asarray(lum, dtype=np.float32), 0.0, 1.0)
    if gamma is None or (isinstance(gamma, str) and gamma.lower() in ("off", "none")):
        return lum
    if isinstance(gamma, str):
        if gamma.lower() != "auto":
            raise ValueError(f"gamma must be 'auto', 'off' or a positive number, got {gamma!r}")
        exponent = gamma_exponent(lum, target)
    else:
        exponent = float(gamma)
        if not exponent > 0.0:
            raise ValueError(f"gamma must be > 0, got {gamma}")
    if exponent == 1.0:
        return lum
    return np.power(lum, np.float32(exponent))
