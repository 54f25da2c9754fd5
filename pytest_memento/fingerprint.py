"""Code fingerprints: what an experiment's result depends on, as a hash.

The fingerprint of an experiment function is made from its syntax tree (so
comments, docstrings and formatting do not count) without its decorators
(the matrix is already in the key), plus, transitively, the functions and
classes of the project that it names: helpers in its own module and in other
modules under the project root. Module-level constants it names count by
value. Installed packages, the standard library, data files and anything
reached only dynamically (``getattr`` with a string, methods of objects whose
class is not named) are not seen.

The tree is serialised by this module, not with ``ast.dump``, and fields new
Python versions add with empty defaults are skipped, so a fingerprint is the
same on Python 3.10 to 3.13. Standard library only.
"""

from __future__ import annotations

import ast
import copy
import hashlib
import inspect
import os
import sys
import sysconfig
import types
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from pathlib import Path, PurePath
from typing import Any

from .hashing import UnstableValueError, encode

__all__ = ["Fingerprint", "FingerprintCache", "canonical_tree", "fingerprint_of"]

#: Part of every fingerprint; bumped only when the scheme changes.
SCHEME = "pytest-memento/code/1"
#: Fields that never change behaviour, or that newer Pythons add empty.
_SKIPPED_FIELDS = frozenset({"ctx", "type_comment", "kind", "type_ignores"})
_OUTSIDE = ("outside path", "")
#: How many helpers deep the walk goes (a guard, not a real limit).
_MAX_PARTS = 500


def canonical_tree(node: ast.AST) -> str:
    """A Python-version-independent text of a syntax tree: node types and
    non-empty fields in a fixed order, no positions, no docstrings."""
    parts: list[str] = []
    _emit(node, parts)
    return "".join(parts)


def _emit(value: Any, parts: list[str]) -> None:
    if isinstance(value, ast.AST):
        parts.append(type(value).__name__ + "(")
        body_owner = isinstance(value, (ast.FunctionDef, ast.AsyncFunctionDef, ast.ClassDef, ast.Module))
        for name in value._fields:
            if name in _SKIPPED_FIELDS:
                continue
            child = getattr(value, name, None)
            if isinstance(value, ast.JoinedStr) and name == "values" and isinstance(child, list):
                # Python 3.12.1 parses an empty Constant into nested format specs.
                child = [part for part in child if not (isinstance(part, ast.Constant) and part.value == "")]
            if child is None or (isinstance(child, list) and not child):
                continue  # absent, or a field a newer Python adds empty
            if body_owner and name == "body":
                child = _without_docstring(child)
            parts.append(name + "=")
            _emit(child, parts)
            parts.append(",")
        parts.append(")")
    elif isinstance(value, list):
        parts.append("[")
        for item in value:
            _emit(item, parts)
            parts.append(",")
        parts.append("]")
    else:
        parts.append(f"{type(value).__name__}:{value!r}")


def _without_docstring(body: list[ast.stmt]) -> list[ast.stmt]:
    if (
        body
        and isinstance(body[0], ast.Expr)
        and isinstance(body[0].value, ast.Constant)
        and isinstance(body[0].value.value, str)
    ):
        return body[1:] or [ast.Pass()]
    return body


def _digest(text: str) -> str:
    return hashlib.sha256(text.encode()).hexdigest()


@dataclass(frozen=True)
class Fingerprint:
    """The hash of an experiment's code, with the parts it is made of."""

    value: str
    parts: dict[str, str] = field(default_factory=dict)

    def changed_parts(self, stored: dict[str, str]) -> list[str]:
        """Names whose code differs from ``stored`` parts (or is new/gone)."""
        names = sorted(set(self.parts) | set(stored))
        return [name for name in names if self.parts.get(name) != stored.get(name)]


class _ModuleTrees:
    """Parsed source files, each parsed once per process."""

    def __init__(self) -> None:
        self._trees: dict[str, ast.Module | None] = {}

    def tree(self, filename: str) -> ast.Module | None:
        if filename not in self._trees:
            try:
                with open(filename, encoding="utf-8") as handle:
                    self._trees[filename] = ast.parse(handle.read(), filename)
            except (OSError, SyntaxError, ValueError, UnicodeDecodeError):
                self._trees[filename] = None
        return self._trees[filename]


