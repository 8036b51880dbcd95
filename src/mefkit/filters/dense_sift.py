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


def _orientation_images(gray: np.ndarray, patch_size: int):
    """Steps 1-3: yield ``(k, image)``, the padded magnitude-weighted orientation image of bin k."""
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
    for k in range(N_ANGLES):
        angle = 2 * np.pi * k / N_ANGLES
        t = cos_t * np.float32(np.cos(angle))
        t += sin_t * np.float32(np.sin(angle))
        np.maximum(t, 0, out=t)
        t2 = t * t
        np.multiply(t2, t2, out=t2)
        np.multiply(t2, t2, out=t2)
        t *= t2  # t ** ANGLE_ALPHA (= 9)
        t *= mag
        yield k, t


def _cell_filter(orient: np.ndarray, patch_size: int) -> np.ndarray:
    """Step 4: the separable triangular cell filter (MATLAB ``conv2(w, w', x, 'same')``)."""
    kernel, anchor = _cell_kernel(patch_size)
    return cv2.sepFilter2D(
        orient, cv2.CV_32F, kernel, kernel, anchor=(anchor, anchor), borderType=cv2.BORDER_CONSTANT
    )


def _cell_views(filtered: np.ndarray, patch_size: int, h: int, w: int):
    """Step 5: the four ``(H, W)`` views of cell centres, in DenseSIFT.m's order.

    Cell centres sit at ``linspace(1, P + 1, 3)[:2] - P/4 - 1`` = -P/4, +P/4 around the
    descriptor's pixel, which is padded pixel (y + pad, x + pad); MATLAB's ``meshgrid``
    then ``(:)`` puts the x offset outer and the y offset inner.
    """
    pad = patch_size // 2 - 1
    offsets = (-(patch_size // 4), patch_size // 4)
    for ox in offsets:
        for oy in offsets:
            yield filtered[pad + oy : pad + oy + h, pad + ox : pad + ox + w]


def dense_sift(gray: np.ndarray, patch_size: int = 16, channels_first: bool = False) -> np.ndarray:
    """Unnormalised 32-D dense SIFT descriptor at every pixel.

    Parameters
    ----------
    gray : ndarray
        ``(H, W)`` float gray image, values in [0, 1].
    patch_size : int
        Descriptor patch side in pixels (DSIFT-EF "scale", default 16); a multiple of 4.
    channels_first : bool
        Return ``(32, H, W)`` (contiguous per bin) instead of ``(H, W, 32)``.

    Returns
    -------
    ndarray
        ``(H, W, 32)`` float32, >= 0: for each of the 2 x 2 cells, 8 orientation bins
        (bin ``cell * 8 + orientation``).

    References
    ----------
    Y. Liu, Z. Wang, "Dense SIFT for ghost-free multi-exposure fusion", JVCIR 31, 2015;
    C. Liu et al., "SIFT Flow", ECCV 2008 (``DenseSIFT.m``).
    """
    h, w = gray.shape
    out = np.empty((N_CELLS * N_CELLS * N_ANGLES, h, w), np.float32)
    for k, orient in _orientation_images(gray, patch_size):
        filtered = _cell_filter(orient, patch_size)
        for n, view in enumerate(_cell_views(filtered, patch_size, h, w)):
            out[n * N_ANGLES + k] = view
    return out if channels_first else out.transpose(1, 2, 0)


def dense_sift_contrast(gray: np.ndarray, patch_size: int = 16) -> np.ndarray:
    """Sum of the 32 dense SIFT bins at every pixel: DSIFT-EF's local contrast.

    Equal to ``dense_sift(gray).sum(axis=2)`` (up to float32 rounding) but 8 times
    cheaper: the cell filter is linear, so the orientation images are summed first.

    Parameters
    ----------
    gray : ndarray
        ``(H, W)`` float gray image in [0, 1].
    patch_size : int
        Descriptor patch side (a multiple of 4).

    Returns
    -------
    ndarray
        ``(H, W)`` float32, >= 0.
    """
    h, w = gray.shape
    total = None
    for _, orient in _orientation_images(gray, patch_size):
        total = orient if total is None else total + orient
    filtered = _cell_filter(total, patch_size)
    views = list(_cell_views(filtered, patch_size, h, w))
    return views[0] + views[1] + views[2] + views[3]


def normalize_descriptors(desc: np.ndarray, axis: int = -1, copy: bool = True) -> np.ndarray:
    """Lowe's normalisation of descriptors whose L2 norm exceeds 1 (``DSIFTNormalization.m``).

    Such a descriptor is scaled to unit length, clamped at 0.2 and rescaled to unit
    length; descriptors with norm <= 1 are left unchanged.

    Parameters
    ----------
    desc : ndarray
        Float descriptors, the descriptor dimension along ``axis`` (``(H, W, D)`` for
        the default ``axis=-1``, ``(D, H, W)`` with ``axis=0``).
    axis : int
        The descriptor axis.
    copy : bool
        False: normalise a float32 ``desc`` in place (saves a copy of a large array).

    Returns
    -------
    ndarray
        Same shape, float32.
    """
    in_place = not copy and desc.dtype == np.float32
    d = np.moveaxis(desc if in_place else np.array(desc, np.float32), axis, 0)
    norm = np.sqrt(np.einsum("k...,k...->...", d, d))
    big = norm > 1
    # Whole-array passes with per-descriptor factors (1 and +inf where the norm is <= 1)
    # instead of gathering the selected descriptors: no (D, N) temporaries.
    d *= np.where(big, 1 / np.where(big, norm, 1), 1).astype(np.float32)
    np.minimum(d, np.where(big, NORMALIZATION_CLAMP, np.inf).astype(np.float32), out=d)
    renorm = np.sqrt(np.einsum("k...,k...->...", d, d))
    d *= np.where(big, 1 / np.where(renorm > 0, renorm, 1), 1).astype(np.float32)
    return np.moveaxis(d, 0, axis)
