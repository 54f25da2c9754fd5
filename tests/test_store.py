"""Unit tests of the result store (pytest_memento.store)."""

from __future__ import annotations

import hashlib
import importlib
import os
import random
import subprocess
import sys
import textwrap
import time
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import cloudpickle
import pytest

from pytest_memento.compaction import compact
from pytest_memento.files import atomic_write
from pytest_memento.layout import StoreError, ensure_store_dir
from pytest_memento.segment_format import FORMAT, encode_line, valid_key
from pytest_memento.store import ResultStore

store_module = importlib.import_module("pytest_memento.store")

CACHEDIR_SIGNATURE = "Signature: 8a477f597d28d172789f06886806bc55"
AN_HOUR_AGO = time.time() - 3600


def K(i: int) -> str:
    """A valid 64-hex config key."""
    return hashlib.sha256(str(i).encode()).hexdigest()


def meta_of(i: int, **extra: Any) -> dict[str, Any]:
    return {"config": {"i": i, "name": f"c{i}"}, "metrics": {"score": i / 10, "n": i}, "duration": 1.5, **extra}


def put(store: ResultStore, i: int, value: Any = None, *, defer: bool = False) -> bytes:
    """Store ``value`` (default: a small dict) under K(i); returns the pickled bytes."""
    payload = cloudpickle.dumps({"i": i} if value is None else value)
    store.put(K(i), meta_of(i), payload, defer=defer)
    return payload


def segment_files(root: Path) -> list[Path]:
    return sorted((root / "results" / "segments").glob("*.seg"))


def blob_files(root: Path) -> list[Path]:
    return sorted((root / "results" / "blobs").rglob("*.pkl"))


def age(root: Path, when: float = AN_HOUR_AGO) -> None:
    """Make every file under ``root`` look untouched since ``when``."""
    for path in root.rglob("*"):
        if path.is_file():
            os.utime(path, (when, when))


@pytest.fixture
def root(tmp_path: Path) -> Path:
    return tmp_path / "store"


@pytest.fixture
def problems() -> list[str]:
    return []


@pytest.fixture
def open_store(root: Path, problems: list[str]) -> Iterator[Callable[..., ResultStore]]:
    """Open a new ResultStore on ``root`` (like another process would); all closed at teardown."""
    opened: list[ResultStore] = []

    def opener(**kwargs: Any) -> ResultStore:
        kwargs.setdefault("on_problem", problems.append)
        store = ResultStore(root, **kwargs)
        opened.append(store)
        return store

    yield opener
    for store in opened:
        store.close()


@pytest.fixture
def store(open_store: Callable[..., ResultStore]) -> ResultStore:
    return open_store().create()


# -- helpers -------------------------------------------------------------------


@pytest.mark.parametrize(
    ("key", "valid"),
    [
        (K(0), True),
        ("0" * 64, True),
        ("f" * 64, True),
        (K(0).upper(), False),
        (K(0)[:63], False),
        (K(0) + "0", False),
        ("g" * 64, False),
        ("", False),
        (K(0) + "\n", False),
        ("../" + K(0)[3:], False),
    ],
)
def test_valid_key(key: str, valid: bool) -> None:
    assert valid_key(key) is valid


def test_atomic_write_writes_and_replaces(tmp_path: Path) -> None:
    target = tmp_path / "file.bin"
    atomic_write(target, b"first")
    assert target.read_bytes() == b"first"
    atomic_write(target, memoryview(b"second"))
    assert target.read_bytes() == b"second"
    assert [path.name for path in tmp_path.iterdir()] == ["file.bin"]


def test_atomic_write_leaves_no_temp_file_on_failure(tmp_path: Path) -> None:
    with pytest.raises(FileNotFoundError):
        atomic_write(tmp_path / "missing" / "file.bin", b"x")
    target = tmp_path / "a-directory"
    (target / "inside").mkdir(parents=True)
    with pytest.raises(OSError):  # noqa: PT011 - which OSError depends on the platform
        atomic_write(target, b"x")  # replacing a non-empty directory fails
    assert sorted(path.name for path in tmp_path.iterdir()) == ["a-directory"]


