"""Networks of the two-phase progressive fusion (Huang, NTU thesis; seed 000).

Phase 1, :class:`IntermediateUNet` ``(I_u, I_o) -> I_inter``, makes an intermediate
exposure from the extreme pair (global information); phase 2, :class:`AMNet`
``(I_u, I_inter, I_o) -> I_final``, refines it with AHDRNet-style attention (local
information). Phase 2 is trained with phase 1 frozen (decoupled training).

All tensors are ``(B, 3, H, W)`` float in [0, 1]; outputs are sigmoid outputs in
(0, 1). Both networks take any ``H, W``: the UNet pads to a multiple of 16 and crops
back, AMNet is fully convolutional at one scale.

The layer layout follows the thesis and its slides (Y.-F. Huang, M.S. thesis, National
Taiwan University); the thesis's code was not copied. Widths are constructor parameters: :func:`thesis_unet`
and :func:`thesis_amnet` build the thesis sizes, :data:`DEFAULT_UNET` and
:data:`DEFAULT_AMNET` the smaller ones mefkit ships (trained on a 2-core CPU).
"""

from __future__ import annotations

import json
from dataclasses import asdict, dataclass

import torch
import torch.nn.functional as F
from torch import nn

#: Total downsampling of the UNet: four stride-2 stages (thesis slides, "First Phase").
UNET_FACTOR = 16
#: Dilations of the dense residual blocks at the 1/16 bottleneck (thesis slides, "First Phase").
BOTTLENECK_DILATIONS = (1, 2, 5)
#: LeakyReLU slope of AHDRNet (Yan et al., CVPR 2019; PyTorch's default).
AHDR_LEAKY_SLOPE = 0.01
#: DRDB dilation of AHDRNet (Yan et al., CVPR 2019).
DRDB_DILATION = 2


#: Inputs are clamped to [LOGIT_CLAMP, 1 - LOGIT_CLAMP] before the logit of the
#: residual variants, so black or clipped pixels give a finite logit (about +-6.9).
LOGIT_CLAMP = 1e-3


def _logit(x: torch.Tensor) -> torch.Tensor:
    return torch.logit(x.clamp(LOGIT_CLAMP, 1.0 - LOGIT_CLAMP))


# --------------------------------------------------------------------------- phase 1


class ResBlock(nn.Module):
    """``x + conv(GELU(conv(x)))``, 3x3 convs, ``(B, C, H, W) -> (B, C, H, W)``."""

    def __init__(self, ch: int) -> None:
        super().__init__()
        self.conv1 = nn.Conv2d(ch, ch, 3, padding=1)
        self.conv2 = nn.Conv2d(ch, ch, 3, padding=1)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return x + self.conv2(F.gelu(self.conv1(x)))


class DenseResBlock(nn.Module):
    """Residual dense block with one dilation (RDN-style).

    ``layers`` 3x3 convs with dilation ``dilation``, each adding ``growth`` channels
    to the running concatenation, a 1x1 local fusion back to ``ch``, a residual add.
    """

    def __init__(self, ch: int, growth: int, layers: int, dilation: int, act: str = "gelu") -> None:
        super().__init__()
        self.convs = nn.ModuleList(
            nn.Conv2d(ch + i * growth, growth, 3, padding=dilation, dilation=dilation) for i in range(layers)
        )
        self.fuse = nn.Conv2d(ch + layers * growth, ch, 1)
        self.act = F.gelu if act == "gelu" else F.relu

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        feats = x
        for conv in self.convs:
            feats = torch.cat([feats, self.act(conv(feats))], dim=1)
        return x + self.fuse(feats)


class _Encoder(nn.Module):
    """One exposure's encoder: a stem, then four stride-2 stages; returns 5 scales."""

    def __init__(self, chans: tuple[int, ...], n_res: int) -> None:
        super().__init__()
        stages = [nn.Sequential(nn.Conv2d(3, chans[0], 3, padding=1), nn.GELU(), *[ResBlock(chans[0]) for _ in range(n_res)])]
        for cin, cout in zip(chans[:-1], chans[1:]):
            stages.append(
                nn.Sequential(
                    nn.Conv2d(cin, cout, 3, stride=2, padding=1),
                    nn.GELU(),
                    *[ResBlock(cout) for _ in range(n_res)],
                )
            )
        self.stages = nn.ModuleList(stages)

    def forward(self, x: torch.Tensor) -> list[torch.Tensor]:
        feats = []
        for stage in self.stages:
            x = stage(x)
            feats.append(x)
        return feats


