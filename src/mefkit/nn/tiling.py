"""Full-resolution inference for image-to-image fusion networks, in bounded memory.

Any network seen as ``net(*inputs) -> output``, with ``inputs`` N tensors
``(B, 3, H, W)`` in [0, 1] (a bracket, darkest first) and ``output`` ``(B, 3, H, W)``,
runs on a bracket of any size through :func:`fuse_full_resolution`:

1. If the bracket is larger than ``max_mp`` megapixels, the frames are shrunk
   (area filter) so that the network sees at most ``max_mp``; otherwise it runs at
   full resolution.
2. The network runs by overlapping tiles (:func:`tiled_apply`): each tile gets
   ``tile_pad`` pixels of context on every side, which are cut away, and neighbouring
   tiles overlap by ``overlap`` pixels, blended with linear (feathered) weights so
   that no seam shows where tiles disagree (a UNet's global context differs per tile).
   Memory is bounded by the tile size, not the image size.
3. If the network ran at a reduced scale, its output comes back to full resolution by
   guided upsampling (:func:`guided_upsample`): a local affine map from the input
   frames to the output is fitted at low resolution (a guided filter with the stacked
   frames as a multi-channel guide; He et al. 2013, Wu et al. 2018 as in MEFNet) and
   applied to the full-resolution frames, so full-resolution detail comes from the
   inputs, not from interpolation.

The tiling is Real-ESRGAN's ``tile``/``tile_pad`` scheme plus feathered overlaps; it
is written here because neither OpenCV nor torch offers overlapped tiled inference.
"""

from __future__ import annotations

import math
from typing import Callable, Sequence

import cv2
import numpy as np
import torch

from ..progress import tile_done

Net = Callable[..., torch.Tensor]

#: Default network working size in megapixels for :func:`fuse_full_resolution`.
DEFAULT_MAX_MP = 1.0
#: Guided-filter window radius, in low-resolution pixels.
GUIDE_RADIUS = 4
#: The guided filter's local fit runs on the working-size guide and result shrunk this
#: many times (radius shrunk alike): the fast guided filter of He and Sun (arXiv
#: 1505.00996, 2015). The fit is then 7 times cheaper; on the 12 MP bench bracket the
#: result is within 59.5 dB of a fit at the working size (docs/bench/progressive.md).
GUIDE_SUBSAMPLE = 2
#: Working sizes (megapixels) below this get the fit at the working size itself
#: (:func:`guide_subsample`): there the fit is cheap, and shrinking a small working
#: image loses detail the upsampling needs (CBM's 512 px working size: SICE SSIM 0.8688
#: with the shrunk fit against 0.8716 without).
GUIDE_SUBSAMPLE_MIN_MP = 0.3


def guide_subsample(h: int, w: int) -> int:
    """The guided fit's subsampling factor for a working size of ``h x w`` pixels.

    Returns :data:`GUIDE_SUBSAMPLE` from :data:`GUIDE_SUBSAMPLE_MIN_MP` megapixels up, else 1.
    """
    return GUIDE_SUBSAMPLE if h * w >= GUIDE_SUBSAMPLE_MIN_MP * 1e6 else 1
#: Guided-filter regulariser (variance units of [0, 1] images): keeps the local fit
#: from amplifying noise in flat or clipped areas.
GUIDE_EPS = 1e-4


def _ramp(length: int, start_feather: int, end_feather: int) -> torch.Tensor:
    """1-D weights: linear ramps over the first/last ``*_feather`` samples, 1 between."""
    w = torch.ones(length, dtype=torch.float32)
    if start_feather > 0:
        w[:start_feather] = (torch.arange(start_feather, dtype=torch.float32) + 0.5) / start_feather
    if end_feather > 0:
        w[length - end_feather :] = torch.minimum(
            w[length - end_feather :],
            (torch.arange(end_feather, 0, -1, dtype=torch.float32) - 0.5) / end_feather,
        )
    return w


