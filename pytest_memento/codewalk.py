"""What project code an object reaches, as named parts with digests.

A walk starts from roots (an experiment function, its fixtures, a parameter
value) and follows, transitively, what each reaches statically:

- a function: its syntax tree (:mod:`.codetree`), the globals it names, the
  members it reads through ``self``/``cls`` (looked up on its class, along
  the method resolution order) and through ``super()``, and the code held by
  its closure cells and ``__wrapped__`` chain;
- a class: one part for its body without methods, one per method, and what
  they name (bases included);
- a module-level value it reads (``MODELS = {"a": fa}``, a lambda, a
  ``functools.partial``, a ``SimpleNamespace``, an instance of a project
  class): one part for the value, described with the code inside it made
  symbolic (a function by name, a lambda by its tree: :mod:`.descriptions`),
  plus the code it holds.

Part names: ``<rootdir-relative posix path>::<qualname>`` for code
(``models.py::MyNet.forward``), ``<module>.<name>`` for values
(``exp.SCALE``, ``exp.Model.LAYERS``). Only code in files under the project
root counts (see :meth:`.ProjectFiles.in_project`). Standard library only.
"""

from __future__ import annotations

import ast
import collections
import copy
import sys
import types
from collections.abc import Mapping
from typing import Any

from .codetree import Definition, ModuleTrees, canonical_tree, find_class, names_used
from .descriptions import Ref, ValueDescriber, digest
from .hashing import UnstableValueError, encode
from .matrix import matrix as _matrix_decorator
from .project_files import OUTSIDE, ProjectFiles

__all__ = ["CodeWalker"]

#: How many parts one walk collects (a guard).
MAX_PARTS = 5000
_MISSING = object()


class _Node:
    __slots__ = ("parts", "refs")

    def __init__(self, parts: dict[str, str] | None = None, refs: list[Ref] | None = None) -> None:
        self.parts = parts or {}
        self.refs = refs or []


