"""The mirrored store (remote.py, mirror.py, remote_store.py) against fsspec's in-memory
filesystem: no server, no subprocess. The same code runs against S3 in
tests/test_object_store.py."""

from __future__ import annotations

import pickle
import secrets
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

fsspec = pytest.importorskip("fsspec", reason="fsspec is not installed (pip install 'pytest-memento[s3]')")

from pytest_memento.compaction import compact  # noqa: E402
from pytest_memento.mirror import Mirror  # noqa: E402
from pytest_memento.remote import Remote, RemoteError  # noqa: E402
from pytest_memento.remote_store import MirroredStore, StoreLocation, open_store, store_exists  # noqa: E402
from pytest_memento.segment_format import encode_line  # noqa: E402
from pytest_memento.settings import resolve_store  # noqa: E402
from pytest_memento.signing import Signer  # noqa: E402
from pytest_memento.sources import SettingsError, Sources  # noqa: E402
from pytest_memento.store import INLINE_LIMIT, ResultStore  # noqa: E402
from pytest_memento.store_urls import cache_dir_for, display_url, is_url  # noqa: E402
from pytest_memento.write_failures import StoreWriteError  # noqa: E402

KEY_A, KEY_B, KEY_C = "a" * 64, "b" * 64, "c" * 64


@pytest.fixture
def url() -> Iterator[str]:
    """A fresh memory:// prefix (removed afterwards)."""
    prefix = f"memory://bucket{secrets.token_hex(4)}/store"
    yield prefix
    memory = fsspec.filesystem("memory")
    if memory.exists(prefix):
        memory.rm(prefix, recursive=True)


def opened(url: str, cache: Path, problems: list[str] | None = None, signer: Signer | None = None) -> MirroredStore:
    sink = problems.append if problems is not None else None
    store = open_store(StoreLocation(cache, url), on_problem=sink, signer=signer)
    assert isinstance(store, MirroredStore)
    return store


def remote_names(url: str, under: str = "results/segments") -> list[str]:
    memory = fsspec.filesystem("memory")
    base = url.split("://", 1)[1]
    return sorted(path.rsplit("/", 1)[-1] for path in memory.find(f"/{base}/{under}"))


def meta(experiment: str = "e", **metrics: Any) -> dict[str, Any]:
    return {"experiment": experiment, "test_id": "x", "metrics": metrics}


def test_urls_are_told_from_paths() -> None:
    assert is_url("s3://bucket/prefix")
    assert is_url("memory://x")
    assert is_url("file:///tmp/x")
    assert not is_url("/tmp/store")
    assert not is_url("C:\\store")
    assert not is_url(".memento")
    assert display_url("ftp://user:pw@host/dir/") == "ftp://***@host/dir"
    assert display_url("s3://bucket/prefix/") == "s3://bucket/prefix"


def test_one_bucket_name_on_two_endpoints_is_two_caches(tmp_path: Path) -> None:
    one = cache_dir_for("s3://b/p", {"client_kwargs": {"endpoint_url": "http://a:1"}}, tmp_path, {})
    other = cache_dir_for("s3://b/p", {}, tmp_path, {"AWS_ENDPOINT_URL": "http://b:2"})
    same = cache_dir_for("s3://b/p/", {}, tmp_path, {"AWS_ENDPOINT_URL": "http://b:2"})
    assert one != other
    assert other == same
    assert one.parent == tmp_path


def test_results_round_trip_through_another_cache(url: str, tmp_path: Path) -> None:
    writer = opened(url, tmp_path / "one").create()
    writer.put(KEY_A, meta(x=1), pickle.dumps({"small": 1}))
    large = b"x" * (INLINE_LIMIT + 10)
    writer.put(KEY_B, meta(x=2), pickle.dumps(large))
    writer.close()
    assert remote_names(url, "results/blobs/bb")  # the blob went up before the record naming it
    reader = opened(url, tmp_path / "two")
    assert len(reader) == 2
    blob = next((tmp_path / "two" / "results" / "blobs").rglob("*.pkl"), None) if (tmp_path / "two").exists() else None
    assert blob is None  # blobs are downloaded when read, not when listed
    entry_a, entry_b = reader.get(KEY_A), reader.get(KEY_B)
    assert entry_a is not None
    assert entry_b is not None
    assert reader.load_result(entry_a) == {"small": 1}
    assert reader.load_result(entry_b) == large
    assert store_exists(StoreLocation(tmp_path / "two", url))


