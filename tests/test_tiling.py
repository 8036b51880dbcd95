"""Full-resolution inference (mefkit.nn.tiling): tiles, feathered seams, guided upsampling."""

from __future__ import annotations

import numpy as np
import pytest

torch = pytest.importorskip("torch")

from mefkit.nn.tiling import (  # noqa: E402
    _ramp,
    _layout,
    fuse_full_resolution,
    guided_coefficients,
    guided_upsample,
    pad_to_multiple,
    tile_alignment,
    tiled_apply,
    working_size,
)

from .conftest import make_bracket  # noqa: E402


pytestmark = pytest.mark.usefixtures("one_torch_thread")


def _local_net() -> torch.nn.Module:
    """Two 3x3 convs: receptive field radius 2, far below the tile context."""
    torch.manual_seed(0)
    return torch.nn.Sequential(torch.nn.Conv2d(6, 8, 3, padding=1), torch.nn.GELU(), torch.nn.Conv2d(8, 3, 3, padding=1))


def test_tiles_cover_the_image_evenly_and_end_flush():
    # Oracle, hand-computed: 100 px, tile 40, overlap 8 -> 3 tiles of ceil(116 / 3) = 39
    # at 0, 30.5 -> 30 (round half to even), 61; 1155 px, tile 1024 -> 2 tiles of 594.
    assert _layout(100, 40, 8) == ([0, 30, 61], 39)
    assert _layout(1155, 1024, 32) == ([0, 561], 594)
    assert _layout(40, 40, 8) == ([0], 40)
    assert _layout(30, 40, 8) == ([0], 30)
    # Property: for many sizes the tiles cover the axis with overlaps >= overlap.
    for size in range(41, 400, 7):
        starts, length = _layout(size, 40, 8)
        assert starts[0] == 0 and starts[-1] + length == size and length <= 40
        assert all(b - a <= length - 8 for a, b in zip(starts, starts[1:]))


def test_aligned_tiles_sit_on_the_stride_grid_and_still_overlap():
    # Property: with align, every origin and the length are multiples of it, the tiles
    # cover the axis end to end, and neighbours overlap by at least `overlap`.
    for align in (2, 4, 16):
        for size in range(align * 3, 1200, 37 * align):
            starts, length = _layout(size, 128, 16, align)
            assert starts[0] == 0 and starts[-1] + length == size
            assert length % align == 0 and all(s % align == 0 for s in starts)
            assert all(b - a <= length - 16 for a, b in zip(starts, starts[1:]))
    with pytest.raises(ValueError, match="no room"):
        _layout(400, 32, 24, 16)


def test_aligned_tiles_equal_a_whole_pass_of_a_strided_network():
    # Oracle: the untiled pass. A stride-4 network (two stride-2 convs, then two
    # transposed convs) samples its input on a grid of 4; tiles whose origins sit on
    # that grid, with context beyond the receptive field, compute exactly the whole
    # pass. Unaligned tiles (align=1) put some tiles on another phase and differ.
    torch.manual_seed(4)
    net = torch.nn.Sequential(
        torch.nn.Conv2d(3, 8, 3, stride=2, padding=1), torch.nn.ReLU(),
        torch.nn.Conv2d(8, 8, 3, stride=2, padding=1), torch.nn.ReLU(),
        torch.nn.ConvTranspose2d(8, 8, 4, stride=2, padding=1), torch.nn.ReLU(),
        torch.nn.ConvTranspose2d(8, 3, 4, stride=2, padding=1),
    ).eval()
    x = torch.rand(1, 3, 100, 124)
    with torch.no_grad():
        full = net(x)
        aligned = tiled_apply(net, [x], tile=40, tile_pad=16, overlap=8, align=4)
        loose = tiled_apply(net, [x], tile=40, tile_pad=16, overlap=8)
    assert torch.allclose(aligned, full, atol=1e-5)
    assert not torch.allclose(loose, full, atol=1e-3)
    with pytest.raises(ValueError, match="align"):
        tiled_apply(net, [x], tile=40, tile_pad=10, align=4)


def test_feather_ramps_sum_to_one_across_an_overlap():
    # Property: a falling ramp and the next tile's rising ramp over the same band sum to 1.
    end = _ramp(40, 0, 8)[-8:]
    start = _ramp(40, 8, 0)[:8]
    assert torch.allclose(end + start, torch.ones(8))


