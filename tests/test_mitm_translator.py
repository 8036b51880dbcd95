"""MITM translator networks (mefkit.methods.mitm.translator)."""

from __future__ import annotations

import pytest
import torch

from mefkit.methods.mitm.translator import (
    DiscriminatorConfig,
    PatchDiscriminator,
    Translator,
    TranslatorConfig,
    load_translators,
    save_translators,
)

SMALL = TranslatorConfig(width=8, n_down=2, n_blocks=1, norm="none", residual=True)


@pytest.mark.parametrize("config", [SMALL, TranslatorConfig(width=8, n_down=3, n_blocks=1)], ids=["small-residual", "instance-norm"])
@pytest.mark.parametrize("size", [(37, 53), (1, 1), (64, 31)])
def test_odd_sizes_keep_shape_and_range(config, size):
    # Oracle: property. The output has the input's size for any H, W (padded to a
    # multiple of 2**n_down and cropped back) and lies in [0, 1] (tanh image / clamp).
    torch.manual_seed(0)
    net = Translator(config).eval()
    rgb = torch.rand(2, 3, *size)
    smap = torch.rand(2, 1, *size)
    with torch.no_grad():
        out = net(rgb, smap)
    assert out.shape == (2, 3, *size)
    assert out.min() >= 0 and out.max() <= 1


def test_paper_size_generator_parameter_count():
    # Oracle: hand computation for CycleGAN's ResNet-9 with a 4-channel input:
    # 7x7 4->64, 3x3 64->128, 3x3 128->256, 18 x 3x3 256->256, two transposed 3x3, 7x7 64->3,
    # plus biases and 2 x InstanceNorm-free affine (InstanceNorm2d has none by default).
    convs = [(4, 64, 7), (64, 128, 3), (128, 256, 3)] + [(256, 256, 3)] * 18 + [(256, 128, 3), (128, 64, 3), (64, 3, 7)]
    expected = sum(i * o * k * k + o for i, o, k in convs)
    assert sum(p.numel() for p in Translator().parameters()) == expected


def test_residual_translator_starts_near_identity_when_head_is_zero():
    # Oracle: hand-computed case. With the last conv zeroed, tanh(0) = 0, so the residual
    # generator returns its input exactly.
    net = Translator(SMALL)
    last = net.net[-1]
    torch.nn.init.zeros_(last.weight)
    torch.nn.init.zeros_(last.bias)
    rgb = torch.rand(1, 3, 20, 21)
    assert torch.equal(net(rgb, torch.rand(1, 1, 20, 21)), rgb)


def test_bad_inputs_are_named():
    net = Translator(SMALL)
    with pytest.raises(ValueError, match="rgb"):
        net(torch.rand(1, 4, 8, 8), torch.rand(1, 1, 8, 8))
    with pytest.raises(ValueError, match="smap"):
        net(torch.rand(1, 3, 8, 8), torch.rand(1, 1, 8, 9))
    with pytest.raises(ValueError, match="norm"):
        TranslatorConfig(norm="batch")


def test_patch_discriminator_receptive_grid():
    # Oracle: CycleGAN's 70x70 PatchGAN maps a 256x256 input to a 30x30 score grid.
    d = PatchDiscriminator(DiscriminatorConfig(width=8))
    assert d(torch.rand(1, 3, 256, 256)).shape == (1, 1, 30, 30)


def test_save_load_round_trip(tmp_path):
    # Oracle: property. Saved and reloaded generators give bit-identical outputs, and the
    # architecture comes back from the file's metadata.
    torch.manual_seed(1)
    lh, hl = Translator(SMALL), Translator(SMALL)
    path = tmp_path / "t.safetensors"
    save_translators(path, lh, hl, {"steps": "3"})
    lh2, hl2, meta = load_translators(path)
    assert lh2.config == SMALL and meta["steps"] == "3"
    rgb, smap = torch.rand(1, 3, 17, 19), torch.rand(1, 1, 17, 19)
    with torch.no_grad():
        assert torch.equal(lh.eval()(rgb, smap), lh2(rgb, smap))
        assert torch.equal(hl.eval()(rgb, smap), hl2(rgb, smap))


def test_tiled_translation_matches_whole_image():
    # Oracle: reference implementation, the untiled pass. The shipped-style generator has
    # no normalisation, the context (tile_pad) covers its receptive field, and the tiles
    # sit on its stride-4 grid (the image is edge-padded to a multiple of 4 first, as
    # the generator pads itself), so tiles compute the whole pass up to float rounding,
    # also for a size that is not a multiple of 4.
    import numpy as np

    from mefkit.methods.mitm.stages.translate import apply_translator

    torch.manual_seed(3)
    net = Translator(TranslatorConfig(width=8, n_down=2, n_blocks=2, norm="none", residual=True)).eval()
    image = np.random.default_rng(0).random((90, 130, 3)).astype(np.float32)
    whole = apply_translator(net, image, tile=0)
    tiled = apply_translator(net, image, tile=40, tile_pad=40, overlap=8)
    assert tiled.shape == whole.shape == image.shape
    assert np.abs(whole - tiled).max() < 1e-5
