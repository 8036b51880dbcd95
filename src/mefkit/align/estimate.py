"""Estimate the warp of one frame onto another of a different exposure.

The chain of models, tried in turn until one passes :func:`check_warp`:

1. SIFT features (Lowe, IJCV 2004) on histogram-matched luminance, Lowe's ratio test,
   RANSAC homography (Fischler & Bolles, CACM 1981);
2. the same matches, RANSAC partial affine (rotation, uniform scale, translation);
3. translation, the better of median threshold bitmaps (Ward, Journal of Graphics
   Tools 2003; OpenCV's ``AlignMTB``), exposure-invariant by design, and phase
   correlation of gradient magnitudes; neither needs features.

The winner is refined by ECC (Evangelidis & Psarakis, IEEE TPAMI 2008) restricted to
pixels well exposed in both frames. Every matrix here is a 3x3 *sampling* map: it takes
pixel coordinates of the target (reference) frame to those of the moving frame, which
is what ``cv2.warpPerspective(..., WARP_INVERSE_MAP)`` and ECC both use.
"""

from __future__ import annotations

from dataclasses import dataclass

import cv2
import numpy as np

from .normalise import apply_lut, match_lut

#: Fewest RANSAC inliers a feature model must keep.
MIN_INLIERS = 12
#: Least fraction of ratio-test matches that must be inliers.
MIN_INLIER_RATIO = 0.25
#: Allowed range of the local scale (sqrt of the Jacobian determinant).
SCALE_RANGE = (0.7, 1.4)
#: Largest ratio of the Jacobian's singular values (anisotropy / shear).
MAX_ANISOTROPY = 1.25
#: Largest change of the local scale between opposite corners (perspective strength).
MAX_PERSPECTIVE = 0.25
#: Largest corner displacement, as a fraction of the image diagonal.
MAX_SHIFT_FRACTION = 0.25
#: Luma range counted as well exposed for ECC's mask.
WELL_EXPOSED = (0.04, 0.96)


@dataclass
class Estimate:
    """One frame's warp onto its target.

    Attributes
    ----------
    matrix : ndarray
        ``(3, 3)`` float64 sampling map, target pixel -> moving pixel.
    model : str
        ``"homography"``, ``"affine"`` (partial affine) or ``"translation"``.
    inliers : int
        RANSAC inliers (0 for translation by MTB).
    matches : int
        Ratio-test matches (0 for MTB).
    residual : float
        RMS reprojection error of the inliers in pixels of the working resolution
        (NaN for MTB).
    ecc : float or None
        ECC correlation after refinement; None when ECC did not run or failed.
    notes : list of str
        Why a model was rejected, why ECC was skipped.
    static : bool
        The model fits the matches no better than the identity (:func:`_is_static`):
        ``matrix`` is then the identity and the frames are already aligned.
    inliers_mask : ndarray or None
        Which ratio-test matches are RANSAC inliers.
    """

    matrix: np.ndarray
    model: str
    inliers: int = 0
    matches: int = 0
    residual: float = float("nan")
    ecc: float | None = None
    notes: list | None = None
    static: bool = False
    inliers_mask: np.ndarray | None = None


def check_warp(matrix: np.ndarray, shape: tuple[int, int]) -> str | None:
    """Why ``matrix`` is not a plausible hand-shake warp of a ``shape`` frame, or None.

    Rejected: a flipped orientation (negative Jacobian determinant), a scale outside
    :data:`SCALE_RANGE`, shear/anisotropy over :data:`MAX_ANISOTROPY`, a perspective
    that changes the scale by more than :data:`MAX_PERSPECTIVE` across the frame, or a
    corner moved by more than :data:`MAX_SHIFT_FRACTION` of the diagonal.
    """
    h, w = shape
    m = np.asarray(matrix, np.float64)
    if not np.all(np.isfinite(m)) or abs(m[2, 2]) < 1e-12:
        return "not finite"
    m = m / m[2, 2]
    corners = np.array([[0, 0], [w - 1, 0], [w - 1, h - 1], [0, h - 1]], np.float64)
    scales, aniso = [], []
    for x, y in corners:
        d = m[2, 0] * x + m[2, 1] * y + 1.0
        if d <= 1e-6:
            return "perspective folds the frame (a corner maps to infinity)"
        u = (m[0, 0] * x + m[0, 1] * y + m[0, 2]) / d
        v = (m[1, 0] * x + m[1, 1] * y + m[1, 2]) / d
        jac = np.array([[m[0, 0] - u * m[2, 0], m[0, 1] - u * m[2, 1]],
                        [m[1, 0] - v * m[2, 0], m[1, 1] - v * m[2, 1]]]) / d
        det = np.linalg.det(jac)
        if det <= 0:
            return "flipped orientation"
        sv = np.linalg.svd(jac, compute_uv=False)
        aniso.append(sv[0] / sv[1])
        scales.append(np.sqrt(det))
    if max(scales) / min(scales) - 1 > MAX_PERSPECTIVE:
        return f"perspective changes the scale by {max(scales) / min(scales) - 1:.0%}"
    if not (SCALE_RANGE[0] <= min(scales) and max(scales) <= SCALE_RANGE[1]):
        return f"scale {min(scales):.2f}..{max(scales):.2f} outside {SCALE_RANGE[0]}..{SCALE_RANGE[1]}"
    if max(aniso) > MAX_ANISOTROPY:
        return f"shear/anisotropy {max(aniso):.2f} > {MAX_ANISOTROPY}"
    shift = max_displacement(m, shape)
    if shift > MAX_SHIFT_FRACTION * np.hypot(h, w):
        return f"moves a corner by {shift:.0f} px (> {MAX_SHIFT_FRACTION:.0%} of the diagonal)"
    return None


