"""CBM U-Net: shapes on odd sizes, output range, safetensors round trip."""

from __future__ import annotations

import pytest
import torch

from mefkit.methods.cbm.unet import CBMUNet, load_cbm_unet, save_cbm_unet


@pytest.mark.parametrize("hw", [(37, 53), (16, 16), (5, 7)])
def test_shapes_and_range_for_odd_sizes(hw):
    # Property: any H, W (padded to 2**depth internally, cropped back); sigmoid output.
    torch.manual_seed(0)
    net = CBMUNet(base=4, depth=3).eval()
    with torch.no_grad():
        y = net(torch.rand(2, 2, *hw))
    assert y.shape == (2, 1, *hw)
    assert float(y.min()) > 0 and float(y.max()) < 1


def test_rejects_wrong_channel_count():
    with pytest.raises(ValueError, match="expected"):
        CBMUNet(base=4, depth=2)(torch.rand(1, 3, 8, 8))


def test_save_load_round_trip(tmp_path):
    # Oracle: the reloaded model computes exactly what the saved one did.
    torch.manual_seed(1)
    net = CBMUNet(base=4, depth=2)
    net.train()
    net(torch.rand(4, 2, 16, 16))  # move BatchNorm running stats off their init
    net.eval()
    path = tmp_path / "w.safetensors"
    save_cbm_unet(net, path, {"teacher": "mertens"})
    again = load_cbm_unet(path)
    assert again.config() == net.config()
    x = torch.rand(1, 2, 21, 19)
    with torch.no_grad():
        torch.testing.assert_close(again(x), net(x), rtol=0, atol=0)


def test_load_rejects_foreign_file(tmp_path):
    from safetensors.torch import save_file

    path = tmp_path / "other.safetensors"
    save_file({"x": torch.zeros(1)}, str(path))
    with pytest.raises(ValueError, match="not CBM"):
        load_cbm_unet(path)
