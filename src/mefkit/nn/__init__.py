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
