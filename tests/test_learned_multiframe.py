"""The learned methods on brackets of K frames: every frame used, order-free, gray stays gray.

These run the shipped weights on small odd-sized brackets (the networks pad and crop),
so they also check that the weights load.
"""

from __future__ import annotations

import numpy as np
import pytest

import mefkit
from mefkit.metrics import mef_ssim

from .conftest import make_bracket

pytestmark = pytest.mark.usefixtures("one_torch_thread")

LEARNED = ("progressive", "cbm", "mitm")


@pytest.mark.parametrize("method", LEARNED)
@pytest.mark.parametrize("k", [2, 3, 5, 9])
def test_k_frames_of_odd_size_give_a_full_size_result(method, k):
    # Property: any K, odd height and width, a full-size result in [0, 1], and more
    # than two frames give another result than the bracket's extremes alone (the
    # middle frames are used).
    frames = make_bracket(37, 53, n=k, seed=k)
    out = mefkit.fuse(frames, method, order="given")
    assert out.shape == (37, 53, 3) and out.dtype == np.float32
    assert np.isfinite(out).all() and 0 <= out.min() and out.max() <= 1
    if k > 2:
        ends = mefkit.fuse(frames, method, order="given", stack="extremes")
        assert np.abs(out - ends).mean() > 1e-3


@pytest.mark.parametrize("method", LEARNED)
def test_two_frames_are_fused_as_before(method):
    # Oracle: for a pair the K-frame rule is the two-frame method itself.
    frames = make_bracket(33, 45, n=2, seed=4)
    assert np.array_equal(mefkit.fuse(frames, method, order="given"),
                          mefkit.fuse(frames, method, order="given", stack="extremes"))


@pytest.mark.filterwarnings("ignore:frames are not ordered darkest first")
@pytest.mark.parametrize("method", LEARNED)
def test_result_does_not_depend_on_the_order_of_the_frames(method):
    # Oracle: the frames given in any order (no sorting by mefkit.fuse) fuse to the
    # very same image.
    frames = make_bracket(35, 41, n=5, seed=7)
    ref = mefkit.fuse(frames, method, order="given")
    for perm in ([4, 2, 0, 3, 1], [1, 0, 4, 3, 2]):
        got = mefkit.fuse([frames[i] for i in perm], method, order="given")
        assert np.array_equal(got, ref), perm


@pytest.mark.parametrize("method", LEARNED)
@pytest.mark.parametrize("k", [2, 3])
def test_gray_bracket_gives_a_gray_result(method, k):
    # Property: frames with R = G = B give a result whose channels differ by at most
    # 2/255 anywhere (the networks alone tint gray by up to 25/255).
    frames = [np.repeat(f.mean(axis=-1, keepdims=True), 3, -1) for f in make_bracket(48, 64, n=k, seed=11)]
    out = mefkit.fuse(frames, method, order="given")
    spread = out.max(axis=-1) - out.min(axis=-1)
    assert spread.max() <= 2 / 255, f"{method}: channel spread {spread.max() * 255:.1f}/255"


def test_more_frames_than_the_cap_are_sampled_by_the_documented_rule():
    # Property: with 9 frames and max_frames=3 the method fuses exactly the darkest,
    # the one nearest the middle in log luminance and the brightest.
    frames = make_bracket(32, 40, n=9, seed=2)
    from mefkit.nn.stack_fusion import select_frames

    used = [frames[i] for i in select_frames(frames, 3).used]
    assert len(used) == 3
    a = mefkit.fuse(frames, "cbm", order="given", max_frames=3)
    b = mefkit.fuse(used, "cbm", order="given", max_frames=3)
    assert np.array_equal(a, b)


@pytest.mark.slow
@pytest.mark.parametrize("method", LEARNED)
def test_shipped_weights_fuse_the_example_bracket_with_all_three_frames(method):
    # Property on the bundled 3-frame example: the shipped weights load, the result is
    # full size, and using the middle frame scores at least as well by MEF-SSIM against
    # all three frames as fusing the two extremes.
    bracket = mefkit.read_bracket(mefkit.example_bracket())
    out = mefkit.fuse(bracket, method)
    ends = mefkit.fuse(bracket, method, stack="extremes")
    assert out.shape == bracket.frames[0].shape
    assert mef_ssim(bracket.frames, out) >= mef_ssim(bracket.frames, ends)


def test_cli_summary_reports_the_frames_the_rule_used(tmp_path):
    # Property: `mefkit fuse` no longer says "fused N frames" when fewer were used: a
    # 6-frame bracket with max_frames=3 reports 3 of 6 frames, and with the default cap
    # (9) all 6.
    from typer.testing import CliRunner

    from mefkit.cli import app
    from mefkit.io import write_image

    paths = []
    for i, f in enumerate(make_bracket(32, 40, n=6, seed=5)):
        paths.append(tmp_path / f"f{i}.png")
        write_image(paths[-1], f, bits=8)
    runner = CliRunner()
    res = runner.invoke(app, ["fuse", *map(str, paths), "-o", str(tmp_path / "a.png"), "-m", "cbm", "-p", "max_frames=3"])
    assert res.exit_code == 0, res.stderr
    assert "fused a bracket of 6 frames, used 3 of 6 frames (exposure ranks 1, " in res.stderr.replace("\n", " ")
    res = runner.invoke(app, ["fuse", *map(str, paths), "-o", str(tmp_path / "b.png"), "-m", "cbm"])
    assert "used all 6 frames" in res.stderr


def test_mitm_pairs_share_one_pair_budget():
    # Two frames run at full resolution (max_mp='shared' is None then); three frames
    # run each of their two pairs at half the pixels, as an explicit budget would.
    from mefkit.methods.mitm import mitm

    frames = make_bracket(40, 56, n=3, seed=5)
    pair = [frames[0], frames[2]]
    np.testing.assert_array_equal(mitm(pair), mitm(pair, max_mp=None))
    np.testing.assert_array_equal(mitm(frames), mitm(frames, max_mp=40 * 56 / 2 / 1e6))
    assert not np.array_equal(mitm(frames), mitm(frames, max_mp=None))
