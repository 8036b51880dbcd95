"""Weights of the learned methods: what ships, one writer, one cached loader.

* :class:`WeightsSpec` describes a shipped weights file, in the manner of timm's
  ``PretrainedCfg``: the file and its sha256, the architecture that reads it and that
  architecture's config, the licence and the training record. Each learned method's
  package ships it as ``weights.json`` beside the file, loads it as ``WEIGHTS``
  (:meth:`WeightsSpec.load`) and passes it to :func:`~mefkit.registry.register_method`.
* :func:`save_weights` writes any model (or a dict of named models) as safetensors,
  atomically, with string metadata. Every weights file mefkit writes goes through it.
* :func:`read_weights` reads a safetensors file (floating tensors as float32) and its
  metadata; :func:`load_model` builds a model from a file with a method's builder and
  keeps the result in one cache keyed by file, content stamp, builder and device.

This module imports torch only inside the functions that need it, so a spec (its
path, its hash) can be read without torch.
"""

from __future__ import annotations

import functools
import hashlib
import json
from dataclasses import dataclass, field
from importlib import resources
from pathlib import Path
from typing import Any, Callable, Mapping

#: A builder: ``build(tensors, metadata, path, device) -> model``. It checks that the
#: metadata names its format (ValueError otherwise), builds the architecture from the
#: stored config, loads the tensors and returns the model in eval mode on ``device``.
Builder = Callable[[dict, dict, str, str], Any]


@dataclass(frozen=True)
class WeightsSpec:
    """A weights file shipped with mefkit.

    Attributes
    ----------
    method : str
        The registered method that loads it by default.
    package : str
        The package the file ships in (the method's package).
    file : str
        File name inside ``package``.
    sha256 : str
        Hex digest of the file's bytes, as shipped (see :meth:`verify`).
    architecture : str
        The network class(es) the file holds, as named in the method's package.
    config : dict
        That architecture's constructor config, as stored in the file's metadata.
    license : str
        Licence of the weights.
    training : str
        The training record: the recipe and model card that made the file.
    """

    method: str
    package: str
    file: str
    sha256: str
    architecture: str
    config: Mapping[str, Any] = field(default_factory=dict)
    license: str = "MIT"
    training: str = ""

    @property
    def path(self) -> Path:
        """Where the file is installed."""
        return Path(str(resources.files(self.package).joinpath(self.file)))

    @property
    def model_card(self) -> Path:
        """The model card beside the file (``MODEL_CARD.md`` of the method's package)."""
        return self.path.with_name("MODEL_CARD.md")

    @classmethod
    def load(cls, package: str, name: str = "weights.json") -> "WeightsSpec":
        """The spec a method's package ships beside its weights (``weights.json``).

        The JSON holds the fields of :class:`WeightsSpec` but ``package``: the spec is
        data, next to the file and its model card, not code.
        """
        data = json.loads(resources.files(package).joinpath(name).read_text())
        return cls(package=package, **data)

    def verify(self) -> None:
        """Raise ValueError unless the installed file exists and matches :attr:`sha256`."""
        if not self.path.is_file():
            raise ValueError(f"the shipped {self.method} weights are missing ({self.path}); pass weights=PATH")
        digest = file_sha256(self.path)
        if digest != self.sha256:
            raise ValueError(f"{self.path}: sha256 {digest} differs from the shipped {self.sha256}")


def resolve_weights(weights: str | Path | None, spec: WeightsSpec) -> Path:
    """The file to load: ``weights`` if given, else the shipped file of ``spec``.

    Raises
    ------
    ValueError
        The file does not exist; the message says whether it is the user's or the shipped one.
    """
    path = Path(weights) if weights else spec.path
    if not path.is_file():
        if weights:
            raise ValueError(f"{spec.method} weights not found: {path}")
        raise ValueError(f"the shipped {spec.method} weights are missing ({path}); pass weights=PATH")
    return path


@functools.lru_cache(maxsize=32)
def _file_sha256(path: str, size: int, mtime_ns: int) -> str:
    # size and mtime are part of the lru key only, so a rewritten file is hashed again
    digest = hashlib.sha256()
    with open(path, "rb") as fh:
        for chunk in iter(lambda: fh.read(1 << 20), b""):
            digest.update(chunk)
    return digest.hexdigest()


