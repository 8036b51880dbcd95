"""Mutual translation LE -> HE and HE -> LE: the learned translators and a curve baseline.

* ``learned``: MITM's generators (:mod:`mefkit.methods.mitm.translator`), each given its input
  image plus that image's switching map (Go, Lee, Lee, Mathematics 2024). torch is imported here, inside the
  functions, so importing :mod:`mefkit.methods` stays fast.
* ``curve``: a non-learned stand-in, a per-channel monotone curve that gives the source the
  target's histogram (for an aligned pair, an estimate of the ratio of the two camera
  responses). It is the ablation "what do the networks add", and lets the fusion stages be
  used without torch.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np

from .smap import input_map

#: Quantiles per channel of the curve translator (enough for 8-bit data).
CURVE_QUANTILES = 257
#: Pixels per channel from which the curve's quantiles are taken.
CURVE_SAMPLES = 1 << 18


def curve_translate(source: np.ndarray, target: np.ndarray, quantiles: int = CURVE_QUANTILES) -> np.ndarray:
    """Map ``source`` through per-channel monotone curves matching ``target``'s histograms.

    Parameters
    ----------
    source, target : ndarray
        ``(H, W, 3)`` float32 RGB in [0, 1], same scene.
    quantiles : int
        Number of quantiles that define each curve (>= 2).

    Returns
    -------
    ndarray
        ``(H, W, 3)`` float32 in [0, 1].
    """
    if quantiles < 2:
        raise ValueError(f"quantiles must be >= 2, got {quantiles}")
    probs = np.linspace(0.0, 1.0, quantiles)
    out = np.empty_like(source, dtype=np.float32)
    # Quantiles of a regular subsample: the same curve to well under one 8-bit level on
    # any real image, and ~10x faster on megapixel images than sorting every pixel.
    step = max(1, int(np.sqrt(source.shape[0] * source.shape[1] / CURVE_SAMPLES)))
    for c in range(3):
        xs = np.quantile(source[::step, ::step, c], probs)
        ys = np.quantile(target[::step, ::step, c], probs)
        # np.interp needs increasing abscissae: nudge ties (flat, clipped histograms) apart.
        xs = xs + np.arange(quantiles) * 1e-7
        out[..., c] = np.interp(source[..., c], xs, ys)
    return np.clip(out, 0.0, 1.0)


def load_pair(weights: str | Path | None = None, device: str = "cpu"):
    """The translator pair ``(G_LH, G_HL, metadata)`` from ``weights`` (default: shipped).

    Raises
    ------
    MethodError
        When the file does not exist.
    """
    from ....errors import MethodError
    from ..translator import load_translators
    from .. import WEIGHTS

    path = Path(weights) if weights is not None else WEIGHTS.path
    if not path.is_file():
        raise MethodError(f"MITM translator weights not found: {path} (pass weights=PATH or translator='curve')")
    return load_translators(path, device=device)


def apply_translator(
    net,
    image: np.ndarray,
    *,
    device: str = "cpu",
    tile: int = 512,
    tile_pad: int = 48,
    overlap: int = 32,
    **map_params: float,
) -> np.ndarray:
    """Translate one image with one generator, at full resolution.

    The switching map is computed on the whole image first; the network then runs on
    overlapping tiles (:func:`mefkit.nn.tiling.fuse_full_resolution`) when the image is
    larger than ``tile``. The shipped generators have no normalisation layer, so tiles agree
    up to the context ``tile_pad`` gives them, and the feathered overlap hides the rest.

    Parameters
    ----------
    net : Translator
        A generator from :func:`load_pair`.
    image : ndarray
        ``(H, W, 3)`` float32 RGB in [0, 1].
    device : str
        torch device.
    tile, tile_pad, overlap : int
        Tile side, context and feathered overlap in pixels (``tile=0``: whole image).
    **map_params : float
        ``fraction``, ``slope``, ``centre`` of the input switching map
        (:func:`mefkit.methods.mitm.stages.smap.input_map`, with its defaults).

    Returns
    -------
    ndarray
        ``(H, W, 3)`` float32 in [0, 1].
    """
    from ....nn.tiling import fuse_full_resolution

    smap = input_map(image, **map_params)
    # Full resolution, padded (edge replication, as the generator pads itself) to a
    # multiple of its stride with the tiles on that grid, so that every tile samples the
    # strided layers where a whole pass does; only the receptive field beyond tile_pad
    # then differs.
    out = fuse_full_resolution(
        net, [image, smap], max_mp=None, tile=tile, tile_pad=tile_pad, overlap=min(overlap, max(tile - 1, 0)),
        device=device, multiple=2**net.config.n_down,
    )
    return out.astype(np.float32)


def translate_pair(
    under: np.ndarray,
    over: np.ndarray,
    *,
    translator: str = "learned",
    weights: str | Path | None = None,
    device: str = "cpu",
    tile: int = 512,
    tile_pad: int = 48,
) -> tuple[np.ndarray, np.ndarray]:
    """``(HE', LE') = (G_LH(LE), G_HL(HE))``.

    Parameters
    ----------
    under, over : ndarray
        LE and HE, ``(H, W, 3)`` float32 RGB in [0, 1].
    translator : {"learned", "curve"}
        The MITM networks, or the histogram-curve baseline.
    weights : path, optional
        Translator file for ``"learned"`` (default: the shipped pair).
    device : str
        torch device for ``"learned"``.
    tile, tile_pad : int
        Tiling of the learned translators.

    Returns
    -------
    (ndarray, ndarray)
        ``HE'`` and ``LE'``, ``(H, W, 3)`` float32 in [0, 1].
    """
    if translator == "curve":
        return curve_translate(under, over), curve_translate(over, under)
    if translator != "learned":
        raise ValueError(f"translator must be 'learned' or 'curve', got {translator!r}")
    g_lh, g_hl, _ = load_pair(weights, device)
    kw = dict(device=device, tile=tile, tile_pad=tile_pad)
    return apply_translator(g_lh, under, **kw), apply_translator(g_hl, over, **kw)