def max_displacement(matrix: np.ndarray, shape: tuple[int, int]) -> float:
    """Largest distance, in pixels, that ``matrix`` moves a point of a 5x5 grid over the frame.

    For an affine map the maximum over the frame is at a corner; the grid also bounds a
    mild homography's (its displacement is smooth).
    """
    h, w = shape
    xs, ys = np.meshgrid(np.linspace(0, w - 1, 5), np.linspace(0, h - 1, 5))
    pts = np.stack([xs.ravel(), ys.ravel(), np.ones(xs.size)])
    q = np.asarray(matrix, np.float64) @ pts
    q = q[:2] / q[2]
    return float(np.max(np.hypot(q[0] - pts[0], q[1] - pts[1])))


def _to_u8(gray: np.ndarray) -> np.ndarray:
    return np.clip(gray * 255.0 + 0.5, 0, 255).astype(np.uint8)


def _features(gray_u8: np.ndarray):
    sift = cv2.SIFT_create(nfeatures=4000)
    return sift.detectAndCompute(gray_u8, None)


def _ratio_matches(kp_t, des_t, kp_m, des_m, ratio: float = 0.75):
    if des_t is None or des_m is None or len(kp_t) < 2 or len(kp_m) < 2:
        return np.empty((0, 2), np.float32), np.empty((0, 2), np.float32)
    pairs = cv2.BFMatcher(cv2.NORM_L2).knnMatch(des_t, des_m, k=2)
    good = [p[0] for p in pairs if len(p) == 2 and p[0].distance < ratio * p[1].distance]
    pt = np.float32([kp_t[g.queryIdx].pt for g in good]).reshape(-1, 2)
    pm = np.float32([kp_m[g.trainIdx].pt for g in good]).reshape(-1, 2)
    return pt, pm


def _rms(matrix: np.ndarray, pt: np.ndarray, pm: np.ndarray, inl: np.ndarray) -> float:
    if not inl.any():
        return float("nan")
    p = np.c_[pt[inl], np.ones(int(inl.sum()))] @ matrix.T
    p = p[:, :2] / p[:, 2:]
    return float(np.sqrt(np.mean(np.sum((p - pm[inl]) ** 2, axis=1))))


def _feature_models(target: np.ndarray, moving: np.ndarray, notes: list) -> Estimate | None:
    """Homography, then partial affine, from SIFT matches; None when both fail."""
    kp_t, des_t = _features(_to_u8(target))
    kp_m, des_m = _features(_to_u8(moving))
    pt, pm = _ratio_matches(kp_t, des_t, kp_m, des_m)
    n = len(pt)
    if n < MIN_INLIERS:
        notes.append(f"{n} feature matches (< {MIN_INLIERS})")
        return None
    shape = target.shape[:2]
    found: list[Estimate] = []
    h_mat, h_mask = cv2.findHomography(pt, pm, cv2.RANSAC, 2.0, maxIters=4000, confidence=0.999)
    a_mat, a_mask = cv2.estimateAffinePartial2D(pt, pm, method=cv2.RANSAC, ransacReprojThreshold=2.0)
    for kind, mat, mask in (("homography", h_mat, h_mask),
                            ("affine", None if a_mat is None else np.vstack([a_mat, [0, 0, 1]]), a_mask)):
        if mat is None:
            continue
        inl = mask.ravel().astype(bool)
        why = _why_rejected(mat, inl, n, shape)
        if why is None:
            found.append(Estimate(mat, kind, int(inl.sum()), n, _rms(mat, pt, pm, inl), notes=notes,
                                  inliers_mask=inl))
        else:
            notes.append(f"{kind} rejected: {why}")
    for est in found:
        est.static = _is_static(est, pt, pm)
    if len(found) == 2:
        # Model selection: the homography's four extra degrees of freedom must buy a
        # clearly better fit, else they only fit match noise (a static pair would get a
        # spurious sub-pixel warp).
        hom, aff = found
        better = hom.inliers > 1.1 * aff.inliers or hom.residual < 0.8 * aff.residual
        return hom if better else aff
    return found[0] if found else None


