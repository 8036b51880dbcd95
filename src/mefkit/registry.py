"""One registry of fusion methods, classic and learned.

A method is a function ``fn(frames, **params) -> fused`` where ``frames`` is a list of
``(H, W, 3)`` float32 arrays in [0, 1] ordered from darkest to brightest and ``fused``
is an ``(H, W, 3)`` float array. It registers itself with :func:`register_method`;
every module in :mod:`mefkit.methods` is imported on first use of the registry, so a
new method is one new file. Modules of learned methods must import torch inside the
function, not at module level, so that listing methods stays fast.
"""

from __future__ import annotations

import importlib
import inspect
import pkgutil
from dataclasses import dataclass, field
from typing import Any, Callable

from .errors import MethodError

FuseFn = Callable[..., Any]


@dataclass(frozen=True)
class MethodInfo:
    """What the registry knows about one fusion method.

    Attributes
    ----------
    name : str
        Registry key, as used by ``mefkit.fuse(method=...)`` and ``--method``.
    fn : callable
        The fusion function.
    summary : str
        One-line description shown by ``mefkit methods``.
    min_frames, max_frames : int, int or None
        How many frames the method accepts (``None``: no upper limit).
    kind : str
        ``"classic"`` or ``"learned"``.
    citation : str
        The paper the method follows.
    params : tuple of str
        Names of the keyword-only parameters.
    frames_used : int or None
        How many frames the method actually fuses (``2``: the darkest and the
        brightest of a longer bracket); ``None``: all of them.
    weights : WeightsSpec or None
        The weights file a learned method ships and loads by default
        (:class:`mefkit.nn.weights.WeightsSpec`); None for classic methods.
    """

    name: str
    fn: FuseFn
    summary: str
    min_frames: int = 2
    max_frames: int | None = None
    kind: str = "classic"
    citation: str = ""
    params: tuple[str, ...] = field(default_factory=tuple)
    frames_used: int | None = None
    weights: Any = None


_REGISTRY: dict[str, MethodInfo] = {}
_DISCOVERED = False


def register_method(
    name: str,
    *,
    summary: str,
    min_frames: int = 2,
    max_frames: int | None = None,
    kind: str = "classic",
    citation: str = "",
    frames_used: int | None = None,
    weights: Any = None,
) -> Callable[[FuseFn], FuseFn]:
    """Register a fusion function under ``name`` (decorator).

    The keyword-only parameters of the function become the method's parameters.
    ``frames_used=2`` says the method fuses only the darkest and brightest frames.
    A learned method passes the :class:`~mefkit.nn.weights.WeightsSpec` of the file it
    ships as ``weights``.
    """

    def decorator(fn: FuseFn) -> FuseFn:
        if name in _REGISTRY and _REGISTRY[name].fn is not fn:
            raise ValueError(f"fusion method {name!r} is registered twice")
        sig = inspect.signature(fn)
        params = tuple(
            p.name for p in sig.parameters.values() if p.kind is inspect.Parameter.KEYWORD_ONLY
        )
        _REGISTRY[name] = MethodInfo(
            name, fn, summary, min_frames, max_frames, kind, citation, params, frames_used, weights
        )
        return fn

    return decorator


def _discover() -> None:
    global _DISCOVERED
    if _DISCOVERED:
        return
    _DISCOVERED = True
    from . import methods

    for mod in pkgutil.iter_modules(methods.__path__):
        if not mod.name.startswith("_"):
            importlib.import_module(f"{methods.__name__}.{mod.name}")


def keyword_defaults(fn: FuseFn, params: dict[str, Any], exclude: tuple[str, ...] = (),
                     only: tuple[str, ...] | None = None) -> dict[str, Any]:
    """``fn``'s keyword-only parameters with their defaults, overridden by ``params``.

    For helpers that take "the parameters of method ``fn``" (one declaration, in the
    registered function) without repeating its signature. Names in ``exclude`` are left
    out; with ``only``, only those names are taken.

    Raises
    ------
    TypeError
        ``params`` names a parameter ``fn`` does not have (or an excluded one).
    """
    sig = inspect.signature(fn)
    names = [p.name for p in sig.parameters.values()
             if p.kind is inspect.Parameter.KEYWORD_ONLY and p.name not in exclude and (only is None or p.name in only)]
    unknown = sorted(set(params) - set(names))
    if unknown:
        raise TypeError(f"unexpected parameter(s) {', '.join(unknown)}; accepted: {', '.join(names)}")
    return {n: params.get(n, sig.parameters[n].default) for n in names}


def get_method(name: str) -> MethodInfo:
    """Return the :class:`MethodInfo` registered as ``name``.

    Raises
    ------
    MethodError
        If no method has that name; the message lists the available ones.
    """
    _discover()
    try:
        return _REGISTRY[name]
    except KeyError:
        known = ", ".join(sorted(_REGISTRY))
        raise MethodError(f"unknown fusion method {name!r}; available: {known}") from None


def available_methods() -> dict[str, str]:
    """Map every registered method name to its one-line summary, sorted by name."""
    _discover()
    return {name: _REGISTRY[name].summary for name in sorted(_REGISTRY)}


def method_infos() -> list[MethodInfo]:
    """All registered methods, sorted by name."""
    _discover()
    return [_REGISTRY[name] for name in sorted(_REGISTRY)]
