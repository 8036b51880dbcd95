"""mefkit.params: one message format for bad numeric parameters."""

from __future__ import annotations

import math

import pytest

from mefkit.checks import require_non_negative, require_positive


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


# --- parse_params: the one KEY=VALUE parser ------------------------------------------

from typing import Literal, Optional, Sequence  # noqa: E402

from mefkit.errors import ParameterError  # noqa: E402
from mefkit.params import parse_params, parse_value, type_name  # noqa: E402


def _fn(*, n: int = 1, x: float = 0.5, flag: bool = False, name: str = "a", mode: Literal["a", "b"] = "a",
        levels: int | None = None, flips: int | str = "auto", sigmas: Sequence[float] = (1.0,),
        opt: Optional[float] = None) -> None:
    """A stand-in method with one parameter of each annotated kind."""


@pytest.mark.parametrize(("item", "expected"), [
    ("n=3", {"n": 3}),
    ("n=-2", {"n": -2}),
    ("x=2", {"x": 2.0}),
    ("x=1e-3", {"x": 0.001}),
    ("flag=true", {"flag": True}),
    ("flag=No", {"flag": False}),
    ("flag=0", {"flag": False}),
    ("name=1.5", {"name": "1.5"}),
    ("mode=b", {"mode": "b"}),
    ("levels=none", {"levels": None}),
    ("levels=4", {"levels": 4}),
    ("flips=auto", {"flips": "auto"}),
    ("flips=2", {"flips": 2}),
    ("sigmas=1,2.5", {"sigmas": (1.0, 2.5)}),
    ("sigmas=[3]", {"sigmas": (3.0,)}),
    ("opt=null", {"opt": None}),
    ("opt=0.25", {"opt": 0.25}),
    ("name=a=b", {"name": "a=b"}),
])
def test_parse_params_types_each_value(item, expected):
    got = parse_params(_fn, [item])
    assert got == expected
    assert all(type(got[k]) is type(v) for k, v in expected.items())


@pytest.mark.parametrize(("item", "message"), [
    ("n=2.5", "parameter n: expected int, got '2.5' (not a whole number)"),
    ("n=abc", "parameter n: expected int, got 'abc' (not a number)"),
    ("x=inf", "parameter x: expected float, got 'inf' (not a finite number)"),
    ("x=nan", "parameter x: expected float, got 'nan' (not a finite number)"),
    ("x=-Infinity", "parameter x: expected float, got '-Infinity' (not a finite number)"),
    ("flag=maybe", "parameter flag: expected bool, got 'maybe' (use true or false)"),
    ("mode=c", "parameter mode: expected one of 'a', 'b', got 'c'"),
    ("levels=2.5", "parameter levels: expected int or none, got '2.5'"),
    ("flips=2.5", "parameter flips: expected int or str, got '2.5' (not a whole number)"),
    ("sigmas=1,x", "parameter sigmas: expected comma list of float, got '1,x'"),
    ("opt=inf", "parameter opt: expected float or none, got 'inf'"),
    ("nope=1", "_fn() has no parameter 'nope'; accepted: n, x, flag"),
    ("n", "parameter 'n' must look like KEY=VALUE"),
    ("=1", "parameter '=1' must look like KEY=VALUE"),
])
def test_parse_params_errors_name_parameter_value_and_type(item, message):
    with pytest.raises(ParameterError) as info:
        parse_params(_fn, [item])
    assert message in str(info.value)


def test_parse_params_reads_registered_methods_and_mappings():
    # The registry's annotations: mertens levels is int | None, progressive flips is int | str.
    assert parse_params("mertens", ["levels=5", "sigma=0.3", "contrast-weight=2"]) == {
        "levels": 5, "sigma": 0.3, "contrast_weight": 2.0}
    assert parse_params("progressive", ["flips=4", "max_mp=none"]) == {"flips": 4, "max_mp": None}
    assert parse_params({"unet": dict}, ['unet={"base": 8}']) == {"unet": {"base": 8}}
    with pytest.raises(ParameterError, match="method 'mertens' has no parameter 'flips'"):
        parse_params("mertens", ["flips=2"])
    assert parse_params("mertens", None) == {}


def test_type_name_and_parse_value():
    assert type_name(int | None) == "int or none"
    assert type_name(Sequence[float]) == "comma list of float"
    assert parse_value("k", " 7 ", int) == 7


def test_every_method_parameter_is_described_and_its_default_allowed():
    # `mefkit methods NAME` shows these, and parse_params enforces the documented
    # choices: a default outside them, or an undocumented parameter, is a docstring bug.
    from mefkit.params import describe_params
    from mefkit.registry import method_infos

    for info in method_infos():
        for doc in describe_params(info.name):
            assert doc.summary, f"{info.name}.{doc.name} has no description in its docstring"
            if doc.choices is not None and doc.default is not None:
                assert doc.default in doc.choices, f"{info.name}.{doc.name}: default {doc.default!r} not in {doc.choices}"
