"""Alignment of hand-held exposure brackets (see :func:`align_frames`)."""

from .bracket import BORDERS, METHODS, Alignment, FrameWarp, align_frames, default_reference
from .estimate import check_warp, estimate_warp

__all__ = ["BORDERS", "METHODS", "Alignment", "FrameWarp", "align_frames", "check_warp",
           "default_reference", "estimate_warp"]