def test_ensure_store_dir_creates_tagged_ignored_directory(root: Path) -> None:
    target = root / "nested" / ".memento"
    ensure_store_dir(target)
    tag = (target / "CACHEDIR.TAG").read_text()
    assert tag.splitlines()[0] == CACHEDIR_SIGNATURE
    assert tag.startswith(CACHEDIR_SIGNATURE + "\n")
    assert "*" in (target / ".gitignore").read_text().splitlines()
    assert (target / "README.md").is_file()


def test_ensure_store_dir_is_idempotent_and_keeps_existing_files(root: Path) -> None:
    ensure_store_dir(root)
    (root / ".gitignore").write_text("custom\n")
    ensure_store_dir(root)
    assert (root / ".gitignore").read_text() == "custom\n"
    assert not [path for path in root.iterdir() if path.name.endswith(".tmp")]


def test_ensure_store_dir_on_a_file_raises(tmp_path: Path) -> None:
    target = tmp_path / "file"
    target.write_text("not a directory")
    with pytest.raises(StoreError, match="not a directory"):
        ensure_store_dir(target)
    with pytest.raises(StoreError, match="cannot create"):
        ensure_store_dir(target / "below")
    with pytest.raises(StoreError):
        ResultStore(target).create()


def test_create_returns_the_store(root: Path) -> None:
    store = ResultStore(root)
    assert store.create() is store
    assert (root / "CACHEDIR.TAG").is_file()


# -- put and get ------------------------------------------------------------------


def test_empty_or_missing_store(root: Path, problems: list[str]) -> None:
    store = ResultStore(root / "never-created", on_problem=problems.append)
    assert len(store) == 0
    assert store.get(K(0)) is None
    assert store.keys() == set()
    assert list(store.iter_entries()) == []
    assert problems == []


def _check_round_trip(store: ResultStore, i: int, value: Any, payload: bytes) -> None:
    entry = store.get(K(i))
    assert entry is not None
    assert entry.key == K(i)
    assert entry.metrics == {"score": i / 10, "n": i}
    assert entry.duration == 1.5
    assert entry.sha256 == hashlib.sha256(payload).hexdigest()
    meta = store.meta(entry)
    assert meta["config"] == {"i": i, "name": f"c{i}"}
    assert meta["format"] == FORMAT
    assert meta["key"] == K(i)
    assert meta["payload"]["sha256"] == entry.sha256
    assert store.payload(entry) == payload
    assert store.load_result(entry) == value


def test_put_get_round_trip_inline(
    store: ResultStore, open_store: Callable[..., ResultStore], problems: list[str]
) -> None:
    value = {"accuracy": 0.93, "weights": list(range(100))}
    payload = put(store, 1, value)
    _check_round_trip(store, 1, value, payload)
    assert store.get(K(1)).blob is None  # type: ignore[union-attr]
    _check_round_trip(open_store(), 1, value, payload)
    assert blob_files(store.root) == []
    assert problems == []


