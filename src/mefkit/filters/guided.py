"""Guided filter (He, Sun, Tang, ECCV 2010 / TPAMI 2013), gray and colour guides.

Written here rather than taken from ``cv2.ximgproc.guidedFilter`` because ximgproc
is in opencv-contrib, not in the opencv-python-headless wheel the project depends
on, and because its windows are clipped differently at the border: He's reference
``boxfilter.m`` averages over the part of the window inside the image, which this
module reproduces. Box sums are OpenCV ``boxFilter`` calls with zero borders divided
by the per-pixel window count. The variance ``E[I^2] - E[I]^2`` is compared with
``eps``; float32 cancellation errors are ~1e-7, harmless against GFF's base-layer
``eps = 0.3`` but of the order of its detail-layer ``eps = 1e-6`` (outputs off by up
to 0.15, measured), so statistics are float64 when ``eps`` < :data:`FLOAT32_MIN_EPS`
and float32 (about 3x faster) otherwise.
"""

from __future__ import annotations

import cv2
import numpy as np


#: Smallest ``eps`` for which the window statistics are computed in float32 (see above).
FLOAT32_MIN_EPS = 1e-3


def _inverse_counts(h: int, w: int, radius: int) -> np.ndarray:
    """``1 / (pixels of the (2r+1)^2 window inside an (h, w) image)``, float64 ``(h, w)``."""
    # Window size at each pixel = rows inside x columns inside: a separable count.
    rows = np.minimum(np.arange(h) + radius, h - 1) - np.maximum(np.arange(h) - radius, 0) + 1
    cols = np.minimum(np.arange(w) + radius, w - 1) - np.maximum(np.arange(w) - radius, 0) + 1
    return 1.0 / np.outer(rows, cols)


def box_mean(image: np.ndarray, radius: int, inv_counts: np.ndarray | None = None) -> np.ndarray:
    """Mean over the ``(2r+1) x (2r+1)`` window, clipped at the image border.

    Parameters
    ----------
    image : ndarray
        ``(H, W)`` or ``(H, W, C)``, float32 or float64.
    radius : int
        Window radius r >= 0.
    inv_counts : ndarray, optional
        Precomputed ``1 / window size`` map ``(H, W)`` for this radius (saves work when
        many images of one size are filtered).

    Returns
    -------
    ndarray
        Same shape and dtype as ``image``. Near the border the window is the part of
        the square inside the image (He's ``boxfilter(I, r) ./ boxfilter(ones, r)``).
    """
    h, w = image.shape[:2]
    k = 2 * radius + 1
    if inv_counts is None:
        inv_counts = _inverse_counts(h, w, radius)
    # OpenCV drops a trailing channel axis of length 1; reshape restores it.
    sums = cv2.boxFilter(
        image, -1, (k, k), normalize=False, borderType=cv2.BORDER_CONSTANT
    ).reshape(image.shape)
    inv = inv_counts.astype(image.dtype, copy=False)
    if image.ndim == 3:
        inv = inv[:, :, None]
    sums *= inv
    return sums


def _check(guide: np.ndarray, src: np.ndarray, radius: int, eps: float) -> None:
    if guide.ndim not in (2, 3) or (guide.ndim == 3 and guide.shape[2] not in (1, 3)):
        raise ValueError(f"guide must be (H, W) or (H, W, 3), got shape {guide.shape}")
    if src.shape[:2] != guide.shape[:2]:
        raise ValueError(f"src {src.shape} and guide {guide.shape} differ in size")
    if int(radius) != radius or radius < 0:
        raise ValueError(f"radius must be an integer >= 0, got {radius}")
    if eps <= 0:
        raise ValueError(f"eps must be > 0, got {eps}")