def _layout(size: int, tile: int, overlap: int, align: int = 1) -> tuple[list[int], int]:
    """Tile origins and common tile length along one axis.

    As few tiles as fit ``tile``, all of one length, evenly spread so that neighbours
    overlap by at least ``overlap``: a 1155-px side with ``tile`` 1024 gets two tiles of
    594, not 1024 + 1024 (which would compute most pixels twice). With ``align`` > 1
    (``size`` a multiple of it) the length and every origin are multiples of ``align``.
    """
    if size <= tile:
        return [0], size
    # Aligning moves an origin down by < align, which can shrink an overlap by as much:
    # plan with that much more overlap so the real one stays >= overlap.
    planned = overlap + align - 1
    if planned >= tile:
        raise ValueError(f"tile {tile} leaves no room for overlap {overlap} aligned to {align}")
    n = math.ceil((size - planned) / (tile - planned))
    length = min(tile, math.ceil((size + (n - 1) * planned) / n))
    if align > 1:
        length = min(size, -(-length // align) * align)
    starts = [min(round(i * (size - length) / (n - 1)), size - length) for i in range(n)]
    if align > 1:
        # The last origin stays at size - length (a multiple of align); the others move
        # down by < align, so the tiles still cover the axis.
        starts = [s - s % align for s in starts]
    return starts, length


def tile_alignment(stride: int, tile_pad: int) -> int:
    """Where tiles must start for a strided network to see one whole pass's grid.

    A network that downsamples by ``stride`` gives a tile the same strided sampling as
    a whole pass only when the tile starts on the stride grid; tiles can start there
    when their context margin ``tile_pad`` is a multiple of ``stride``. Pass the result
    as ``tiled_apply(align=...)``, with the image padded by :func:`pad_to_multiple`.

    Returns
    -------
    int
        ``stride`` when that works, else 1 (no alignment).
    """
    return stride if stride > 1 and tile_pad % stride == 0 else 1


def pad_to_multiple(images: Sequence[np.ndarray], multiple: int, mode: str = "edge") -> list[np.ndarray]:
    """Pad images at the bottom and right so that ``H`` and ``W`` are multiples of ``multiple``.

    Pad as the network pads its own input, so that a tiled pass sees the border a whole
    pass sees.

    Parameters
    ----------
    images : sequence of ndarray
        ``(H, W)`` or ``(H, W, C)`` arrays of the same ``H, W``.
    multiple : int
        1 returns the inputs unchanged.
    mode : {"edge", "reflect"}
        ``numpy.pad`` mode (``reflect`` falls back to ``edge`` for images smaller than
        the pad, as the networks do).

    Returns
    -------
    list of ndarray
        ``(H', W', ...)``, ``H' = ceil(H / multiple) * multiple`` (and ``W'`` alike).
    """
    h, w = images[0].shape[:2]
    ph, pw = -h % multiple, -w % multiple
    if not (ph or pw):
        return list(images)
    if mode == "reflect" and (ph >= h or pw >= w):
        mode = "edge"
    return [np.pad(im, ((0, ph), (0, pw)) + ((0, 0),) * (im.ndim - 2), mode=mode) for im in images]


def tiled_apply(
    net: Net,
    inputs: Sequence[torch.Tensor],
    *,
    tile: int = 512,
    tile_pad: int = 32,
    overlap: int = 32,
    out_channels: int = 3,
    align: int = 1,
    progress: Callable[[int, int], None] | None = None,
) -> torch.Tensor:
    """Run ``net`` over overlapping tiles and blend the tiles with feathered weights.

    Parameters
    ----------
    net : callable
        ``net(*tiles) -> (B, out_channels, h, w)`` for tiles ``(B, C, h, w)``; it must
        keep the spatial size. Called under the caller's grad mode (use
        ``torch.no_grad()`` for inference).
    inputs : sequence of Tensor
        Tensors ``(B, C_i, H, W)`` sharing ``B, H, W``.
    tile : int
        Side of the blended core of a tile (>= 16). ``0`` runs the whole image at once.
    tile_pad : int
        Context added on every side of a tile and cut away from its output (>= 0).
    overlap : int
        Width of the feathered band where neighbouring tiles overlap (``0 <= overlap < tile``).
    out_channels : int
        Channels of ``net``'s output.
    align : int
        Put every tile origin and context window on a multiple of this (the network's
        total stride): then a strided network samples each tile on the same grid as a
        whole pass. Needs ``H``, ``W`` and ``tile_pad`` to be multiples of it.
    progress : callable, optional
        ``progress(done, total)`` after each tile; default :func:`mefkit.progress.tile_done`
        (the listener the CLI installs, if any).

    Returns
    -------
    Tensor
        ``(B, out_channels, H, W)`` float32 on the inputs' device.

    Notes
    -----
    Without ``align``, tile origins fall anywhere and a strided network samples a tile
    on another grid than a whole pass; and a network whose receptive field exceeds
    ``tile_pad`` sees different context in a tile than in one whole pass. The feathered
    overlap hides the seams, but the output is then close to, not equal to, a whole
    pass. :func:`fuse_full_resolution` pads the frames to a multiple first.
    """
    if not inputs:
        raise ValueError("inputs must hold at least one tensor")
    b, _, h, w = inputs[0].shape
    if any(x.shape[0] != b or x.shape[-2:] != (h, w) for x in inputs):
        raise ValueError(f"inputs must share batch and size; got {[tuple(x.shape) for x in inputs]}")
    report = progress or tile_done
    if tile == 0 or (h <= tile and w <= tile):
        out = net(*inputs).float()
        report(1, 1)
        return out
    if tile < 16:
        raise ValueError(f"tile must be 0 or >= 16, got {tile}")
    if tile_pad < 0:
        raise ValueError(f"tile_pad must be >= 0, got {tile_pad}")
    if not 0 <= overlap < tile:
        raise ValueError(f"overlap must be in [0, tile), got {overlap} with tile {tile}")
    if align < 1 or (align > 1 and (h % align or w % align or tile_pad % align)):
        raise ValueError(f"align {align} needs H, W and tile_pad to be multiples of it; got {h}x{w}, tile_pad {tile_pad}")
    device = inputs[0].device
    acc = torch.zeros((b, out_channels, h, w), dtype=torch.float32, device=device)
    norm = torch.zeros((1, 1, h, w), dtype=torch.float32, device=device)
    (ys, th), (xs, tw) = _layout(h, tile, overlap, align), _layout(w, tile, overlap, align)
    done, total = 0, len(ys) * len(xs)
    for y0 in ys:
        for x0 in xs:
            # Context window, clamped to the image.
            cy0, cx0 = max(y0 - tile_pad, 0), max(x0 - tile_pad, 0)
            cy1, cx1 = min(y0 + th + tile_pad, h), min(x0 + tw + tile_pad, w)
            out = net(*[x[..., cy0:cy1, cx0:cx1] for x in inputs]).float()
            out = out[..., y0 - cy0 : y0 - cy0 + th, x0 - cx0 : x0 - cx0 + tw]
            # Feather only sides that meet another tile; the image border keeps weight 1.
            wy = _ramp(th, overlap if y0 > 0 else 0, overlap if y0 + th < h else 0)
            wx = _ramp(tw, overlap if x0 > 0 else 0, overlap if x0 + tw < w else 0)
            weight = (wy[:, None] * wx[None, :]).to(device)
            acc[..., y0 : y0 + th, x0 : x0 + tw] += out * weight
            norm[..., y0 : y0 + th, x0 : x0 + tw] += weight
            done += 1
            report(done, total)
    return acc / norm


# --------------------------------------------------------------------------- guided upsampling


def _box(img: np.ndarray, radius: int) -> np.ndarray:
    return cv2.boxFilter(img, -1, (2 * radius + 1, 2 * radius + 1), borderType=cv2.BORDER_REFLECT)


def solve_spd_planar(cov: np.ndarray, rhs: np.ndarray) -> np.ndarray:
    """Solve many small symmetric positive-definite systems laid out as planes.

    Parameters
    ----------
    cov : ndarray
        ``(G, G, ...)`` float32, one SPD matrix per trailing index (per pixel).
    rhs : ndarray
        ``(G, C, ...)`` float32 right-hand sides.

    Returns
    -------
    ndarray
        ``(G, C, ...)`` float32 ``x`` with ``cov @ x = rhs`` at every trailing index.

    Notes
    -----
    A Cholesky factorisation written out over whole planes: ``G^3 / 6 + G^2 C`` array
    operations, each over every pixel at once. ``numpy.linalg.solve`` on a
    ``(N, G, G)`` stack calls LAPACK once per pixel and was 4-5 times slower for a
    megapixel of 6x6 systems (``docs/bench/progressive.md``). Pivots are floored at
    1e-12 so that a singular matrix gives a finite result.
    """
    g = cov.shape[0]
    low = [[None] * g for _ in range(g)]
    inv_diag = []
    for k in range(g):
        s = cov[k, k].copy()
        for j in range(k):
            s -= low[k][j] * low[k][j]
        inv_diag.append(np.float32(1.0) / np.sqrt(np.maximum(s, np.float32(1e-12))))
        for i in range(k + 1, g):
            s = cov[i, k].copy()
            for j in range(k):
                s -= low[i][j] * low[k][j]
            low[i][k] = s * inv_diag[k]
    x = np.empty_like(rhs, dtype=np.float32)
    for c in range(rhs.shape[1]):
        y = []
        for i in range(g):  # forward: L y = rhs
            s = rhs[i, c].astype(np.float32, copy=True)
            for j in range(i):
                s -= low[i][j] * y[j]
            y.append(s * inv_diag[i])
        for i in reversed(range(g)):  # back: L^T x = y
            s = y[i]
            for j in range(i + 1, g):
                s -= low[j][i] * x[j, c]
            x[i, c] = s * inv_diag[i]
    return x


def guided_coefficients(
    guide: np.ndarray, target: np.ndarray, *, radius: int = GUIDE_RADIUS, eps: float = GUIDE_EPS, subsample: int = 1
) -> np.ndarray:
    """Local affine map ``target ~ A @ guide + b`` (multi-channel guided filter).

    Parameters
    ----------
    guide : ndarray
        ``(h, w, G)`` float32, e.g. the stacked frames of a bracket (G = 3N).
    target : ndarray
        ``(h, w, C)`` float32, the network's output at the same size.
    radius : int
        Box window radius in pixels.
    eps : float
        Ridge regulariser added to the guide's local covariance.
    subsample : int
        Fit on ``guide`` and ``target`` shrunk this many times (area filter), with
        ``radius / subsample`` (at least 1): the fast guided filter (He and Sun 2015).
        The coefficients are then ``(h / subsample, w / subsample)``;
        :func:`guided_upsample` takes any size.

    Returns
    -------
    ndarray
        ``(h, w, C, G + 1)`` float32 (``h, w`` divided by ``subsample``): per pixel, for
        each output channel, the ``G`` slopes and the offset, averaged over the windows
        covering the pixel (He et al. 2013, eq. 8).

    Notes
    -----
    All window means (guide, target, the guide's products with itself and with the
    target) come from one multi-channel box filter, and the per-pixel ``G x G``
    systems are solved by :func:`solve_spd_planar`.
    """
    g = np.ascontiguousarray(guide, dtype=np.float32)
    t = np.ascontiguousarray(target, dtype=np.float32)
    if subsample > 1:
        size = (max(1, round(g.shape[1] / subsample)), max(1, round(g.shape[0] / subsample)))
        g, t = (_shrink_channels(x, size) for x in (g, t))
        radius = max(1, round(radius / subsample))
    h, w, gc = g.shape
    tc = t.shape[2]
    pairs = [(i, j) for i in range(gc) for j in range(i, gc)]
    # One stack of every quantity to average: g, t, g_i g_j (i <= j), g_i t_c.
    stack = np.empty((h, w, gc + tc + len(pairs) + gc * tc), np.float32)
    stack[..., :gc] = g
    stack[..., gc : gc + tc] = t
    k = gc + tc
    for i, j in pairs:
        np.multiply(g[..., i], g[..., j], out=stack[..., k])
        k += 1
    for i in range(gc):
        for c in range(tc):
            np.multiply(g[..., i], t[..., c], out=stack[..., k])
            k += 1
    means = _box_channels(stack, radius).transpose(2, 0, 1).copy()  # planes: (n, h, w)
    del stack
    mean_g, mean_t = means[:gc], means[gc : gc + tc]
    cov = np.empty((gc, gc, h, w), np.float32)
    k = gc + tc
    for i, j in pairs:
        cov[i, j] = means[k] - mean_g[i] * mean_g[j]
        if i == j:
            cov[i, i] += np.float32(eps)
        else:
            cov[j, i] = cov[i, j]
        k += 1
    cross = np.empty((gc, tc, h, w), np.float32)
    for i in range(gc):
        for c in range(tc):
            cross[i, c] = means[k] - mean_g[i] * mean_t[c]
            k += 1
    a = solve_spd_planar(cov, cross)  # (G, C, h, w)
    del cov, cross
    coef = np.empty((h, w, tc, gc + 1), np.float32)
    for c in range(tc):
        b = mean_t[c].copy()
        for i in range(gc):
            b -= a[i, c] * mean_g[i]
            coef[:, :, c, i] = a[i, c]
        coef[:, :, c, gc] = b
    return _box_channels(coef.reshape(h, w, -1), radius).reshape(h, w, tc, gc + 1)


def _shrink_channels(img: np.ndarray, size: tuple[int, int]) -> np.ndarray:
    """``(h, w, n)`` image area-shrunk to ``size`` ``(w', h')`` (OpenCV takes 4 channels at a time)."""
    parts = [cv2.resize(np.ascontiguousarray(img[..., k:k + 4]), size, interpolation=cv2.INTER_AREA)
             for k in range(0, img.shape[-1], 4)]
    return np.concatenate([p.reshape(size[1], size[0], -1) for p in parts], -1)


def _box_channels(img: np.ndarray, radius: int) -> np.ndarray:
    """Box mean of an ``(h, w, n)`` image, all channels in one OpenCV call (up to 512)."""
    if img.shape[-1] <= 512:
        return _box(img, radius).reshape(img.shape)
    return np.concatenate([_box_channels(img[..., k : k + 512], radius) for k in range(0, img.shape[-1], 512)], -1)


def guided_upsample(
    coefficients: np.ndarray, full_guide: Sequence[np.ndarray], *, rows_per_strip: int = 64
) -> np.ndarray:
    """Apply low-resolution affine coefficients to a full-resolution guide.

    Coefficients are interpolated bilinearly (pixel-centre aligned, as
    ``cv2.resize``) strip by strip, so memory stays at a few full-size images.

    Parameters
    ----------
    coefficients : ndarray
        ``(h, w, C, G + 1)`` from :func:`guided_coefficients`.
    full_guide : sequence of ndarray
        The full-resolution guide as frames ``(H, W, 3)`` float32 whose channels,
        stacked, make the ``G`` guide channels.
    rows_per_strip : int
        Output rows processed at once.

    Returns
    -------
    ndarray
        ``(H, W, C)`` float32 (not clipped).

    Notes
    -----
    Works on planes: each coefficient plane is interpolated by ``cv2.remap`` with
    fixed-point maps (1/32 px, what ``remap`` uses internally for float maps too) and
    multiplied into its output plane, so no strided ``(H, W, C, G + 1)`` array is
    built.
    """
    h, w, tc = coefficients.shape[:3]
    big_h, big_w = full_guide[0].shape[:2]
    gc = coefficients.shape[3] - 1
    planes = np.ascontiguousarray(coefficients.reshape(h, w, -1).transpose(2, 0, 1))  # (C * (G + 1), h, w)
    # Source coordinates of output pixel centres (align_corners=False convention).
    sx = ((np.arange(big_w, dtype=np.float32) + 0.5) * (w / big_w) - 0.5).astype(np.float32)
    out = np.empty((big_h, big_w, tc), np.float32)
    for y0 in range(0, big_h, rows_per_strip):
        y1 = min(y0 + rows_per_strip, big_h)
        sy = ((np.arange(y0, y1, dtype=np.float32) + 0.5) * (h / big_h) - 0.5).astype(np.float32)
        map_xy, map_frac = cv2.convertMaps(np.broadcast_to(sx[None, :], (y1 - y0, big_w)).copy(),
                                           np.broadcast_to(sy[:, None], (y1 - y0, big_w)).copy(), cv2.CV_16SC2)
        guide = np.concatenate([f[y0:y1] for f in full_guide], -1).transpose(2, 0, 1).copy()  # (G, rows, W)

        def interp(plane: np.ndarray) -> np.ndarray:
            return cv2.remap(plane, map_xy, map_frac, cv2.INTER_LINEAR, borderMode=cv2.BORDER_REPLICATE)

        for c in range(tc):
            base = c * (gc + 1)
            acc = interp(planes[base + gc])
            for g in range(gc):
                acc += interp(planes[base + g]) * guide[g]
            out[y0:y1, :, c] = acc
    return out


# --------------------------------------------------------------------------- the pipeline


def _to_tensor(frame: np.ndarray, device: torch.device | str) -> torch.Tensor:
    """``(H, W, C)`` or ``(H, W)`` array -> ``(1, C, H, W)`` float32 tensor on ``device``."""
    chw = frame[None] if frame.ndim == 2 else frame.transpose(2, 0, 1)
    return torch.from_numpy(np.ascontiguousarray(chw))[None].to(device, torch.float32)


def working_size(h: int, w: int, max_mp: float | None) -> tuple[int, int]:
    """Size ``(h', w')`` at which the network runs: ``(h, w)`` if within ``max_mp``, else shrunk, aspect kept."""
    if not max_mp or h * w <= max_mp * 1e6:
        return h, w
    s = math.sqrt(max_mp * 1e6 / (h * w))
    return max(1, round(h * s)), max(1, round(w * s))


def fuse_full_resolution(
    net: Net,
    frames: Sequence[np.ndarray],
    *,
    max_mp: float | None = DEFAULT_MAX_MP,
    size: tuple[int, int] | None = None,
    tile: int = 512,
    tile_pad: int = 32,
    overlap: int = 32,
    device: str | torch.device = "cpu",
    radius: int = GUIDE_RADIUS,
    eps: float = GUIDE_EPS,
    out_channels: int = 3,
    multiple: int = 1,
    pad_mode: str = "edge",
    refine: Callable[[np.ndarray, Sequence[np.ndarray]], np.ndarray] | None = None,
) -> np.ndarray:
    """Fuse a bracket of any size with ``net``, full resolution out, bounded memory.

    Parameters
    ----------
    net : callable
        ``net(*frames) -> (1, out_channels, h, w)`` on tensors ``(1, C_i, h, w)`` in [0, 1]
        (more than 3 channels: several images at once, e.g. both phases).
    frames : sequence of ndarray
        ``(H, W, C_i)`` (or ``(H, W)``: one channel) float32 in [0, 1], in the order
        ``net`` expects: a bracket's frames, or other images such as lightness maps.
        Every frame of a reduced-scale pass must have channels (the guide of the
        upsampling is their stack).
    max_mp : float or None
        The size budget: largest size in megapixels the network runs at; larger inputs
        are fused at that size and brought back by guided upsampling. ``None`` or 0:
        always full resolution (tiled).
    size : (int, int), optional
        An explicit working size ``(h, w)`` instead of ``max_mp`` (e.g. a method's
        training scale); None: from ``max_mp``.
    tile, tile_pad, overlap : int
        Tiling of the network pass (see :func:`tiled_apply`); ``tile=0`` disables it.
    device : str or torch.device
        Where the network runs.
    radius, eps : int, float
        Guided upsampling window (low-resolution pixels) and regulariser.
    out_channels : int
        Channels of ``net``'s output.
    multiple : int
        Pad the (working-size) frames to a multiple of this before tiling and crop
        after: a network that pads its input to a multiple itself (a UNet) then sees
        the same border in every tile as in one whole pass.
    pad_mode : {"edge", "reflect"}
        How that padding extends the frames: as the network pads itself.
    refine : callable, optional
        ``refine(out, frames) -> out`` applied to the network's output at the working
        size, before the guided upsampling carries it to full resolution: ``out`` is
        ``(h, w, out_channels)`` in [0, 1], ``frames`` the inputs at that size. Its
        cost is bounded by ``max_mp`` (e.g. :func:`mefkit.hue.restore_hue`).

    Returns
    -------
    ndarray
        ``(H, W, out_channels)`` float32 in [0, 1].

    Raises
    ------
    ValueError
        ``tile`` is neither 0 nor at least ``2 * overlap + multiple`` (room for the
        feathered overlaps on both sides of a tile aligned to ``multiple``).
    """
    # Checked here, in the methods' terms: a user sets ``tile``, not the internal overlap
    # or alignment that tiled_apply would otherwise name in its message.
    min_tile = 2 * overlap + multiple
    if tile and tile < min_tile:
        raise ValueError(f"tile must be 0 (one pass) or at least {min_tile}, got {tile}")
    h, w = frames[0].shape[:2]
    sh, sw = working_size(h, w, max_mp) if size is None else size
    if (sh, sw) == (h, w):
        small = list(frames)
    else:  # INTER_AREA can overshoot 1.0 by rounding; the network expects [0, 1].
        small = [np.clip(cv2.resize(f, (sw, sh), interpolation=cv2.INTER_AREA), 0.0, 1.0) for f in frames]
    sh0, sw0 = small[0].shape[:2]
    small = pad_to_multiple(small, multiple, mode=pad_mode)
    align = tile_alignment(multiple, tile_pad)
    with torch.no_grad():
        out = tiled_apply(
            net, [_to_tensor(f, device) for f in small], tile=tile, tile_pad=tile_pad, overlap=overlap,
            out_channels=out_channels, align=align,
        )
    low = np.ascontiguousarray(out[0, :, :sh0, :sw0].permute(1, 2, 0).cpu().numpy())
    small = [f[:sh0, :sw0] for f in small]
    if refine is not None:
        low = refine(np.clip(low, 0.0, 1.0), small)
    if (sh, sw) == (h, w):
        return np.clip(low, 0.0, 1.0)
    guide = np.concatenate(small, -1)
    coef = guided_coefficients(guide, low, radius=radius, eps=eps, subsample=guide_subsample(*low.shape[:2]))
    return np.clip(guided_upsample(coef, frames), 0.0, 1.0)
