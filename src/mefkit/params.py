"""Method parameters: typed parsing of ``KEY=VALUE`` text.

:func:`parse_params` is the one parser of ``KEY=VALUE`` parameters for every command
(``fuse``, ``fuse-dir``, ``eval``, ``train``): each value is parsed and checked against
the annotated type of the method's (or task's) parameter. The checks of the values
themselves (ranges, choices, shapes) live in :mod:`mefkit.checks`.
"""

from __future__ import annotations

import ast
import collections.abc
import inspect
import json
import math
import re
import types
import typing
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Callable, Mapping, Sequence, Union

import docstring_parser

from .errors import ParameterError


# --------------------------------------------------------------------------------------
# KEY=VALUE parameters from the command line, parsed against annotated types.
#
# Hand-written on purpose: typer/click parse one option into one declared type, but a
# method's parameters are only known once ``--method`` is read, and their annotations
# (``int | None``, ``int | str``, ``Sequence[float]``) need the union rules below.
# --------------------------------------------------------------------------------------

_TRUE = ("true", "yes", "on", "1")
_FALSE = ("false", "no", "off", "0")
_NONE = ("none", "null")
_UNION_RANK = {bool: 0, int: 1, float: 2, str: 4, Path: 4}
#: Longest parameter description ``mefkit methods NAME`` shows (one line of a wide table).
SUMMARY_CHARS = 100


def _union_members(annotation: Any) -> tuple[Any, ...] | None:
    origin = typing.get_origin(annotation)
    if origin is typing.Union or origin is types.UnionType:
        return typing.get_args(annotation)
    return None


def type_name(annotation: Any) -> str:
    """Readable name of an annotation: ``int``, ``float or none``, ``one of 'a', 'b'``."""
    members = _union_members(annotation)
    if members is not None:
        names = [type_name(m) for m in members if m is not type(None)]
        if type(None) in members:
            names.append("none")
        return " or ".join(names)
    origin = typing.get_origin(annotation)
    if origin is typing.Literal:
        return "one of " + ", ".join(repr(c) for c in typing.get_args(annotation))
    if origin in (list, tuple, collections.abc.Sequence):
        args = [a for a in typing.get_args(annotation) if a is not Ellipsis]
        inner = type_name(args[0]) if args else "value"
        return f"comma list of {inner}"
    if annotation in (dict,) or origin is dict:
        return "JSON object"
    if annotation is type(None):
        return "none"
    if annotation in (Any, inspect.Parameter.empty, object):
        return "value"
    if annotation is Path:
        return "path"
    return getattr(annotation, "__name__", str(annotation))


class _Reject(ValueError):
    """A text does not fit one annotation (the reason goes into the message)."""


def _looks_numeric(text: str) -> bool:
    try:
        float(text)
    except ValueError:
        return False
    return True


def _to_int(text: str) -> int:
    try:
        return int(text)
    except ValueError:
        if _looks_numeric(text) and not math.isfinite(float(text)):
            raise _Reject("not a finite number") from None
        if _looks_numeric(text):
            raise _Reject("not a whole number") from None
        raise _Reject("not a number") from None


def _to_float(text: str) -> float:
    try:
        value = float(text)
    except ValueError:
        raise _Reject("not a number") from None
    if not math.isfinite(value):
        raise _Reject("not a finite number")
    return value


def _to_bool(text: str) -> bool:
    low = text.lower()
    if low in _TRUE:
        return True
    if low in _FALSE:
        return False
    raise _Reject("use true or false")