@dataclass(frozen=True)
class UNetConfig:
    """Widths of :class:`IntermediateUNet`.

    Attributes
    ----------
    base : int
        Channels at full resolution; doubled at each stride-2 stage up to ``max_ch``.
    max_ch : int
        Channel cap (thesis: 32 -> 256).
    n_res : int
        Residual blocks per encoder stage.
    growth, dense_layers : int
        Growth and depth of each bottleneck dense residual block.
    dec_res : bool
        A residual block after each decoder fusion conv.
    residual : bool
        Predict a correction, in logit space, of the mean of the two inputs, with a
        zero-initialised head (so an untrained network returns that mean). Not in the
        thesis; it makes a short CPU training run start from a sensible image.
    """

    base: int = 32
    max_ch: int = 256
    n_res: int = 1
    growth: int = 64
    dense_layers: int = 4
    dec_res: bool = True
    residual: bool = False

    @property
    def chans(self) -> tuple[int, ...]:
        return tuple(min(self.base * 2**i, self.max_ch) for i in range(5))


class IntermediateUNet(nn.Module):
    """Phase 1: two-encoder UNet, ``(I_u, I_o) -> I_inter``.

    Two encoders (one per exposure; 3x3 convs, GELU, residual blocks, four stride-2
    downsamplings), merged at 1/16 by dense residual blocks with dilations 1, 2, 5,
    then a decoder of 4x4 stride-2 transposed convs with skips from both encoders and
    a sigmoid output.

    Parameters
    ----------
    config : UNetConfig, optional
        Widths (default ``UNetConfig()``: 32 -> 256 channels, 16.1 M params);
        :func:`thesis_unet` is closer to the thesis's 10.9 M.

    Notes
    -----
    Input ``(B, 3, H, W)`` pairs in [0, 1], any ``H, W >= 1``: padded (replicate) to a
    multiple of 16, cropped back. Output ``(B, 3, H, W)`` in (0, 1).
    """

    def __init__(self, config: UNetConfig | None = None) -> None:
        super().__init__()
        self.config = config or UNetConfig()
        c = self.config.chans
        self.enc_u = _Encoder(c, self.config.n_res)
        self.enc_o = _Encoder(c, self.config.n_res)
        self.merge = nn.Conv2d(2 * c[4], c[4], 1)
        self.bottleneck = nn.Sequential(
            *[DenseResBlock(c[4], self.config.growth, self.config.dense_layers, d) for d in BOTTLENECK_DILATIONS]
        )
        self.ups = nn.ModuleList()
        self.fuses = nn.ModuleList()
        for level in (3, 2, 1, 0):
            self.ups.append(nn.ConvTranspose2d(c[level + 1], c[level], 4, stride=2, padding=1))
            extra = [ResBlock(c[level])] if self.config.dec_res else []
            self.fuses.append(nn.Sequential(nn.Conv2d(3 * c[level], c[level], 3, padding=1), nn.GELU(), *extra))
        self.head = nn.Conv2d(c[0], 3, 3, padding=1)
        if self.config.residual:
            nn.init.zeros_(self.head.weight)
            nn.init.zeros_(self.head.bias)

    def forward(self, under: torch.Tensor, over: torch.Tensor) -> torch.Tensor:
        h, w = under.shape[-2:]
        base = 0.5 * (under + over) if self.config.residual else None
        ph, pw = (-h) % UNET_FACTOR, (-w) % UNET_FACTOR
        if ph or pw:
            # Replicate, not reflect: reflect needs pad < size and fails on tiny tiles.
            under = F.pad(under, (0, pw, 0, ph), mode="replicate")
            over = F.pad(over, (0, pw, 0, ph), mode="replicate")
        fu, fo = self.enc_u(under), self.enc_o(over)
        x = self.bottleneck(self.merge(torch.cat([fu[4], fo[4]], dim=1)))
        for i, level in enumerate((3, 2, 1, 0)):
            x = self.ups[i](x)
            x = self.fuses[i](torch.cat([x, fu[level], fo[level]], dim=1))
        x = self.head(x)[..., :h, :w]
        if base is not None:
            x = x + _logit(base)
        return torch.sigmoid(x)


