"""MITM fusion after translation: every stage in order, every intermediate kept.

``run_stages(LE, HE, HE', LE')`` goes from the real pair and its two translations to the
output (the stages of Go, Lee, Lee, Mathematics 2024, reconstructed): middle exposure, trans-switching map,
high-mid and mid-low images, multiscale SSR tone compression, recolouring. The
translators themselves live in :mod:`mefkit.methods.mitm.stages.translate`.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Sequence

import numpy as np

from .bridge import high_mid, mid_low
from .middle import ME_SIGMA, TRANSLATED_SHARE, middle_exposure
from .retinex import CLIP_PERCENTILES, RETINEX_SHARE, SATURATION, SSR_EPSILON, clip_stretch, multiscale_ssr_fusion, recolour
from .smap import SMAP_CENTRE, SMAP_SLOPE, switching_map
from .surround import MSR_SIGMAS, REFERENCE_SIZE, lightness, scaled_sigma

#: Surround sigma (px at a 512 short side) of the trans-switching map T (reconstruction default: 80).
TSMAP_SIGMA = 80.0


@dataclass(frozen=True)
class FusionParams:
    """Every open choice of MITM's fusion stages, with the reconstruction's defaults.

    Attributes
    ----------
    slope, centre : float
        Switching-map sigmoid ``sigmoid(slope * (surround - centre))`` (M1: 10, 0.5).
    reference_size : int or None
        Short side (px) at which all sigmas apply; images of other sizes scale them
        (M2). None: sigmas in absolute pixels.
    me_sigma : float
        Surround sigma of the ME switching map (M6: 80).
    translated_share : float
        Weight of the translated image in the half-way images (M6: 0.5).
    tsmap_sigma : float
        Surround sigma of the trans-switching map T of the HM / ML stage (M7: 80).
    ssr_sigmas : tuple of float
        Retinex scales (M2: 15, 80, 250).
    ssr_weights : tuple of float or None
        Layer weights (default equal, 1/3 each).
    ssr_eps : float
        Offset inside the retinex logarithms (1/255).
    clip_percentiles : (float, float)
        Simplest-colour-balance clip before the stretch (M8: 1, 99).
    retinex_share : float
        Share of the stretched retinex lightness in the output (M8: 0.5).
    saturation : float
        Colour saturation factor (1).
    """

    slope: float = SMAP_SLOPE
    centre: float = SMAP_CENTRE
    reference_size: int | None = REFERENCE_SIZE
    me_sigma: float = ME_SIGMA
    translated_share: float = TRANSLATED_SHARE
    tsmap_sigma: float = TSMAP_SIGMA
    ssr_sigmas: tuple[float, ...] = MSR_SIGMAS
    ssr_weights: tuple[float, ...] | None = None
    ssr_eps: float = SSR_EPSILON
    clip_percentiles: tuple[float, float] = CLIP_PERCENTILES
    retinex_share: float = RETINEX_SHARE
    saturation: float = SATURATION

    def __post_init__(self) -> None:
        if self.slope <= 0:
            raise ValueError(f"slope must be > 0, got {self.slope}")
        for name in ("me_sigma", "tsmap_sigma"):
            if getattr(self, name) <= 0:
                raise ValueError(f"{name} must be > 0, got {getattr(self, name)}")
        if not self.ssr_sigmas or min(self.ssr_sigmas) <= 0:
            raise ValueError(f"ssr_sigmas must be positive numbers, got {self.ssr_sigmas}")
        if not 0.0 <= self.retinex_share <= 1.0:
            raise ValueError(f"retinex_share must be in [0, 1], got {self.retinex_share}")
        if self.reference_size is not None and self.reference_size <= 0:
            raise ValueError(f"reference_size must be > 0 or None, got {self.reference_size}")


@dataclass
class Stages:
    """Every image MITM makes on the way, for figures and debugging.

    Colour images are ``(H, W, 3)`` float32 in [0, 1]; maps are ``(H, W)`` float32 in
    [0, 1]; ``detail`` is the stretched retinex lightness in [0, 1].
    """

    under: np.ndarray
    over: np.ndarray
    over_from_under: np.ndarray
    under_from_over: np.ndarray
    me_switch: np.ndarray
    middle: np.ndarray
    tsmap: np.ndarray
    high_mid: np.ndarray
    mid_low: np.ndarray
    base: np.ndarray
    detail: np.ndarray
    output: np.ndarray
    scale_maps: list[np.ndarray] = field(default_factory=list)


def run_stages(
    under: np.ndarray,
    over: np.ndarray,
    over_from_under: np.ndarray,
    under_from_over: np.ndarray,
    params: FusionParams | None = None,
) -> Stages:
    """Fuse the pair and its translations; return all stages.

    Parameters
    ----------
    under, over : ndarray
        LE and HE, ``(H, W, 3)`` float32 RGB in [0, 1].
    over_from_under, under_from_over : ndarray
        ``HE' = G_LH(LE)`` and ``LE' = G_HL(HE)``, same shape and range.
    params : FusionParams, optional
        Stage parameters (reconstruction defaults).

    Returns
    -------
    Stages
        ``Stages.output`` is the fused image.
    """
    p = params or FusionParams()
    for name, img in (("over", over), ("over_from_under", over_from_under), ("under_from_over", under_from_over)):
        if img.shape != under.shape:
            raise ValueError(f"{name} has shape {img.shape}, expected {under.shape}")
    me, me_switch = middle_exposure(
        under, over, over_from_under, under_from_over,
        sigma=p.me_sigma, reference_size=p.reference_size,
        translated_share=p.translated_share, slope=p.slope, centre=p.centre,
    )
    light_me = lightness(me)
    t = switching_map(me, scaled_sigma(p.tsmap_sigma, me.shape, p.reference_size), slope=p.slope, centre=p.centre, light=light_me)
    hm = high_mid(me, over, t)
    ml = mid_low(me, under, t)
    light_hm, light_ml = lightness(hm), lightness(ml)
    t3 = t[:, :, None]
    base = (t3 * ml + (1 - t3) * hm).astype(np.float32)
    light_base = t * light_ml + (1 - t) * light_hm
    layers, scale_maps = multiscale_ssr_fusion(
        light_hm, light_ml, light_me,
        sigmas=p.ssr_sigmas, layer_weights=p.ssr_weights, reference_size=p.reference_size,
        eps=p.ssr_eps, slope=p.slope, centre=p.centre,
    )
    detail = clip_stretch(layers, p.clip_percentiles)
    share = np.float32(p.retinex_share)
    light_out = share * detail + (1 - share) * light_base
    output = recolour(base, light_base, light_out, saturation=p.saturation, eps=p.ssr_eps)
    return Stages(
        under=under, over=over, over_from_under=over_from_under, under_from_over=under_from_over,
        me_switch=me_switch, middle=me, tsmap=t, high_mid=hm, mid_low=ml, base=base,
        detail=detail, output=output, scale_maps=scale_maps,
    )


def params_from(values: dict, sequence_fields: Sequence[str] = ("ssr_sigmas", "ssr_weights", "clip_percentiles")) -> FusionParams:
    """Build :class:`FusionParams` from plain values (lists become tuples)."""
    clean = {k: (tuple(v) if k in sequence_fields and v is not None else v) for k, v in values.items()}
    return FusionParams(**clean)
