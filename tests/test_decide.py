"""Unit tests of the decision table (:mod:`pytest_memento.decide`), on a
real store in a temporary directory, without spawning pytest."""

from __future__ import annotations

import json
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest

from pytest_memento.cases import Case
from pytest_memento.decide import Action, decide, what_changed
from pytest_memento.fingerprint import Fingerprint
from pytest_memento.hashing import config_hash, config_key, encode_config
from pytest_memento.settings import Settings
from pytest_memento.signing import Signer
from pytest_memento.store import ResultStore

EXPERIMENT = "experiments/test_x.py::train"
CODE = Fingerprint("f" * 64, {"test_x.py::train": "1", "test_x.py::helper": "2"})


def make_case(seed: int = 0, version: object = 0) -> Case:
    encoded = encode_config({"seed": json.dumps(seed).encode()})
    case = Case({"seed": seed}, {}, str(seed), (), version, encoded, 0)
    case.experiment = EXPERIMENT
    case.key = config_key(EXPERIMENT, encoded, version)
    case.config_hash = config_hash(EXPERIMENT, encoded)
    return case


def put(store: ResultStore, case: Case, fingerprint: Fingerprint = CODE) -> None:
    meta = {
        "metrics": {"score": 1.0},
        "duration": 0.5,
        "fingerprint": fingerprint.value,
        "config_hash": case.config_hash,
        "version": case.version,
    }
    store.put(case.key, meta, b"payload", code={"fingerprint_parts": fingerprint.parts})
    store.flush()


@pytest.fixture
def opened() -> Iterator[list[ResultStore]]:
    """Stores a test opens, closed after it."""
    stores: list[ResultStore] = []
    yield stores
    for store in stores:
        store.close()


@pytest.fixture
def open_store(tmp_path: Path, opened: list[ResultStore]) -> Callable[..., ResultStore]:
    def opener(**kwargs: Any) -> ResultStore:
        store = ResultStore(tmp_path / "store", **kwargs).create()
        opened.append(store)
        return store

    return opener


@pytest.fixture
def store(open_store: Callable[..., ResultStore]) -> ResultStore:
    return open_store()


def settings(tmp_path: Path, **changes: object) -> Settings:
    return Settings(store_dir=tmp_path / "store", **changes)  # type: ignore[arg-type]


def test_nothing_stored_is_a_new_configuration(store: ResultStore, tmp_path: Path) -> None:
    decision = decide(make_case(), CODE, store=store, settings=settings(tmp_path), last_failed=False)
    assert (decision.action, decision.reason, decision.entry) == (Action.RUN, "new configuration", None)


def test_last_failed_says_so(store: ResultStore, tmp_path: Path) -> None:
    decision = decide(make_case(), CODE, store=store, settings=settings(tmp_path), last_failed=True)
    assert (decision.action, decision.reason) == (Action.RUN, "last run failed")


def test_stored_with_the_same_code_is_cached(store: ResultStore, tmp_path: Path) -> None:
    case = make_case()
    put(store, case)
    decision = decide(case, CODE, store=store, settings=settings(tmp_path), last_failed=True)
    assert (decision.action, decision.reason) == (Action.CACHED, "stored")
    assert decision.entry is not None
    assert decision.entry.metrics == {"score": 1.0}


def test_rerun_wins_over_everything(store: ResultStore, tmp_path: Path) -> None:
    case = make_case()
    put(store, case)
    decision = decide(case, CODE, store=store, settings=settings(tmp_path, rerun=True), last_failed=False)
    assert (decision.action, decision.reason) == (Action.RUN, "--memento-rerun")


def test_changed_code_names_the_parts_that_changed(store: ResultStore, tmp_path: Path) -> None:
    case = make_case()
    put(store, case)
    now = Fingerprint("e" * 64, {"test_x.py::train": "1", "test_x.py::helper": "3"})
    decision = decide(case, now, store=store, settings=settings(tmp_path), last_failed=False)
    assert (decision.action, decision.reason) == (Action.RUN, "code changed (helper)")
    assert decision.entry is None


def test_changed_code_after_a_failed_run_says_the_run_failed(store: ResultStore, tmp_path: Path) -> None:
    # Stored by an old passing run; the code changed and the next run failed: --lf reruns it
    # because it failed, not because of a code change since that failing run.
    case = make_case()
    put(store, case)
    now = Fingerprint("e" * 64, {"test_x.py::train": "1", "test_x.py::helper": "3"})
    decision = decide(case, now, store=store, settings=settings(tmp_path), last_failed=True)
    assert (decision.action, decision.reason) == (Action.RUN, "last run failed")