# --------------------------------------------------------------------------- phase 2


class DRDB(nn.Module):
    """AHDRNet's dilated residual dense block (Yan et al., CVPR 2019): ReLU, dilation 2, 1x1 fusion."""

    def __init__(self, ch: int, growth: int, layers: int) -> None:
        super().__init__()
        self.block = DenseResBlock(ch, growth, layers, DRDB_DILATION, act="relu")

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.block(x)


@dataclass(frozen=True)
class AMNetConfig:
    """Widths of :class:`AMNet` (thesis/AHDRNet: 64 features, 3 DRDBs of 6 layers, growth 32).

    ``residual``: predict a logit-space correction of the intermediate image with a
    zero-initialised head, so an untrained phase 2 returns phase 1's output (not in
    the thesis; for short CPU training runs).
    """

    feats: int = 64
    growth: int = 32
    layers: int = 6
    blocks: int = 3
    residual: bool = False


class _Attention(nn.Module):
    """Gate ``F_side`` by ``sigmoid(conv(LReLU(conv([F_side, F_ref]))))`` (Yan et al., CVPR 2019)."""

    def __init__(self, ch: int) -> None:
        super().__init__()
        self.conv1 = nn.Conv2d(2 * ch, 2 * ch, 3, padding=1)
        self.conv2 = nn.Conv2d(2 * ch, ch, 3, padding=1)

    def forward(self, side: torch.Tensor, ref: torch.Tensor) -> torch.Tensor:
        z = F.leaky_relu(self.conv1(torch.cat([side, ref], dim=1)), AHDR_LEAKY_SLOPE)
        return side * torch.sigmoid(self.conv2(z))


class AMNet(nn.Module):
    """Phase 2: attention refinement, ``(I_u, I_inter, I_o) -> I_final``.

    AHDRNet with the intermediate exposure as the reference frame: a shared shallow
    encoder, the under- and over-exposed features each gated by a sigmoid attention
    map computed against the intermediate's features, DRDBs, global feature fusion,
    a residual add of the intermediate's features, sigmoid output.

    Parameters
    ----------
    config : AMNetConfig, optional
        Widths; the default is the thesis/AHDRNet size (about 1.5 M params).

    Notes
    -----
    Inputs ``(B, 3, H, W)`` in [0, 1], any ``H, W``; output ``(B, 3, H, W)`` in (0, 1).
    Unlike AHDRNet the inputs are plain LDR images (3 channels, no HDR-domain copy):
    fusion here has no exposure times.
    """

    def __init__(self, config: AMNetConfig | None = None) -> None:
        super().__init__()
        self.config = config or AMNetConfig()
        f, g, n, b = self.config.feats, self.config.growth, self.config.layers, self.config.blocks
        self.encoder = nn.Conv2d(3, f, 3, padding=1)
        self.att_u = _Attention(f)
        self.att_o = _Attention(f)
        self.fuse = nn.Conv2d(3 * f, f, 3, padding=1)
        self.blocks = nn.ModuleList(DRDB(f, g, n) for _ in range(b))
        self.gff_1x1 = nn.Conv2d(b * f, f, 1)
        self.gff_3x3 = nn.Conv2d(f, f, 3, padding=1)
        self.conv_up = nn.Conv2d(f, f, 3, padding=1)
        self.head = nn.Conv2d(f, 3, 3, padding=1)
        if self.config.residual:
            nn.init.zeros_(self.head.weight)
            nn.init.zeros_(self.head.bias)

    def forward(self, under: torch.Tensor, inter: torch.Tensor, over: torch.Tensor) -> torch.Tensor:
        enc = lambda x: F.leaky_relu(self.encoder(x), AHDR_LEAKY_SLOPE)  # noqa: E731 - shared weights
        fu, fi, fo = enc(under), enc(inter), enc(over)
        x = self.fuse(torch.cat([self.att_u(fu, fi), fi, self.att_o(fo, fi)], dim=1))
        outs = []
        for block in self.blocks:
            x = block(x)
            outs.append(x)
        x = self.gff_3x3(self.gff_1x1(torch.cat(outs, dim=1))) + fi
        x = self.head(self.conv_up(x))
        if self.config.residual:
            x = x + _logit(inter)
        return torch.sigmoid(x)


