"""Variance-driven patch weights for CBM training (Son et al., Mathematics 2025, 13(22) 3629).

The paper weights each random-crop patch by how much it matters: more when the label
patch has more variance (it carries detail) and more when the two input patches differ
more in variance (a large exposure gap, i.e. a region where the fusion decision is
hard). The exact formula is not public; this reconstruction is::

    v_p = Var(label_p)                            # detail the label carries
    g_p = |Var(under_p) - Var(over_p)|            # exposure gap between the inputs
    r_p = v_p + beta * g_p                        # raw importance, >= 0
    w_p = clip(r_p / (mean_batch(r) + eps), W_MIN, W_MAX)

with variances over all pixels of the patch (lightness L/100 in [0, 1]), ``beta = 1``,
``eps = 1e-6`` and bounds ``W_MIN = 0.25``, ``W_MAX = 4``. So ``w_p`` is normalised to a
batch mean of 1 before clipping, and lies in [0.25, 4]: a flat label patch between
inputs of equal variance gets the smallest weight 0.25, and ``w_p`` never decreases
when ``v_p`` or ``g_p`` grows (the rest of the batch fixed). A batch of all-flat
patches (``r = 0`` everywhere) gets ``W_MIN`` everywhere, i.e. uniform weights.

The loss is the weighted mean ``sum_p w_p * loss_p / sum_p w_p``
(:func:`mefkit.train.losses.weighted_mean`, through ``FusionLoss(..., weights=w)``). Turning weighting off
(``enabled=False``) gives ``w_p = 1``: the plain mean, for the ablation.
"""

from __future__ import annotations

import torch

#: Lower bound of a patch weight (reconstruction: clip to [0.25, 4]).
W_MIN = 0.25
#: Upper bound of a patch weight: one patch counts at most 16x a flat one.
W_MAX = 4.0
#: Weight of the exposure-gap term relative to the label variance ([DEFAULT]).
GAP_WEIGHT = 1.0
#: Variance floor of the batch normalisation: about the variance of 8-bit quantisation
#: noise, (1/255)^2 / 12 = 1.3e-6, so an all-flat batch (whose variances are float
#: round-off, ~1e-15) gets W_MIN everywhere instead of amplified noise.
EPS = 1e-6


def patch_variance(x: torch.Tensor) -> torch.Tensor:
    """Population variance of each patch over its channels and pixels.

    Parameters
    ----------
    x : Tensor
        ``(B, C, H, W)`` or ``(B, H, W)``.

    Returns
    -------
    Tensor
        ``(B,)``.
    """
    return x.reshape(x.shape[0], -1).var(dim=1, unbiased=False)


def variance_weights(
    label: torch.Tensor,
    under: torch.Tensor,
    over: torch.Tensor,
    *,
    gap_weight: float = GAP_WEIGHT,
    bounds: tuple[float, float] = (W_MIN, W_MAX),
    enabled: bool = True,
) -> torch.Tensor:
    """Per-patch training weights from label detail and input exposure gap.

    Parameters
    ----------
    label, under, over : Tensor
        ``(B, 1, H, W)`` (or ``(B, H, W)``) lightness patches in [0, 1]: the teacher's
        fused patch and the two input patches at the same crop.
    gap_weight : float
        ``beta``, weight of ``|Var(under) - Var(over)|`` against ``Var(label)`` (>= 0).
    bounds : (float, float)
        ``(W_MIN, W_MAX)``, ``0 < W_MIN <= 1 <= W_MAX``.
    enabled : bool
        ``False`` returns ones (uniform training, the ablation baseline).

    Returns
    -------
    Tensor
        ``(B,)`` weights in ``bounds``, no gradient (they rescale the loss, not train).
    """
    low, high = bounds
    if not 0.0 < low <= 1.0 <= high:
        raise ValueError(f"bounds must satisfy 0 < low <= 1 <= high, got {bounds}")
    if gap_weight < 0:
        raise ValueError(f"gap_weight must be >= 0, got {gap_weight}")
    if not enabled:
        return torch.ones(label.shape[0], dtype=label.dtype, device=label.device)
    with torch.no_grad():
        raw = patch_variance(label) + gap_weight * (patch_variance(under) - patch_variance(over)).abs()
        return (raw / (raw.mean() + EPS)).clamp(low, high)