@pytest.mark.parametrize("option", ["keep_stale", "cached_only"])
def test_changed_code_is_kept_with_a_warning_when_asked(store: ResultStore, tmp_path: Path, option: str) -> None:
    case = make_case()
    put(store, case)
    now = Fingerprint("e" * 64, {"test_x.py::train": "9", "test_x.py::helper": "2"})
    decision = decide(case, now, store=store, settings=settings(tmp_path, **{option: True}), last_failed=False)
    assert (decision.action, decision.reason) == (Action.CACHED, "stale, kept: code changed (train)")
    assert decision.problems == (f"{EXPERIMENT}[0]: code changed (train); kept",)


def test_cached_only_skips_what_is_not_stored(store: ResultStore, tmp_path: Path) -> None:
    decision = decide(make_case(), CODE, store=store, settings=settings(tmp_path, cached_only=True), last_failed=False)
    assert (decision.action, decision.reason) == (Action.NOT_CACHED, "not cached")


def test_version_bump_says_from_what_to_what(store: ResultStore, tmp_path: Path) -> None:
    put(store, make_case(version=0))
    decision = decide(make_case(version=1), CODE, store=store, settings=settings(tmp_path), last_failed=True)
    assert (decision.action, decision.reason) == (Action.RUN, "version changed (0 -> 1)")


def test_verify_picks_a_deterministic_fraction_by_key(store: ResultStore, tmp_path: Path) -> None:
    cases = [make_case(seed) for seed in range(40)]
    for case in cases:
        put(store, case)
    chosen = [
        decide(case, CODE, store=store, settings=settings(tmp_path, verify=0.5), last_failed=False) for case in cases
    ]
    verified = [d for d in chosen if d.verify]
    assert all(d.action is Action.RUN and d.reason == "--memento-verify" and d.entry is not None for d in verified)
    assert all(d.action is Action.CACHED for d in chosen if not d.verify)
    assert 5 < len(verified) < 35
    again = [decide(c, CODE, store=store, settings=settings(tmp_path, verify=0.5), last_failed=False) for c in cases]
    assert [d.verify for d in again] == [d.verify for d in chosen]
    everything = [
        decide(c, CODE, store=store, settings=settings(tmp_path, verify=1.0), last_failed=False) for c in cases
    ]
    assert all(d.verify for d in everything)


def test_unsigned_result_is_refused_under_a_secret(
    store: ResultStore, open_store: Callable[..., ResultStore], tmp_path: Path
) -> None:
    case = make_case()
    put(store, case)
    signed = open_store(signer=Signer(b"secret"))
    decision = decide(case, CODE, store=signed, settings=settings(tmp_path), last_failed=False)
    assert (decision.action, decision.reason) == (Action.RUN, "signature refused")
    assert "not signed with this store's secret" in decision.problems[-1]


def test_a_damaged_record_is_unusable_not_new(
    store: ResultStore, open_store: Callable[..., ResultStore], tmp_path: Path
) -> None:
    case = make_case()
    put(store, case)
    put(store, make_case(1))  # a later record: the damaged one is not a killed writer's tail
    segment = next((tmp_path / "store" / "results" / "segments").iterdir())
    data = segment.read_bytes()
    at = data.index(b'"score":1.0')
    segment.write_bytes(data[:at] + b'"score":7.0' + data[at + 11 :])  # a changed digit in a stored metric
    problems: list[str] = []
    fresh = open_store(on_problem=problems.append)
    decision = decide(case, CODE, store=fresh, settings=settings(tmp_path), last_failed=False)
    assert decision.action is Action.RUN
    assert decision.reason.startswith("stored entry unusable (its record is damaged")
    assert any("damaged record" in problem for problem in problems)


def test_what_changed_without_recorded_parts(store: ResultStore) -> None:
    case = make_case()
    store.put(case.key, {"metrics": {}, "fingerprint": None}, b"x")
    entry = store.get(case.key)
    assert entry is not None
    assert what_changed(store, entry, CODE) == "recorded without a fingerprint"


def test_what_changed_lists_at_most_five(store: ResultStore) -> None:
    old = Fingerprint("a" * 64, {f"m.py::f{i}": "0" for i in range(8)})
    case = make_case()
    put(store, case, old)
    entry = store.get(case.key)
    assert entry is not None
    now = Fingerprint("b" * 64, {f"m.py::f{i}": "1" for i in range(8)})
    assert what_changed(store, entry, now) == "f0, f1, f2, f3, f4 and 3 more"
