"""mefkit.params: one message format for bad numeric parameters."""

from __future__ import annotations

import math

import pytest

from mefkit.params import require_non_negative, require_positive


def test_valid_values_pass():
    # Boundary cases by definition: 0 is non-negative but not positive.
    require_non_negative(a=0, b=2.5, c=math.inf)
    require_positive(a=1e-12, b=3)


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
