"""SPD-MEF (Ma et al. 2017): the vectorised method against a literal per-patch loop."""

from __future__ import annotations

import math

import numpy as np
import pytest

import mefkit
from mefkit.methods import spd_mef as spd
from mefkit.methods.spd_mef import histogram_match, matlab_disk, select_reference, spd_mef

from .authors_outputs import check_against_authors_outputs
from .conftest import make_bracket


def _box_mean_valid(x: np.ndarray, w: int) -> np.ndarray:
    """Direct 'valid' window means by explicit slicing (MATLAB filter2(ones(w)/w^2, x, 'valid'))."""
    h, wd = x.shape
    out = np.empty((h - w + 1, wd - w + 1))
    for i in range(out.shape[0]):
        for j in range(out.shape[1]):
            out[i, j] = x[i : i + w, j : j + w].mean()
    return out


def _spd_literal(frames, *, p=4.0, g_sig=0.2, l_sig=0.5, w=21, step=2, ghost=False):
    """Per-patch loop after spd_mef.m (ghost=True) / spdmefStatic.m (ghost=False).

    Statistics, weights and the main loop are transcribed statement by statement. For
    the ghost variant the consistency maps reuse mefkit's helpers (histogram matching,
    the strel opening, the reference choice), which have their own tests: this oracle
    checks the vectorised statistics and patch reconstruction, including which patch
    (own or pseudo) each exposure contributes.
    """
    seq = [np.asarray(f, np.float64) for f in frames]
    s1, s2, s3 = seq[0].shape
    s4 = len(seq)
    xmax, ymax = s1 - w + 1, s2 - w + 1
    ref = select_reference(seq) if ghost else 0
    exd = list(seq)
    if ghost:
        for i in range(s4):
            if i != ref:
                exd.append(np.clip(histogram_match(seq[ref], seq[i]), 0, 1))
    n_exd = len(exd)
    g_mu = np.array([im.mean() for im in exd])
    l_mu = np.stack([np.mean([_box_mean_valid(im[:, :, c], w) for c in range(s3)], axis=0) for im in exd])
    sig_sq = np.stack(
        [np.mean([_box_mean_valid(im[:, :, c] ** 2, w) - l_mu[k] ** 2 for c in range(s3)], axis=0)
         for k, im in enumerate(exd)]
    )
    sigma = np.sqrt(np.maximum(sig_sq, 0))
    ed = sigma * math.sqrt(w * w * s3) + 0.001
    c_exd = np.ones((n_exd, xmax, ymax))
    if ghost:
        s_ref = np.zeros((s4, xmax, ymax))
        for k in range(s4):
            if k == ref:
                s_ref[k] = 1
                continue
            cross = np.mean([_box_mean_valid(seq[k][:, :, c] * seq[ref][:, :, c], w) for c in range(s3)], axis=0)
            cross -= l_mu[k] * l_mu[ref]
            s_ref[k] = np.maximum((cross + spd.SSIM_C) / (sigma[k] * sigma[ref] + spd.SSIM_C), 0)
        s_ref = (s_ref > 0.8).astype(float)
        s_ref[:, (l_mu[ref] < 0.01) | (l_mu[ref] > 0.99)] = 1
        s_ref = np.stack([spd._open(m, w) for m in s_ref])
        i_ref = np.ones((s4, xmax, ymax))
        for k in range(s4):
            if k != ref:
                i_ref[k] = np.abs(histogram_match(l_mu[k], l_mu[ref]) - l_mu[ref]) <= 0.1
        c_exd[:s4] = s_ref * i_ref
        count = 0
        for i in range(s4):
            if i != ref:
                c_exd[s4 + count] = 1 - c_exd[i]
                count += 1
    mu_map = np.exp(-0.5 * ((g_mu[:, None, None] - 0.5) ** 2 / g_sig**2 + (l_mu - 0.5) ** 2 / l_sig**2)) * c_exd
    mu_map /= mu_map.sum(0)
    s_map = ed**p * c_exd + 0.001
    s_map /= s_map.sum(0)
    max_ed = (ed * c_exd).max(0)
    # indM: the exposure's own index if consistent, else its pseudo exposure's
    ind = np.zeros((s4, xmax, ymax), int)
    for i in range(s4):
        if i == ref:
            ind[i] = ref
        else:
            pseudo = s4 + (i if i < ref else i - 1)
            ind[i] = np.where(c_exd[i] > 0.5, i, pseudo)
    fused = np.zeros((s1, s2, s3))
    count_map = np.zeros((s1, s2, s3))
    x_idx = list(range(0, xmax, step))
    x_idx += list(range(x_idx[-1] + 1, xmax))
    y_idx = list(range(0, ymax, step))
    y_idx += list(range(y_idx[-1] + 1, ymax))
    for i in x_idx:
        for j in y_idx:
            r = np.zeros((w, w, s3))
            for k in range(s4):
                block = exd[ind[k, i, j]][i : i + w, j : j + w]
                r += s_map[k, i, j] * (block - l_mu[k, i, j]) / ed[k, i, j]
            norm = np.linalg.norm(r.ravel())
            if norm > 0:
                r = r / norm * max_ed[i, j]
            r += np.sum(mu_map[:, i, j] * l_mu[:, i, j])
            fused[i : i + w, j : j + w] += r
            count_map[i : i + w, j : j + w] += 1
    return np.clip(fused / count_map, 0, 1)


