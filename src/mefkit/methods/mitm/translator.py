"""MITM translators: CycleGAN ResNet generators with a switching-map input channel.

Reconstructed from the paper's description (Go, Lee, Lee, Mathematics 2024; the network
is an open choice, here CycleGAN's generator, Zhu, Park, Isola, Efros, ICCV 2017). A generator maps one exposure to
the other (under -> over, ``G_LH``, or over -> under, ``G_HL``); its input is the RGB image
plus that image's switching map (4 channels), its output an RGB image. The layer plan is
Zhu et al.'s ResNet generator ``c7s1-w, d2w, d4w, R4w x n, u2w, uw, c7s1-3``; the width,
the number of down-samplings and of residual blocks are configuration, so the paper-size
network (``TranslatorConfig()``, 11.4 M parameters) and the small CPU network shipped with
mefkit (see ``MODEL_CARD.md`` beside this module) are the same class.

Two further options, both off in the paper-size default:

* ``norm="none"``: instance normalisation makes the output depend on the statistics of the
  whole input, so a tiled full-resolution pass would differ from tile to tile; the shipped
  model has no normalisation so tiles agree.
* ``residual=True``: the network predicts a change added to the input instead of a new
  image (``clamp(x + tanh(h), 0, 1)``); a small network learns an exposure change this way
  in far fewer steps.

The 70x70 PatchGAN discriminator (``C64-C128-C256-C512``) is here too, for training.
"""

from __future__ import annotations

import dataclasses
import json
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import torch
from torch import nn
import torch.nn.functional as F

#: Generator input: RGB + the switching map (the paper's extra channel).
IN_CHANNELS = 4


@dataclass(frozen=True)
class TranslatorConfig:
    """Generator hyper-parameters; the defaults are CycleGAN's ResNet-9.

    Attributes
    ----------
    width : int
        Channels of the first 7x7 convolution (CycleGAN: 64).
    n_down : int
        Stride-2 down-samplings, mirrored by transposed convolutions (CycleGAN: 2).
    n_blocks : int
        Residual blocks at the bottleneck (CycleGAN: 9).
    norm : {"instance", "none"}
        Normalisation after each convolution (CycleGAN: instance).
    residual : bool
        Predict ``x + tanh(h)`` instead of the image ``(tanh(h) + 1) / 2``.
    """

    width: int = 64
    n_down: int = 2
    n_blocks: int = 9
    norm: str = "instance"
    residual: bool = False

    def __post_init__(self) -> None:
        if self.width < 1 or self.n_down < 0 or self.n_blocks < 0:
            raise ValueError(f"invalid translator size: {self}")
        if self.norm not in ("instance", "none"):
            raise ValueError(f"norm must be 'instance' or 'none', got {self.norm!r}")

    def to_dict(self) -> dict[str, Any]:
        return dataclasses.asdict(self)

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> "TranslatorConfig":
        names = {f.name for f in dataclasses.fields(cls)}
        return cls(**{k: v for k, v in data.items() if k in names})


def _norm(kind: str, channels: int) -> nn.Module:
    return nn.InstanceNorm2d(channels) if kind == "instance" else nn.Identity()


class _ResidualBlock(nn.Module):
    def __init__(self, channels: int, norm: str) -> None:
        super().__init__()
        self.body = nn.Sequential(
            nn.ReflectionPad2d(1),
            nn.Conv2d(channels, channels, 3),
            _norm(norm, channels),
            nn.ReLU(inplace=True),
            nn.ReflectionPad2d(1),
            nn.Conv2d(channels, channels, 3),
            _norm(norm, channels),
        )

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return x + self.body(x)


