"""Unit tests of ``pytest_memento.checkpoint`` (no pytest inside the module).

The contract (DESIGN.md section 4): ``save`` is atomic, a kill during a save
leaves the previous checkpoint whole; ``load`` returns the newest state saved
by the same config key and code fingerprint, else ``default``; large numpy
arrays go to disk through out-of-band pickle buffers, without a copy.
Failed writes and kills are exercised in real subprocesses.
"""

from __future__ import annotations

import hashlib
import json
import pickle
import random
import subprocess
import sys
import textwrap
import threading
import time
import tracemalloc
import zlib
from pathlib import Path
from typing import Any

import numpy as np
import pytest

from pytest_memento.checkpoint import (
    MAGIC,
    Checkpoint,
    CheckpointError,
    CheckpointInfo,
    checkpoint_path,
    iter_checkpoints,
    read_info,
)

KEY = hashlib.sha256(b"pytest-memento/test/checkpoint/a").hexdigest()
OTHER_KEY = hashlib.sha256(b"pytest-memento/test/checkpoint/b").hexdigest()
THIRD_KEY = hashlib.sha256(b"pytest-memento/test/checkpoint/c").hexdigest()
MB = 1 << 20
DEFAULT = object()


def make(root: Path, key: str = KEY, **kwargs: Any) -> Checkpoint:
    return Checkpoint(checkpoint_path(root, key), key=key, **kwargs)


def big_array() -> np.ndarray:
    """64 MB of float64."""
    return np.random.default_rng(0).random(8 * 1024 * 1024)


#: Every ``Tracked`` that was rebuilt from a pickle (read_info must never add to it).
UNPICKLED: list[str] = []


class Tracked:
    """Records each unpickling of itself in ``UNPICKLED``."""

    def __init__(self, name: str) -> None:
        self.name = name

    def __setstate__(self, state: dict[str, Any]) -> None:
        UNPICKLED.append(state["name"])
        self.__dict__.update(state)


class FakeClock:
    def __init__(self) -> None:
        self.now = 1000.0

    def __call__(self) -> float:
        return self.now


def run_python(code: str, *args: str, timeout: float = 60) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-c", textwrap.dedent(code), *args],
        capture_output=True,
        text=True,
        timeout=timeout,
        check=False,
    )


# --------------------------------------------------------------------------- 1. round trips


def test_round_trip_small_dict(tmp_path: Path) -> None:
    make(tmp_path).save({"epoch": 3, "loss": 0.25, "name": "x"})
    assert make(tmp_path).load() == {"epoch": 3, "loss": 0.25, "name": "x"}


def test_round_trip_nested_structures(tmp_path: Path) -> None:
    state = {
        "list": [1, 2.5, "three", None, True],
        "tuple": (1, (2, (3, frozenset({4, 5})))),
        "nested": {"a": {"b": {"c": [b"bytes", bytearray(b"ba"), {"d": set()}]}}},
        "ints": {1: "one", (2, 3): "pair"},
        "big_int": 1 << 200,
        "complex": 1 + 2j,
    }
    make(tmp_path).save(state)
    assert make(tmp_path).load() == state


def test_round_trip_64mb_array_is_equal_and_writable(tmp_path: Path) -> None:
    array = big_array()
    make(tmp_path).save({"a": array})
    path = checkpoint_path(tmp_path, KEY)
    assert path.stat().st_size >= array.nbytes  # the raw bytes are in the file
    loaded = make(tmp_path).load()["a"]
    assert loaded.dtype == np.float64
    assert loaded.shape == array.shape
    assert np.array_equal(loaded, array)
    assert loaded.flags.writeable
    loaded[0] = -1.0  # really writable, and not shared with the original
    assert loaded[0] == -1.0
    assert array[0] != -1.0


