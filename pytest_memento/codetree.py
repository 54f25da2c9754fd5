"""Syntax trees of project source: parsing, a canonical text of a tree, and
finding the definition a function, lambda or class object came from.

The canonical text is serialised by this module, not with ``ast.dump``:
node types and non-empty fields in a fixed order, no positions, no
docstrings, and fields new Python versions add with empty defaults skipped,
so it is the same on Python 3.10 to 3.13. A function is found from its code
object (file, name and first line), not from ``__qualname__``, which
``functools.wraps`` overwrites. Standard library only.
"""

from __future__ import annotations

import ast
import types
from collections.abc import Iterator
from typing import Any

__all__ = ["Definition", "ModuleTrees", "canonical_tree", "find_class", "names_used"]

#: Fields that never change behaviour, or that newer Pythons add empty.
_SKIPPED_FIELDS = frozenset({"ctx", "type_comment", "kind", "type_ignores"})
_DEFS = (ast.FunctionDef, ast.AsyncFunctionDef, ast.ClassDef)


def canonical_tree(node: ast.AST) -> str:
    """A Python-version-independent text of a syntax tree: node types and
    non-empty fields in a fixed order, no positions, no docstrings."""
    parts: list[str] = []
    _emit(node, parts)
    return "".join(parts)


def _emit(value: Any, parts: list[str]) -> None:
    if isinstance(value, ast.AST):
        parts.append(type(value).__name__ + "(")
        body_owner = isinstance(value, (*_DEFS, ast.Module))
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


class Definition:
    """One def, class or lambda of a file, with the qualified name its place
    in the file gives it (``Model.fit``, ``deco.<locals>.wrapper``)."""

    __slots__ = ("node", "qualname")

    def __init__(self, qualname: str, node: ast.AST) -> None:
        self.qualname = qualname
        self.node = node


class _FileIndex:
    """Definitions of one parsed file, by (name, line) and by qualname."""

    def __init__(self, tree: ast.Module) -> None:
        self.tree = tree
        self.by_line: dict[tuple[str, int], list[Definition]] = {}
        self.by_qualname: dict[str, Definition] = {}
        self._index(tree.body, "")

    def _index(self, body: list[ast.stmt], prefix: str) -> None:
        # Statements in order, so the last definition of a name wins, as at run time.
        for node in _statements(body):
            if isinstance(node, _DEFS):
                qualname = prefix + node.name
                definition = Definition(qualname, node)
                self.by_qualname[qualname] = definition
                if not isinstance(node, ast.ClassDef):
                    for line in {node.lineno, *(d.lineno for d in node.decorator_list[:1])}:
                        self.by_line.setdefault((node.name, line), []).append(definition)
                inner = qualname + (".<locals>." if not isinstance(node, ast.ClassDef) else ".")
                self._index(node.body, inner)
                self._lambdas(node, inner)
        if not prefix:
            for statement in body:
                if not isinstance(statement, _DEFS):
                    self._lambdas(statement, "")

    def _lambdas(self, node: ast.AST, prefix: str) -> None:
        """Lambdas directly in ``node`` (not in nested defs)."""
        pending = list(ast.iter_child_nodes(node))
        while pending:
            child = pending.pop()
            if isinstance(child, _DEFS):
                continue
            if isinstance(child, ast.Lambda):
                self.by_line.setdefault(("<lambda>", child.lineno), []).append(Definition(prefix + "<lambda>", child))
            pending.extend(ast.iter_child_nodes(child))


def _statements(body: list[ast.stmt]) -> Iterator[ast.stmt]:
    """Statements of a scope, looking into if/try/with/for blocks
    (definitions made under ``if TYPE_CHECKING`` or ``try: import``) but not
    into defs, in source order."""
    for node in body:
        yield node
        if isinstance(node, (ast.If, ast.For, ast.While, ast.With, ast.Try)):
            for name in ("body", "orelse", "finalbody"):
                yield from _statements(getattr(node, name, []))
            for handler in getattr(node, "handlers", []):
                yield from _statements(handler.body)


class ModuleTrees:
    """Parsed source files, each parsed and indexed once per process."""

    def __init__(self) -> None:
        self._files: dict[str, _FileIndex | None] = {}

    def _file(self, filename: str) -> _FileIndex | None:
        if filename not in self._files:
            try:
                with open(filename, encoding="utf-8") as handle:
                    self._files[filename] = _FileIndex(ast.parse(handle.read(), filename))
            except (OSError, SyntaxError, ValueError, UnicodeDecodeError, RecursionError):
                self._files[filename] = None
        return self._files[filename]

    def tree(self, filename: str) -> ast.Module | None:
        index = self._file(filename)
        return None if index is None else index.tree

    def function(self, code: types.CodeType) -> Definition | None:
        """The def or lambda ``code`` was compiled from (lambdas on one line:
        all of them, as one tuple node)."""
        index = self._file(code.co_filename)
        if index is None:
            return None
        found = index.by_line.get((code.co_name, code.co_firstlineno))
        if not found:
            return None
        if len(found) == 1:
            return found[0]
        lambdas = [d.node for d in found if isinstance(d.node, ast.Lambda)]
        if len(lambdas) != len(found):
            return found[-1]  # a def and a lambda of the same name cannot share a line
        return Definition(found[0].qualname, ast.Tuple(elts=sorted(lambdas, key=lambda node: node.col_offset)))

    def definition(self, filename: str, qualname: str) -> Definition | None:
        index = self._file(filename)
        return None if index is None else index.by_qualname.get(qualname)


def find_class(trees: ModuleTrees, filename: str, qualname: str) -> ast.ClassDef | None:
    found = trees.definition(filename, qualname)
    return found.node if found is not None and isinstance(found.node, ast.ClassDef) else None


def names_used(node: ast.AST) -> list[list[str]]:
    """Dotted names the code reads: ``helper``, ``utils.helper``, ``np.mean``,
    ``self.fit``; ``super().fit`` as ``["super", "fit"]``."""
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
            elif isinstance(current, ast.Call) and isinstance(current.func, ast.Name) and current.func.id == "super":
                chains.append(["super", *reversed(chain)])
        elif isinstance(child, ast.Name) and isinstance(child.ctx, ast.Load):
            chains.append([child.id])
    return chains
