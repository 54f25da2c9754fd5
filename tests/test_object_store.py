"""A store in S3, against a real S3-compatible server: moto's standalone
server, started on a free 127.0.0.1 port for the session and stopped by its
PID. Skipped, saying why, only where it cannot start (moto[server] or s3fs
missing, no free port).

Every test has its own bucket, and each simulated machine its own cache
directory (MEMENTO_CACHE_DIR), so nothing is shared but the bucket.
"""

from __future__ import annotations

import json
import os
import secrets
import signal
import socket
import subprocess
import sys
import time
import urllib.request
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest
from conftest import memento_cli, outcomes

GRID = """
import pytest_memento as memento

@memento.matrix(parameters={"x": [1, 2, 3], "y": ["a", "b"]})
def exp(config):
    return {"score": config.x * 10 + len(config.y)}
"""


def _free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port: int = probe.getsockname()[1]
        return port


@pytest.fixture(scope="session")
def s3_endpoint(tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    """The URL of a moto S3 server of this session (skipped where it cannot start)."""
    for module in ("moto.server", "s3fs", "boto3"):
        try:
            __import__(module)
        except ImportError as exc:
            pytest.skip(f"cannot start the S3 server: {module} is not importable ({exc}); pip install -e '.[test]'")
    port = _free_port()
    log = tmp_path_factory.mktemp("moto") / "server.log"
    with open(log, "wb") as out:
        server = subprocess.Popen(
            [sys.executable, "-m", "moto.server", "-H", "127.0.0.1", "-p", str(port)], stdout=out, stderr=out
        )
    endpoint = f"http://127.0.0.1:{port}"
    deadline = time.monotonic() + 30
    while True:
        try:
            urllib.request.urlopen(f"{endpoint}/moto-api/", timeout=1).close()
            break
        except OSError:
            if server.poll() is not None or time.monotonic() > deadline:
                server.kill()
                pytest.skip(f"the moto S3 server did not start: {log.read_text()[-500:]}")
            time.sleep(0.2)
    try:
        yield endpoint
    finally:
        os.kill(server.pid, signal.SIGTERM)
        try:
            server.wait(timeout=10)
        except subprocess.TimeoutExpired:
            os.kill(server.pid, signal.SIGKILL)
            server.wait()


@pytest.fixture
def s3_env(s3_endpoint: str, monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> dict[str, str]:
    """Credentials and endpoint in the environment (as a CI job sets them)."""
    values = {
        "AWS_ACCESS_KEY_ID": "testing",
        "AWS_SECRET_ACCESS_KEY": "testing-secret",
        "AWS_DEFAULT_REGION": "us-east-1",
        "AWS_ENDPOINT_URL": s3_endpoint,
        "MEMENTO_CACHE_DIR": str(tmp_path / "machine-1-cache"),
    }
    for name in ("AWS_PROFILE", "AWS_SESSION_TOKEN", "MEMENTO_DIR", "MEMENTO_STORAGE_OPTIONS", "MEMENTO_SECRET"):
        monkeypatch.delenv(name, raising=False)
    for name, value in values.items():
        monkeypatch.setenv(name, value)
    return values


def _fs(endpoint: str) -> Any:
    import s3fs

    return s3fs.S3FileSystem(
        key="testing", secret="testing-secret", client_kwargs={"endpoint_url": endpoint}, skip_instance_cache=True
    )


@pytest.fixture
def bucket(s3_env: dict[str, str]) -> str:
    """A fresh bucket; returns the store URL in it."""
    name = f"memento-{secrets.token_hex(6)}"
    _fs(s3_env["AWS_ENDPOINT_URL"]).mkdir(name)
    return f"s3://{name}/experiments"


@pytest.fixture
def objects(s3_env: dict[str, str], bucket: str) -> Callable[[str], dict[str, bytes]]:
    """The bytes of every object under the store (or a part of it)."""

    def read(under: str = "") -> dict[str, bytes]:
        fs = _fs(s3_env["AWS_ENDPOINT_URL"])
        base = bucket[len("s3://") :]
        found = fs.find(f"{base}/{under}".rstrip("/"))
        return {path[len(base) + 1 :]: fs.cat_file(path) for path in found}

    return read


def _machine(monkeypatch: pytest.MonkeyPatch, tmp_path: Path, name: str) -> None:
    """Run what follows as another machine: its own, empty cache."""
    monkeypatch.setenv("MEMENTO_CACHE_DIR", str(tmp_path / f"{name}-cache"))


def test_cold_run_then_fully_cached_on_another_machine(
    pytester: pytest.Pytester,
    run: Callable[..., pytest.RunResult],
    bucket: str,
    objects: Callable[[str], dict[str, bytes]],
    monkeypatch: pytest.MonkeyPatch,
    tmp_path: Path,
) -> None:
    pytester.makepyfile(test_grid=GRID)
    first = run(f"--memento-dir={bucket}")
    assert outcomes(first) == {"passed": 6}
    first.stdout.fnmatch_lines([f"*6 configurations: 6 ran; store: {bucket}*"])
    segments = objects("results/segments")
    assert segments
    for data in segments.values():  # each one sealed
        assert data.startswith(b'{"op":"env"')
        assert b'{"op":"end"' in data.splitlines()[-1]
    again = run(f"--memento-dir={bucket}")
    assert outcomes(again) == {"cached": 6}
    _machine(monkeypatch, tmp_path, "machine-2")
    elsewhere = run(f"--memento-dir={bucket}")
    assert outcomes(elsewhere) == {"cached": 6}
    elsewhere.stdout.fnmatch_lines(["*cccccc*"])


def test_four_processes_writing_at_once_lose_nothing(
    pytester: pytest.Pytester, bucket: str, monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    log = tmp_path / "spans.txt"
    pytester.makepyfile(
        test_grid=f"""
import os, time
import pytest_memento as memento

@memento.matrix(parameters={{"i": list(range(40))}})
def exp(config):
    start = time.time()
    time.sleep(0.5)  # ten per process: five seconds each, so the four overlap whatever their start-up
    with open({str(log)!r}, "a") as out:
        out.write(f"{{os.getpid()}} {{start}} {{time.time()}}\\n")
    return {{"i": config.i}}
"""
    )
    procs = []
    for shard in range(1, 5):
        env = dict(os.environ)
        # Two processes share one machine's cache, two have their own.
        env["MEMENTO_CACHE_DIR"] = str(tmp_path / f"cache-{min(shard, 3)}")
        procs.append(
            subprocess.Popen(
                [sys.executable, "-m", "pytest", "-p", "no:randomly", "-p", "no:xdist", "-q",
                 f"--memento-dir={bucket}", f"--memento-shard={shard}/4"],
                cwd=pytester.path, env=env, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True,
            )
        )  # fmt: skip
    results = [proc.communicate(timeout=300)[0] for proc in procs]
    assert [proc.returncode for proc in procs] == [0, 0, 0, 0], results
    spans: dict[str, list[tuple[float, float]]] = {}
    for line in log.read_text().split("\n"):
        if line:
            pid, start, end = line.split()
            spans.setdefault(pid, []).append((float(start), float(end)))
    assert len(spans) == 4
    firsts = [min(s for s, _ in found) for found in spans.values()]
    lasts = [max(e for _, e in found) for found in spans.values()]
    assert max(firsts) < min(lasts), "the four writers did not overlap"
    _machine(monkeypatch, tmp_path, "reader")
    after = pytester.runpytest_subprocess("-p", "no:xdist", "-p", "no:randomly", f"--memento-dir={bucket}")
    assert outcomes(after) == {"cached": 40}


def _start(pytester: pytest.Pytester, *args: str) -> subprocess.Popen[str]:
    return subprocess.Popen(
        [sys.executable, "-m", "pytest", "-p", "no:randomly", "-p", "no:xdist", *args],
        cwd=pytester.path,
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        text=True,
    )


def _wait_for(path: Path, proc: subprocess.Popen[str], timeout: float = 120) -> None:
    deadline = time.monotonic() + timeout
    while not path.exists():
        if proc.poll() is not None:
            raise AssertionError(f"the run ended before {path.name}: {proc.communicate()[0]}")
        if time.monotonic() > deadline:
            proc.kill()
            raise AssertionError(f"{path.name} never appeared")
        time.sleep(0.05)


def test_a_sigkilled_writer_leaves_nothing_half_visible(
    pytester: pytest.Pytester,
    bucket: str,
    objects: Callable[[str], dict[str, bytes]],
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    flag = tmp_path / "reached-3"
    pytester.makepyfile(
        test_grid=f"""
import pathlib, time
import pytest_memento as memento

@memento.matrix(parameters={{"i": [0, 1, 2, 3, 4]}})
def exp(config):
    time.sleep(1.1)  # slow: each result is written (uploaded) as its item passes
    if config.i == 3 and not pathlib.Path({str(flag)!r}).exists():
        pathlib.Path({str(flag)!r}).touch()
        time.sleep(120)
    return {{"i": config.i}}
"""
    )
    proc = _start(pytester, f"--memento-dir={bucket}")
    _wait_for(flag, proc)
    os.kill(proc.pid, signal.SIGKILL)
    proc.communicate()
    stored = objects("results/segments")
    assert stored
    for name, data in stored.items():  # every object is a whole, sealed segment
        assert data.endswith(b"\n"), name
        assert b'{"op":"end"' in data.splitlines()[-1], name
    assert 1 <= len(stored) <= 3  # the results of items 0, 1, 2 (the README is not a segment)
    _machine(monkeypatch, tmp_path, "machine-2")
    rerun = pytester.runpytest_subprocess("-p", "no:xdist", "-p", "no:randomly", f"--memento-dir={bucket}", "-v")
    assert outcomes(rerun) == {"cached": 3, "passed": 2}
    rerun.stdout.fnmatch_lines(["*exp?3?*PASSED*", "*exp?4?*PASSED*"])


def test_a_corrupted_object_is_a_miss_with_a_warning(
    pytester: pytest.Pytester,
    run_plain: Callable[..., pytest.RunResult],
    bucket: str,
    s3_env: dict[str, str],
    objects: Callable[[str], dict[str, bytes]],
) -> None:
    pytester.makepyfile(test_grid=GRID)
    assert outcomes(run_plain(f"--memento-dir={bucket}")) == {"passed": 6}
    (name, data), *_ = objects("results/segments").items()
    damaged = data.replace(b'"score":11', b'"score":99')
    assert damaged != data
    assert len(damaged) == len(data)
    _fs(s3_env["AWS_ENDPOINT_URL"]).pipe_file(f"{bucket[len('s3://') :]}/{name}", damaged)
    again = run_plain(f"--memento-dir={bucket}")
    counts = outcomes(again)
    assert counts.get("passed", 0) >= 1, counts
    assert counts.get("passed", 0) + counts.get("cached", 0) == 6, counts
    assert again.ret == 0
    again.stdout.fnmatch_lines([f"*{bucket}/results/segments/*damaged record*"])
    assert "Traceback" not in again.stdout.str() + again.stderr.str()
    assert outcomes(run_plain(f"--memento-dir={bucket}")) == {"cached": 6}


def test_a_checkpoint_is_resumed_on_another_machine_after_a_kill(
    pytester: pytest.Pytester,
    bucket: str,
    objects: Callable[[str], dict[str, bytes]],
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    flag = tmp_path / "saved-3"
    pytester.makepyfile(
        test_train=f"""
import pathlib, time
import pytest_memento as memento

@memento.matrix(parameters={{"lr": [0.1]}})
def train(config, checkpoint):
    state = checkpoint.load(default={{"epoch": 0}})
    print("starting at epoch", state["epoch"])
    while state["epoch"] < 5:
        state["epoch"] += 1
        checkpoint.save(state)
        if state["epoch"] == 3 and not pathlib.Path({str(flag)!r}).exists():
            pathlib.Path({str(flag)!r}).touch()
            time.sleep(120)
    return {{"epochs": state["epoch"], "resumed_at": checkpoint.resumed_from.saves if checkpoint.resumed_from else 0}}
"""
    )
    proc = _start(pytester, f"--memento-dir={bucket}")
    _wait_for(flag, proc)
    os.kill(proc.pid, signal.SIGKILL)
    proc.communicate()
    assert [name for name in objects("checkpoints") if name.endswith(".ckpt")]
    _machine(monkeypatch, tmp_path, "machine-2")
    resumed = pytester.runpytest_subprocess("-p", "no:xdist", "-p", "no:randomly", f"--memento-dir={bucket}", "-s")
    assert outcomes(resumed) == {"passed": 1}
    resumed.stdout.fnmatch_lines(["*starting at epoch 3*"])
    assert not [name for name in objects("checkpoints") if name.endswith(".ckpt")]  # removed once it passed
    listed = memento_cli(pytester.path, "--dir", bucket, "list", "--json")
    assert json.loads(listed.stdout)[0]["metrics"] == {"epochs": 5, "resumed_at": 3}


def test_a_signed_store_refuses_a_planted_unsigned_record(
    pytester: pytest.Pytester, run: Callable[..., pytest.RunResult], bucket: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    pytester.makepyfile(test_grid=GRID)
    monkeypatch.setenv("MEMENTO_SECRET", "lab-secret")
    assert outcomes(run(f"--memento-dir={bucket}")) == {"passed": 6}
    monkeypatch.delenv("MEMENTO_SECRET")
    # Someone without the secret writes records that would supersede every result.
    assert outcomes(run(f"--memento-dir={bucket}", "--memento-rerun")) == {"passed": 6}
    monkeypatch.setenv("MEMENTO_SECRET", "lab-secret")
    signed = run(f"--memento-dir={bucket}")
    assert outcomes(signed) == {"cached": 6}
    noted = memento_cli(pytester.path, "--dir", bucket, "list")
    assert noted.returncode == 0
    assert "6 result(s) in " + bucket in noted.stdout
    assert "are not signed with this store's secret" in noted.stderr


def test_every_memento_command_works_on_the_url(
    pytester: pytest.Pytester,
    run_plain: Callable[..., pytest.RunResult],
    bucket: str,
    objects: Callable[[str], dict[str, bytes]],
    tmp_path: Path,
) -> None:
    pytester.makepyfile(test_grid=GRID)
    assert outcomes(run_plain(f"--memento-dir={bucket}")) == {"passed": 6}
    assert outcomes(run_plain(f"--memento-dir={bucket}", "--memento-rerun", "-k", "1")) == {
        "passed": 2,
        "deselected": 4,
    }

    def cli(*args: str) -> subprocess.CompletedProcess[str]:
        done = memento_cli(pytester.path, "--dir", bucket, *args)
        assert "Traceback" not in done.stderr
        return done

    listed = cli("list")
    assert listed.returncode == 0, listed.stderr
    assert listed.stdout.strip().endswith(f"6 result(s) in {bucket}")
    key = listed.stdout.split()[0]
    shown = cli("show", key, "--result")
    assert shown.returncode == 0
    assert '"experiment"' in shown.stdout
    exported = cli("export", "--format", "csv", "-")
    assert exported.returncode == 0
    assert len(exported.stdout.strip().splitlines()) == 7
    table = cli("table", "--format", "md")
    assert table.returncode == 0
    assert "score" in table.stdout
    report = cli("report", str(tmp_path / "r.html"))
    assert report.returncode == 0
    assert bucket in (tmp_path / "r.html").read_text()
    assert cli("checkpoints").stdout.strip().endswith("0 checkpoint(s) left by configurations that have not passed yet")
    local = tmp_path / "local-store"
    merged = memento_cli(pytester.path, "merge", str(local), bucket)
    assert merged.returncode == 0, merged.stderr
    assert "merged 6 result(s)" in merged.stdout
    other = bucket + "-copy"
    back = memento_cli(pytester.path, "merge", other, str(local))
    assert back.returncode == 0, back.stderr
    assert "merged 6 result(s)" in back.stdout
    assert memento_cli(pytester.path, "--dir", other, "list").stdout.strip().endswith(f"6 result(s) in {other}")
    before = len(objects("results/segments"))
    gc = cli("gc", "--older-than", "0")
    assert gc.returncode == 0, gc.stderr
    assert f"removed {bucket}/results/segments/" in gc.stdout
    assert gc.stdout.strip().endswith("6 result(s) kept")
    after = [name for name in objects("results/segments") if name.endswith(".seg")]
    assert before > 1
    assert len(after) == 1
    assert "compacted-" in after[0]
    cleared = cli("clear", "--where", "x=1")
    assert cleared.returncode == 0
    assert "removed 2 result(s)" in cleared.stdout
    assert cli("list").stdout.strip().endswith(f"4 result(s) in {bucket}")
    assert cli("clear", "--yes").stdout.strip() == "removed 4 result(s)"
    assert cli("list").stdout.strip().endswith(f"0 result(s) in {bucket}")


def test_checkpoints_are_listed_and_collected_on_the_url(
    pytester: pytest.Pytester, run_plain: Callable[..., pytest.RunResult], bucket: str
) -> None:
    pytester.makepyfile(
        test_train="""
import pytest_memento as memento

@memento.matrix(parameters={"lr": [0.1, 0.2]})
def train(config, checkpoint):
    checkpoint.save({"epoch": 1})
    assert config.lr < 0.15
    return {"ok": 1}
"""
    )
    assert outcomes(run_plain(f"--memento-dir={bucket}")) == {"passed": 1, "failed": 1}
    listed = memento_cli(pytester.path, "--dir", bucket, "checkpoints")
    assert listed.returncode == 0, listed.stderr
    assert "train[0.2]" in listed.stdout
    assert listed.stdout.strip().endswith("1 checkpoint(s) left by configurations that have not passed yet")


def test_no_secret_is_printed_or_stored(
    pytester: pytest.Pytester,
    run_plain: Callable[..., pytest.RunResult],
    bucket: str,
    objects: Callable[[str], dict[str, bytes]],
    monkeypatch: pytest.MonkeyPatch,
    tmp_path: Path,
) -> None:
    secret = f"SeCrEt-{secrets.token_hex(8)}"
    monkeypatch.delenv("AWS_SECRET_ACCESS_KEY")
    monkeypatch.delenv("AWS_ACCESS_KEY_ID")
    # Credentials as storage options only (moto accepts any).
    monkeypatch.setenv("MEMENTO_STORAGE_OPTIONS", json.dumps({"key": "id-" + secret, "secret": secret}))
    monkeypatch.setenv("MY_API_TOKEN", secret)
    pytester.makepyfile(test_grid=GRID)
    first = run_plain(f"--memento-dir={bucket}", "-v")
    assert outcomes(first) == {"passed": 6}
    outputs = [first.stdout.str(), first.stderr.str()]
    for command in (("list", "--json"), ("show", "--help"), ("export", "--format", "json", "-")):
        done = memento_cli(pytester.path, "--dir", bucket, *command)
        outputs += [done.stdout, done.stderr]
    missing = memento_cli(pytester.path, "--dir", "s3://no-such-bucket-here/x", "list")
    assert missing.returncode == 2
    assert "the bucket does not exist" in missing.stderr
    outputs += [missing.stdout, missing.stderr]
    assert not [text for text in outputs if secret in text]
    stored = objects("")
    assert stored
    assert not [name for name, data in stored.items() if secret.encode() in data]
    cached = [p for p in (tmp_path / "machine-1-cache").rglob("*") if p.is_file()]
    assert cached
    assert not [p for p in cached if secret.encode() in p.read_bytes()]


@pytest.mark.parametrize(
    ("url", "endpoint", "expected"),
    [
        ("s3://no-such-bucket-anywhere/x", None, "listing the store failed: the bucket does not exist"),
        ("s3://some-bucket/x", "http://127.0.0.1:9", "cannot reach the endpoint"),
        ("nope://bucket/x", None, "unknown protocol 'nope'"),
        ("s3://", None, "give a bucket or directory"),
    ],
)
def test_bad_urls_are_one_clear_usage_error(
    pytester: pytest.Pytester,
    run: Callable[..., pytest.RunResult],
    s3_env: dict[str, str],
    monkeypatch: pytest.MonkeyPatch,
    url: str,
    endpoint: str | None,
    expected: str,
) -> None:
    if endpoint is not None:
        monkeypatch.setenv("AWS_ENDPOINT_URL", endpoint)
    pytester.makepyfile(test_grid=GRID)
    result = run(f"--memento-dir={url}")
    text = result.stdout.str() + result.stderr.str()
    assert result.ret in (pytest.ExitCode.USAGE_ERROR, pytest.ExitCode.INTERNAL_ERROR, pytest.ExitCode.INTERRUPTED), (
        text
    )
    assert expected in text
    assert "Traceback" not in text
    assert "testing-secret" not in text