def test_round_trip_several_arrays_in_one_state(tmp_path: Path) -> None:
    rng = np.random.default_rng(1)
    state = {
        "weights": [rng.random((50, 40)), rng.random(7).astype(np.float32)],
        "counts": rng.integers(0, 100, size=(3, 4, 5), dtype=np.int64),
        "mask": rng.random(33) > 0.5,
        "empty": np.empty((0, 3)),
        "fortran": np.asfortranarray(rng.random((6, 9))),
        "scalar": np.float64(2.5),
        "epoch": 12,
    }
    make(tmp_path).save(state)
    loaded = make(tmp_path).load()
    assert loaded.keys() == state.keys()
    assert len(loaded["weights"]) == len(state["weights"])
    for a, b in zip(loaded["weights"], state["weights"], strict=True):
        assert a.dtype == b.dtype
        assert np.array_equal(a, b)
    for name in ("counts", "mask", "empty", "fortran"):
        assert loaded[name].dtype == state[name].dtype, name
        assert loaded[name].shape == state[name].shape, name
        assert np.array_equal(loaded[name], state[name]), name
    assert loaded["fortran"].flags.f_contiguous
    assert loaded["scalar"] == state["scalar"]
    assert loaded["epoch"] == 12


def test_round_trip_non_contiguous_slice(tmp_path: Path) -> None:
    base = np.arange(10_000, dtype=np.float64).reshape(100, 100)
    state = {"every_other": base[::2, 1::3], "column": base[:, 7], "reversed": base[::-1]}
    assert not state["every_other"].flags.c_contiguous
    make(tmp_path).save(state)
    loaded = make(tmp_path).load()
    for name, value in state.items():
        assert loaded[name].shape == value.shape, name
        assert np.array_equal(loaded[name], value), name
        assert loaded[name].flags.writeable, name


def test_round_trip_state_needing_cloudpickle(tmp_path: Path) -> None:
    offset = 10
    state = {"f": lambda x: x * 2 + offset, "epoch": 1, "a": np.arange(5.0)}
    with pytest.raises((pickle.PicklingError, AttributeError, TypeError)):
        pickle.dumps(state, protocol=5)  # the plain pickler cannot do it
    make(tmp_path).save(state)
    loaded = make(tmp_path).load()
    assert loaded["f"](1) == 12
    assert loaded["epoch"] == 1
    assert np.array_equal(loaded["a"], np.arange(5.0))


def test_file_layout_is_magic_header_then_pickle_then_buffers(tmp_path: Path) -> None:
    array = np.arange(1000, dtype=np.float64)
    checkpoint = make(tmp_path, label={"nodeid": "t.py::x"}, fingerprint="f1")
    checkpoint.save({"a": array})
    raw = checkpoint.path.read_bytes()
    assert raw.startswith(MAGIC)
    line, rest = raw[len(MAGIC) :].split(b"\n", 1)
    header = json.loads(line)
    assert header["key"] == KEY
    assert header["saves"] == 1
    assert header["fingerprint"] == "f1"
    assert header["label"] == {"nodeid": "t.py::x"}
    assert header["buffers"] == [array.nbytes]  # the array went out of band
    assert len(rest) == header["pickle"] + array.nbytes + len(b"CRC32:00000000\n")
    assert rest[header["pickle"] : -15] == array.tobytes()
    assert rest[-15:] == b"CRC32:%08x\n" % zlib.crc32(rest[:-15], zlib.crc32(line + b"\n"))


# --------------------------------------------------------------------------- 2. saves, resumed_from, headers


def test_saves_count_continues_across_instances(tmp_path: Path) -> None:
    first = make(tmp_path)
    assert first.saves == 0
    first.save({"i": 1})
    first.save({"i": 2})
    assert first.saves == 2
    second = make(tmp_path)
    assert second.saves == 2  # read from the header
    second.save({"i": 3})
    assert second.saves == 3
    info = read_info(second.path)
    assert info is not None
    assert info.saves == 3
    assert repr(second) == f"Checkpoint({str(second.path)!r}, saves=3)"


def test_resumed_from_is_set_after_a_successful_load(tmp_path: Path) -> None:
    writer = make(tmp_path)
    for i in range(4):
        writer.save({"i": i})
    reader = make(tmp_path)
    assert reader.resumed_from is None
    assert reader.load() == {"i": 3}
    assert isinstance(reader.resumed_from, CheckpointInfo)
    assert reader.resumed_from.saves == 4
    assert "save #4" in reader.resumed_from.describe()
    assert reader.ignored is None


def test_resumed_from_stays_none_when_nothing_was_loaded(tmp_path: Path) -> None:
    reader = make(tmp_path)
    assert reader.load(DEFAULT) is DEFAULT
    assert reader.resumed_from is None


