"""VGG19 feature extractor for perceptual losses, without torchvision.

The layer layout is the one of torchvision's ``vgg19().features`` (Simonyan & Zisserman
2015, configuration E), so a torchvision-format state dict (keys ``features.N.weight``,
``features.N.bias``; e.g. the file ``vgg19-dcbb9e9d.pth``) loads into it unchanged. We
define it here because torchvision cannot be installed beside torch 2.13 in this
project, and because nothing may be downloaded at run time: the user gives the path.
"""

from __future__ import annotations

from pathlib import Path
from typing import Iterable

import torch
from torch import nn

from ..errors import MefkitError

#: VGG19 ("E") convolution widths per block (Simonyan & Zisserman 2015, Table 1).
VGG19_BLOCKS = ((64, 64), (128, 128), (256, 256, 256, 256), (512, 512, 512, 512), (512, 512, 512, 512))
#: ImageNet channel statistics the torchvision VGG weights were trained with.
IMAGENET_MEAN = (0.485, 0.456, 0.406)
IMAGENET_STD = (0.229, 0.224, 0.225)


def _layer_names() -> list[str]:
    """Names of the 37 modules of ``features`` in order (conv1_1, relu1_1, ..., pool5)."""
    names = []
    for b, block in enumerate(VGG19_BLOCKS, start=1):
        for c in range(1, len(block) + 1):
            names += [f"conv{b}_{c}", f"relu{b}_{c}"]
        names.append(f"pool{b}")
    return names


#: ``features`` index of every named layer, e.g. ``LAYER_INDEX["relu4_4"] == 26``.
LAYER_INDEX = {name: i for i, name in enumerate(_layer_names())}


class VGG19Features(nn.Module):
    """VGG19 ``features`` up to the deepest requested layer, returning their activations.

    Parameters
    ----------
    layers : iterable of str
        Activation names such as ``"relu1_2"``, ``"relu4_4"`` (see :data:`LAYER_INDEX`).
    normalize_input : bool
        Subtract the ImageNet mean and divide by its std first, so inputs are images in
        [0, 1] as elsewhere in mefkit.

    Notes
    -----
    Input ``(B, 3, H, W)`` float RGB in [0, 1]; output a list of tensors, one per
    requested layer in the order given. Weights start at zero: load them with
    :func:`load_vgg19_features` (or ``load_state_dict``). Parameters are frozen (``requires_grad``
    False) and the module stays in eval mode: it is a fixed loss network.
    """

    def __init__(self, layers: Iterable[str] = ("relu1_2", "relu2_2", "relu3_4", "relu4_4"), normalize_input: bool = True):
        super().__init__()
        self.layers = tuple(layers)
        unknown = [name for name in self.layers if name not in LAYER_INDEX]
        if not self.layers or unknown:
            raise ValueError(f"layers must be VGG19 layer names like 'relu3_4', got {list(self.layers)}")
        last = max(LAYER_INDEX[name] for name in self.layers)
        modules: list[nn.Module] = []
        in_ch = 3
        for block in VGG19_BLOCKS:
            for out_ch in block:
                # No random init (it costs seconds for 20 M weights): the weights are always
                # loaded from a file; until then they are zero.
                conv = nn.utils.skip_init(nn.Conv2d, in_ch, out_ch, 3, padding=1)
                with torch.no_grad():
                    conv.weight.zero_()
                    conv.bias.zero_()
                modules += [conv, nn.ReLU(inplace=False)]
                in_ch = out_ch
            modules.append(nn.MaxPool2d(2, 2))
        self.features = nn.Sequential(*modules[: last + 1])
        self.normalize_input = normalize_input
        self.register_buffer("mean", torch.tensor(IMAGENET_MEAN).view(1, 3, 1, 1), persistent=False)
        self.register_buffer("std", torch.tensor(IMAGENET_STD).view(1, 3, 1, 1), persistent=False)
        self._wanted = {LAYER_INDEX[name]: k for k, name in enumerate(self.layers)}
        self.requires_grad_(False)
        self.eval()

    def train(self, mode: bool = True) -> "VGG19Features":
        # A fixed loss network: never leave eval mode (it has no dropout/BN, but keep the contract).
        return super().train(False)

    def forward(self, x: torch.Tensor) -> list[torch.Tensor]:
        if x.ndim != 4 or x.shape[1] != 3:
            raise ValueError(f"x must be (B, 3, H, W), got {tuple(x.shape)}")
        if self.normalize_input:
            x = (x - self.mean.to(x.dtype)) / self.std.to(x.dtype)
        out: list[torch.Tensor | None] = [None] * len(self.layers)
        for i, module in enumerate(self.features):
            x = module(x)
            if i in self._wanted:
                out[self._wanted[i]] = x
        return out  # type: ignore[return-value]


def read_state_dict(path: str | Path) -> dict[str, torch.Tensor]:
    """Read a state dict from ``.safetensors`` or a torch pickle (``.pth``/``.pt``), safely.

    Torch pickles are read with ``weights_only=True`` (no code execution). A checkpoint
    that wraps the weights in ``{"state_dict": ...}`` is unwrapped.
    """
    path = Path(path)
    if not path.is_file():
        raise MefkitError(f"{path}: weights file not found")
    if path.suffix == ".safetensors":
        from safetensors.torch import load_file

        return load_file(str(path))
    try:
        state = torch.load(str(path), map_location="cpu", weights_only=True)
    except Exception as exc:  # noqa: BLE001 - any unpickling failure is a bad file for the user
        raise MefkitError(f"{path}: cannot read weights ({exc.__class__.__name__}: {exc})") from None
    if isinstance(state, dict) and "state_dict" in state and isinstance(state["state_dict"], dict):
        state = state["state_dict"]
    if not isinstance(state, dict):
        raise MefkitError(f"{path}: expected a state dict, got {type(state).__name__}")
    return state


def load_vgg19_features(
    path: str | Path,
    layers: Iterable[str] = ("relu1_2", "relu2_2", "relu3_4", "relu4_4"),
    normalize_input: bool = True,
) -> VGG19Features:
    """Build :class:`VGG19Features` and load a torchvision-format VGG19 state dict.

    Parameters
    ----------
    path : str or Path
        ``vgg19-*.pth`` from torchvision (or the same keys in safetensors). Keys other
        than ``features.*`` (the classifier) are ignored.
    layers, normalize_input
        As for :class:`VGG19Features`.

    Raises
    ------
    MefkitError
        Missing file, unreadable file, missing keys or a shape that is not VGG19's.
    """
    model = VGG19Features(layers, normalize_input)
    state = read_state_dict(path)
    own = model.state_dict()
    wanted = {k: v for k, v in state.items() if k in own}
    missing = sorted(set(own) - set(wanted), key=lambda k: (int(k.split(".")[1]), k))
    if missing:
        raise MefkitError(
            f"{path}: not a torchvision-format VGG19 state dict (missing {', '.join(missing[:4])}"
            f"{'...' if len(missing) > 4 else ''})"
        )
    for key, value in wanted.items():
        if tuple(value.shape) != tuple(own[key].shape):
            raise MefkitError(
                f"{path}: {key} has shape {tuple(value.shape)}, VGG19 expects {tuple(own[key].shape)}"
            )
    model.load_state_dict({k: v.float() for k, v in wanted.items()})
    model.requires_grad_(False)
    return model.eval()
