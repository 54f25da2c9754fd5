"""Remote xdist workers (``--tx socket=...``) share keys and store.

An execnet socket server runs arbitrary code sent to it, so the test binds
it to 127.0.0.1 only, and stops it afterwards. The worker gets the project
by rsync into another directory: keys must not depend on where it lands.
"""

from __future__ import annotations

import socket
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path

import execnet
import pytest
from conftest import outcomes

GRID = """
import pytest_memento as memento

@memento.matrix(parameters={"x": [1, 2, 3]}, settings={"scale": 2})
def exp(config):
    return {"y": config.x * config.scale}
"""


def free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return int(probe.getsockname()[1])


@pytest.fixture
def socket_server(tmp_path: Path) -> Iterator[tuple[str, Path]]:
    script = Path(execnet.__file__).parent / "script" / "socketserver.py"
    port = free_port()
    workdir = tmp_path / "remote-host"
    workdir.mkdir()
    server = subprocess.Popen(
        [sys.executable, str(script), f"127.0.0.1:{port}"], stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL
    )
    try:
        deadline = time.monotonic() + 20
        while True:
            try:
                socket.create_connection(("127.0.0.1", port), timeout=0.5).close()
                break
            except OSError:
                if time.monotonic() > deadline or server.poll() is not None:
                    pytest.fail("the execnet socket server did not start")
                time.sleep(0.1)
        # The probe connection above used up the server's first accept; it
        # serves the next one.
        yield f"socket=127.0.0.1:{port}//chdir={workdir}", workdir
    finally:
        server.kill()
        server.wait()


def run_remote(pytester: pytest.Pytester, spec: str) -> pytest.RunResult:
    """The grid on one worker reached through ``spec``, the project rsynced."""
    return pytester.runpytest_subprocess(
        "-p", "no:cacheprovider",
        "-W", "ignore::DeprecationWarning",  # xdist deprecates --rsyncdir
        "--dist", "load", "--tx", spec, "--rsyncdir", str(pytester.path),
        str(pytester.path / "test_grid.py"),
        timeout=120,
    )  # fmt: skip


def test_remote_worker_finds_what_a_local_run_stored(
    pytester: pytest.Pytester, socket_server: tuple[str, Path]
) -> None:
    spec, workdir = socket_server
    pytester.makeini("[pytest]\n")  # rootdir is the project on both sides
    pytester.makepyfile(test_grid=GRID)
    assert outcomes(pytester.runpytest_subprocess("-p", "no:xdist")) == {"passed": 3}
    result = run_remote(pytester, spec)
    assert outcomes(result) == {"cached": 3}, result.stdout.str()
    # The worker really ran elsewhere: the project was copied there.
    assert (workdir / pytester.path.name / "test_grid.py").exists()


def test_results_of_a_remote_worker_are_cached_locally(
    pytester: pytest.Pytester, socket_server: tuple[str, Path]
) -> None:
    spec, _ = socket_server
    pytester.makeini("[pytest]\n")
    pytester.makepyfile(test_grid=GRID)
    remote = run_remote(pytester, spec)
    assert outcomes(remote) == {"passed": 3}, remote.stdout.str()
    assert outcomes(pytester.runpytest_subprocess("-p", "no:xdist")) == {"cached": 3}
