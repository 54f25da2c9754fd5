"""Values described for a fingerprint: an encodable description of a value
with the code inside it made symbolic (a project function by its name, a
lambda by its tree, an object of a project class by its attributes), and
the project code it holds, to be walked by :mod:`.codewalk`. Standard
library only.
"""

from __future__ import annotations

import argparse
import dataclasses
import enum
import functools
import hashlib
import types
from collections.abc import Callable, Mapping
from pathlib import PurePath
from typing import Any

from .codetree import ModuleTrees, canonical_tree, names_used
from .hashing import encode, qualified_name
from .project_files import ProjectFiles

__all__ = ["MAX_DEPTH", "Ref", "Resolver", "ValueDescriber", "digest"]

#: ("code", obj), ("experiment", func) or ("value", name, value).
Ref = tuple[Any, ...]
#: Looks a dotted name up in a namespace (for a method, on its class): what it brings into the walk.
Resolver = Callable[[list[str], Mapping[str, Any], type | None], list[Ref]]
#: How deep values are described (a guard).
MAX_DEPTH = 12
#: Objects of these types (besides project classes and dataclasses) count by their attributes.
_ATTRIBUTE_TYPES = (types.SimpleNamespace, argparse.Namespace)


def digest(text: str | bytes) -> str:
    return hashlib.sha256(text.encode() if isinstance(text, str) else text).hexdigest()


class ValueDescriber:
    """Describes values, naming the project code they hold."""

    def __init__(self, files: ProjectFiles, trees: ModuleTrees, resolve: Resolver) -> None:
        self.files = files
        self.trees = trees
        self.resolve = resolve

    def describe(self, value: Any, refs: list[Ref], depth: int, active: set[int]) -> Any:
        """An encodable description of ``value`` with its code made symbolic;
        the project code it holds is appended to ``refs``."""
        kind = type(value)
        if value is None or kind in (bool, int, float, complex, bytes):
            return value
        if kind is str:
            return self.files.portable_text(value)
        if isinstance(value, PurePath):
            return self.files.portable_text(str(value)) if value.is_absolute() else ("path", value.as_posix())
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
            if self.files.class_in_project(value):
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
        if isinstance(value, _ATTRIBUTE_TYPES) or self.files.class_in_project(kind):
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
        if not self.files.in_project(code.co_filename):
            return ("function", qualified_name(value) or code.co_name, closure)
        if code.co_name != "<lambda>":
            refs.append(("code", value))
            found = self.trees.function(code)
            name = found.qualname if found is not None else value.__qualname__
            return ("function", f"{self.files.relative(code.co_filename)}::{name}", closure)
        # A lambda has no name to be a part of its own: its tree is described here.
        found = self.trees.function(code)
        if found is None:
            return ("lambda", None, closure)
        for chain in names_used(found.node):
            refs.extend(self.resolve(chain, value.__globals__, None))
        return ("lambda", canonical_tree(found.node), closure)

    def _add_class(self, cls: type, refs: list[Ref]) -> None:
        if self.files.class_in_project(cls):
            refs.append(("code", cls))


def _order(description: Any) -> bytes:
    try:
        return encode(description)
    except Exception:
        return repr(description).encode()
