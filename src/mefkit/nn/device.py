"""Check a torch device name before a learned method loads its weights onto it."""

from __future__ import annotations


def check_device(name: str) -> str:
    """Return ``name`` when torch can use it here; raise ``ValueError`` saying why not.

    Parameters
    ----------
    name : str
        ``"cpu"``, ``"cuda"``, ``"cuda:N"``, ``"mps"``, ...

    Raises
    ------
    ValueError
        The name is not a torch device, or its backend is not available (a torch
        build without CUDA, no GPU, a device index past the last GPU).
    """
    import torch

    try:
        device = torch.device(name)
    except (RuntimeError, TypeError):
        raise ValueError(f"device {name!r} is not a torch device (use cpu, cuda or cuda:N)") from None
    if device.type == "cuda":
        if not torch.cuda.is_available():
            raise ValueError(f"device {name!r}: CUDA is not available here (torch {torch.__version__}); use cpu")
        if device.index is not None and device.index >= torch.cuda.device_count():
            raise ValueError(f"device {name!r}: only {torch.cuda.device_count()} CUDA device(s) here")
    elif device.type == "mps" and not (hasattr(torch.backends, "mps") and torch.backends.mps.is_available()):
        raise ValueError(f"device {name!r}: MPS is not available here; use cpu")
    return name


__all__ = ["check_device"]