def test_read_info_reads_the_header(tmp_path: Path) -> None:
    before = time.time()
    checkpoint = make(tmp_path, label={"experiment": "e", "nodeid": "n"}, fingerprint="abc")
    checkpoint.save({"a": np.zeros(100)})
    info = read_info(checkpoint.path)
    assert info is not None
    assert info.path == checkpoint.path
    assert info.key == KEY
    assert info.saves == 1
    assert before - 1 <= info.saved <= time.time() + 1
    assert info.size == checkpoint.path.stat().st_size
    assert info.fingerprint == "abc"
    assert info.label == {"experiment": "e", "nodeid": "n"}
    assert info.describe().startswith("save #1 at ")


def test_read_info_of_missing_or_unusable_file_is_none(tmp_path: Path) -> None:
    assert read_info(tmp_path / "missing.ckpt") is None
    bad = tmp_path / "bad.ckpt"
    bad.write_bytes(b"not a checkpoint at all\n")
    assert read_info(bad) is None
    assert read_info(tmp_path) is None  # a directory


def test_read_info_and_iter_checkpoints_never_unpickle(tmp_path: Path) -> None:
    UNPICKLED.clear()
    make(tmp_path, key=KEY).save({"obj": Tracked("first"), "a": np.ones(10)})
    make(tmp_path, key=OTHER_KEY).save({"obj": Tracked("second")})
    assert UNPICKLED == []

    info = read_info(checkpoint_path(tmp_path, KEY))
    infos = list(iter_checkpoints(tmp_path))
    Checkpoint(checkpoint_path(tmp_path, KEY), key=KEY)  # the constructor reads the header too
    assert info is not None
    assert sorted(i.key for i in infos) == sorted([KEY, OTHER_KEY])
    assert UNPICKLED == []  # nothing was rebuilt

    # The detector works: a real load does unpickle.
    loaded = make(tmp_path, key=KEY).load()
    assert loaded["obj"].name == "first"
    assert UNPICKLED == ["first"]
    UNPICKLED.clear()


def test_iter_checkpoints_lists_whole_checkpoints_only(tmp_path: Path) -> None:
    assert list(iter_checkpoints(tmp_path)) == []  # no checkpoints directory
    make(tmp_path, key=KEY).save({"i": 1})
    make(tmp_path, key=OTHER_KEY).save({"i": 2})
    broken = make(tmp_path, key=THIRD_KEY)
    broken.save({"i": 3})
    broken.path.write_bytes(broken.path.read_bytes()[:-1])
    # A leftover temporary file of a killed save is not a checkpoint.
    (checkpoint_path(tmp_path, KEY).parent / f".{KEY}.ckpt.1234.deadbeef.tmp").write_bytes(b"partial")
    infos = list(iter_checkpoints(tmp_path))
    assert [i.key for i in infos] == sorted([KEY, OTHER_KEY])
    assert [i.path for i in infos] == sorted(i.path for i in infos)


# --------------------------------------------------------------------------- 3. load falls back to default


def test_load_missing_file_returns_default_without_ignored(tmp_path: Path) -> None:
    checkpoint = make(tmp_path)
    assert not checkpoint.exists
    assert checkpoint.load(DEFAULT) is DEFAULT
    assert checkpoint.load() is None
    assert checkpoint.ignored is None


def test_load_ignores_a_different_fingerprint(tmp_path: Path) -> None:
    make(tmp_path, fingerprint="code-v1").save({"i": 1})
    reader = make(tmp_path, fingerprint="code-v2")
    assert reader.load(DEFAULT) is DEFAULT
    assert reader.ignored is not None
    assert "code changed" in reader.ignored
    assert reader.resumed_from is None
    # The same fingerprint still finds it.
    assert make(tmp_path, fingerprint="code-v1").load(DEFAULT) == {"i": 1}


def test_load_ignores_a_checkpoint_of_another_key(tmp_path: Path) -> None:
    path = checkpoint_path(tmp_path, KEY)
    Checkpoint(path, key=OTHER_KEY).save({"i": 1})  # another config wrote at this path
    reader = Checkpoint(path, key=KEY)
    assert reader.load(DEFAULT) is DEFAULT
    assert reader.ignored == f"{path} belongs to another configuration"