def test_tiled_equals_untiled_for_a_local_network():
    # Oracle: with tile_pad above the receptive field every tile computes exactly the
    # untiled values, so the feathered blend of equal values must equal the full pass.
    net = _local_net().eval()
    x = torch.rand(1, 6, 75, 101, generator=torch.Generator().manual_seed(1))
    with torch.no_grad():
        full = net(x)
        tiled = tiled_apply(lambda t: net(t), [x], tile=32, tile_pad=4, overlap=8)
    assert tiled.shape == full.shape
    assert torch.allclose(tiled, full, atol=1e-6)


def _wide_net() -> torch.nn.Module:
    """Six 3x3 convs with tanh, random non-zero weights: receptive field radius 6.

    The gain (2.5 / sqrt(fan-in)) keeps the activations from fading, so the output
    varies with its whole 13 x 13 neighbourhood (std about 0.17 on the test bracket).
    """
    torch.manual_seed(1)
    layers: list[torch.nn.Module] = []
    cin = 6
    for i in range(6):
        cout = 3 if i == 5 else 16
        conv = torch.nn.Conv2d(cin, cout, 3, padding=1)
        torch.nn.init.normal_(conv.weight, std=2.5 / np.sqrt(9 * cin))
        torch.nn.init.zeros_(conv.bias)
        layers += [conv, torch.nn.Tanh()] if i < 5 else [conv, torch.nn.Sigmoid()]
        cin = cout
    return torch.nn.Sequential(*layers).eval()


def _tiled_vs_whole_psnr() -> float:
    """PSNR of tiled against whole-image inference of :func:`_wide_net`.

    The context margin (2 px) is smaller than the receptive field (6 px), so each
    tile's output is wrong near its own edge (zero padding instead of the neighbours'
    pixels); the feathered overlap (16 px) must fade those edges out.
    """
    net = _wide_net()
    under, _, over = (torch.from_numpy(f.transpose(2, 0, 1))[None] for f in make_bracket(96, 144))
    x = torch.cat([under, over], 1)
    with torch.no_grad():
        whole = net(x)
        tiled = tiled_apply(net, [x], tile=48, tile_pad=2, overlap=16)
    assert tiled.shape == whole.shape
    return 10 * float(np.log10(1.0 / torch.mean((whole - tiled) ** 2).item()))


def test_feathered_tiles_stay_close_to_a_whole_pass():
    # Property, measured: 45.5 dB with the linear feather. Without feathering (equal
    # weights over the overlap) the same tiles give 29.2 dB, ramps that rise the wrong
    # way 23.7 dB (next test), so 42 dB is a bound a broken blend fails.
    assert _tiled_vs_whole_psnr() > 42.0


@pytest.mark.parametrize("broken", ["flat", "reversed"])
def test_the_bound_above_fails_when_the_feathering_is_broken(broken, monkeypatch):
    # Mutation check of the test above: replace the feather ramps by equal weights or
    # by ramps that put the most weight on a tile's edge, and the bound must fail.
    import mefkit.nn.tiling as tiling

    good = tiling._ramp
    if broken == "flat":
        monkeypatch.setattr(tiling, "_ramp", lambda n, a, b: torch.ones(n))
    else:
        monkeypatch.setattr(tiling, "_ramp", lambda n, a, b: 1.001 - good(n, a, b))
    assert _tiled_vs_whole_psnr() < 42.0


def test_tiled_apply_rejects_bad_arguments():
    x = torch.zeros(1, 3, 64, 64)
    with pytest.raises(ValueError, match="tile"):
        tiled_apply(lambda t: t, [x], tile=8)
    with pytest.raises(ValueError, match="overlap"):
        tiled_apply(lambda t: t, [x], tile=32, overlap=32)
    with pytest.raises(ValueError, match="share"):
        tiled_apply(lambda a, b: a, [x, torch.zeros(1, 3, 32, 64)], tile=32)