def _find_definition(tree: ast.Module, qualname: str) -> ast.AST | None:
    """The def/class node for ``qualname`` (``Class.method``, nested
    functions through ``<locals>``)."""
    scope: list[ast.stmt] = tree.body
    found: ast.AST | None = None
    for name in qualname.split("."):
        if name == "<locals>":
            continue
        found = next(
            (
                node
                for node in _walk_scope(scope)
                if isinstance(node, (ast.FunctionDef, ast.AsyncFunctionDef, ast.ClassDef)) and node.name == name
            ),
            None,
        )
        if found is None:
            return None
        scope = found.body
    return found


def _walk_scope(body: list[ast.stmt]) -> Iterator[ast.stmt]:
    """Statements of a scope, looking into if/try/with/for blocks
    (definitions made under ``if TYPE_CHECKING`` or ``try: import``) but not
    into defs, last first: the last definition of a name wins, as at run time."""
    found: list[ast.stmt] = []

    def visit(statements: list[ast.stmt]) -> None:
        for node in statements:
            found.append(node)
            if isinstance(node, (ast.If, ast.For, ast.While, ast.With, ast.Try)):
                for name in ("body", "orelse", "finalbody"):
                    visit(getattr(node, name, []))
                for handler in getattr(node, "handlers", []):
                    visit(handler.body)

    visit(body)
    return iter(reversed(found))


def _names_used(node: ast.AST) -> list[list[str]]:
    """Dotted names the code reads: ``helper``, ``utils.helper``, ``np.mean``."""
    chains: list[list[str]] = []
    for child in ast.walk(node):
        if isinstance(child, ast.Attribute):
            chain: list[str] = []
            current: ast.AST = child
            while isinstance(current, ast.Attribute):
                chain.append(current.attr)
                current = current.value
            if isinstance(current, ast.Name):
                chains.append([current.id, *reversed(chain)])
        elif isinstance(child, ast.Name) and isinstance(child.ctx, ast.Load):
            chains.append([child.id])
    return chains