# --------------------------------------------------------------------------- both phases


class ProgressiveFusion(nn.Module):
    """Both phases: ``(I_u, I_o) -> I_final`` (``phase=2``) or ``I_inter`` (``phase=1``).

    Parameters
    ----------
    unet : IntermediateUNet
    amnet : AMNet, optional
        Needed for ``phase=2``.
    """

    def __init__(self, unet: IntermediateUNet, amnet: AMNet | None = None) -> None:
        super().__init__()
        self.unet = unet
        self.amnet = amnet

    def forward(self, under: torch.Tensor, over: torch.Tensor, phase: int = 2) -> torch.Tensor:
        inter = self.unet(under, over)
        if phase == 1:
            return inter
        if self.amnet is None:
            raise ValueError("phase 2 needs an AMNet (these weights hold phase 1 only)")
        return self.amnet(under, inter, over)


#: Shipped phase-1 size: base width 16, one residual block per stage, lean bottleneck.
DEFAULT_UNET = UNetConfig(base=16, max_ch=128, n_res=1, growth=32, dense_layers=2, residual=True)
#: Shipped phase-2 size: 16 features, 3 DRDBs of 4 layers, growth 8 (fast at 1 MP on a CPU).
DEFAULT_AMNET = AMNetConfig(feats=16, growth=8, layers=4, blocks=3, residual=True)


#: Phase 1 near the thesis's size: 32 -> 256 channels, 12.7 M params. The thesis
#: reports 10.9 M; its exact block counts are not public, so this is an estimate.
THESIS_UNET = UNetConfig(base=32, max_ch=256, n_res=1, growth=32, dense_layers=3, dec_res=False)
#: Phase 2 at the thesis/AHDRNet size (1.44 M params; thesis: about 1.5 M).
THESIS_AMNET = AMNetConfig(feats=64, growth=32, layers=6, blocks=3)


def thesis_unet() -> IntermediateUNet:
    """Phase 1 near the thesis's size (:data:`THESIS_UNET`)."""
    return IntermediateUNet(THESIS_UNET)


def thesis_amnet() -> AMNet:
    """Phase 2 at the thesis's width (64 features, 3 DRDBs x 6 layers, growth 32)."""
    return AMNet(THESIS_AMNET)


def count_params(model: nn.Module) -> int:
    """Number of parameters of ``model``."""
    return sum(p.numel() for p in model.parameters())


def config_dict(model: nn.Module) -> dict:
    """The constructor config of an :class:`IntermediateUNet` or :class:`AMNet` as a dict."""
    return asdict(model.config)


def build_from_weights(tensors: dict, meta: dict, path: str, device: str) -> ProgressiveFusion:
    """The :data:`mefkit.nn.weights.Builder` of progressive weights files.

    Checks the ``format`` tag, builds phase 1 (and phase 2 when the file holds it) from
    the stored configs and returns the model frozen, in eval mode, on ``device``.
    """
    from ...nn.weights import split_prefixed
    from . import WEIGHTS_FORMAT

    if meta.get("format") != WEIGHTS_FORMAT:
        raise ValueError(f"{path}: not progressive-fusion weights (format {meta.get('format')!r})")
    unet = IntermediateUNet(UNetConfig(**json.loads(meta["unet_config"])))
    unet.load_state_dict(split_prefixed(tensors, "unet"))
    amnet = None
    if "amnet_config" in meta:
        amnet = AMNet(AMNetConfig(**json.loads(meta["amnet_config"])))
        amnet.load_state_dict(split_prefixed(tensors, "amnet"))
    # channels_last: oneDNN's convolutions run these many thin layers about 1.4-1.5x
    # faster on the CPU in NHWC than in NCHW (measured, docs/bench/progressive.md).
    model = ProgressiveFusion(unet, amnet).to(device).to(memory_format=torch.channels_last).eval()
    for p in model.parameters():
        p.requires_grad_(False)
    return model
