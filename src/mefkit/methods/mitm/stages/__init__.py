"""MITM (Go, Lee, Lee, Mathematics 2024, 12(20) 3244), reconstructed from the paper's description.

Only the abstract and the section outline of the paper could be read; every formula here
is a reconstruction of the stage the paper names, with each open choice a named
parameter. One module per stage:

* :mod:`.surround` - CIELAB lightness and the (multiscale) Gaussian surround;
* :mod:`.smap` - switching maps (SMap / TSMap) from the surround;
* :mod:`.middle` - the middle-exposure (ME) estimate from the translated pair;
* :mod:`.bridge` - the high-mid and mid-low images that close the exposure gap;
* :mod:`.retinex` - multiscale single-scale-retinex tone compression and the final fusion;
* :mod:`.translate` - the learned translators (torch, imported lazily) and a curve baseline;
* :mod:`.stages` - all stages in order, returning every intermediate image.
"""
