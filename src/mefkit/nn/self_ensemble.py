"""Geometric self-ensemble: average a network's outputs over mirrored copies of its input.

Running a fully convolutional network on a mirrored input and mirroring the output back
gives another estimate of the same image; the mean of 2 or 4 such estimates (identity,
left-right, up-down, both) has less of the network's own noise (Lim et al. 2017, EDSR's
"self-ensemble"). On the progressive validation stacks the 4-way mean raised MEF-SSIM
and PSNR over a single pass (``bench/progressive_val.py``, see the model card).

Each pass costs a full network pass, so :func:`flip_count` with ``"auto"`` spends only
the megapixel budget the network already has (``max_mp``): a bracket whose working size
is at most a quarter of it gets 4 passes, at most half 2, otherwise 1. The worst-case
time of a fusion (a large bracket, run at ``max_mp``) is unchanged.

Written here because it is a few lines around ``torch.flip``; no library offers it for
an arbitrary multi-input network.
"""

from __future__ import annotations

from typing import Any, Callable

import torch

from .tiling import working_size

#: Mirrorings of each ensemble size, as (flip rows, flip columns).
FLIP_SETS: dict[int, tuple[tuple[bool, bool], ...]] = {
    1: ((False, False),),
    2: ((False, False), (False, True)),
    4: ((False, False), (False, True), (True, False), (True, True)),
}


def flip_count(h: int, w: int, max_mp: float | None, flips: int | str = "auto") -> int:
    """How many mirrored passes a bracket of ``h x w`` pixels gets.

    Parameters
    ----------
    h, w : int
        Bracket size in pixels.
    max_mp : float or None
        The network's megapixel budget per pass (``None`` or 0: no budget).
    flips : {"auto", 1, 2, 4}
        A fixed count, or ``"auto"``: 4 when four passes at the working size fit in
        ``max_mp``, else 2 when two fit, else 1 (1 without a budget).

    Returns
    -------
    int
        1, 2 or 4.
    """
    if flips != "auto":
        if flips not in FLIP_SETS:
            raise ValueError(f"flips must be 'auto', 1, 2 or 4, got {flips!r}")
        return int(flips)
    if not max_mp:
        return 1
    sh, sw = working_size(h, w, max_mp)
    for n in (4, 2):
        if n * sh * sw <= max_mp * 1e6:
            return n
    return 1


def flip_ensemble(net: Callable[..., torch.Tensor], n: int) -> Callable[..., torch.Tensor]:
    """``net`` averaged over ``n`` mirrored passes (``n`` 1, 2 or 4).

    Parameters
    ----------
    net : callable
        ``net(*inputs) -> (B, C, H, W)`` on tensors ``(B, c_i, H, W)``, any H, W.
    n : int
        Number of passes (see :data:`FLIP_SETS`); 1 returns ``net`` itself.

    Returns
    -------
    callable
        Same signature and output shape as ``net``.
    """
    if n not in FLIP_SETS:
        raise ValueError(f"flip ensemble size must be 1, 2 or 4, got {n}")
    if n == 1:
        return net

    def ensembled(*inputs: Any) -> torch.Tensor:
        total = None
        for rows, cols in FLIP_SETS[n]:
            dims = [d for d, on in ((2, rows), (3, cols)) if on]
            out = net(*[torch.flip(t, dims) if dims else t for t in inputs])
            out = torch.flip(out, dims) if dims else out
            total = out if total is None else total + out
        return total / n

    return ensembled


__all__ = ["FLIP_SETS", "flip_count", "flip_ensemble"]
