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
  symbolic (a function by name, a lambda by its tree), plus the code it holds.

Part names: ``<rootdir-relative posix path>::<qualname>`` for code
(``models.py::MyNet.forward``), ``<module>.<name>`` for values
(``exp.SCALE``, ``exp.Model.LAYERS``). Only code in files under the project
root counts (see :meth:`CodeWalker.in_project`). Standard library only.
"""

from __future__ import annotations

import argparse
import ast
import collections
import copy
import dataclasses
import enum
import functools
import hashlib
import os
import site
import sys
import sysconfig
import types
from collections.abc import Callable, Mapping
from pathlib import PurePath
from typing import Any

from .codetree import Definition, ModuleTrees, canonical_tree, find_class, names_used
from .hashing import UnstableValueError, encode, qualified_name
from .matrix import matrix as _matrix_decorator

__all__ = ["CodeWalker", "Ref", "digest"]

#: ("code", obj), ("experiment", func) or ("value", name, value).
Ref = tuple[Any, ...]
#: A path outside the project: machine-specific, not code.
OUTSIDE = ("outside path", "")
#: How deep values are described, and how many parts one walk collects (guards).
MAX_DEPTH = 12
MAX_PARTS = 5000
#: Objects of these types (besides project classes and dataclasses) count by their attributes.
_ATTRIBUTE_TYPES = (types.SimpleNamespace, argparse.Namespace)
_MISSING = object()


def digest(text: str | bytes) -> str:
    return hashlib.sha256(text.encode() if isinstance(text, str) else text).hexdigest()


def _excluded_prefixes() -> list[str]:
    """Where installed code lives: the interpreter's prefixes and site directories."""
    found = {sys.prefix, sys.exec_prefix, sys.base_prefix, sys.base_exec_prefix}
    found.update(
        path for key in ("purelib", "platlib", "stdlib", "platstdlib") if (path := sysconfig.get_paths().get(key))
    )
    try:
        found.update(site.getsitepackages())
        found.add(site.getusersitepackages())
    except AttributeError:  # pragma: no cover - a virtualenv's old site.py
        pass
    found.add(os.path.dirname(os.path.abspath(__file__)))  # pytest-memento itself
    return sorted({os.path.realpath(path) for path in found if path})


class _Node:
    __slots__ = ("parts", "refs")

    def __init__(self, parts: dict[str, str] | None = None, refs: list[Ref] | None = None) -> None:
        self.parts = parts or {}
        self.refs = refs or []


