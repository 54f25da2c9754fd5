"""Code fingerprints: what a configuration's result depends on, as a hash.

A configuration's fingerprint is made of named parts (see :mod:`.codewalk`
for what a walk reaches and how parts are named):

- the experiment's own code, from its syntax tree, without
  ``@memento.matrix`` (it is in the key) or pytest marks, but with every
  other decorator, the wrappers they define and what they name;
- the fixtures the experiment requests and the fixtures those request
  (their definitions are handed in by the plugin), wherever they are defined;
- per value: project code held by its parameter and setting values
  (``model=MyNet`` brings ``MyNet`` and every method of it), so the
  configurations of one experiment can have different fingerprints; a value
  holding a lambda or a closure also counts as ``config.<name>``;
- inputs declared with ``depends=`` (:mod:`.inputs`).

The fingerprint is the SHA-256 over the scheme and the sorted
``name=digest`` pairs; :meth:`Fingerprint.changed_parts` names what differs
from a stored one. Everything is computed once per process: per function,
per distinct value, per input and per combination of them. Installed
packages, the standard library, C extensions and anything reached only
dynamically are not seen. Standard library only.
"""

from __future__ import annotations

import os
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from .codetree import canonical_tree
from .codewalk import CodeWalker
from .descriptions import Ref, digest
from .inputs import INPUT_PREFIX, InputError, InputHasher

__all__ = ["SCHEME", "Fingerprint", "FingerprintCache", "InputError", "canonical_tree", "fingerprint_of"]

#: Part of every fingerprint; bumped only when the scheme changes.
SCHEME = "pytest-memento/code/2"
#: Values that never hold code (checked first: grids are mostly these).
_PLAIN = (int, float, str, bool, bytes, type(None), complex)


def _total(parts: Mapping[str, str]) -> str:
    return digest(SCHEME + "\0" + "\0".join(f"{name}={value}" for name, value in sorted(parts.items())))


@dataclass(frozen=True)
class Fingerprint:
    """The hash of a configuration's code and inputs, with its parts."""

    value: str
    parts: dict[str, str] = field(default_factory=dict)

    @classmethod
    def of_parts(cls, parts: dict[str, str]) -> Fingerprint:
        return cls(_total(parts), parts)

    def changed_parts(self, stored: Mapping[str, str]) -> list[str]:
        """Names whose code differs from ``stored`` parts (or is new/gone)."""
        names = sorted(set(self.parts) | set(stored))
        return [name for name in names if self.parts.get(name) != stored.get(name)]


def is_input(part: str) -> bool:
    """Whether a part is a declared data input (not code)."""
    return part.startswith(INPUT_PREFIX)


def _holds_inline_code(description: Any) -> bool:
    """A lambda, or a function with a closure, somewhere in a description."""
    if isinstance(description, tuple) and description:
        if description[0] == "lambda" or (description[0] == "function" and len(description) == 3 and description[2]):
            return True
        return any(_holds_inline_code(item) for item in description[1:])
    if isinstance(description, list):
        return any(_holds_inline_code(item) for item in description)
    return False


class FingerprintCache:
    """Fingerprints, computed once per process.

    ``root`` bounds "the project" (see :meth:`.ProjectFiles.in_project`).
    """

    def __init__(self, root: Path) -> None:
        self.root = os.path.realpath(root)
        self.walker = CodeWalker(self.root)
        self.inputs = InputHasher(Path(self.root), self.walker.trees)
        self._done: dict[Any, Fingerprint] = {}
        self._values: dict[int, tuple[Any, dict[str, str], str | None]] = {}
        self._combined: dict[tuple[Any, ...], Fingerprint] = {}

    def of(self, func: Callable[..., Any], fixtures: Sequence[Callable[..., Any]] = ()) -> Fingerprint:
        """The fingerprint of an experiment function and the fixtures it
        requests (cached per function: its fixtures are the same for every
        configuration)."""
        target = getattr(func, "__func__", func)
        found = self._done.get(target)
        if found is None:
            roots: list[Ref] = []
            layer: Any = target
            for _ in range(100):  # the layers of decorators that use functools.wraps
                inner = getattr(layer, "__wrapped__", None)
                if inner is None:
                    break
                roots.append(("code", layer))
                layer = inner
            roots.insert(0, ("experiment", getattr(layer, "__func__", layer)))
            roots.extend(("code", fixture) for fixture in fixtures)
            found = self._done[target] = Fingerprint.of_parts(self.walker.parts(roots))
        return found

    def of_value(self, value: Any) -> tuple[dict[str, str], str | None]:
        """The code a parameter or setting value holds (its parts), and the
        digest of the value itself when it holds a lambda or a closure."""
        if type(value) in _PLAIN:
            return {}, None
        found = self._values.get(id(value))
        if found is None:
            refs: list[Ref] = []
            description = self.walker.values.describe(value, refs, 0, set())
            inline = digest(repr(description)) if _holds_inline_code(description) else None
            found = self._values[id(value)] = (value, self.walker.parts(refs), inline)
        return found[1], found[2]

    def for_case(self, base: Fingerprint, values: Mapping[str, Any], depends: Sequence[Any] = ()) -> Fingerprint:
        """The fingerprint of one configuration: ``base`` (its experiment's)
        plus the code its values hold and its declared inputs. Raises
        :class:`InputError` when an input cannot be read."""
        holding: list[tuple[str, int]] = []
        for name, value in values.items():
            if type(value) in _PLAIN:
                continue
            parts, inline = self.of_value(value)
            if parts or inline:
                holding.append((name, id(value)))
        if not holding and not depends:
            return base
        key = (id(base), tuple(holding), tuple(entry if isinstance(entry, str) else id(entry) for entry in depends))
        found = self._combined.get(key)
        if found is None:
            merged = dict(base.parts)
            for name, _ in holding:
                parts, inline = self.of_value(values[name])
                for part, value in parts.items():
                    merged.setdefault(part, value)
                if inline is not None:
                    merged[f"config.{name}"] = inline
            merged.update(self.inputs.parts(depends))
            found = self._combined[key] = Fingerprint.of_parts(merged)
        return found


def fingerprint_of(func: Callable[..., Any], root: Path) -> Fingerprint:
    """One-off fingerprint (the plugin keeps a :class:`FingerprintCache`)."""
    return FingerprintCache(root).of(func)