def test_each_write_is_one_sealed_object_and_nothing_stays_in_the_outbox(url: str, tmp_path: Path) -> None:
    store = opened(url, tmp_path / "c").create()
    store.put(KEY_A, meta(x=1), pickle.dumps(1), defer=True)
    store.put(KEY_B, meta(x=2), pickle.dumps(2), defer=True)
    assert remote_names(url) == []  # deferred: nothing written yet
    store.flush()
    store.put(KEY_C, meta(x=3), pickle.dumps(3))
    names = remote_names(url)
    assert len(names) == 2
    memory = fsspec.filesystem("memory")
    base = url.split("://", 1)[1]
    for name in names:
        data = memory.cat_file(f"/{base}/results/segments/{name}")
        assert data.startswith(b'{"op":"env"')
        assert data.endswith(encode_line({"op": "end"}))
    assert not list((tmp_path / "c" / "outbox").iterdir())


def test_a_failed_upload_is_a_failed_write_and_leaves_nothing(
    url: str, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    store = opened(url, tmp_path / "c").create()

    def refuse(self: Remote, name: str, source: Any) -> None:
        raise RemoteError(f"{self.shown}: uploading {name} failed: cannot reach the endpoint")

    monkeypatch.setattr(Remote, "upload", refuse)
    store.put(KEY_A, meta(experiment="exp"), pickle.dumps(1), defer=True)
    with pytest.raises(StoreWriteError, match="cannot reach the endpoint"):
        store.flush()
    assert store.failures.lost == ["exp[x]"]
    assert remote_names(url) == []
    assert not list((tmp_path / "c" / "outbox").iterdir())
    monkeypatch.undo()
    assert len(opened(url, tmp_path / "other")) == 0


def test_gc_compacts_remotely_and_removed_records_never_come_back(url: str, tmp_path: Path) -> None:
    writer = opened(url, tmp_path / "w").create()
    for key in (KEY_A, KEY_B, KEY_C):
        writer.put(key, meta(), pickle.dumps(key))
    writer.close()
    early = opened(url, tmp_path / "early")
    assert len(early) == 3  # it caches the three segments
    remover = opened(url, tmp_path / "r")
    assert remover.remove(KEY_B)
    remover.close()
    assert len(remote_names(url)) == 4
    removed = compact(remover, older_than=0)
    assert len(removed) == 4
    names = remote_names(url)
    assert len(names) == 1
    assert names[0].startswith("compacted-")
    early.refresh()
    assert sorted(early.keys()) == [KEY_A, KEY_C]  # its cached copies of the old segments are gone
    assert len(list((tmp_path / "early" / "results" / "segments").iterdir())) == 1


def test_gc_removes_unreferenced_blobs_remotely(url: str, tmp_path: Path) -> None:
    store = opened(url, tmp_path / "c").create()
    store.put(KEY_A, meta(), pickle.dumps(b"1" * (INLINE_LIMIT + 1)))
    store.put(KEY_A, meta(), pickle.dumps(b"2" * (INLINE_LIMIT + 1)))  # supersedes the first
    store.close()
    assert len(remote_names(url, "results/blobs/aa")) == 2
    compact(store, older_than=0)
    assert len(remote_names(url, "results/blobs/aa")) == 2  # too young to go (SAFE_AGE)
    removed = store.blob_garbage({store.get(KEY_A).blob or ""}, float("inf"), False)  # type: ignore[union-attr]
    assert len(removed) == 1
    store.unpublish(removed[0])
    assert len(remote_names(url, "results/blobs/aa")) == 1
    assert pickle.loads(store.payload(store.get(KEY_A))) == b"2" * (INLINE_LIMIT + 1)  # type: ignore[arg-type]


def test_a_changed_object_is_downloaded_again_and_its_damage_is_a_miss(url: str, tmp_path: Path) -> None:
    writer = opened(url, tmp_path / "w").create()
    writer.put(KEY_A, meta(x=1), pickle.dumps(1))
    writer.close()
    problems: list[str] = []
    reader = opened(url, tmp_path / "r", problems)
    assert reader.get(KEY_A) is not None
    memory = fsspec.filesystem("memory")
    path = f"/{url.split('://', 1)[1]}/results/segments/{remote_names(url)[0]}"
    data = memory.cat_file(path)
    memory.pipe_file(path, data.replace(b'"x":1', b'"x":7'))  # same size, other bytes
    reader.refresh()
    assert reader.get(KEY_A) is None
    assert any("damaged record" in problem and url in problem for problem in problems), problems


def test_a_signed_store_refuses_a_planted_unsigned_record(url: str, tmp_path: Path) -> None:
    signer = Signer(b"lab secret")
    signed = opened(url, tmp_path / "s", signer=signer).create()
    signed.put(KEY_A, meta(x=1), pickle.dumps("good"))
    signed.close()
    planter = opened(url, tmp_path / "p")  # no secret
    planter.put(KEY_A, meta(x=666), pickle.dumps("planted"))
    planter.put(KEY_B, meta(x=666), pickle.dumps("planted"))
    planter.close()
    reader = opened(url, tmp_path / "r", signer=signer)
    entry = reader.get(KEY_A)
    assert entry is not None
    assert reader.load_result(entry) == "good"
    assert reader.keys() == {KEY_A}
    assert KEY_B in reader.scan().refused


def test_checkpoints_are_uploaded_on_save_and_resumed_elsewhere(url: str, tmp_path: Path) -> None:
    store = opened(url, tmp_path / "one").create()
    checkpoint = store.open_checkpoint(KEY_A, label={"nodeid": "t"}, fingerprint="f", fresh=False, signer=None)
    assert checkpoint.load(default="start") == "start"
    checkpoint.save({"epoch": 3})
    assert remote_names(url, "checkpoints/aa") == [f"{KEY_A}.ckpt"]
    elsewhere = opened(url, tmp_path / "two")
    resumed = elsewhere.open_checkpoint(KEY_A, label={"nodeid": "t"}, fingerprint="f", fresh=False, signer=None)
    assert resumed.load(default=None) == {"epoch": 3}
    assert resumed.saves == 1
    resumed.remove()
    assert remote_names(url, "checkpoints/aa") == []
    again = store.open_checkpoint(KEY_A, label={"nodeid": "t"}, fingerprint="f", fresh=False, signer=None)
    assert again.load(default="start") == "start"  # the stale cached copy is not resumed


def test_a_pull_leaves_the_outbox_and_unlisted_files_alone(url: str, tmp_path: Path) -> None:
    store = opened(url, tmp_path / "c").create()
    store.put(KEY_A, meta(), pickle.dumps(1))
    (tmp_path / "c" / "outbox").mkdir(exist_ok=True)
    pending = tmp_path / "c" / "outbox" / "writing.seg"
    pending.write_bytes(b"being written")
    mirror = Mirror(store.remote, tmp_path / "c")
    mirror.pull("results/segments", ".seg")
    assert pending.read_bytes() == b"being written"
    assert len(mirror.marked("results/segments")) == 1


def test_remote_errors_say_what_and_mask_secrets() -> None:
    remote = Remote("memory://b/p", {"secret": "TOPSECRET-42", "client_kwargs": {"region_name": "eu"}})
    error = remote.error("listing the store", PermissionError("denied for key TOPSECRET-42"))
    assert "TOPSECRET" not in str(error)
    assert "memory://b/p: listing the store failed: access denied" in str(error)
    missing = remote.error("listing", FileNotFoundError("The specified bucket does not exist"))
    assert "the bucket does not exist" in str(missing)
    with pytest.raises(RemoteError, match="unknown protocol 'nope'"):
        Remote("nope://b/p").check()
    with pytest.raises(RemoteError, match="give a bucket or directory"):
        Remote("memory://").check()


def sources(tmp_path: Path, env: dict[str, str], ini: dict[str, str] | None = None) -> Sources:
    return Sources({"memento_dir": None}, ini or {}, env, tmp_path, tmp_path)


def test_settings_resolve_urls_options_and_cache(tmp_path: Path) -> None:
    env = {
        "MEMENTO_DIR": "memory://bkt/p",
        "MEMENTO_CACHE_DIR": str(tmp_path / "cache"),
        "MEMENTO_STORAGE_OPTIONS": '{"anon": false}',
    }
    location = resolve_store(sources(tmp_path, env, {"memento_storage_options": '{"anon": true}'}))
    assert location.url == "memory://bkt/p"
    assert dict(location.options) == {"anon": False}
    assert location.path.parent == tmp_path / "cache"
    assert (location.path / "CACHEDIR.TAG").is_file()
    assert "anon" not in repr(location)
    bad = {**env, "MEMENTO_STORAGE_OPTIONS": '{"secret": "hunter22"'}
    with pytest.raises(SettingsError, match="MEMENTO_STORAGE_OPTIONS: not valid JSON") as caught:
        resolve_store(sources(tmp_path, bad))
    assert "hunter22" not in str(caught.value)
    plain = resolve_store(sources(tmp_path, {}), create=False)
    assert plain.url is None
    assert plain.path == tmp_path / ".memento"
    assert type(open_store(plain)) is ResultStore


def test_a_missing_protocol_package_names_the_extra(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    import importlib.util

    real = importlib.util.find_spec
    monkeypatch.setattr(importlib.util, "find_spec", lambda name, *a: None if name == "s3fs" else real(name, *a))
    with pytest.raises(
        SettingsError, match=r"MEMENTO_DIR: the s3:// protocol needs s3fs: pip install 'pytest-memento\[s3\]'"
    ):
        resolve_store(sources(tmp_path, {"MEMENTO_DIR": "s3://b/p", "MEMENTO_CACHE_DIR": str(tmp_path)}))


def test_local_stores_never_import_fsspec(tmp_path: Path) -> None:
    code = (
        "import sys, pathlib\n"
        "from pytest_memento import plugin, cli\n"
        "from pytest_memento.settings import resolve\n"
        "from pytest_memento.sources import Sources\n"
        "from pytest_memento.session import MementoSession\n"
        f"root = pathlib.Path({str(tmp_path)!r})\n"
        "settings = resolve(Sources({}, {}, {}, root, root))\n"
        "session = MementoSession(settings, rootdir=root, last_failed=lambda n: False)\n"
        "session.store.create(); session.store.put('a' * 64, {}, b'x'); session.store.close()\n"
        "assert type(session.store).__name__ == 'ResultStore'\n"
        "print('fsspec' in sys.modules, 's3fs' in sys.modules)\n"
    )
    done = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=False)
    assert done.returncode == 0, done.stderr
    assert done.stdout.split() == ["False", "False"]


def test_file_urls_upload_through_a_temp_name(tmp_path: Path) -> None:
    remote_dir = tmp_path / "shared"
    url = f"file://{remote_dir}"
    store = opened(url, tmp_path / "cache").create()
    store.put(KEY_A, meta(x=1), pickle.dumps(1))
    store.close()
    files = sorted(p.relative_to(remote_dir).as_posix() for p in remote_dir.rglob("*") if p.is_file())
    assert files[0] == "README.md"
    assert len(files) == 2
    assert files[1].startswith("results/segments/")
    assert files[1].endswith(".seg")  # no temp file left behind
    other = opened(url, tmp_path / "other-cache")
    entry = other.get(KEY_A)
    assert entry is not None
    assert other.load_result(entry) == 1