#: 99.9 % quantiles of chi-square with 4 and 8 degrees of freedom (the parameters a
#: partial affine map and a homography add to the identity).
_CHI2_999 = {"affine": 18.47, "homography": 26.12}


def _is_static(est: Estimate, pt: np.ndarray, pm: np.ndarray) -> bool:
    """Likelihood-ratio test: does ``est`` fit its inliers significantly better than
    the identity? If not, the frames are taken as already aligned (no resampling).

    Under the identity, the drop of the inliers' squared residual bought by the model's
    extra parameters is chi-square distributed (in units of the match noise variance).
    """
    k = {"affine": 4, "homography": 8}[est.model]
    inl = est.inliers_mask
    n = int(inl.sum())
    if n <= k:
        return False
    ss_model = n * est.residual**2
    ss_id = float(np.sum((pt[inl] - pm[inl]) ** 2))
    var = max(ss_model / (n - k), 1e-6)
    return (ss_id - ss_model) / var < _CHI2_999[est.model]


def _why_rejected(matrix, inl, n, shape) -> str | None:
    k = int(inl.sum())
    if k < MIN_INLIERS:
        return f"{k} inliers (< {MIN_INLIERS})"
    if k < MIN_INLIER_RATIO * n:
        return f"{k}/{n} inliers (< {MIN_INLIER_RATIO:.0%})"
    return check_warp(matrix, shape)


def _mtb_shift(target: np.ndarray, moving: np.ndarray) -> tuple[float, float]:
    """Shift ``(dx, dy)`` of ``moving`` against ``target`` by median threshold bitmaps (Ward 2003)."""
    mtb = cv2.createAlignMTB(max_bits=6, exclude_range=4, cut=False)
    # calculateShift(img0, img1) is the shift that moves img1 onto img0.
    dx, dy = mtb.calculateShift(_to_u8(moving), _to_u8(target))
    return float(dx), float(dy)


def _phase_shift(target: np.ndarray, moving: np.ndarray) -> tuple[float, float]:
    """Shift of ``moving`` against ``target`` by phase correlation of gradient magnitudes
    (Kuglin & Hines 1975), which tone differences between exposures barely change."""
    win = cv2.createHanningWindow(target.shape[::-1], cv2.CV_32F)
    (dx, dy), _ = cv2.phaseCorrelate(gradient_magnitude(target), gradient_magnitude(moving), win)
    return float(dx), float(dy)


def _translation_score(target: np.ndarray, moving: np.ndarray, dx: float, dy: float) -> float:
    """Correlation of the gradient magnitudes of ``target`` and ``moving`` sampled at +(dx, dy)."""
    h, w = target.shape
    m = np.float32([[1, 0, dx], [0, 1, dy]])
    g_t = gradient_magnitude(target)
    g_m = cv2.warpAffine(gradient_magnitude(moving), m, (w, h), flags=cv2.INTER_LINEAR | cv2.WARP_INVERSE_MAP,
                         borderMode=cv2.BORDER_CONSTANT, borderValue=np.nan)
    ok = np.isfinite(g_m)
    if ok.sum() < 0.25 * ok.size:
        return -1.0
    a, b = g_t[ok] - g_t[ok].mean(), g_m[ok] - g_m[ok].mean()
    return float((a * b).sum() / (np.sqrt((a * a).sum() * (b * b).sum()) + 1e-12))


def _translation(target: np.ndarray, moving: np.ndarray, moving_n: np.ndarray) -> np.ndarray:
    """Translation as a sampling map: the best-scoring of MTB's shift (on the raw
    frames, which it needs no tone matching for), phase correlation's and no shift."""
    candidates = [_mtb_shift(target, moving), _phase_shift(target, moving_n), (0.0, 0.0)]
    dx, dy = max(candidates, key=lambda c: _translation_score(target, moving_n, *c))
    return np.array([[1, 0, dx], [0, 1, dy], [0, 0, 1]], np.float64)


def well_exposed(gray: np.ndarray) -> np.ndarray:
    """``(h, w)`` uint8 0/1 mask of luma inside :data:`WELL_EXPOSED`."""
    lo, hi = WELL_EXPOSED
    return ((gray > lo) & (gray < hi)).astype(np.uint8)