@pytest.mark.parametrize(
    "shape,n,w,step",
    [((30, 34), 2, 21, 2), ((27, 31), 3, 7, 2), ((26, 29), 4, 6, 3), ((22, 25), 2, 5, 1)],
)
def test_static_matches_literal_loop(shape, n, w, step):
    # Oracle: the per-patch loop of spdmefStatic.m / spd_mef.m above (tight tolerance).
    frames = make_bracket(*shape, n, seed=n + w)
    ours = spd_mef(frames, ghost_removal=False, patch_size=w, step_size=step)
    ref = _spd_literal(frames, w=w, step=step, ghost=False)
    np.testing.assert_allclose(ours, ref, rtol=0, atol=1e-7)  # float32 output rounding


@pytest.mark.parametrize("n", [2, 3])
def test_ghost_variant_matches_literal_loop(n):
    # Oracle: the same loop with spd_mef.m's pseudo exposures and index map. A moving
    # square makes some patches inconsistent, so both own and pseudo patches are used.
    frames = make_bracket(44, 48, n, seed=7)
    moved = frames[-1].copy()
    moved[8:24, 10:26] = 0.9 * moved[8:24, 10:26][::-1, ::-1]
    frames[-1] = moved
    ours = spd_mef(frames, ghost_removal=True, patch_size=7, step_size=2)
    ref = _spd_literal(frames, w=7, step=2, ghost=True)
    np.testing.assert_allclose(ours, ref, rtol=0, atol=1e-7)  # float32 output rounding


def test_ghost_variant_uses_pseudo_patches():
    # Property: the moving square above makes some patches inconsistent, so the ghost
    # variant differs from the static one there (and the oracle test above covers it).
    frames = make_bracket(44, 48, 2, seed=7)
    frames[1] = frames[1].copy()
    frames[1][8:24, 10:26] = 0.9 * frames[1][8:24, 10:26][::-1, ::-1]
    a = spd_mef(frames, ghost_removal=True, patch_size=7)
    b = spd_mef(frames, ghost_removal=False, patch_size=7)
    assert np.abs(a - b).max() > 0.05


def test_matlab_disk_shapes():
    # Hand-computed from MATLAB's strel('disk', r) rule: r < 3 is the Euclidean disk;
    # strel('disk', 3) is the 5 x 5 square (MATLAB's documented 2r - 1 side); r = 21
    # (spd_mef.m) is an octagon of side 41 whose corners are cut 10 pixels deep.
    np.testing.assert_array_equal(matlab_disk(1), [[0, 1, 0], [1, 1, 1], [0, 1, 0]])
    np.testing.assert_array_equal(matlab_disk(3), np.ones((5, 5)))
    d = matlab_disk(21)
    assert d.shape == (41, 41)
    np.testing.assert_array_equal(d, d[::-1])
    np.testing.assert_array_equal(d, d.T)
    assert d[20].all() and d[:, 20].all()
    assert d[0].sum() == 21 and not d[0, 9] and d[0, 10] and d[9, 0] == 0 and d[10, 0] == 1


def test_histogram_match_properties(rng):
    # Properties of MATLAB histeq-style matching: monotone non-decreasing mapping; matching
    # an image to itself returns it (up to the 256-level quantisation); matching to a
    # brighter image raises the mean.
    x = rng.random((40, 50))
    same = histogram_match(x, x)
    assert np.abs(same - x).max() <= 1.5 / 255
    order = np.argsort(x.ravel())
    assert np.all(np.diff(same.ravel()[order]) >= 0)
    bright = histogram_match(x * 0.3, np.clip(x * 0.5 + 0.5, 0, 1))
    assert bright.mean() > 0.6


