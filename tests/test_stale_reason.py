"""The reason a stale result reruns names what changed: code parts by
qualified name, declared inputs by path (pytest_memento.decide.stale_reason)."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest

from pytest_memento.decide import stale_reason, what_changed
from pytest_memento.fingerprint import Fingerprint
from pytest_memento.store import ResultStore

KEY = "ab" * 32


@pytest.fixture
def store(tmp_path: Path) -> Iterator[ResultStore]:
    opened = ResultStore(tmp_path / "store").create()
    yield opened
    opened.close()


def stored_with(store: ResultStore, parts: dict[str, str]) -> Fingerprint:
    old = Fingerprint.of_parts(parts)
    store.put(KEY, {"metrics": {}, "fingerprint": old.value}, b"x", code={"fingerprint_parts": old.parts})
    store.flush()
    return old


@pytest.mark.parametrize(
    ("now", "reason"),
    [
        ({"models.py::MyNet.forward": "2", "input:data/train.csv": "1"}, "code changed (MyNet.forward)"),
        ({"models.py::MyNet.forward": "1", "input:data/train.csv": "2"}, "input changed (data/train.csv)"),
        (
            {"models.py::MyNet.forward": "2", "input:data/train.csv": "2"},
            "code changed (MyNet.forward); input changed (data/train.csv)",
        ),
        (
            {"models.py::MyNet.forward": "1", "input:data/train.csv": "1", "module:helpers": "1"},
            "code changed (module helpers)",
        ),
        ({"input:data/train.csv": "1"}, "code changed (MyNet.forward)"),  # gone
    ],
    ids=["code", "input", "both", "module", "gone"],
)
def test_the_reason_names_code_and_inputs_apart(store: ResultStore, now: dict[str, str], reason: str) -> None:
    stored_with(store, {"models.py::MyNet.forward": "1", "input:data/train.csv": "1"})
    entry = store.get(KEY)
    assert entry is not None
    assert stale_reason(store, entry, Fingerprint.of_parts(now)) == reason


def test_what_changed_lists_inputs_by_path(store: ResultStore) -> None:
    stored_with(store, {"a.py::f": "1", "input:data": "1"})
    entry = store.get(KEY)
    assert entry is not None
    assert what_changed(store, entry, Fingerprint.of_parts({"a.py::f": "2", "input:data": "2"})) == "f, data"