def test_load_ignores_a_truncated_file(tmp_path: Path) -> None:
    make(tmp_path).save({"a": np.arange(1000.0)})
    path = checkpoint_path(tmp_path, KEY)
    path.write_bytes(path.read_bytes()[:-10])
    reader = make(tmp_path)
    assert reader.load(DEFAULT) is DEFAULT
    assert reader.ignored == f"{path} is not a whole checkpoint"
    assert read_info(path) is None


def test_load_ignores_a_wrong_magic_line(tmp_path: Path) -> None:
    make(tmp_path).save({"i": 1})
    path = checkpoint_path(tmp_path, KEY)
    raw = path.read_bytes()
    path.write_bytes(b"MEMENTO-CKPT9\n" + raw[len(MAGIC) :])
    reader = make(tmp_path)
    assert reader.load(DEFAULT) is DEFAULT
    assert reader.ignored == f"{path} is not a whole checkpoint"


@pytest.mark.parametrize("line", [b"{not json", b"[1, 2, 3]", b'{"key": "k"}', b""])
def test_load_ignores_a_header_that_is_not_a_json_header(tmp_path: Path, line: bytes) -> None:
    path = checkpoint_path(tmp_path, KEY)
    path.parent.mkdir(parents=True)
    path.write_bytes(MAGIC + line + b"\n" + pickle.dumps({"i": 1}))
    reader = make(tmp_path)
    assert reader.load(DEFAULT) is DEFAULT
    assert reader.ignored == f"{path} is not a whole checkpoint"


def test_load_ignores_a_corrupt_pickle(tmp_path: Path) -> None:
    make(tmp_path).save({"i": 1, "text": "x" * 100})
    path = checkpoint_path(tmp_path, KEY)
    raw = bytearray(path.read_bytes())
    start = raw.index(b"\n", len(MAGIC)) + 1
    raw[start : start + 8] = b"\xff" * 8  # same length, garbage opcodes
    path.write_bytes(bytes(raw))
    reader = make(tmp_path)
    assert read_info(path) is not None  # the header is fine
    assert reader.load(DEFAULT) is DEFAULT
    assert reader.ignored is not None
    assert reader.ignored == f"{path} is damaged (its checksum does not match); not used"
    assert reader.resumed_from is None


def test_fresh_ignores_the_old_checkpoint_then_loads_its_own_save(tmp_path: Path) -> None:
    make(tmp_path).save({"old": True})
    fresh = make(tmp_path, fresh=True)
    assert fresh.load(DEFAULT) is DEFAULT
    assert fresh.ignored is not None
    assert "--memento-rerun" in fresh.ignored
    fresh.save({"new": True})
    assert fresh.load(DEFAULT) == {"new": True}
    assert make(tmp_path).load(DEFAULT) == {"new": True}


# --------------------------------------------------------------------------- 4. every / due


def test_every_and_due_follow_the_injected_clock(tmp_path: Path) -> None:
    clock = FakeClock()
    checkpoint = make(tmp_path, clock=clock)
    path = checkpoint.path
    assert checkpoint.due(60)  # nothing saved yet in this process
    assert checkpoint.save({"i": 0}, every=60) is True
    assert make(tmp_path).load() == {"i": 0}

    clock.now += 30
    assert not checkpoint.due(60)
    before = path.read_bytes()
    assert checkpoint.save({"i": 1}, every=60) is False
    assert path.read_bytes() == before  # not written
    assert checkpoint.saves == 1

    clock.now += 31  # +61 s since the first save
    assert checkpoint.due(60)
    assert checkpoint.save({"i": 2}, every=60) is True
    assert checkpoint.saves == 2
    assert make(tmp_path).load() == {"i": 2}

    clock.now += 1
    assert not checkpoint.due(60)
    assert checkpoint.save({"i": 3}) is True  # without ``every`` it always writes
    assert make(tmp_path).load() == {"i": 3}
    assert not checkpoint.due(60)  # the clock restarts at every write


# --------------------------------------------------------------------------- 5. failed write