class CodeWalker:
    """Parts of project code reached from roots; every node computed once."""

    def __init__(self, root: str) -> None:
        self.files = ProjectFiles(root)
        self.trees = ModuleTrees()
        self.values = ValueDescriber(self.files, self.trees, self._resolve)
        self._nodes: dict[tuple[Any, ...], _Node] = {}
        self._alive: list[Any] = []  # objects whose id() is a key of _nodes

    # -- walking ----------------------------------------------------------

    def parts(self, roots: list[Ref]) -> dict[str, str]:
        """Every part reached from ``roots``, transitively (first found wins)."""
        parts: dict[str, str] = {}
        pending = collections.deque(roots)
        seen: set[tuple[Any, ...]] = set()
        while pending and len(parts) < MAX_PARTS:
            ref = pending.popleft()
            key = self._key(ref)
            if key in seen:
                continue
            seen.add(key)
            node = self._node(key, ref)
            for name, value in node.parts.items():
                parts.setdefault(name, value)
            pending.extend(node.refs)
        return parts

    def _key(self, ref: Ref) -> tuple[Any, ...]:
        return (ref[0], id(ref[-1]), *ref[1:-1])

    def _node(self, key: tuple[Any, ...], ref: Ref) -> _Node:
        node = self._nodes.get(key)
        if node is None:
            self._alive.append(ref[-1])
            if ref[0] == "value":
                node = self._value_node(ref[1], ref[2])
            else:
                node = self._code_node(ref[1], experiment=ref[0] == "experiment")
            self._nodes[key] = node
        return node

    def _code_node(self, obj: Any, *, experiment: bool) -> _Node:
        if isinstance(obj, type):
            return self._class_node(obj)
        if isinstance(obj, (staticmethod, classmethod, types.MethodType)):
            return _Node(refs=[("code", obj.__func__)])
        if isinstance(obj, property):
            return _Node(refs=[("code", f) for f in (obj.fget, obj.fset, obj.fdel) if f is not None])
        refs: list[Ref] = []
        wrapped = getattr(obj, "__wrapped__", None)
        if wrapped is not None and not isinstance(obj, type):
            refs.append(("code", wrapped))
        if not isinstance(obj, types.FunctionType):
            return _Node(refs=refs)
        for cell in obj.__closure__ or ():
            try:
                self.values.describe(cell.cell_contents, refs, 0, set())
            except ValueError:  # an empty cell
                continue
        code = obj.__code__
        if not self.files.in_project(code.co_filename):
            return _Node(refs=refs)
        found = self.trees.function(code)
        if found is None:
            return _Node(refs=refs)
        node = found.node
        namespace = obj.__globals__
        if experiment and isinstance(node, (ast.FunctionDef, ast.AsyncFunctionDef)):
            node = copy.copy(node)
            node.decorator_list = [d for d in node.decorator_list if not _is_key_decorator(d, namespace)]
        owner = _owner_class(obj, found)
        for chain in names_used(node):
            refs.extend(self._resolve(chain, namespace, owner))
        name = f"{self.files.relative(code.co_filename)}::{found.qualname}"
        return _Node({name: digest(canonical_tree(node))}, refs)

    def _class_node(self, cls: type) -> _Node:
        module = sys.modules.get(cls.__module__)
        filename = getattr(module, "__file__", None)
        if module is None or not self.files.in_project(filename):
            return _Node()
        assert filename is not None
        node = find_class(self.trees, filename, cls.__qualname__)
        if node is None:
            return _Node()
        prefix = f"{self.files.relative(filename)}::{cls.__qualname__}"
        shell = copy.copy(node)
        methods = [s for s in node.body if isinstance(s, (ast.FunctionDef, ast.AsyncFunctionDef))]
        shell.body = [s for s in node.body if not isinstance(s, (ast.FunctionDef, ast.AsyncFunctionDef))]
        parts = {prefix: digest(canonical_tree(shell))}
        for method in methods:
            parts[f"{prefix}.{method.name}"] = digest(canonical_tree(method))
        namespace = vars(module)
        refs = [ref for chain in names_used(node) for ref in self._resolve(chain, namespace, cls)]
        return _Node(parts, refs)

    def _value_node(self, name: str, value: Any) -> _Node:
        refs: list[Ref] = []
        description = self.values.describe(value, refs, 0, set())
        if description == OUTSIDE:
            return _Node(refs=refs)
        try:
            return _Node({name: digest(encode(description))}, refs)
        except (UnstableValueError, RecursionError, ValueError, TypeError):
            return _Node(refs=refs)

    # -- names ------------------------------------------------------------

    def _resolve(self, chain: list[str], namespace: Mapping[str, Any], owner: type | None) -> list[Ref]:
        head = chain[0]
        if head in ("self", "cls") and owner is not None and len(chain) > 1:
            return self._member(owner, chain[1], 0)
        if head == "super" and owner is not None and len(chain) > 1:
            return self._member(owner, chain[1], 1)
        if head not in namespace:
            return []
        value = namespace[head]
        module_name, name = str(namespace.get("__name__", "?")), head
        for attribute in chain[1:]:
            if not isinstance(value, types.ModuleType):
                break
            if not self.files.in_project(getattr(value, "__file__", None)):
                return []  # an installed package: its version is recorded
            module_name, name = value.__name__, attribute
            try:
                value = getattr(value, attribute, _MISSING)
            except Exception:  # a module __getattr__ that raises
                return []
        if value is _MISSING:
            return []
        return _refs_for(value, f"{module_name}.{name}")

    def _member(self, owner: type, attribute: str, start: int) -> list[Ref]:
        """``self.attribute`` (start 0) or ``super().attribute`` (start 1)."""
        for klass in owner.__mro__[start:]:
            if attribute not in vars(klass):
                continue
            module = sys.modules.get(klass.__module__)
            if not self.files.in_project(getattr(module, "__file__", None)):
                return []
            member = vars(klass)[attribute]
            if isinstance(member, (types.FunctionType, staticmethod, classmethod, property)):
                return [("code", member)]
            return _refs_for(member, f"{klass.__module__}.{klass.__qualname__}.{attribute}")
        return []  # an instance attribute: not seen statically


def _refs_for(value: Any, name: str) -> list[Ref]:
    """What a name bound to ``value`` brings into the walk."""
    if isinstance(value, (types.ModuleType, types.BuiltinFunctionType)):
        return []
    if isinstance(value, type):
        return [("code", value)]
    if isinstance(value, types.FunctionType) and value.__code__.co_name != "<lambda>":
        return [("code", value)]
    return [("value", name, value)]


def _owner_class(func: types.FunctionType, found: Definition) -> type | None:
    """The class a method is defined in (for ``self.x``), from its place in the file."""
    owner_path, _, _ = found.qualname.rpartition(".")
    if not owner_path or owner_path.endswith("<locals>") or "<locals>" in owner_path:
        return None
    current: Any = sys.modules.get(func.__module__)
    for name in owner_path.split("."):
        current = getattr(current, name, None)
    return current if isinstance(current, type) else None


def _is_key_decorator(decorator: ast.expr, namespace: Mapping[str, Any]) -> bool:
    """``@memento.matrix(...)`` (already in the key) and pytest marks
    (they select and skip, they do not compute) are left out."""
    target = decorator.func if isinstance(decorator, ast.Call) else decorator
    chain: list[str] = []
    while isinstance(target, ast.Attribute):
        chain.append(target.attr)
        target = target.value
    if not isinstance(target, ast.Name) or target.id not in namespace:
        return False
    value: Any = namespace[target.id]
    for attribute in reversed(chain):
        try:
            value = getattr(value, attribute)
        except Exception:
            return False
    return value is _matrix_decorator or type(value).__module__.startswith("_pytest.mark")