def file_sha256(path: str | Path) -> str:
    """SHA-256 hex digest of a file's bytes (memoised per path, size and mtime)."""
    st = Path(path).stat()
    return _file_sha256(str(Path(path).resolve()), st.st_size, st.st_mtime_ns)


# --------------------------------------------------------------------------- writing


def unwrap(module: Any) -> Any:
    """The model inside a DistributedDataParallel / DataParallel wrapper (or itself)."""
    return getattr(module, "module", module)


def save_weights(
    path: str | Path,
    models: Any,
    metadata: Mapping[str, Any] | None = None,
    *,
    half: bool = False,
) -> Path:
    """Write a model's (or several named models') weights as one safetensors file.

    Parameters
    ----------
    path : str or Path
        Output file; written through a temporary file and an atomic rename, its folder
        created if missing.
    models : nn.Module or mapping of str to nn.Module
        One model: its state dict as is. A mapping: each model's tensors stored as
        ``"<name>.<key>"`` (e.g. ``unet.*`` and ``amnet.*``).
    metadata : mapping, optional
        Stored in the file's header; string values as they are, others as JSON.
    half : bool
        Store floating tensors as float16 (half the file; :func:`read_weights` gives
        float32 back).

    Returns
    -------
    Path
        ``path``.
    """
    import torch
    from safetensors.torch import save_file

    from ..atomic import atomic_path

    parts = {"": models} if not isinstance(models, Mapping) else {f"{k}.": m for k, m in models.items()}
    tensors: dict[str, torch.Tensor] = {}
    for prefix, model in parts.items():
        for key, value in unwrap(model).state_dict().items():
            value = value.detach().cpu()
            if half and value.is_floating_point():
                value = value.to(torch.float16)
            tensors[prefix + key] = value.contiguous()
    meta = {k: v if isinstance(v, str) else json.dumps(v) for k, v in (metadata or {}).items()}
    path = Path(path)
    with atomic_path(path) as tmp:
        save_file(tensors, str(tmp), metadata=meta)
    return path


# --------------------------------------------------------------------------- reading


def read_weights(path: str | Path) -> tuple[dict[str, Any], dict[str, str]]:
    """Tensors (floating ones as float32) and metadata of a safetensors file.

    Raises
    ------
    ValueError
        The file is missing or is not a safetensors file.
    """
    from safetensors import safe_open

    path = Path(path)
    if not path.is_file():
        raise ValueError(f"weights file not found: {path}")
    try:
        with safe_open(str(path), framework="pt", device="cpu") as fh:
            meta = dict(fh.metadata() or {})
            tensors = {k: fh.get_tensor(k) for k in fh.keys()}
    except Exception as exc:  # safetensors raises its own error types
        raise ValueError(f"{path}: not a safetensors file ({exc})") from None
    return {k: (v.float() if v.is_floating_point() else v) for k, v in tensors.items()}, meta


def split_prefixed(tensors: Mapping[str, Any], prefix: str) -> dict[str, Any]:
    """The tensors stored as ``"<prefix>.<key>"`` by :func:`save_weights`, as ``{key: tensor}``."""
    head = prefix + "."
    return {k[len(head):]: v for k, v in tensors.items() if k.startswith(head)}


def load_model(path: str | Path, build: Builder, device: str = "cpu") -> Any:
    """Build a model from a weights file, cached.

    Parameters
    ----------
    path : str or Path
        A safetensors file.
    build : callable
        ``build(tensors, metadata, path, device) -> model`` (see :data:`Builder`).
    device : str
        Torch device.

    Returns
    -------
    object
        What ``build`` returns; the same object for the same file (path, size and
        modification time), builder and device, so a method called many times
        loads its weights once.
    """
    path = Path(path)
    if not path.is_file():
        raise ValueError(f"weights file not found: {path}")
    st = path.stat()
    return _load_cached(str(path.resolve()), st.st_size, st.st_mtime_ns, build, str(device))


@functools.lru_cache(maxsize=8)
def _load_cached(path: str, size: int, mtime_ns: int, build: Builder, device: str) -> Any:
    tensors, meta = read_weights(path)
    return build(tensors, meta, path, device)


__all__ = [
    "Builder",
    "WeightsSpec",
    "file_sha256",
    "load_model",
    "read_weights",
    "resolve_weights",
    "save_weights",
    "split_prefixed",
    "unwrap",
]