def test_histogram_match_hand_case():
    # Hand-computed with histeq's rule (first target level whose cumulative count reaches
    # the source's cumulative count minus half its own count): source levels {0, 1/255}
    # (2 pixels each) matched to target levels {10/255 x2, 200/255 x2}.
    src = np.array([0, 0, 1, 1], float) / 255
    ref = np.array([10, 10, 200, 200], float) / 255
    np.testing.assert_allclose(histogram_match(src, ref) * 255, [10, 10, 200, 200])


def test_select_reference():
    # Oracle: selectRef.m: the middle one of three; else the fewest badly exposed windows.
    dark = np.zeros((8, 8, 3))
    mid = np.full((8, 8, 3), 0.5)
    bright = np.ones((8, 8, 3))
    assert select_reference([dark, mid, bright]) == 1
    assert select_reference([dark, mid]) == 1
    assert select_reference([mid, bright]) == 0
    assert select_reference([dark, mid, mid, bright]) == 1


@pytest.mark.parametrize("ghost", [False, True])
def test_identical_frames_close_to_that_frame(ghost):
    # Property: every patch's fused strength is its own (plus the 0.001 floor) and its
    # structure and mean its own, so copies of a frame come back nearly unchanged.
    frame = make_bracket(48, 52, 3, seed=3)[1]
    out = spd_mef([frame, frame.copy(), frame.copy()], ghost_removal=ghost)
    assert np.abs(out - frame).max() < 0.01
    assert np.abs(out - frame).mean() < 1e-3


@pytest.mark.parametrize("n", [2, 3, 4])
@pytest.mark.parametrize("ghost", [False, True])
def test_range_shape_determinism_n_frames(n, ghost):
    # Property: output (H, W, 3) float32 in [0, 1], identical on a second run.
    frames = make_bracket(40, 46, n, seed=n)
    a = spd_mef(frames, ghost_removal=ghost)
    assert a.shape == (40, 46, 3) and a.dtype == np.float32
    assert a.min() >= 0 and a.max() <= 1
    np.testing.assert_array_equal(a, spd_mef(frames, ghost_removal=ghost))


def test_through_the_registry_and_fuse():
    # Property: reachable by name through mefkit.fuse with the same result.
    frames = make_bracket(32, 40, 2, seed=5)
    np.testing.assert_array_equal(mefkit.fuse(frames, method="spd_mef", order="given"), spd_mef(frames))


@pytest.mark.parametrize(
    "kwargs",
    [{"p": -1}, {"global_sigma": 0}, {"patch_size": 1}, {"step_size": 0}, {"exposure_thres": 0.6},
     {"structure_thres": 2}, {"patch_size": 50}],
)
def test_bad_parameters_raise(kwargs):
    # Oracle: invalid parameters (and frames smaller than a patch) raise ValueError.
    with pytest.raises(ValueError):
        spd_mef(make_bracket(32, 40, 2), **kwargs)


#: Small MEFB development pairs: three PNG (lossless authors' files) and two JPEG.
FAITHFUL_PAIRS = ("Arno", "Church", "Memorial", "Chair", "Door")


@pytest.mark.slow
@pytest.mark.data
def test_matches_authors_outputs_on_mefb():
    # Oracle: the authors' SPD-MEF outputs published by MEFB (spd_mef.m run by MEFB on
    # these pairs; Memorial is a pair where the ghost removal makes strong artefacts, and
    # we reproduce them). Thresholds: mean PSNR >= 30 dB and mean MEF-SSIM within
    # 0.01; PNG pairs must agree almost exactly, JPEG pairs once written like theirs
    # (MATLAB imwrite, quality 75).
    check_against_authors_outputs(spd_mef, "SPD_MEF", FAITHFUL_PAIRS, jpeg_min_psnr=28)


def test_ghost_removal_suppresses_a_moving_object():
    # Property (the paper's purpose): an object present in a non-reference frame only is
    # replaced by the reference's content with ghost removal, kept without it.
    frames = make_bracket(80, 80, 3, seed=11)
    ghosty = [f.copy() for f in frames]
    ghosty[2][25:55, 25:55] = np.array([0.05, 0.6, 0.1], np.float32)  # a green square
    static = spd_mef(ghosty, ghost_removal=False)
    dynamic = spd_mef(ghosty, ghost_removal=True)
    clean = spd_mef(frames, ghost_removal=True)
    region = (slice(30, 50), slice(30, 50))
    err_static = np.abs(static[region] - clean[region]).mean()
    err_dynamic = np.abs(dynamic[region] - clean[region]).mean()
    assert err_dynamic < 0.5 * err_static