class Translator(nn.Module):
    """One direction of MITM's mutual translation.

    Parameters
    ----------
    config : TranslatorConfig
        Network size and options.

    Notes
    -----
    ``forward(rgb, smap)`` takes ``(B, 3, H, W)`` RGB and ``(B, 1, H, W)`` switching map,
    both in [0, 1], any H and W (edge-padded to a multiple of ``2**n_down``, at least
    ``2**(n_down+1)``, and cropped back), and returns ``(B, 3, H, W)`` RGB in [0, 1].
    """

    def __init__(self, config: TranslatorConfig | None = None) -> None:
        super().__init__()
        self.config = config = config or TranslatorConfig()
        w, norm = config.width, config.norm
        layers: list[nn.Module] = [
            nn.ReflectionPad2d(3),
            nn.Conv2d(IN_CHANNELS, w, 7),
            _norm(norm, w),
            nn.ReLU(inplace=True),
        ]
        ch = w
        for _ in range(config.n_down):
            layers += [nn.Conv2d(ch, ch * 2, 3, stride=2, padding=1), _norm(norm, ch * 2), nn.ReLU(inplace=True)]
            ch *= 2
        layers += [_ResidualBlock(ch, norm) for _ in range(config.n_blocks)]
        for _ in range(config.n_down):
            layers += [
                nn.ConvTranspose2d(ch, ch // 2, 3, stride=2, padding=1, output_padding=1),
                _norm(norm, ch // 2),
                nn.ReLU(inplace=True),
            ]
            ch //= 2
        layers += [nn.ReflectionPad2d(3), nn.Conv2d(ch, 3, 7)]
        self.net = nn.Sequential(*layers)

    def forward(self, rgb: torch.Tensor, smap: torch.Tensor) -> torch.Tensor:
        if rgb.ndim != 4 or rgb.shape[1] != 3:
            raise ValueError(f"rgb must be (B, 3, H, W), got {tuple(rgb.shape)}")
        if smap.shape != (rgb.shape[0], 1, *rgb.shape[2:]):
            raise ValueError(f"smap must be (B, 1, H, W) matching rgb, got {tuple(smap.shape)}")
        h, w = rgb.shape[2:]
        m = 2 ** self.config.n_down
        # Round up to a multiple of 2**n_down, and to at least 2 bottleneck pixels a side:
        # reflection padding and instance norm need more than one pixel.
        pad_h = max(h + (-h) % m, 2 * m) - h
        pad_w = max(w + (-w) % m, 2 * m) - w
        x = torch.cat([rgb, smap], dim=1) * 2.0 - 1.0  # CycleGAN works in [-1, 1]
        if pad_h or pad_w:
            # Replicate, not reflect: reflection needs the pad smaller than the side.
            x = F.pad(x, (0, pad_w, 0, pad_h), mode="replicate")
        out = torch.tanh(self.net(x))[:, :, :h, :w]
        if self.config.residual:
            return (rgb + out).clamp(0.0, 1.0)
        return (out + 1.0) * 0.5


@dataclass(frozen=True)
class DiscriminatorConfig:
    """PatchGAN hyper-parameters; defaults are CycleGAN's 70x70 PatchGAN.

    Attributes
    ----------
    width : int
        Channels of the first layer (C64).
    n_layers : int
        Stride-2 layers after the first (3 gives C64-C128-C256 then C512 at stride 1).
    in_channels : int
        3 (RGB, the paper-size default) or 4 (RGB + switching map).
    """

    width: int = 64
    n_layers: int = 3
    in_channels: int = 3


class PatchDiscriminator(nn.Module):
    """PatchGAN: a map of real/fake scores, one per overlapping patch.

    ``forward(x)`` takes ``(B, C, H, W)`` in [0, 1] and returns ``(B, 1, H', W')`` logits
    (LSGAN targets: 1 real, 0 fake).
    """

    def __init__(self, config: DiscriminatorConfig | None = None) -> None:
        super().__init__()
        self.config = config = config or DiscriminatorConfig()
        w = config.width
        layers: list[nn.Module] = [nn.Conv2d(config.in_channels, w, 4, 2, 1), nn.LeakyReLU(0.2, inplace=True)]
        ch = w
        for i in range(1, config.n_layers + 1):
            nxt = w * min(2**i, 8)
            stride = 2 if i < config.n_layers else 1
            layers += [nn.Conv2d(ch, nxt, 4, stride, 1), nn.InstanceNorm2d(nxt), nn.LeakyReLU(0.2, inplace=True)]
            ch = nxt
        layers.append(nn.Conv2d(ch, 1, 4, 1, 1))
        self.net = nn.Sequential(*layers)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.net(x * 2.0 - 1.0)


#: Format tag written into the safetensors metadata of a translator pair.
WEIGHTS_FORMAT = "mefkit-mitm-translators-1"


def save_translators(
    path: str | Path,
    under_to_over: Translator,
    over_to_under: Translator,
    metadata: dict[str, str] | None = None,
) -> None:
    """Write both generators to one safetensors file (keys ``lh.*`` and ``hl.*``).

    The generator config is stored in the file's metadata (``config``, JSON), so
    :func:`load_translators` rebuilds the right architecture.
    """
    from ...nn.weights import save_weights

    if under_to_over.config != over_to_under.config:
        raise ValueError("both translators must share one config")
    meta = dict(metadata or {})
    meta["config"] = json.dumps(under_to_over.config.to_dict())
    meta.setdefault("format", WEIGHTS_FORMAT)
    save_weights(path, {"lh": under_to_over, "hl": over_to_under}, meta)


def load_translators(path: str | Path, device: str | torch.device = "cpu") -> tuple[Translator, Translator, dict[str, str]]:
    """Read the pair written by :func:`save_translators` (cached: :func:`mefkit.nn.weights.load_model`).

    Returns
    -------
    (Translator, Translator, dict)
        ``G_LH`` (under -> over), ``G_HL`` (over -> under), both in eval mode, and the
        file's metadata.
    """
    from ...nn.weights import load_model

    return load_model(path, build_from_weights, str(device))


def build_from_weights(tensors: dict, meta: dict, path: str, device: str) -> tuple[Translator, Translator, dict[str, str]]:
    """The :data:`mefkit.nn.weights.Builder` of translator-pair files."""
    from ...nn.weights import split_prefixed

    if "config" not in meta:
        raise ValueError(f"{path}: not a MITM translator file (no 'config' metadata)")
    config = TranslatorConfig.from_dict(json.loads(meta["config"]))
    nets = []
    for prefix in ("lh", "hl"):
        net = Translator(config)
        net.load_state_dict(split_prefixed(tensors, prefix))
        nets.append(net.to(device).eval())
    return nets[0], nets[1], meta
