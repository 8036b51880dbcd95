"""The CBM U-Net: fuses the lightness of an under- and an over-exposed frame.

Reconstruction of the network in Son, Go, Lee, Lee, "Variance-driven U-Net weighted
training and chroma-scale-based multi-exposure image fusion", Mathematics 2025,
13(22) 3629: a classic U-Net (Ronneberger et al. 2015) with two input
channels (the CIE-Lab lightness ``L/100`` of the two exposures) and one output
channel (the fused ``L/100``, sigmoid). Each stage is two 3x3 convolutions with
BatchNorm and ReLU, downsampling by 2x2 max-pooling, upsampling by 2x2 transposed
convolution, skips by concatenation.

The paper's widths are not public; the classic U-Net uses 64..1024 (about 31 M
parameters). ``base`` and ``depth`` are constructor parameters so that size stays
available; the shipped weights use a narrow net that trains on a CPU (see the model
card, ``mefkit/methods/cbm/MODEL_CARD.md``).

Input height and width need not be multiples of ``2**depth``: the input is padded by
reflection and the output cropped back.
"""

from __future__ import annotations

import torch
import torch.nn.functional as F
from torch import nn

#: Widths of the classic U-Net (Ronneberger et al. 2015): 64 at the top, doubling per level.
CLASSIC_BASE, CLASSIC_DEPTH = 64, 4


class DoubleConv(nn.Sequential):
    """``(conv3x3 -> BN -> ReLU) x 2``, keeping the spatial size."""

    def __init__(self, cin: int, cout: int) -> None:
        super().__init__(
            nn.Conv2d(cin, cout, 3, padding=1, bias=False),
            nn.BatchNorm2d(cout),
            nn.ReLU(inplace=True),
            nn.Conv2d(cout, cout, 3, padding=1, bias=False),
            nn.BatchNorm2d(cout),
            nn.ReLU(inplace=True),
        )


class CBMUNet(nn.Module):
    """U-Net mapping two lightness maps to the fused lightness.

    Parameters
    ----------
    base : int
        Channels of the first stage; stage ``k`` has ``base * 2**k`` (classic: 64).
    depth : int
        Number of 2x downsamplings (classic: 4); the bottleneck has ``base * 2**depth``.
    in_channels : int
        Input channels (2: under and over lightness).

    Shapes
    ------
    input ``(B, in_channels, H, W)`` in [0, 1] -> output ``(B, 1, H, W)`` in (0, 1).
    """

    def __init__(self, base: int = 16, depth: int = 4, in_channels: int = 2) -> None:
        super().__init__()
        if base < 1 or depth < 1:
            raise ValueError(f"base and depth must be >= 1, got base={base}, depth={depth}")
        self.base, self.depth, self.in_channels = base, depth, in_channels
        widths = [base * 2**k for k in range(depth + 1)]
        self.encoders = nn.ModuleList()
        cin = in_channels
        for w in widths[:-1]:
            self.encoders.append(DoubleConv(cin, w))
            cin = w
        self.bottleneck = DoubleConv(widths[-2], widths[-1])
        self.ups = nn.ModuleList()
        self.decoders = nn.ModuleList()
        for k in range(depth - 1, -1, -1):
            self.ups.append(nn.ConvTranspose2d(widths[k + 1], widths[k], 2, stride=2))
            self.decoders.append(DoubleConv(2 * widths[k], widths[k]))
        self.head = nn.Conv2d(widths[0], 1, 1)

    def config(self) -> dict[str, int]:
        """Constructor arguments, stored beside the weights."""
        return {"base": self.base, "depth": self.depth, "in_channels": self.in_channels}

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        """Fuse ``x`` ``(B, C, H, W)`` in [0, 1] into ``(B, 1, H, W)`` in (0, 1)."""
        if x.ndim != 4 or x.shape[1] != self.in_channels:
            raise ValueError(f"expected (B, {self.in_channels}, H, W), got {tuple(x.shape)}")
        h, w = x.shape[-2:]
        mult = 2**self.depth
        ph, pw = (-h) % mult, (-w) % mult
        if ph or pw:
            # reflect needs pad < size; replicate covers tiny inputs (e.g. 5x5 with depth 4)
            mode = "reflect" if ph < h and pw < w else "replicate"
            x = F.pad(x, (0, pw, 0, ph), mode=mode)
        skips = []
        for enc in self.encoders:
            x = enc(x)
            skips.append(x)
            x = F.max_pool2d(x, 2)
        x = self.bottleneck(x)
        for up, dec, skip in zip(self.ups, self.decoders, reversed(skips)):
            x = dec(torch.cat([up(x), skip], dim=1))
        return torch.sigmoid(self.head(x))[..., :h, :w]


def save_cbm_unet(model: CBMUNet, path, metadata: dict[str, str] | None = None) -> None:
    """Write ``model``'s weights as safetensors, its constructor config in the metadata.

    Parameters
    ----------
    model : CBMUNet
    path : str or Path
        Output ``.safetensors`` file (written atomically).
    metadata : dict of str to str, optional
        Extra provenance (teacher, steps, data), stored beside ``"config"``.
    """
    import json

    from ...nn.weights import save_weights

    meta = {"format": "pt", "arch": "CBMUNet", "config": json.dumps(model.config())}
    meta.update({k: str(v) for k, v in (metadata or {}).items()})
    save_weights(path, model, meta)


def load_cbm_unet(path, device: str | torch.device = "cpu") -> CBMUNet:
    """Build a :class:`CBMUNet` from a safetensors file written by :func:`save_cbm_unet`.

    Returns the model in eval mode on ``device`` (cached:
    :func:`mefkit.nn.weights.load_model`). Weights stored as float16 are cast to float32.

    Raises
    ------
    ValueError
        The file is not CBM U-Net weights (no config, or keys that do not match).
    """
    from ...nn.weights import load_model

    return load_model(path, build_from_weights, str(device))


def build_from_weights(tensors: dict, meta: dict, path: str, device: str) -> CBMUNet:
    """The :data:`mefkit.nn.weights.Builder` of CBM U-Net files."""
    import json

    if meta.get("arch") != "CBMUNet" or "config" not in meta:
        raise ValueError(f"{path}: not CBM U-Net weights (metadata arch={meta.get('arch')!r})")
    model = CBMUNet(**json.loads(meta["config"]))
    try:
        model.load_state_dict(tensors)
    except RuntimeError as exc:
        raise ValueError(f"{path}: weights do not match the stored config: {exc}") from None
    return model.to(device).eval()