class FingerprintCache:
    """Fingerprints of experiment functions, computed once per process.

    ``root`` bounds "the project": only code in files under it (and not in a
    virtual environment or site-packages inside it) is followed.
    """

    def __init__(self, root: Path) -> None:
        self.root = os.path.realpath(root)
        self._trees = _ModuleTrees()
        self._parts: dict[int, tuple[str, str] | None] = {}
        self._done: dict[Any, Fingerprint] = {}
        excluded = {sysconfig.get_paths().get(key) for key in ("purelib", "platlib", "stdlib", "platstdlib")}
        prefixes = [os.path.realpath(path) + os.sep for path in excluded if path]
        self._excluded = (*prefixes, os.path.realpath(sys.prefix) + os.sep)

    def of(self, func: Callable[..., Any]) -> Fingerprint:
        """The fingerprint of ``func`` (cached per function)."""
        target = inspect.unwrap(getattr(func, "__func__", func))
        found = self._done.get(target)
        if found is None:
            found = self._done[target] = self._compute(target)
        return found

    def _in_project(self, filename: str | None) -> bool:
        if not filename or not filename.endswith(".py"):
            return False
        real = os.path.realpath(filename)
        if not real.startswith(self.root + os.sep):
            return False
        return not any(real.startswith(prefix) for prefix in self._excluded) and "site-packages" not in real

    def _compute(self, func: Callable[..., Any]) -> Fingerprint:
        parts: dict[str, str] = {}
        pending: list[tuple[Any, bool]] = [(func, True)]
        seen: set[int] = set()
        while pending and len(parts) < _MAX_PARTS:
            obj, is_experiment = pending.pop(0)
            if id(obj) in seen:
                continue
            seen.add(id(obj))
            described = self._describe(obj, is_experiment)
            if described is None:
                continue
            name, digest, node, namespace = described
            parts[name] = digest
            for chain in _names_used(node):
                for found in self._resolve(chain, namespace, parts):
                    pending.append((found, False))
        total = _digest(SCHEME + "\0" + "\0".join(f"{name}={digest}" for name, digest in sorted(parts.items())))
        return Fingerprint(total, parts)

    def _describe(self, obj: Any, is_experiment: bool) -> tuple[str, str, ast.AST, dict[str, Any]] | None:
        obj = inspect.unwrap(obj) if callable(obj) else obj
        module = sys.modules.get(getattr(obj, "__module__", "") or "")
        filename = getattr(getattr(obj, "__code__", None), "co_filename", None) or getattr(module, "__file__", None)
        if not self._in_project(filename):
            return None
        assert filename is not None
        tree = self._trees.tree(filename)
        qualname = getattr(obj, "__qualname__", None)
        if tree is None or not isinstance(qualname, str):
            return None
        node = _find_definition(tree, qualname)
        if node is None:
            return None
        if is_experiment and isinstance(node, (ast.FunctionDef, ast.AsyncFunctionDef)):
            # The matrix decorator's arguments are in the key already.
            node = copy.copy(node)
            node.decorator_list = []
        relative = os.path.relpath(os.path.realpath(filename), self.root).replace(os.sep, "/")
        namespace = getattr(obj, "__globals__", None) or (vars(module) if module is not None else {})
        return f"{relative}::{qualname}", _digest(canonical_tree(node)), node, dict(namespace or {})

    def _resolve(self, chain: list[str], namespace: dict[str, Any], parts: dict[str, str]) -> Iterator[Any]:
        if chain[0] not in namespace:
            return
        value = namespace[chain[0]]
        owner_name, name = str(namespace.get("__name__", "?")), chain[0]
        for attribute in chain[1:]:
            if not isinstance(value, (types.ModuleType, type)):
                break
            if isinstance(value, types.ModuleType):
                # ``helpers.SCALE``: a constant of another module.
                owner_name, name = value.__name__, attribute
            value = getattr(value, attribute, None)
        if isinstance(value, (types.FunctionType, type)) or (callable(value) and hasattr(value, "__wrapped__")):
            yield value
        elif not isinstance(value, types.ModuleType) and not callable(value):
            module = sys.modules.get(owner_name)
            if (
                module is not None
                and owner_name != namespace.get("__name__")
                and not self._in_project(getattr(module, "__file__", None))
            ):
                return  # a constant of an installed package: its version is recorded
            self._constant(f"{owner_name}.{name}", value, parts)

    def _constant(self, key: str, value: Any, parts: dict[str, str]) -> None:
        # A module-level constant counts by value (when it has a stable one).
        if key in parts:
            return
        portable = self._portable(value, 0)
        if portable == _OUTSIDE:
            return  # a path outside the project: machine-specific, not code
        try:
            parts[key] = hashlib.sha256(encode(portable)).hexdigest()
        except (UnstableValueError, RecursionError, ValueError, TypeError):
            return

    def _portable(self, value: Any, depth: int) -> Any:
        """``value`` with absolute paths made independent of the checkout:
        under the project they count relative to it, outside it not at all."""
        if depth > 20:
            return value
        if isinstance(value, PurePath) and value.is_absolute():
            return self._relative(str(value))
        if isinstance(value, str) and os.path.isabs(value):
            return self._relative(value)
        if isinstance(value, (list, tuple)):
            return (
                type(value)(self._portable(item, depth + 1) for item in value)
                if type(value) in (list, tuple)
                else value
            )
        if isinstance(value, dict):
            return {key: self._portable(item, depth + 1) for key, item in value.items()}
        return value

    def _relative(self, path: str) -> tuple[str, str]:
        real = os.path.realpath(path)
        if real == self.root or real.startswith(self.root + os.sep):
            return ("project path", os.path.relpath(real, self.root).replace(os.sep, "/"))
        return _OUTSIDE


def fingerprint_of(func: Callable[..., Any], root: Path) -> Fingerprint:
    """One-off fingerprint (the plugin keeps a :class:`FingerprintCache`)."""
    return FingerprintCache(root).of(func)
