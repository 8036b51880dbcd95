"""Neural-network building blocks shared by the learned methods (PyTorch).

Each method's own network lives in its package (``mefkit/methods/<name>/``).

Submodules import torch; this package file does not, so ``import mefkit.nn`` stays
cheap and ``mefkit methods`` never loads torch. Import what you need directly:

* :mod:`mefkit.nn.tiling`: full-resolution inference for any image-to-image network,
  by overlapping tiles with feathered seams, or at a reduced scale with guided
  upsampling back to full resolution.
* :mod:`mefkit.nn.self_ensemble`: flip self-ensemble at inference.
* :mod:`mefkit.nn.vgg`: VGG19 features for the perceptual loss.
"""

from __future__ import annotations


#: How to get what the learned methods need (PyTorch, safetensors).
LEARNED_EXTRA = 'pip install "mefkit[learned]"'


def require_torch(what: str) -> None:
    """Raise :class:`~mefkit.errors.MethodError` with one line naming the extra when torch is missing.

    Parameters
    ----------
    what : str
        What needs torch, for the message (``"method 'progressive'"``, ``"training"``).
    """
    try:
        import torch  # noqa: F401
        import safetensors  # noqa: F401
    except ImportError:
        from ..errors import MethodError

        raise MethodError(f"{what} needs PyTorch, which is not installed; install it with: {LEARNED_EXTRA}") from None