@pytest.mark.parametrize("subsample", [1, 2])
def test_guided_upsampling_reproduces_an_affine_function_of_the_frames(subsample):
    # Oracle: if the output is exactly A @ frames + b with constant A, b, the local fit
    # recovers A, b (up to the eps ridge) and the full-resolution result is that affine
    # map; also when the fit runs on a further shrunk copy (fast guided filter), since
    # area shrinking keeps a global affine relation.
    rng = np.random.default_rng(0)
    big = [rng.random((64, 96, 3), dtype=np.float32) for _ in range(2)]
    a = rng.normal(scale=0.3, size=(3, 6)).astype(np.float32)
    b = np.array([0.1, 0.2, 0.3], np.float32)
    affine = lambda fr: np.einsum("cg,hwg->hwc", a, np.concatenate(fr, -1)) + b  # noqa: E731
    import cv2

    small = [cv2.resize(f, (48, 32), interpolation=cv2.INTER_AREA) for f in big]
    coef = guided_coefficients(np.concatenate(small, -1), affine(small), radius=3, eps=1e-8, subsample=subsample)
    assert coef.shape[:2] == (32 // subsample, 48 // subsample)
    out = guided_upsample(coef, big, rows_per_strip=16)
    assert np.abs(out - affine(big)).max() < 1e-3


def test_working_size_keeps_aspect_and_budget():
    # Hand-computed: 4000x3000 (12 MP) at 1 MP -> 1155x866 (aspect 4:3, <= ~1 MP).
    assert working_size(3000, 4000, 1.0) == (866, 1155)
    assert working_size(300, 400, 1.0) == (300, 400)
    assert working_size(3000, 4000, None) == (3000, 4000)


def test_reduced_scale_pass_matches_full_resolution_pass_closely():
    # Property: for a local network, reduced-scale + guided upsampling stays close to
    # the full-resolution pass (the quality cost is bounded: PSNR > 30 dB here).
    net = _local_net().eval()
    frames = make_bracket(120, 160, n=2, seed=3)

    def fn(u, o):
        return torch.sigmoid(net(torch.cat([u, o], 1)))

    full = fuse_full_resolution(fn, frames, max_mp=None, tile=0)
    reduced = fuse_full_resolution(fn, frames, max_mp=0.005, tile=0)
    assert full.shape == reduced.shape == (120, 160, 3)
    assert 0.0 <= reduced.min() and reduced.max() <= 1.0
    mse = float(np.mean((full - reduced) ** 2))
    assert 10 * np.log10(1.0 / mse) > 30


def test_refine_runs_at_the_working_size_before_the_upsampling():
    # Property: ``refine`` sees the network's output and the frames at the working size,
    # and what it returns is what the guided upsampling carries to full resolution
    # (a constant output comes back as that constant).
    frames = make_bracket(120, 160, n=2, seed=4)
    seen = []

    def refine(out, small):
        seen.append((out.shape, [f.shape for f in small]))
        return np.full_like(out, 0.25)

    def fn(u, o):
        return (u + o) / 2

    got = fuse_full_resolution(fn, frames, max_mp=0.005, tile=0, refine=refine)
    (out_shape, small_shapes), = seen
    assert out_shape[2] == 3 and out_shape[:2] == small_shapes[0][:2] == small_shapes[1][:2]
    assert out_shape[0] * out_shape[1] < 120 * 160
    assert got.shape == (120, 160, 3) and np.allclose(got, 0.25, atol=1e-3)


def test_tile_alignment_needs_a_margin_on_the_stride_grid():
    # Hand-computed: stride 16 aligns with margins 0, 32, 48, not 31 or 40; stride 1 never.
    assert [tile_alignment(16, p) for p in (0, 32, 48, 31, 40)] == [16, 16, 16, 1, 1]
    assert tile_alignment(1, 32) == 1


def test_pad_to_multiple_pads_bottom_right_as_asked():
    # Hand-built: a 3x5 ramp padded to multiples of 4 keeps its pixels top-left, and the
    # pad repeats the edge or mirrors it; 2-D and 3-D arrays pad alike; reflection falls
    # back to edge replication when the pad is not smaller than the image.
    ramp = np.arange(15, dtype=np.float32).reshape(3, 5)
    (edge,) = pad_to_multiple([ramp], 4)
    assert edge.shape == (4, 8) and np.array_equal(edge[:3, :5], ramp)
    assert np.array_equal(edge[3], edge[2]) and np.array_equal(edge[:, 7], edge[:, 4])
    (refl,) = pad_to_multiple([ramp], 4, mode="reflect")
    assert np.array_equal(refl[3, :5], ramp[1]) and np.array_equal(refl[:3, 5], ramp[:, 3])
    rgb, gray = pad_to_multiple([np.zeros((3, 5, 3)), np.zeros((3, 5))], 4)
    assert rgb.shape == (4, 8, 3) and gray.shape == (4, 8)
    (tiny,) = pad_to_multiple([np.ones((2, 2))], 16, mode="reflect")
    assert tiny.shape == (16, 16) and np.all(tiny == 1)
    same = [np.zeros((8, 8))]
    assert pad_to_multiple(same, 4)[0] is same[0] and pad_to_multiple(same, 1)[0] is same[0]


def _guided_coefficients_per_pixel(guide, target, radius, eps):
    """Reference: He et al. 2013 eq. 8, one ``numpy.linalg.solve`` per pixel system."""
    import cv2

    box = lambda im: cv2.boxFilter(im, -1, (2 * radius + 1,) * 2, borderType=cv2.BORDER_REFLECT)  # noqa: E731
    g, t = guide.astype(np.float64), target.astype(np.float64)
    gc, tc = g.shape[2], t.shape[2]
    mg = np.stack([box(g[..., i]) for i in range(gc)], -1)
    mt = np.stack([box(t[..., c]) for c in range(tc)], -1)
    cov = np.stack([np.stack([box(g[..., i] * g[..., j]) - mg[..., i] * mg[..., j] for j in range(gc)], -1)
                    for i in range(gc)], -2) + eps * np.eye(gc)
    cross = np.stack([np.stack([box(g[..., i] * t[..., c]) - mg[..., i] * mt[..., c] for c in range(tc)], -1)
                      for i in range(gc)], -2)
    a = np.linalg.solve(cov, cross)  # (h, w, G, C)
    b = mt - np.einsum("hwgc,hwg->hwc", a, mg)
    coef = np.concatenate([np.transpose(a, (0, 1, 3, 2)), b[..., None]], -1)
    flat = coef.reshape(*coef.shape[:2], -1)
    return np.stack([box(flat[..., k]) for k in range(flat.shape[-1])], -1).reshape(coef.shape)


@pytest.mark.parametrize("gc,tc", [(6, 3), (3, 1), (1, 1)])
def test_guided_coefficients_equal_the_per_pixel_solution(rng, gc, tc):
    # Oracle: the textbook per-pixel solve in float64; the planar Cholesky over whole
    # images must agree to float32 rounding.
    guide = rng.random((40, 52, gc)).astype(np.float32)
    target = np.clip(guide[..., :tc] * 0.7 + 0.1 * rng.random((40, 52, tc)), 0, 1).astype(np.float32)
    got = guided_coefficients(guide, target, radius=3, eps=1e-3)
    want = _guided_coefficients_per_pixel(guide, target, 3, 1e-3)
    assert got.shape == want.shape == (40, 52, tc, gc + 1)
    assert np.abs(got - want).max() < 2e-3 * max(1.0, np.abs(want).max())


def test_planar_spd_solve_matches_numpy(rng):
    from mefkit.nn.tiling import solve_spd_planar

    m = rng.random((500, 6, 6))
    cov = (m @ np.transpose(m, (0, 2, 1)) + 0.1 * np.eye(6)).astype(np.float32)
    rhs = rng.random((500, 6, 3)).astype(np.float32)
    got = solve_spd_planar(np.ascontiguousarray(cov.transpose(1, 2, 0)), np.ascontiguousarray(rhs.transpose(1, 2, 0)))
    want = np.linalg.solve(cov.astype(np.float64), rhs.astype(np.float64)).transpose(1, 2, 0)
    assert np.allclose(got, want, rtol=1e-3, atol=1e-3)


def test_full_resolution_names_a_too_small_tile():
    # A tile with no room for the two feathered overlaps is refused in the user's terms
    # (tile), not in tiled_apply's internal ones (overlap, alignment).
    from mefkit.nn.tiling import fuse_full_resolution

    frames = [np.full((40, 48, 3), v, np.float32) for v in (0.2, 0.8)]
    with pytest.raises(ValueError, match=r"tile must be 0 \(one pass\) or at least 80, got 32"):
        fuse_full_resolution(lambda a, b: (a + b) / 2, frames, tile=32, overlap=32, multiple=16)
    out = fuse_full_resolution(lambda a, b: (a + b) / 2, frames, tile=80, overlap=32, multiple=16)
    np.testing.assert_allclose(out, 0.5, atol=1e-6)


def test_guide_subsample_only_for_large_working_sizes():
    """The guided fit is shrunk only where it is costly: CBM's 512 px working size keeps a full fit."""
    from mefkit.nn.tiling import GUIDE_SUBSAMPLE, guide_subsample

    assert guide_subsample(341, 512) == 1
    assert guide_subsample(400, 600) == 1
    assert guide_subsample(866, 1155) == GUIDE_SUBSAMPLE  # progressive's 1 MP working size
    assert guide_subsample(612, 816) == GUIDE_SUBSAMPLE  # 3 frames at 12 MP: 0.5 MP per pair
