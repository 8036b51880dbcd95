"""mefkit.params: one message format for bad numeric parameters."""

from __future__ import annotations

import math

import pytest

from mefkit.params import require_non_negative, require_positive


@pytest.mark.parametrize(("fn", "value"), [
    (require_non_negative, 0),  # the boundary: 0 is non-negative but not positive
    (require_non_negative, 2.5),
    (require_non_negative, math.inf),
    (require_positive, 1e-12),
    (require_positive, 3),
    (require_positive, "0.5"),  # anything float() reads is a number
])
def test_valid_values_are_accepted(fn, value):
    # The helpers return None for a valid value and raise otherwise (next test).
    assert fn(weight=value) is None


@pytest.mark.parametrize(("fn", "value", "message"), [
    (require_non_negative, -1, "weight must be >= 0, got -1"),
    (require_positive, 0, "weight must be > 0, got 0"),
    (require_positive, -0.5, "weight must be > 0, got -0.5"),
    (require_non_negative, math.nan, "weight must be a number, got NaN"),
    (require_positive, math.nan, "weight must be a number, got NaN"),
    (require_positive, "x", "weight must be a number, got 'x'"),
])
def test_bad_values_name_the_parameter(fn, value, message):
    with pytest.raises(ValueError, match=message.replace("(", r"\(")):
        fn(ok=1, weight=value)