def _convert(text: str, annotation: Any) -> Any:
    """``text`` as a value of ``annotation``; raises :class:`_Reject` when it does not fit."""
    members = _union_members(annotation)
    if members is not None:
        if type(None) in members and text.lower() in _NONE:
            return None
        rest = [m for m in members if m is not type(None)]
        # A text that reads as a number is taken as a number when the union has a
        # numeric member (``flips=2.5`` for ``int | str`` is an error, not the text "2.5").
        numeric = [m for m in rest if m in (int, float)]
        if numeric and _looks_numeric(text):
            rest = [m for m in rest if m in (int, float)]
        # Narrowest first: bool, int, float, then other forms, text last.
        rest.sort(key=lambda m: _UNION_RANK.get(m, 3))
        reasons = []
        for member in rest:
            try:
                return _convert(text, member)
            except _Reject as exc:
                reasons.append(str(exc))
        raise _Reject(reasons[0] if len(reasons) == 1 else "")
    origin = typing.get_origin(annotation)
    if origin is typing.Literal:
        for choice in typing.get_args(annotation):
            if isinstance(choice, bool):
                try:
                    if _to_bool(text) is choice:
                        return choice
                except _Reject:
                    pass
            elif isinstance(choice, (int, float)) and _looks_numeric(text):
                if float(text) == choice:
                    return choice
            elif str(choice) == text:
                return choice
        raise _Reject("")
    if origin in (list, tuple, collections.abc.Sequence) or annotation in (list, tuple):
        args = [a for a in typing.get_args(annotation) if a is not Ellipsis]
        inner = args[0] if args else str
        body = text.strip()
        if body[:1] in "[(" and body[-1:] in "])":
            body = body[1:-1]
        items = [t.strip() for t in body.split(",") if t.strip()]
        if not items:
            raise _Reject("empty list")
        return tuple(_convert(t, inner) for t in items)
    if annotation is dict or origin is dict:
        try:
            value = json.loads(text)
        except json.JSONDecodeError:
            raise _Reject('not a JSON object such as {"base": 8}') from None
        if not isinstance(value, dict):
            raise _Reject('not a JSON object such as {"base": 8}')
        return value
    if annotation is bool:
        return _to_bool(text)
    if annotation is int:
        return _to_int(text)
    if annotation is float:
        return _to_float(text)
    if annotation in (str, Path):
        return text
    if annotation is type(None):
        if text.lower() in _NONE:
            return None
        raise _Reject("")
    # Unannotated: the narrowest of bool, int, finite float, else text.
    for conv in (_to_bool, _to_int, _to_float):
        try:
            return conv(text)
        except _Reject:
            continue
    if _looks_numeric(text):
        raise _Reject("not a finite number")
    return None if text.lower() in _NONE else text


def parse_value(name: str, text: str, annotation: Any) -> Any:
    """Parse one parameter value ``text`` as ``annotation``.

    Parameters
    ----------
    name : str
        Parameter name, used in the error message.
    text : str
        The value as typed on the command line.
    annotation : type or typing form
        ``int``, ``float`` (finite only), ``bool`` (true/false, yes/no, on/off, 1/0),
        ``str``, ``Path``, ``Literal[...]``, ``X | None`` (``none``), unions such as
        ``int | str`` (a number-looking text must fit the numeric member),
        ``Sequence[X]`` (comma list, optional brackets; returned as a tuple) and
        ``dict`` (a JSON object).

    Raises
    ------
    ParameterError
        ``"parameter NAME: expected TYPE, got 'TEXT' (reason)"``.
    """
    try:
        return _convert(text.strip(), annotation)
    except _Reject as exc:
        reason = f" ({exc})" if str(exc) else ""
        raise ParameterError(f"parameter {name}: expected {type_name(annotation)}, got {text!r}{reason}") from None


ParamTarget = Union[str, Callable[..., Any], Mapping[str, Any]]


@dataclass(frozen=True)
class ParamDoc:
    """One parameter of a method, as ``mefkit methods NAME`` shows it.

    Attributes
    ----------
    name : str
    annotation : Any
        The annotated type (``inspect.Parameter.empty`` when none).
    default : Any
        The default value (``inspect.Parameter.empty`` when required).
    summary : str
        First sentence of the parameter's numpydoc description ("" when undocumented).
    choices : tuple or None
        The values a numpydoc type such as ``{"auto", 1, 2, 4}`` allows, else ``None``.
    """

    name: str
    annotation: Any
    default: Any
    summary: str = ""
    choices: tuple[Any, ...] | None = None


def _first_sentence(text: str) -> str:
    flat = " ".join((text or "").split()).replace("``", "")
    flat = re.sub(r":[\w.]+:`~?([^`]*)`", r"\1", flat)  # Sphinx roles -> their target
    end = re.search(r"(?<!e\.g)(?<!i\.e)\.(\s|$)", flat)  # the first full stop, not "e.g."
    sentence = flat[: end.start()] if end else flat
    if len(sentence) > SUMMARY_CHARS:
        sentence = sentence[: SUMMARY_CHARS - 1].rsplit(" ", 1)[0] + "…"
    return sentence


def _choices(type_text: str | None) -> tuple[Any, ...] | None:
    text = (type_text or "").strip()
    if not (text.startswith("{") and text.endswith("}")):
        return None
    try:
        values = ast.literal_eval("[" + text[1:-1] + "]")
    except (ValueError, SyntaxError):
        return None
    return tuple(values) if values else None


def _callable_of(target: ParamTarget) -> tuple[str, Callable[..., Any] | None]:
    if isinstance(target, Mapping):
        return "", None
    if isinstance(target, str):
        from .registry import get_method

        return f"method {target!r}", get_method(target).fn
    return f"{getattr(target, '__name__', 'function')}()", target


