"""Fingerprint the code behind a result, so a resumed run never reuses a stale cell.

A cell is reused only when the method's code is unchanged: the hash covers (docstrings,
comments and layout aside) the
module that defines the method and every mefkit module it imports (relative or
absolute, at top level or inside functions, followed transitively), plus the
safetensors weights shipped in the package for learned methods. The same is done for
the metric functions. Third-party libraries are not covered; after upgrading one, run
``mefkit eval --fresh``.
"""

from __future__ import annotations

import ast
import functools
import hashlib
import importlib.util
import inspect
from pathlib import Path
from typing import Callable, Iterable

#: The package whose modules are followed.
PACKAGE = "mefkit"


def _module_file(name: str) -> Path | None:
    try:
        spec = importlib.util.find_spec(name)
    except (ImportError, ValueError):
        return None
    if spec is None or not spec.origin or not spec.origin.endswith(".py"):
        return None
    return Path(spec.origin)


def _imports(name: str, path: Path) -> set[str]:
    """mefkit module names imported anywhere in ``path`` (module ``name``)."""
    is_pkg = path.name == "__init__.py"
    base = name.split(".") if is_pkg else name.split(".")[:-1]
    out: set[str] = set()
    for node in ast.walk(ast.parse(path.read_text("utf-8"))):
        if isinstance(node, ast.ImportFrom):
            if node.level:
                parent = base[: len(base) - (node.level - 1)] if node.level > 1 else base
                mod = ".".join(parent + ([node.module] if node.module else []))
            else:
                mod = node.module or ""
            if mod.split(".")[0] != PACKAGE:
                continue
            out.add(mod)
            out.update(f"{mod}.{a.name}" for a in node.names)  # "from . import x" names modules
        elif isinstance(node, ast.Import):
            out.update(a.name for a in node.names if a.name.split(".")[0] == PACKAGE)
    return out


@functools.lru_cache(maxsize=None)
def module_closure(name: str) -> tuple[Path, ...]:
    """Source files of module ``name`` and of every mefkit module it imports, transitively."""
    seen: dict[str, Path] = {}
    todo = [name]
    while todo:
        mod = todo.pop()
        if mod in seen:
            continue
        path = _module_file(mod)
        if path is None:
            continue
        seen[mod] = path
        todo.extend(_imports(mod, path) - seen.keys())
    return tuple(sorted(set(seen.values())))


def _strip_docstrings(tree: ast.AST) -> ast.AST:
    for node in ast.walk(tree):
        if isinstance(node, (ast.Module, ast.ClassDef, ast.FunctionDef, ast.AsyncFunctionDef)):
            body = node.body
            if body and isinstance(body[0], ast.Expr) and isinstance(getattr(body[0], "value", None), ast.Constant) \
                    and isinstance(body[0].value.value, str):
                node.body = body[1:] or [ast.Pass()]
    return tree


def source_digest(path: Path) -> bytes:
    """What a source file computes: its syntax tree without docstrings (comments and
    line numbers are not in the tree), so editing documentation keeps stored cells."""
    data = path.read_bytes()
    if path.suffix != ".py":
        return data
    try:
        tree = ast.parse(data)
    except SyntaxError:
        return data
    return ast.dump(_strip_docstrings(tree)).encode()


def _hash_files(paths: Iterable[Path]) -> str:
    h = hashlib.sha1()
    for p in sorted(set(paths)):
        h.update(p.name.encode())
        h.update(source_digest(p))
    return h.hexdigest()


def _weights_files() -> list[Path]:
    """Every shipped weights file (each learned method ships its own beside its code)."""
    folder = Path(__file__).resolve().parents[1] / "methods"
    return sorted(folder.rglob("*.safetensors"))


@functools.lru_cache(maxsize=None)
def code_hash(fn: Callable, include_weights: bool = False) -> str:
    """Hash of the code (and optionally shipped weights) a function depends on."""
    module = inspect.getmodule(fn)
    files: list[Path] = []
    if module is not None and module.__name__.split(".")[0] == PACKAGE:
        files = list(module_closure(module.__name__))
    else:
        src = inspect.getsourcefile(fn)
        files = [Path(src)] if src else []
    if include_weights:
        files += _weights_files()
    return _hash_files(files)