#: ECC on gradient magnitudes (less sensitive to tone-mapping errors than intensities).
ECC_ON_GRADIENT = True
#: Gaussian pre-blur of ECC (kernel side).
ECC_BLUR = 1


def gradient_magnitude(gray: np.ndarray) -> np.ndarray:
    """Sobel gradient magnitude of an ``(h, w)`` float32 image."""
    return cv2.magnitude(cv2.Sobel(gray, cv2.CV_32F, 1, 0), cv2.Sobel(gray, cv2.CV_32F, 0, 1))


def refine_ecc(target: np.ndarray, moving: np.ndarray, matrix: np.ndarray, model: str,
               target_ok: np.ndarray, moving_ok: np.ndarray) -> tuple[np.ndarray, float]:
    """ECC refinement of ``matrix`` on pixels well exposed in both frames.

    Parameters
    ----------
    target, moving : ndarray
        ``(h, w)`` float32 luma at the working resolution, ``moving`` already mapped to
        ``target``'s tones.
    matrix : ndarray
        ``(3, 3)`` initial sampling map.
    model : str
        ``"homography"``, ``"affine"`` or ``"translation"`` (the ECC motion model).
    target_ok, moving_ok : ndarray
        ``(h, w)`` uint8 masks of the well-exposed pixels of each frame (own coordinates).

    Returns
    -------
    matrix : ndarray
        ``(3, 3)`` refined sampling map.
    rho : float
        ECC's final correlation coefficient.

    Raises
    ------
    cv2.error
        When ECC does not converge.
    """
    h, w = target.shape
    # OpenCV masks the input (moving) image; carry the target's mask into its frame so
    # the mask is "well exposed in both".
    target_ok_in_moving = cv2.warpPerspective(target_ok, np.linalg.inv(matrix), (w, h), flags=cv2.INTER_NEAREST)
    mask = (target_ok_in_moving & moving_ok).astype(np.uint8)
    if mask.sum() < 0.05 * mask.size:
        raise cv2.error("fewer than 5% of the pixels are well exposed in both frames")
    motion = {"homography": cv2.MOTION_HOMOGRAPHY, "affine": cv2.MOTION_AFFINE,
              "translation": cv2.MOTION_TRANSLATION}[model]
    init = matrix.astype(np.float32) if model == "homography" else matrix[:2].astype(np.float32)
    if model == "homography":
        init = init / init[2, 2]
    criteria = (cv2.TERM_CRITERIA_EPS | cv2.TERM_CRITERIA_COUNT, 100, 1e-6)
    if ECC_ON_GRADIENT:
        target, moving = gradient_magnitude(target), gradient_magnitude(moving)
    rho, out = cv2.findTransformECC(target, moving, init, motion, criteria, mask, ECC_BLUR)
    out = out.astype(np.float64)
    if out.shape[0] == 2:
        out = np.vstack([out, [0, 0, 1]])
    return out, float(rho)


def estimate_warp(target: np.ndarray, moving: np.ndarray, *, method: str = "features",
                  ecc: bool = True) -> Estimate:
    """Warp of ``moving`` onto ``target`` (two frames of different exposure).

    Parameters
    ----------
    target, moving : ndarray
        ``(h, w)`` float32 luma in [0, 1] at the working resolution.
    method : {"features", "mtb"}
        ``"features"``: the full chain (homography, partial affine, MTB translation);
        ``"mtb"``: translation only.
    ecc : bool
        Refine with ECC.

    Returns
    -------
    Estimate
        The sampling map (target pixel -> moving pixel) and how it was found.
    """
    notes: list = []
    shape = target.shape
    moving_n = apply_lut(moving, match_lut(moving, target))  # moving in the target's tones
    est = _feature_models(target, moving_n, notes) if method == "features" else None
    if est is None:
        est = Estimate(_translation(target, moving, moving_n), "translation", notes=notes)
        if method == "features":
            notes.append("fell back to translation (median threshold bitmaps / phase correlation)")
    if est.static:
        est.matrix = np.eye(3)
        notes.append("no significant motion")
    elif ecc:
        try:
            refined, rho = refine_ecc(target, moving_n, est.matrix, est.model,
                                      well_exposed(target), well_exposed(moving))
        except cv2.error as exc:
            notes.append(f"ECC skipped: {str(exc).strip().splitlines()[-1][:80]}")
        else:
            why = check_warp(refined, shape)
            drift = max_displacement(np.linalg.inv(est.matrix) @ refined, shape)
            limit = 2.0 if est.model != "translation" else 8.0
            if why is None and drift <= limit:
                est.matrix, est.ecc = refined, rho
            else:
                notes.append(f"ECC result dropped: {why or f'moved {drift:.1f} px from the estimate'}")
    return est