def describe_params(target: str | Callable[..., Any]) -> list[ParamDoc]:
    """Name, type, default, one-line description and choices of each parameter.

    Parameters
    ----------
    target : str or callable
        A registered method name or a function; its keyword-only parameters are
        described, their text taken from the numpydoc ``Parameters`` section
        (``docstring_parser``; grouped entries such as ``tile, tile_pad : int`` apply
        to each name).

    Returns
    -------
    list of ParamDoc
        In signature order.
    """
    _, fn = _callable_of(target)
    _, types_ = param_types(target)
    parsed = docstring_parser.parse(inspect.getdoc(fn) or "", style=docstring_parser.DocstringStyle.NUMPYDOC)
    docs: dict[str, tuple[str, tuple[Any, ...] | None]] = {}
    for entry in parsed.params:
        for name in (n.strip() for n in entry.arg_name.split(",")):
            docs.setdefault(name, (_first_sentence(entry.description or ""), _choices(entry.type_name)))
    sig = inspect.signature(fn)
    out = []
    for name, annotation in types_.items():
        summary, choices = docs.get(name, ("", None))
        out.append(ParamDoc(name, annotation, sig.parameters[name].default, summary, choices))
    return out


def param_types(target: ParamTarget) -> tuple[str, dict[str, Any]]:
    """The label and the ``name -> annotation`` map of what ``target`` accepts.

    ``target`` is a registered method name, a function (its keyword-only parameters,
    or all named ones when it has none), or a mapping ``name -> annotation``.
    """
    if isinstance(target, Mapping):
        return "", dict(target)
    label, fn = _callable_of(target)
    assert fn is not None
    sig = inspect.signature(fn)
    try:
        hints = typing.get_type_hints(fn)
    except Exception:  # noqa: BLE001 - an unresolvable annotation parses as "any value"
        hints = {}
    named = [p for p in sig.parameters.values() if p.kind not in (p.VAR_POSITIONAL, p.VAR_KEYWORD)]
    keyword = [p for p in named if p.kind is p.KEYWORD_ONLY] or named
    return label, {p.name: hints.get(p.name, p.annotation) for p in keyword}


def parse_params(target: ParamTarget, items: Sequence[str] | None, *, label: str | None = None) -> dict[str, Any]:
    """Parse ``KEY=VALUE`` strings into typed keyword parameters for ``target``.

    The one parser of method and task parameters: ``mefkit fuse/fuse-dir -p``,
    ``mefkit eval -p METHOD.KEY=VALUE`` (after the method prefix is split off),
    ``mefkit train ... --task-param`` and the benchmark scripts.

    Parameters
    ----------
    target : str, callable or mapping
        A registered method name (``"mertens"``), a function whose annotated
        keyword-only parameters are accepted, or a mapping ``name -> annotation``.
    items : sequence of str or None
        ``["levels=5", "sigma=0.3", ...]``. ``-`` in a key reads as ``_``; a key given
        twice keeps its last value.
    label : str, optional
        How to name ``target`` in messages (default: ``method 'NAME'`` or ``NAME()``).

    Returns
    -------
    dict
        Parameter name -> value of the annotated type (see :func:`parse_value`); a
        numpydoc type that lists the choices (``flips : {"auto", 1, 2, 4}``) is enforced.

    Raises
    ------
    ParameterError
        A malformed item, an unknown key (the message lists the accepted ones), or a
        value that does not fit its type (the message names parameter, value and the
        type expected).

    Examples
    --------
    >>> parse_params("mertens", ["levels=5", "sigma=0.3"])
    {'levels': 5, 'sigma': 0.3}
    """
    name_of, types_ = param_types(target)
    label = label or name_of or "this command"
    choices: dict[str, tuple[Any, ...]] = {}
    if items and not isinstance(target, Mapping):
        choices = {d.name: d.choices for d in describe_params(target) if d.choices}  # type: ignore[arg-type]
    out: dict[str, Any] = {}
    for item in items or []:
        key, sep, text = item.partition("=")
        key = key.strip().replace("-", "_")
        if not sep or not key:
            raise ParameterError(f"parameter {item!r} must look like KEY=VALUE")
        if key not in types_:
            accepted = ", ".join(types_) or "none"
            raise ParameterError(f"{label} has no parameter {key!r}; accepted: {accepted}")
        value = parse_value(key, text, types_[key])
        allowed = choices.get(key)
        if allowed is not None and value is not None and value not in allowed:
            raise ParameterError(f"parameter {key}: expected one of {', '.join(map(repr, allowed))}, got {text!r}")
        out[key] = value
    return out
