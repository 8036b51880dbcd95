"""VGG19 feature extractor: torchvision layout, loader checks, missing-weights error."""

from __future__ import annotations

import pytest
import torch

from mefkit.errors import MefkitError
from mefkit.nn.vgg import LAYER_INDEX, VGG19Features, load_vgg19_features
from mefkit.train.losses import FusionLoss, MissingVGGWeights

#: Oracle: indices of the Conv2d modules in torchvision's ``vgg19().features``
#: (torchvision/models/vgg.py, cfg "E": 64,64,M,128,128,M,256x4,M,512x4,M,512x4,M).
TORCHVISION_CONV_INDICES = [0, 2, 5, 7, 10, 12, 14, 16, 19, 21, 23, 25, 28, 30, 32, 34]
TORCHVISION_CONV_WIDTHS = [64, 64, 128, 128, 256, 256, 256, 256, 512, 512, 512, 512, 512, 512, 512, 512]


def _torchvision_like_state(seed: int = 0, upto: int = 10) -> dict[str, torch.Tensor]:
    """Random tensors with torchvision's vgg19 key names and shapes, for the convs with index
    <= ``upto`` (blocks 1-2 and the first conv of block 3 by default: the loader needs only
    the layers up to the deepest requested one, and the full 140 M file would be slow here),
    plus a classifier key the loader must ignore."""
    g = torch.Generator().manual_seed(seed)
    state, in_ch = {}, 3
    for idx, out_ch in zip(TORCHVISION_CONV_INDICES, TORCHVISION_CONV_WIDTHS):
        if idx > upto:
            break
        state[f"features.{idx}.weight"] = torch.randn(out_ch, in_ch, 3, 3, generator=g) * 0.05
        state[f"features.{idx}.bias"] = torch.randn(out_ch, generator=g) * 0.01
        in_ch = out_ch
    state["classifier.0.weight"] = torch.zeros(8, 8)  # ignored by the loader
    return state


def test_layer_indices_match_torchvision():
    # Oracle: torchvision numbering: relu after conv i is i + 1, and the known names.
    convs = sorted(v for k, v in LAYER_INDEX.items() if k.startswith("conv"))
    assert convs == TORCHVISION_CONV_INDICES
    assert LAYER_INDEX["relu1_2"] == 3 and LAYER_INDEX["relu2_2"] == 8
    assert LAYER_INDEX["relu3_4"] == 17 and LAYER_INDEX["relu4_4"] == 26 and LAYER_INDEX["relu5_4"] == 35


def test_feature_shapes():
    # Oracle: VGG19 widths 64/128/256/512 and one 2x2 pooling per block before each layer.
    model = VGG19Features(("relu1_2", "relu2_2", "relu3_4", "relu4_4"))
    feats = model(torch.rand(1, 3, 32, 16))
    assert [tuple(f.shape) for f in feats] == [(1, 64, 32, 16), (1, 128, 16, 8), (1, 256, 8, 4), (1, 512, 4, 2)]
    assert not any(p.requires_grad for p in model.parameters())


def test_loads_torchvision_format(tmp_path):
    # Oracle: the loaded conv weights are the file's tensors, and the output equals a hand-run
    # first conv + ReLU on the ImageNet-normalised input.
    state = _torchvision_like_state()
    path = tmp_path / "vgg19.pth"
    torch.save(state, path)
    model = load_vgg19_features(path, ("relu1_1",))
    assert len(model.features) == 2  # built only up to the deepest requested layer
    assert torch.equal(model.features[0].weight, state["features.0.weight"])
    x = torch.rand(1, 3, 16, 16)
    mean = torch.tensor([0.485, 0.456, 0.406]).view(1, 3, 1, 1)
    std = torch.tensor([0.229, 0.224, 0.225]).view(1, 3, 1, 1)
    ref = torch.relu(torch.nn.functional.conv2d((x - mean) / std, state["features.0.weight"], state["features.0.bias"], padding=1))
    assert torch.allclose(model(x)[0], ref, atol=1e-6)


def test_loader_rejects_wrong_shape_and_missing_keys(tmp_path):
    state = _torchvision_like_state()
    state["features.2.weight"] = torch.zeros(32, 64, 3, 3)
    bad = tmp_path / "bad.pth"
    torch.save(state, bad)
    with pytest.raises(MefkitError, match=r"features\.2\.weight"):
        load_vgg19_features(bad, ("relu2_2",))
    partial = tmp_path / "partial.pth"
    torch.save({"features.0.weight": torch.zeros(64, 3, 3, 3)}, partial)
    with pytest.raises(MefkitError, match="not a torchvision-format VGG19"):
        load_vgg19_features(partial, ("relu2_2",))
    with pytest.raises(MefkitError, match="not found"):
        load_vgg19_features(tmp_path / "nope.pth")


def test_missing_weights_message():
    # Oracle: the wording: say how to provide the weights or set lambda_vgg 0.
    with pytest.raises(MissingVGGWeights) as err:
        FusionLoss(lambda_vgg=0.01, lambda_ssim=0.1, vgg_weights=None)
    assert "--vgg-weights PATH" in str(err.value) and "--lambda-vgg 0" in str(err.value)
    FusionLoss(lambda_vgg=0.0)  # no weights needed without the perceptual term


def test_perceptual_term_zero_for_identical(tmp_path):
    # Property: the perceptual distance of an image to itself is 0, and > 0 to another image.
    path = tmp_path / "vgg19.pth"
    torch.save(_torchvision_like_state(), path)
    loss = FusionLoss(lambda_vgg=1.0, lambda_ssim=0.0, vgg_weights=str(path), vgg_layers=("relu2_2",))
    x = torch.rand(2, 3, 32, 32)
    assert loss.per_sample(x, x)["vgg"].abs().max() == 0
    assert (loss.per_sample(x, x.flip(-1))["vgg"] > 0).all()