def test_put_get_round_trip_blob(
    store: ResultStore, open_store: Callable[..., ResultStore], monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(store_module, "INLINE_LIMIT", 64)
    value = {"model": "x" * 1000}
    payload = put(store, 2, value)
    assert len(payload) > 64
    entry = store.get(K(2))
    assert entry is not None
    assert entry.blob is not None
    assert entry.size == 0
    (blob,) = blob_files(store.root)
    assert blob.parent.name == K(2)[:2]
    assert blob.name == entry.blob
    assert blob.read_bytes() == payload
    _check_round_trip(store, 2, value, payload)
    _check_round_trip(open_store(), 2, value, payload)


def test_put_records_fingerprint_and_environment(store: ResultStore, open_store: Callable[..., ResultStore]) -> None:
    store.set_environment({"python": "3.x", "host": "here"})
    store.put(K(3), {**meta_of(3), "fingerprint": "abc123"}, b"payload")
    fresh = open_store()
    entry = fresh.get(K(3))
    assert entry is not None
    assert entry.fingerprint == "abc123"
    assert dict(entry.env) == {"python": "3.x", "host": "here"}
    assert fresh.meta(entry)["environment"] == {"python": "3.x", "host": "here"}


def test_put_refuses_invalid_keys(store: ResultStore) -> None:
    with pytest.raises(ValueError, match="not a config key"):
        store.put("../escape", {}, b"x")
    with pytest.raises(ValueError, match="not a config key"):
        store.remove(K(0).upper())


def test_put_without_create_makes_the_directories(root: Path, open_store: Callable[..., ResultStore]) -> None:
    store = open_store()
    put(store, 0)
    assert len(segment_files(root)) == 1
    assert open_store().get(K(0)) is not None


def test_deferred_put_is_invisible_to_others_until_flush(open_store: Callable[..., ResultStore]) -> None:
    writer = open_store()
    put(writer, 0)
    put(writer, 1, defer=True)
    other = open_store()
    assert other.get(K(0)) is not None
    assert other.get(K(1)) is None
    writer.flush()
    assert open_store().get(K(1)) is not None  # a fresh instance sees it
    assert other.get(K(1)) is None  # an instance reads the segments once...
    other.refresh()
    assert other.get(K(1)) is not None  # ...until refreshed


def test_deferred_put_is_visible_to_its_own_store(store: ResultStore, open_store: Callable[..., ResultStore]) -> None:
    payload = put(store, 5, defer=True)
    entry = store.get(K(5))  # get flushes what it needs
    assert entry is not None
    assert store.payload(entry) == payload
    assert open_store().get(K(5)) is not None


def test_close_flushes_deferred_puts(store: ResultStore, open_store: Callable[..., ResultStore]) -> None:
    for i in range(20):
        put(store, i, defer=True)
    assert len(open_store()) == 0
    store.close()
    assert len(open_store()) == 20


def test_deferred_put_is_written_after_max_delay(store: ResultStore, open_store: Callable[..., ResultStore]) -> None:
    store.max_delay = 0.0
    put(store, 0, defer=True)
    assert open_store().get(K(0)) is not None


def test_deferred_puts_are_one_write(store: ResultStore, open_store: Callable[..., ResultStore]) -> None:
    payloads = {i: put(store, i, [i] * i, defer=True) for i in range(10)}
    store.flush()
    fresh = open_store()
    for i, payload in payloads.items():
        entry = fresh.get(K(i))
        assert entry is not None
        assert fresh.payload(entry) == payload
        assert fresh.load_result(entry) == [i] * i


def test_deferred_put_is_listed_by_its_own_store(store: ResultStore) -> None:
    assert len(store) == 0  # reads the (empty) segments once
    put(store, 0, defer=True)
    assert store.keys() == {K(0)}
    assert len(store) == 1


def test_newest_put_wins(store: ResultStore, open_store: Callable[..., ResultStore]) -> None:
    put(store, 0, "first")
    put(store, 0, "second")
    assert store.load_result(store.get(K(0))) == "second"  # type: ignore[arg-type]
    fresh = open_store()
    assert fresh.load_result(fresh.get(K(0))) == "second"  # type: ignore[arg-type]
    time.sleep(0.01)
    put(open_store(), 0, "third")  # another writer, another segment
    fresh = open_store()
    assert len(fresh) == 1
    assert fresh.load_result(fresh.get(K(0))) == "third"  # type: ignore[arg-type]


def test_remove_hides_a_key(store: ResultStore, open_store: Callable[..., ResultStore]) -> None:
    put(store, 0)
    put(store, 1)
    assert store.remove(K(0)) is True
    assert store.get(K(0)) is None
    assert store.remove(K(7)) is False
    fresh = open_store()
    assert fresh.keys() == {K(1)}
    time.sleep(0.01)
    put(store, 0, "again")
    fresh = open_store()
    assert fresh.keys() == {K(0), K(1)}
    assert fresh.load_result(fresh.get(K(0))) == "again"  # type: ignore[arg-type]


def test_remove_by_another_writer(store: ResultStore, open_store: Callable[..., ResultStore]) -> None:
    put(store, 0)
    time.sleep(0.01)
    assert open_store().remove(K(0)) is True
    assert open_store().get(K(0)) is None


def test_clear(store: ResultStore, open_store: Callable[..., ResultStore], monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(store_module, "INLINE_LIMIT", 64)
    for i in range(3):
        put(store, i)
    put(store, 3, "x" * 500)  # a blob
    put(store, 4, defer=True)  # pending: written and counted, then removed
    assert store.clear() == 5
    assert len(store) == 0
    assert len(open_store()) == 0
    store.close()
    age(store.root)  # gc leaves blobs younger than SAFE_AGE: a writer may be about to name them
    compact(open_store(), older_than=0)
    assert blob_files(store.root) == []
    assert (store.root / "CACHEDIR.TAG").is_file()
    put(store, 9)
    assert open_store().keys() == {K(9)}


def test_each_writer_has_its_own_segment(store: ResultStore, open_store: Callable[..., ResultStore]) -> None:
    put(store, 0)
    other = open_store()
    put(other, 1)
    assert len(segment_files(store.root)) == 2
    third = open_store()
    assert third.keys() == {K(0), K(1)}
    assert [entry.key for entry in third.iter_entries()] == sorted([K(0), K(1)])
    assert {entry.segment for entry in third.iter_entries()} == set(segment_files(store.root))


def test_resolve_prefix(store: ResultStore) -> None:
    for i in range(5):
        put(store, i)
    assert store.resolve(K(3)[:8]) == [K(3)]
    assert store.resolve(K(3)[:8].upper()) == [K(3)]
    assert store.resolve("") == []
    assert store.resolve("zz") == []
    assert store.resolve(K(3) + "0") == []


# -- corruption -------------------------------------------------------------------------


@pytest.fixture
def three_entries(store: ResultStore) -> Path:
    """A closed segment holding K(0), K(1), K(2); returns its path."""
    for i in range(3):
        put(store, i, {"value": i, "padding": "p" * 100})
    store.close()
    (segment,) = segment_files(store.root)
    return segment


def assert_intact(open_store: Callable[..., ResultStore], keys: range) -> ResultStore:
    fresh = open_store()
    assert fresh.keys() >= {K(i) for i in keys}
    for i in keys:
        entry = fresh.get(K(i))
        assert entry is not None
        assert fresh.load_result(entry)["value"] == i
    return fresh


GARBAGE = {
    "binary": b"\x00\xffgarbage\xfe\n",
    "json number": b"42\n",
    "json list": b"[1, 2]\n",
    "no key": b'{"op":"put"}\n',
    "bad key": b'{"op":"put","k":"../x"}\n',
    "unknown op": b'{"op":"zap","k":"' + K(9).encode() + b'"}\n',
    "negative size": b'{"op":"put","k":"' + K(9).encode() + b'","n":-1}\n{}\n',
    "binary without newline": b"\x00\x01\x02",
}


@pytest.mark.parametrize("garbage", list(GARBAGE.values()), ids=list(GARBAGE))
def test_garbage_appended_to_a_segment(
    three_entries: Path, open_store: Callable[..., ResultStore], problems: list[str], garbage: bytes
) -> None:
    with open(three_entries, "ab") as handle:
        handle.write(garbage)
    age(three_entries.parent)
    fresh = assert_intact(open_store, range(3))
    assert len(fresh) == 3
    assert problems
    assert all(three_entries.name in problem for problem in problems)


def test_truncated_segment(three_entries: Path, open_store: Callable[..., ResultStore], problems: list[str]) -> None:
    data = three_entries.read_bytes()
    third_start = data.rindex(b'{"op":"put"')
    three_entries.write_bytes(data[: third_start + (len(data) - third_start) // 2])
    # Just written: a writer may be at work, so no warning yet.
    fresh = assert_intact(open_store, range(2))
    assert fresh.get(K(2)) is None
    assert problems == []
    # Left alone for an hour: the partial tail is reported.
    age(three_entries.parent)
    fresh = assert_intact(open_store, range(2))
    assert fresh.get(K(2)) is None
    assert len(problems) == 1
    assert three_entries.name in problems[0]
    assert f"partial record at byte {third_start}" in problems[0]


@pytest.mark.parametrize("cut", [1, 10, 50, 200, 300])
def test_segment_truncated_at_any_point(
    three_entries: Path, open_store: Callable[..., ResultStore], problems: list[str], cut: int
) -> None:
    data = three_entries.read_bytes()
    three_entries.write_bytes(data[:-cut])
    age(three_entries.parent)
    fresh = open_store()
    assert len(fresh) <= 3
    assert_intact(open_store, range(len(fresh)))
    assert all(three_entries.name in problem for problem in problems)


def test_foreign_segment_with_random_bytes(
    three_entries: Path, open_store: Callable[..., ResultStore], problems: list[str]
) -> None:
    foreign = three_entries.parent / "x.seg"
    foreign.write_bytes(random.Random(0).randbytes(4096))
    age(three_entries.parent)
    fresh = assert_intact(open_store, range(3))
    assert len(fresh) == 3
    assert len(problems) == 1
    assert "x.seg" in problems[0]


def test_unreadable_segment_is_reported(
    three_entries: Path, open_store: Callable[..., ResultStore], problems: list[str]
) -> None:
    (three_entries.parent / "y.seg").mkdir()
    assert len(assert_intact(open_store, range(3))) == 3
    assert len(problems) == 1
    assert "y.seg" in problems[0]


def test_other_files_in_segments_are_ignored(
    three_entries: Path, open_store: Callable[..., ResultStore], problems: list[str]
) -> None:
    (three_entries.parent / "notes.txt").write_bytes(b"\x00 not a segment \xff")
    (three_entries.parent / ".x.seg.123.abcd.tmp").write_bytes(b'{"op":"put"')
    age(three_entries.parent)
    assert len(assert_intact(open_store, range(3))) == 3
    assert problems == []


def test_record_naming_a_foreign_blob_is_ignored(
    three_entries: Path, open_store: Callable[..., ResultStore], problems: list[str]
) -> None:
    head = {
        "op": "put",
        "k": K(7),
        "i": "000000000000.1",
        "t": time.time(),
        "m": {},
        "d": 0,
        "n": 0,
        "h": "0" * 64,
        "b": "../../../etc/passwd",
    }
    with open(three_entries, "ab") as handle:  # a well-formed record (valid checksum) naming a foreign path
        handle.write(encode_line(head, b"{}\n") + b"{}\n\n")
    fresh = assert_intact(open_store, range(3))
    assert fresh.get(K(7)) is None
    assert fresh.problem_of(K(7)) == "its record names a foreign payload"


def test_tampered_inline_payload(three_entries: Path, open_store: Callable[..., ResultStore]) -> None:
    entry = open_store().get(K(1))
    assert entry is not None
    with open(three_entries, "r+b") as handle:
        handle.seek(entry.payload_offset + entry.size // 2)
        byte = handle.read(1)
        handle.seek(-1, os.SEEK_CUR)
        handle.write(bytes([byte[0] ^ 0xFF]))
    fresh = open_store()
    tampered = fresh.scan().entries[K(1)]
    assert fresh.meta(tampered)["config"]["i"] == 1  # metadata is intact
    with pytest.raises(LookupError, match="hash"):
        fresh.payload(tampered)
    with pytest.raises(LookupError, match="hash"):
        fresh.load_result(tampered)
    assert fresh.get(K(1)) is None  # a damaged payload is a miss...
    assert "does not match its recorded hash" in (fresh.problem_of(K(1)) or "")  # ...that says why
    assert fresh.load_result(fresh.get(K(0)))["value"] == 0  # type: ignore[arg-type]


def test_tampered_or_missing_blob(
    store: ResultStore, open_store: Callable[..., ResultStore], monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(store_module, "INLINE_LIMIT", 64)
    put(store, 0, "x" * 500)
    (blob,) = blob_files(store.root)
    data = bytearray(blob.read_bytes())
    data[len(data) // 2] ^= 0xFF
    blob.write_bytes(bytes(data))
    fresh = open_store()
    assert fresh.get(K(0)) is None  # checked before it is reported as cached
    entry = fresh.scan().unusable[K(0)][0]
    with pytest.raises(LookupError, match="hash"):
        fresh.load_result(entry)
    blob.unlink()
    with pytest.raises(LookupError, match="is missing"):
        fresh.payload(entry)


def test_put_again_repairs_a_corrupt_blob(
    store: ResultStore, open_store: Callable[..., ResultStore], monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(store_module, "INLINE_LIMIT", 64)
    put(store, 0, "x" * 500)
    (blob,) = blob_files(store.root)
    blob.write_bytes(blob.read_bytes()[:-10])  # e.g. a disk that filled up
    put(store, 0, "x" * 500)  # the item ran again and is stored again
    fresh = open_store()
    assert fresh.load_result(fresh.get(K(0))) == "x" * 500  # type: ignore[arg-type]


def test_huge_size_in_a_corrupt_record_does_not_raise(
    three_entries: Path, open_store: Callable[..., ResultStore], problems: list[str]
) -> None:
    with open(three_entries, "ab") as handle:
        handle.write(b'{"op":"put","k":"%s","n":%d}\n{}\n\n' % (K(9).encode(), 2**63))
    assert len(assert_intact(open_store, range(3))) == 3


def test_deeply_nested_json_in_a_segment_does_not_raise(
    three_entries: Path, open_store: Callable[..., ResultStore], problems: list[str]
) -> None:
    with open(three_entries, "ab") as handle:
        handle.write(b"[" * 100_000 + b"\n")
    assert len(assert_intact(open_store, range(3))) == 3


# -- compact ------------------------------------------------------------------------------


def test_compact_merges_segments_and_drops_dead_records(
    open_store: Callable[..., ResultStore], root: Path, problems: list[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(store_module, "INLINE_LIMIT", 64)
    first = open_store().create()
    put(first, 0, "zero-old")
    put(first, 1, "one")
    put(first, 2, "A" * 200)  # blob, superseded below
    put(first, 3, "three")
    first.close()
    time.sleep(0.01)
    second = open_store()
    put(second, 0, "zero-new")
    put(second, 2, "B" * 200)  # new blob; the old one becomes an orphan
    second.remove(K(3))
    put(second, 4, "four")
    second.close()
    time.sleep(0.01)
    third = open_store()
    put(third, 5, "C" * 200)
    third.remove(K(1))
    third.close()
    old_segments = segment_files(root)
    assert len(old_segments) == 3
    assert len(blob_files(root)) == 3
    orphan = next(path for path in blob_files(root) if cloudpickle.loads(path.read_bytes()) == "A" * 200)
    age(root)

    compactor = open_store()
    assert compact(compactor, older_than=0, dry_run=True) == sorted([*old_segments, orphan])
    assert segment_files(root) == old_segments  # a dry run removes nothing
    removed = compact(compactor, older_than=0)
    assert removed == sorted([*old_segments, orphan])

    (merged,) = segment_files(root)
    assert merged not in old_segments
    assert not orphan.exists()
    assert len(blob_files(root)) == 2
    assert merged.read_bytes().count(b'"op":"put"') == 4
    fresh = open_store()
    expected = {0: "zero-new", 2: "B" * 200, 4: "four", 5: "C" * 200}
    assert fresh.keys() == {K(i) for i in expected}
    for i, value in expected.items():
        entry = fresh.get(K(i))
        assert entry is not None
        assert fresh.load_result(entry) == value
        assert entry.metrics == {"score": i / 10, "n": i}
        assert fresh.meta(entry)["config"]["i"] == i
    assert compactor.keys() == fresh.keys()
    assert problems == []


def test_compact_leaves_young_files_alone(store: ResultStore, open_store: Callable[..., ResultStore]) -> None:
    put(store, 0)
    put(open_store(), 1)
    before = segment_files(store.root)
    assert (
        compact(
            store,
        )
        == []
    )
    assert segment_files(store.root) == before
    assert open_store().keys() == {K(0), K(1)}


def test_writer_continues_after_its_segment_was_compacted(
    store: ResultStore, open_store: Callable[..., ResultStore], root: Path
) -> None:
    put(store, 0)
    put(open_store(), 1)
    age(root)
    compact(open_store(), older_than=0)
    put(store, 2)  # its segment is gone: it starts a new one
    assert open_store().keys() == {K(0), K(1), K(2)}


def test_compact_removes_temp_files_of_killed_writers(store: ResultStore, root: Path) -> None:
    put(store, 0)
    leftover = root / "results" / "segments" / ".old.seg.123.abcd.tmp"
    leftover.write_bytes(b"partial")
    age(root)
    assert leftover in compact(store, older_than=0)
    assert not leftover.exists()


# -- several processes ---------------------------------------------------------------------

WRITER = textwrap.dedent(
    """
    import hashlib, sys
    from pathlib import Path
    from pytest_memento.store import ResultStore

    root, worker = Path(sys.argv[1]), int(sys.argv[2])
    store = ResultStore(root)
    for i in range(worker * 200, worker * 200 + 200):
        key = hashlib.sha256(str(i).encode()).hexdigest()
        store.put(key, {"config": {"i": i}, "metrics": {"i": i}}, str(i).encode(), defer=False)
    store.close()
    """
)


def test_concurrent_writers(root: Path, open_store: Callable[..., ResultStore], problems: list[str]) -> None:
    ensure_store_dir(root)
    processes = [
        subprocess.Popen([sys.executable, "-c", WRITER, str(root), str(worker)], stderr=subprocess.PIPE)
        for worker in range(4)
    ]
    errors = [process.communicate(timeout=60)[1] for process in processes]
    assert [process.returncode for process in processes] == [0, 0, 0, 0], errors
    assert len(segment_files(root)) == 4
    fresh = open_store()
    assert len(fresh) == 800
    for i in range(800):
        entry = fresh.get(K(i))
        assert entry is not None
        assert entry.metrics == {"i": i}
        assert fresh.payload(entry) == str(i).encode()
    assert problems == []


CRASHER = textwrap.dedent(
    """
    import hashlib, sys
    from pathlib import Path
    from pytest_memento.store import ResultStore

    store = ResultStore(Path(sys.argv[1]))
    i = 0
    while True:
        key = hashlib.sha256(str(i).encode()).hexdigest()
        store.put(key, {"config": {"i": i}, "metrics": {"i": i}}, bytes([i % 256]) * 50_000, defer=False)
        print(i, flush=True)
        i += 1
    """
)


def test_writer_killed_mid_write(root: Path, open_store: Callable[..., ResultStore], problems: list[str]) -> None:
    ensure_store_dir(root)
    with subprocess.Popen(
        [sys.executable, "-c", CRASHER, str(root)], stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True
    ) as process:
        assert process.stdout is not None
        reported = -1
        while reported < 49:
            line = process.stdout.readline()
            assert line, process.stderr.read() if process.stderr else "writer died"
            reported = int(line)
        process.kill()  # SIGKILL, wherever it is
        process.communicate(timeout=30)
    assert process.returncode == -9
    fresh = open_store()
    assert len(fresh) >= reported + 1 >= 50
    for i in range(reported + 1):
        entry = fresh.get(K(i))
        assert entry is not None
        assert entry.metrics == {"i": i}
        assert fresh.payload(entry) == bytes([i % 256]) * 50_000
    assert problems == []  # a young partial tail is not worth a warning
    age(root)
    assert len(open_store()) == len(fresh)  # an old one is reported, never raised
    assert all(segment_files(root)[0].name in problem for problem in problems)
