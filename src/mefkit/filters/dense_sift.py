"""Per-pixel dense SIFT descriptors as used by DSIFT-EF (Liu & Wang, JVCIR 2015).

This follows the ``DenseSIFT.m`` shipped with the authors' DSIFT-EF code (edited from
Ce Liu's SIFT-flow / Lazebnik's dense SIFT): a patch of ``patch_size`` pixels split into
**2 x 2 spatial cells x 8 orientations = 32 bins** per pixel (not Lowe's 4 x 4 x 8 =
128), sampled at every pixel (grid spacing 1) of an image zero-padded by
``patch_size / 2 - 1`` on each side so that there is one descriptor per input pixel.

Steps, all as in the MATLAB code:

1. the padded image is divided by its maximum;
2. gradients by correlation with the x/y derivatives (MATLAB ``gradient``) of a 5 x 5,
   sigma 1 Gaussian, each scaled so its absolute values sum to 2, zero padding;
3. 8 orientation images ``max(cos(theta - a_k), 0) ** 9 * |grad|`` (a soft binning,
   "alpha = 9");
4. each orientation image is convolved with a separable triangular (bilinear) kernel
   of width ``patch_size / 2`` per cell, MATLAB ``conv2(..., 'same')`` with its
   even-length offset;
5. the four cell centres are read at offsets ``-patch_size/4`` and ``+patch_size/4``
   in x and y around each pixel.

Written with OpenCV filters instead of a SIFT library because no library computes this
exact per-pixel 32-D variant (OpenCV's SIFT is the keypoint-based 128-D one).
"""

from __future__ import annotations

import cv2
import numpy as np

#: Orientation bins of the descriptor (DenseSIFT.m ``nAngleNums``).
N_ANGLES = 8
#: Spatial cells per side (DenseSIFT.m ``nBinNums`` = 2, hence 2 * 2 * 8 = 32 bins).
N_CELLS = 2
#: Exponent of the soft orientation binning (DenseSIFT.m ``alpha``, must be odd).
ANGLE_ALPHA = 9
#: Sigma of the Gaussian whose derivatives give the gradient (DenseSIFT.m ``sigmaGuassian``).
GRADIENT_SIGMA = 1.0
#: Lowe's clamp of normalised descriptor entries (DSIFTNormalization.m).
NORMALIZATION_CLAMP = 0.2


def _gaussian_derivative_kernels(sigma: float) -> tuple[np.ndarray, np.ndarray]:
    """``(GX, GY)``: MATLAB ``gradient`` of ``fspecial('gaussian', 4*ceil(s)+1, s)``, L1 = 2."""
    size = 4 * int(np.ceil(sigma)) + 1
    r = np.arange(size) - (size - 1) / 2
    g = np.exp(-(r[None, :] ** 2 + r[:, None] ** 2) / (2 * sigma**2))
    g /= g.sum()
    gx = np.gradient(g, axis=1)  # central differences inside, one-sided at the ends, as MATLAB
    gy = np.gradient(g, axis=0)
    return gx * 2 / np.abs(gx).sum(), gy * 2 / np.abs(gy).sum()


def _cell_kernel(patch_size: int) -> tuple[np.ndarray, int]:
    """Triangular cell weights and the anchor that reproduces MATLAB ``conv2(..., 'same')``.

    Returns the kernel as a correlation kernel for ``cv2.sepFilter2D`` (that is, the
    convolution kernel reversed) and its anchor index.
    """
    half_minus = patch_size / 2 - 0.5
    resolution = patch_size / N_CELLS
    w = np.abs(np.arange(1, patch_size + 1) - half_minus) / resolution
    w = (1 - w) * (w <= 1)
    # conv2 'same' keeps full-convolution samples starting at ceil((k - 1) / 2): output i is
    # sum_j w[j] * A[i + ceil((k-1)/2) - j]. As a correlation kernel (reversed w) that is an
    # anchor at k - 1 - ceil((k - 1) / 2).
    k = patch_size
    anchor = k - 1 - int(np.ceil((k - 1) / 2))
    return w[::-1].astype(np.float32).copy(), anchor


