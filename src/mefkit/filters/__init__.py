"""Edge-aware and smoothing filters shared by fusion methods (one module per filter)."""