FAILED_WRITE = """
    import json, os, resource, signal, sys
    from pathlib import Path
    import numpy as np
    from pytest_memento.checkpoint import Checkpoint, CheckpointError

    path, key = Path(sys.argv[1]), sys.argv[2]
    signal.signal(signal.SIGXFSZ, signal.SIG_IGN)
    resource.setrlimit(resource.RLIMIT_FSIZE, (1 << 20, 1 << 20))
    checkpoint = Checkpoint(path, key=key)
    checkpoint.save({"small": 1})
    out = {"error": None}
    try:
        checkpoint.save({"big": np.ones(1 << 20)})  # 8 MB, over the 1 MB limit
    except CheckpointError as exc:
        out.update(error=str(exc), oserror=isinstance(exc, OSError), errno=exc.errno)
    out["saves"] = checkpoint.saves
    out["files"] = sorted(os.listdir(path.parent))
    reader = Checkpoint(path, key=key)
    out["loaded"] = reader.load("DEFAULT")
    out["ignored"] = reader.ignored
    print(json.dumps(out))
"""


def test_failed_write_raises_and_keeps_the_previous_checkpoint(tmp_path: Path) -> None:
    path = checkpoint_path(tmp_path, KEY)
    done = run_python(FAILED_WRITE, str(path), KEY)
    assert done.returncode == 0, done.stderr
    out = json.loads(done.stdout)
    assert out["error"] is not None, "saving 8 MB under a 1 MB file size limit did not raise"
    assert out["oserror"] is True
    assert out["errno"] == 27  # EFBIG
    assert str(path) in out["error"]
    assert "the previous one is kept" in out["error"]
    assert out["saves"] == 1  # the failed save is not counted
    assert out["files"] == [path.name]  # no .tmp left behind
    assert out["loaded"] == {"small": 1}
    assert out["ignored"] is None
    assert make(tmp_path).load(DEFAULT) == {"small": 1}


def test_failed_write_in_an_unwritable_place_raises_checkpoint_error(tmp_path: Path) -> None:
    blocker = tmp_path / "file"
    blocker.write_text("a file where the checkpoint directory should be")
    checkpoint = Checkpoint(blocker / "ck" / "x.ckpt", key=KEY)
    with pytest.raises(CheckpointError, match="the previous one is kept") as raised:
        checkpoint.save({"i": 1})
    assert isinstance(raised.value, OSError)
    assert str(checkpoint.path) in str(raised.value)
    assert checkpoint.saves == 0


# --------------------------------------------------------------------------- 6. atomicity under SIGKILL

SAVE_LOOP = """
    import sys
    from pathlib import Path
    import numpy as np
    from pytest_memento.checkpoint import Checkpoint

    path, key = Path(sys.argv[1]), sys.argv[2]
    checkpoint = Checkpoint(path, key=key)
    i = checkpoint.load({"i": -1})["i"]
    for _ in range(2000):  # bounded, in case nobody kills it
        i += 1
        checkpoint.save({"i": i, "a": np.full(2_000_000 + 1000 * i, i, dtype=np.float64)})
        print(i, flush=True)  # printed only once the save landed
"""


def test_sigkill_during_saves_leaves_a_whole_checkpoint(tmp_path: Path) -> None:
    path = checkpoint_path(tmp_path, KEY)
    rng = random.Random(20240601)
    previous: int | None = None
    for run in range(5):
        with subprocess.Popen(
            [sys.executable, "-c", textwrap.dedent(SAVE_LOOP), str(path), KEY],
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            text=True,
        ) as proc:
            watchdog = threading.Timer(60, proc.kill)
            watchdog.start()
            try:
                assert proc.stdout is not None
                assert proc.stderr is not None
                printed: list[int] = []
                while len(printed) < 3:
                    line = proc.stdout.readline()
                    assert line, f"run {run}: the save loop ended early: {proc.stderr.read()}"
                    printed.append(int(line))
                time.sleep(rng.uniform(0, 0.05))  # land somewhere inside a save
                proc.kill()  # SIGKILL
                proc.wait()
                rest = proc.stdout.read()
            finally:
                watchdog.cancel()
        # Lines printed before the kill; a cut last line (no newline) is not counted.
        printed += [int(line) for line in rest.split("\n")[:-1]]
        if previous is not None:
            assert printed[0] == previous + 1, "the loop did not resume from the last checkpoint"
        last = printed[-1]

        # ``.tmp`` files of a killed save may be left beside the checkpoint
        # (``memento gc`` removes them); they are never loaded.
        reader = Checkpoint(path, key=KEY)
        state = reader.load(DEFAULT)
        assert state is not DEFAULT, reader.ignored
        assert reader.ignored is None
        # The last printed save landed; the one in progress may have landed too.
        assert state["i"] in (last, last + 1), (state["i"], last)
        assert state["a"].shape == (2_000_000 + 1000 * state["i"],)
        assert (state["a"] == state["i"]).all()
        assert reader.saves == state["i"] + 1
        assert [info.path for info in iter_checkpoints(tmp_path)] == [path]
        previous = state["i"]