class CodeWalker:
    """Parts of project code reached from roots; every node computed once."""

    def __init__(self, root: str) -> None:
        self.root = os.path.realpath(root)
        self.trees = ModuleTrees()
        inside = self.root + os.sep
        # A prefix that holds the project itself (a project under /usr/local
        # with the system Python) cannot be excluded: its site directories are.
        self._excluded = [p for p in _excluded_prefixes() if not (inside.startswith(p + os.sep) or p == self.root)]
        self._dirs: dict[str, bool] = {}
        self._nodes: dict[tuple[Any, ...], _Node] = {}
        self._alive: list[Any] = []  # objects whose id() is a key of _nodes

    # -- the project ----------------------------------------------------

    def in_project(self, filename: str | None) -> bool:
        """Whether ``filename`` is project code: a ``.py`` file under rootdir
        (resolved), not inside the running interpreter's prefix or site
        directories, nor inside a virtual environment or conda environment
        under rootdir (a directory holding ``pyvenv.cfg`` or ``conda-meta``)."""
        if not filename or not filename.endswith(".py"):
            return False
        directory = os.path.dirname(filename)
        known = self._dirs.get(directory)
        if known is None:
            known = self._dirs[directory] = self._directory_in_project(directory)
        return known

    def _directory_in_project(self, directory: str) -> bool:
        real = os.path.realpath(directory)
        if real != self.root and not real.startswith(self.root + os.sep):
            return False
        if any(real == prefix or real.startswith(prefix + os.sep) for prefix in self._excluded):
            return False
        current = real
        while len(current) > len(self.root):
            if os.path.isfile(os.path.join(current, "pyvenv.cfg")) or os.path.isdir(
                os.path.join(current, "conda-meta")
            ):
                return False
            current = os.path.dirname(current)
        return True

    def relative(self, filename: str) -> str:
        return os.path.relpath(os.path.realpath(filename), self.root).replace(os.sep, "/")

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
                self.describe(cell.cell_contents, refs, 0, set())
            except ValueError:  # an empty cell
                continue
        code = obj.__code__
        if not self.in_project(code.co_filename):
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
        name = f"{self.relative(code.co_filename)}::{found.qualname}"
        return _Node({name: digest(canonical_tree(node))}, refs)

    def _class_node(self, cls: type) -> _Node:
        module = sys.modules.get(cls.__module__)
        filename = getattr(module, "__file__", None)
        if module is None or not self.in_project(filename):
            return _Node()
        assert filename is not None
        node = find_class(self.trees, filename, cls.__qualname__)
        if node is None:
            return _Node()
        prefix = f"{self.relative(filename)}::{cls.__qualname__}"
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
        description = self.describe(value, refs, 0, set())
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
            if not self.in_project(getattr(value, "__file__", None)):
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
            if not self.in_project(getattr(module, "__file__", None)):
                return []
            member = vars(klass)[attribute]
            if isinstance(member, (types.FunctionType, staticmethod, classmethod, property)):
                return [("code", member)]
            return _refs_for(member, f"{klass.__module__}.{klass.__qualname__}.{attribute}")
        return []  # an instance attribute: not seen statically

    # -- values -----------------------------------------------------------

    def describe(self, value: Any, refs: list[Ref], depth: int, active: set[int]) -> Any:
        """An encodable description of ``value`` with its code made symbolic;
        the project code it holds is appended to ``refs``."""
        kind = type(value)
        if value is None or kind in (bool, int, float, complex, bytes):
            return value
        if kind is str:
            return self._portable_text(value)
        if isinstance(value, PurePath):
            return self._portable_text(str(value)) if value.is_absolute() else ("path", value.as_posix())
        if depth > MAX_DEPTH or id(value) in active:
            return ("deep", qualified_name(kind))
        active.add(id(value))
        try:
            return self._describe_object(value, refs, depth + 1, active)
        except RecursionError:
            return ("deep", qualified_name(kind))
        except Exception:  # a user's __memento_key__, property or __getattr__ raised
            return ("opaque", qualified_name(kind))
        finally:
            active.discard(id(value))

    def _describe_object(self, value: Any, refs: list[Ref], depth: int, active: set[int]) -> Any:
        def inner(item: Any) -> Any:
            return self.describe(item, refs, depth, active)

        kind = type(value)
        if isinstance(value, (list, tuple)):
            return (kind.__qualname__, [inner(item) for item in value])
        if isinstance(value, (dict, types.MappingProxyType)):
            return ("dict", sorted(((inner(k), inner(v)) for k, v in value.items()), key=_order))
        if isinstance(value, (set, frozenset)):
            return ("set", sorted((inner(item) for item in value), key=_order))
        if isinstance(value, types.ModuleType):
            return ("module", value.__name__)
        if isinstance(value, types.FunctionType):
            return self._describe_function(value, refs, inner)
        if isinstance(value, type):
            if self._class_in_project(value):
                refs.append(("code", value))
            return ("class", qualified_name(value) or kind.__qualname__)
        if isinstance(value, types.MethodType):
            return ("method", inner(value.__func__), inner(value.__self__))
        if isinstance(value, functools.partial):
            return ("partial", inner(value.func), inner(value.args), inner(dict(value.keywords)))
        if isinstance(value, (staticmethod, classmethod)):
            return (kind.__name__, inner(value.__func__))
        if isinstance(value, property):
            return ("property", inner(value.fget), inner(value.fset), inner(value.fdel))
        if isinstance(value, enum.Enum):
            return ("enum", qualified_name(kind), value.name)
        custom = getattr(value, "__memento_key__", None)
        if callable(custom) and not isinstance(value, type):
            self._add_class(kind, refs)
            return ("key", qualified_name(kind), inner(custom()))
        if dataclasses.is_dataclass(value):
            self._add_class(kind, refs)
            fields = {f.name: getattr(value, f.name, None) for f in dataclasses.fields(value)}
            return ("object", qualified_name(kind), inner(fields))
        if isinstance(value, _ATTRIBUTE_TYPES) or self._class_in_project(kind):
            self._add_class(kind, refs)
            attributes = dict(getattr(value, "__dict__", {}))
            for slot in getattr(kind, "__slots__", ()):
                if isinstance(slot, str) and hasattr(value, slot):
                    attributes[slot] = getattr(value, slot)
            return ("object", qualified_name(kind), inner(attributes))
        if callable(value) and hasattr(value, "__wrapped__"):  # functools.lru_cache and the like
            return ("wrapper", qualified_name(kind), inner(value.__wrapped__))
        try:
            return ("bytes", digest(encode(value)))
        except Exception:  # no stable identity: its type is all that is seen
            return ("opaque", qualified_name(kind))

    def _describe_function(self, value: types.FunctionType, refs: list[Ref], inner: Callable[[Any], Any]) -> Any:
        closure = []
        for cell in value.__closure__ or ():
            try:
                closure.append(inner(cell.cell_contents))
            except ValueError:  # an empty cell
                closure.append(("empty",))
        code = value.__code__
        if not self.in_project(code.co_filename):
            return ("function", qualified_name(value) or code.co_name, closure)
        if code.co_name != "<lambda>":
            refs.append(("code", value))
            found = self.trees.function(code)
            name = found.qualname if found is not None else value.__qualname__
            return ("function", f"{self.relative(code.co_filename)}::{name}", closure)
        # A lambda has no name to be a part of its own: its tree is described here.
        found = self.trees.function(code)
        if found is None:
            return ("lambda", None, closure)
        for chain in names_used(found.node):
            refs.extend(self._resolve(chain, value.__globals__, None))
        return ("lambda", canonical_tree(found.node), closure)

    def _class_in_project(self, cls: type) -> bool:
        return self.in_project(getattr(sys.modules.get(cls.__module__), "__file__", None))

    def _add_class(self, cls: type, refs: list[Ref]) -> None:
        if self._class_in_project(cls):
            refs.append(("code", cls))

    def _portable_text(self, text: str) -> Any:
        """An absolute path counts relative to the project; outside it, not at all."""
        if not os.path.isabs(text):
            return text
        real = os.path.realpath(text)
        if real == self.root or real.startswith(self.root + os.sep):
            return ("project path", os.path.relpath(real, self.root).replace(os.sep, "/"))
        return OUTSIDE


def _order(description: Any) -> bytes:
    try:
        return encode(description)
    except Exception:
        return repr(description).encode()


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