def guided_filter(guide: np.ndarray, src: np.ndarray, radius: int, eps: float) -> np.ndarray:
    """Edge-preserving filter of ``src`` guided by ``guide`` (He et al. 2013, Alg. 1).

    Parameters
    ----------
    guide : ndarray
        ``(H, W)`` gray guide or ``(H, W, 3)`` colour guide (He et al. eq. 14, with a
        3x3 covariance per window), any float range; ``eps`` is in that range squared.
    src : ndarray
        ``(H, W)`` or ``(H, W, C)`` image to filter; each channel is filtered with the
        same guide.
    radius : int
        Window radius r (window ``2r+1`` square).
    eps : float
        Regularisation: larger means smoother (``eps`` > 0).

    Returns
    -------
    ndarray
        float32, the shape of ``src``.

    Examples
    --------
    >>> import numpy as np
    >>> g = np.linspace(0, 1, 64, dtype=np.float32)[None].repeat(8, 0)
    >>> out = guided_filter(g, g, 2, 1e-6)   # a guide filters itself to itself
    >>> bool(np.abs(out - g).max() < 1e-3)
    True
    """
    guide = np.asarray(guide)
    src = np.asarray(src)
    _check(guide, src, radius, eps)
    if guide.ndim == 3 and guide.shape[2] == 1:
        guide = guide[:, :, 0]
    radius = int(radius)
    inv = _inverse_counts(guide.shape[0], guide.shape[1], radius)

    def box(x: np.ndarray) -> np.ndarray:
        return box_mean(x, radius, inv)

    dtype = np.float32 if eps >= FLOAT32_MIN_EPS else np.float64
    g = guide.astype(dtype)
    p = src.astype(dtype)
    squeeze = p.ndim == 2
    if squeeze:
        p = p[:, :, None]
    mean_p = box(p)
    out = np.empty(p.shape, np.float32)
    if g.ndim == 2:
        mean_i = box(g)
        var_i = box(g * g) - mean_i * mean_i
        denom = var_i + eps
        for c in range(p.shape[2]):
            pc = p[:, :, c]
            cov = box(g * pc) - mean_i * mean_p[:, :, c]
            a = cov / denom
            b = mean_p[:, :, c] - a * mean_i
            out[:, :, c] = box(a) * g + box(b)
    else:
        # Colour guide, on contiguous channel planes: strided (H, W, k) slices would make
        # every elementwise step several times slower, and stacking planes into one
        # multi-channel box filter call saves OpenCV passes.
        gr, gg, gb = (np.ascontiguousarray(g[:, :, i]) for i in range(3))
        planes = [gr, gg, gb, gr * gr, gr * gg, gr * gb, gg * gg, gg * gb, gb * gb]
        mr, mg, mb, rr, rg, rb, gg2, gb2, bb = cv2.split(box(cv2.merge(planes)))
        # Window covariance of the guide plus eps * identity (He et al. eq. 14).
        s_rr = rr - mr * mr + eps
        s_rg = rg - mr * mg
        s_rb = rb - mr * mb
        s_gg = gg2 - mg * mg + eps
        s_gb = gb2 - mg * mb
        s_bb = bb - mb * mb + eps
        # Inverse of the symmetric 3x3 by its adjugate, vectorised over pixels
        # (np.linalg.inv on (H*W, 3, 3) is several times slower).
        i_rr = s_gg * s_bb - s_gb * s_gb
        i_rg = s_gb * s_rb - s_rg * s_bb
        i_rb = s_rg * s_gb - s_gg * s_rb
        i_gg = s_rr * s_bb - s_rb * s_rb
        i_gb = s_rb * s_rg - s_rr * s_gb
        i_bb = s_rr * s_gg - s_rg * s_rg
        inv_det = 1.0 / (s_rr * i_rr + s_rg * i_rg + s_rb * i_rb)
        for m in (i_rr, i_rg, i_rb, i_gg, i_gb, i_bb):
            m *= inv_det
        for c in range(p.shape[2]):
            pc = np.ascontiguousarray(p[:, :, c])
            mp, mrp, mgp, mbp = cv2.split(box(cv2.merge([pc, gr * pc, gg * pc, gb * pc])))
            cr = mrp - mr * mp
            cg = mgp - mg * mp
            cb = mbp - mb * mp
            a_r = i_rr * cr + i_rg * cg + i_rb * cb
            a_g = i_rg * cr + i_gg * cg + i_gb * cb
            a_b = i_rb * cr + i_gb * cg + i_bb * cb
            b = mp - a_r * mr - a_g * mg - a_b * mb
            ma_r, ma_g, ma_b, m_b = cv2.split(box(cv2.merge([a_r, a_g, a_b, b])))
            out[:, :, c] = ma_r * gr + ma_g * gg + ma_b * gb + m_b
    return out[:, :, 0] if squeeze else out