def dense_sift(gray: np.ndarray, patch_size: int = 16) -> np.ndarray:
    """Unnormalised 32-D dense SIFT descriptor at every pixel.

    Parameters
    ----------
    gray : ndarray
        ``(H, W)`` float gray image, values in [0, 1].
    patch_size : int
        Descriptor patch side in pixels (DSIFT-EF "scale", default 16); a multiple of 4.

    Returns
    -------
    ndarray
        ``(H, W, 32)`` float32, >= 0: for each of the 2 x 2 cells, 8 orientation bins.

    References
    ----------
    Y. Liu, Z. Wang, "Dense SIFT for ghost-free multi-exposure fusion", JVCIR 31, 2015;
    C. Liu et al., "SIFT Flow", ECCV 2008 (``DenseSIFT.m``).
    """
    if patch_size < 4 or patch_size % 4:
        raise ValueError(f"patch_size must be a positive multiple of 4, got {patch_size}")
    h, w = gray.shape
    pad = patch_size // 2 - 1
    img = np.zeros((h + 2 * pad, w + 2 * pad), np.float32)
    img[pad : pad + h, pad : pad + w] = gray
    peak = float(img.max())
    if peak > 0:
        img /= peak
    gx, gy = _gaussian_derivative_kernels(GRADIENT_SIGMA)
    border = cv2.BORDER_CONSTANT  # filter2(..., 'same') pads with zeros
    vert = cv2.filter2D(img, cv2.CV_32F, gx.astype(np.float32), borderType=border)
    horz = cv2.filter2D(img, cv2.CV_32F, gy.astype(np.float32), borderType=border)
    mag = np.sqrt(vert * vert + horz * horz)
    with np.errstate(invalid="ignore", divide="ignore"):
        cos_t = np.where(mag > 0, vert / mag, 1.0).astype(np.float32)
        sin_t = np.where(mag > 0, horz / mag, 0.0).astype(np.float32)
    kernel, anchor = _cell_kernel(patch_size)
    # Cell centres relative to the descriptor's pixel: linspace(1, P+1, 3)[:2] - P/4 - 1.
    offsets = (-(patch_size // 4), patch_size // 4)
    out = np.empty((h, w, N_CELLS * N_CELLS * N_ANGLES), np.float32)
    for a in range(N_ANGLES):
        angle = 2 * np.pi * a / N_ANGLES
        t = cos_t * np.float32(np.cos(angle)) + sin_t * np.float32(np.sin(angle))
        np.maximum(t, 0, out=t)
        t2 = t * t
        t4 = t2 * t2
        orient = t4 * t4 * t * mag  # t ** ANGLE_ALPHA (= 9) times the magnitude
        orient = cv2.sepFilter2D(
            orient, cv2.CV_32F, kernel, kernel, anchor=(anchor, anchor), borderType=border
        )
        # Descriptor of input pixel (y, x) sits at padded pixel (y + pad, x + pad).
        n = 0
        # Cell order of DenseSIFT.m (meshgrid then (:)): x offset outer, y offset inner.
        for ox in offsets:
            for oy in offsets:
                y0, x0 = pad + oy, pad + ox
                out[:, :, n * N_ANGLES + a] = orient[y0 : y0 + h, x0 : x0 + w]
                n += 1
    return out


def normalize_descriptors(desc: np.ndarray) -> np.ndarray:
    """Lowe's normalisation of descriptors whose L2 norm exceeds 1 (``DSIFTNormalization.m``).

    Such a descriptor is scaled to unit length, clamped at 0.2 and rescaled to unit
    length; descriptors with norm <= 1 are left unchanged.

    Parameters
    ----------
    desc : ndarray
        ``(H, W, D)`` float descriptors.

    Returns
    -------
    ndarray
        ``(H, W, D)`` float32.
    """
    d = desc.astype(np.float32, copy=True)
    norm = np.sqrt((d * d).sum(axis=2, keepdims=True))
    big = norm[:, :, 0] > 1
    sel = d[big] / norm[big]
    np.minimum(sel, NORMALIZATION_CLAMP, out=sel)
    renorm = np.sqrt((sel * sel).sum(axis=1, keepdims=True))
    d[big] = sel / renorm
    return d
