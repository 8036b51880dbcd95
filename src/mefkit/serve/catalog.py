"""The registry's methods and their typed parameters, as JSON for the page's forms.

One entry per registered method (:func:`mefkit.registry.method_infos`), its parameters
described by :func:`mefkit.params.describe_params` (the table ``mefkit methods NAME``
prints) plus the form control that fits each type. Values typed into the form travel
back as text and are parsed by :func:`mefkit.params.parse_params`, the CLI's own
``-p KEY=VALUE`` parser, so both reject a bad value in the same words.
"""

from __future__ import annotations

import inspect
import json
import math
import typing
from pathlib import Path
from typing import Any, Mapping

from ..errors import ParameterError
from ..params import describe_params, parse_params, type_name
from ..prepare import ALIGN_METHODS, BORDERS, DEGHOST_METHODS
from ..registry import method_infos


def _json_value(value: Any) -> Any:
    """``value`` as JSON: tuples as lists, paths as text, non-finite floats and others as text."""
    if value is inspect.Parameter.empty:
        return None
    if value is None or isinstance(value, (bool, int, str)):
        return value
    if isinstance(value, float):
        return value if math.isfinite(value) else str(value)
    if isinstance(value, (list, tuple)):
        return [_json_value(v) for v in value]
    if isinstance(value, dict):
        return {str(k): _json_value(v) for k, v in value.items()}
    if isinstance(value, Path):
        return str(value)
    return repr(value)


def _control(annotation: Any, choices: tuple[Any, ...] | None) -> tuple[str, list[Any] | None]:
    """The form control for a parameter: ``checkbox``, ``int``, ``float``, ``select`` or ``text``."""
    if choices:
        return "select", [_json_value(c) for c in choices]
    if typing.get_origin(annotation) is typing.Literal:
        return "select", [_json_value(c) for c in typing.get_args(annotation)]
    if annotation is bool:
        return "checkbox", None
    if annotation is int:
        return "int", None
    if annotation is float:
        return "float", None
    return "text", None


def method_catalog() -> dict[str, Any]:
    """Every method with its parameters, and the preparation stages, as JSON.

    Returns
    -------
    dict
        ``{"methods": [{"name", "kind", "summary", "citation", "min_frames",
        "max_frames", "frames_used", "params": [{"name", "type", "default",
        "required", "summary", "control", "choices"}]}], "align": [...],
        "deghost": [...], "border": [...], "formats": {"png": [8, 16], ...}}``;
        ``type`` is the CLI's name of the type (``int``, ``float or none``...),
        ``control`` one of ``checkbox``, ``int``, ``float``, ``select``, ``text``.
    """
    methods = []
    for info in method_infos():
        params = []
        for doc in describe_params(info.name):
            control, choices = _control(doc.annotation, doc.choices)
            params.append({
                "name": doc.name,
                "type": type_name(doc.annotation),
                "default": _json_value(doc.default),
                "required": doc.default is inspect.Parameter.empty,
                "summary": doc.summary,
                "control": control,
                "choices": choices,
            })
        methods.append({
            "name": info.name, "kind": info.kind, "summary": info.summary, "citation": info.citation,
            "min_frames": info.min_frames, "max_frames": info.max_frames, "frames_used": info.frames_used,
            "params": params,
        })
    return {"methods": methods, "align": list(ALIGN_METHODS), "deghost": list(DEGHOST_METHODS),
            "border": list(BORDERS), "formats": {"png": [8, 16], "tif": [8, 16], "jpg": [8]}}


def _as_text(value: Any) -> str:
    """A JSON value as the text one would type after ``-p KEY=``."""
    if isinstance(value, bool):
        return "true" if value else "false"
    if value is None:
        return "none"
    if isinstance(value, (list, tuple)):
        return ",".join(_as_text(v) for v in value)
    if isinstance(value, dict):
        return json.dumps(value)
    return str(value)


def parse_form_params(method: str, text: str | None) -> dict[str, Any]:
    """Parse the ``params`` field: a JSON object of parameter values, checked as ``-p`` would be.

    Parameters
    ----------
    method : str
        A registered method name.
    text : str or None
        ``'{"levels": 5, "sigma": "0.3"}'``; values may be JSON numbers, booleans,
        lists or text as typed (``"0.3"``); empty or None means no parameters.

    Returns
    -------
    dict
        Parameter name -> typed value (:func:`mefkit.params.parse_params`).

    Raises
    ------
    ParameterError
        Not a JSON object, an unknown name, or a value that does not fit its type (the
        CLI's words).
    """
    if text is None or not text.strip():
        return {}
    try:
        values = json.loads(text)
    except json.JSONDecodeError:
        values = None
    if not isinstance(values, Mapping):
        raise ParameterError('params must be a JSON object such as {"levels": 5}')
    return parse_params(method, [f"{k}={_as_text(v)}" for k, v in values.items()])


__all__ = ["method_catalog", "parse_form_params"]
