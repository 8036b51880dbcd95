"""Neural-network building blocks of the learned methods (PyTorch).

Submodules import torch; this package file does not, so ``import mefkit.nn`` stays
cheap and ``mefkit methods`` never loads torch. Import what you need directly:

* :mod:`mefkit.nn.progressive`: ``IntermediateUNet`` (phase 1) and ``AMNet`` (phase 2)
  of the two-phase progressive fusion.
* :mod:`mefkit.nn.tiling`: full-resolution inference for any image-to-image network,
  by overlapping tiles with feathered seams, or at a reduced scale with guided
  upsampling back to full resolution.
* :mod:`mefkit.nn.vgg`: VGG19 features for the perceptual loss.
"""