# --------------------------------------------------------------------------- 7. remove, checkpoint_path


def test_checkpoint_path_layout(tmp_path: Path) -> None:
    assert checkpoint_path(tmp_path, KEY) == tmp_path / "checkpoints" / KEY[:2] / f"{KEY}.ckpt"


def test_remove_deletes_the_file_and_its_empty_parent(tmp_path: Path) -> None:
    checkpoint = make(tmp_path)
    checkpoint.save({"i": 1})
    assert checkpoint.exists
    checkpoint.remove()
    assert not checkpoint.exists
    assert not checkpoint.path.parent.exists()
    assert (tmp_path / "checkpoints").is_dir()
    checkpoint.remove()  # removing again is fine
    assert make(tmp_path).load(DEFAULT) is DEFAULT


def test_remove_keeps_a_parent_that_holds_another_checkpoint(tmp_path: Path) -> None:
    sibling_key = KEY[:2] + OTHER_KEY[2:]  # same two-letter directory
    first, sibling = make(tmp_path), make(tmp_path, key=sibling_key)
    assert first.path.parent == sibling.path.parent
    first.save({"i": 1})
    sibling.save({"i": 2})
    first.remove()
    assert not first.exists
    assert sibling.exists
    assert make(tmp_path, key=sibling_key).load() == {"i": 2}


def test_remove_without_a_file_is_a_no_op(tmp_path: Path) -> None:
    make(tmp_path).remove()
    assert not (tmp_path / "checkpoints").exists()


# --------------------------------------------------------------------------- 8. memory


def test_saving_a_64mb_array_does_not_copy_it(tmp_path: Path) -> None:
    array = big_array()
    checkpoint = make(tmp_path)
    tracemalloc.start()
    try:
        tracemalloc.reset_peak()
        checkpoint.save({"a": array, "epoch": 1})
        _, peak = tracemalloc.get_traced_memory()
        # The measure does see numpy buffers: a copy shows up in full.
        tracemalloc.reset_peak()
        copy = array.copy()
        _, copy_peak = tracemalloc.get_traced_memory()
        del copy
    finally:
        tracemalloc.stop()
    assert copy_peak >= array.nbytes
    assert peak < 8 * MB, f"save allocated {peak / MB:.1f} MB for a {array.nbytes / MB:.0f} MB array"
    assert np.array_equal(make(tmp_path).load()["a"], array)


# --------------------------------------------------------------------------- bugs


def test_load_with_an_equal_tuple_fingerprint(tmp_path: Path) -> None:
    make(tmp_path, fingerprint=("code", 1)).save({"i": 1})
    reader = make(tmp_path, fingerprint=("code", 1))
    assert reader.load(DEFAULT) == {"i": 1}, reader.ignored


def test_load_after_save_with_a_header_over_one_mib(tmp_path: Path) -> None:
    # Here through a long label; a state holding ~530,000 numpy arrays
    # (one length per out-of-band buffer in the header) does the same.
    checkpoint = make(tmp_path, label={"nodeid": "x" * (MB + 10)})
    assert checkpoint.save({"i": 1}) is True
    reader = make(tmp_path)
    assert reader.load(DEFAULT) == {"i": 1}, reader.ignored


def test_read_info_of_a_header_with_a_bad_field_is_none(tmp_path: Path) -> None:
    path = checkpoint_path(tmp_path, KEY)
    path.parent.mkdir(parents=True)
    data = pickle.dumps({"i": 1}, protocol=5)
    header = {"key": KEY, "saves": "many", "saved": 0.0, "pickle": len(data), "buffers": []}
    path.write_bytes(MAGIC + json.dumps(header).encode() + b"\n" + data)
    assert read_info(path) is None
    assert list(iter_checkpoints(tmp_path)) == []
    assert Checkpoint(path, key=KEY).load(DEFAULT) is DEFAULT
