"""Fusion methods. Each module registers its methods with :func:`mefkit.registry.register_method`."""
