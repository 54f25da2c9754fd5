"""End to end: the end-of-run hook and the webhook notifier in a real run."""

from __future__ import annotations

import json
import threading
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

import pytest
from conftest import outcomes

GRID = """
import pytest_memento as memento

@memento.matrix(parameters={"x": [1, 2, 3]}, goals={"loss": "min"})
def exp(config):
    assert config.x != 3, "three is unlucky"
    return {"loss": 1.0 / config.x, "acc": config.x / 10}
"""


@pytest.fixture
def receiver() -> Iterator[tuple[str, list[dict[str, Any]]]]:
    received: list[dict[str, Any]] = []

    class Handler(BaseHTTPRequestHandler):
        def do_POST(self) -> None:
            body = self.rfile.read(int(self.headers["Content-Length"]))
            received.append(json.loads(body))
            self.send_response(200)
            self.end_headers()

        def log_message(self, *args: Any) -> None:
            pass

    server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    yield f"http://127.0.0.1:{server.server_address[1]}/hook", received
    server.shutdown()
    server.server_close()


def test_hook_and_webhook_get_the_summary(
    pytester: pytest.Pytester, run, receiver: tuple[str, list[dict[str, Any]]]
) -> None:
    url, received = receiver
    pytester.makepyfile(test_grid=GRID)
    pytester.makeconftest(
        """
        import json, pathlib

        def pytest_memento_run_finished(summary):
            pathlib.Path("summary.json").write_text(json.dumps(summary))
        """
    )
    result = run("--memento-webhook", url)
    assert outcomes(result) == {"passed": 2, "failed": 1}
    summary = json.loads((pytester.path / "summary.json").read_text())
    assert summary["counts"]["ran"] == 2
    assert summary["counts"]["failed"] == 1
    assert summary["exitstatus"] == 1
    (failure,) = summary["failures"]
    assert failure["id"] == "3"
    assert failure["config"] == {"x": 3}
    assert "three is unlucky" in failure["error"]
    best = {entry["metric"]: entry for entry in summary["best"]}
    assert best["loss"]["id"] == "2"
    assert best["loss"]["goal"] == "min"
    assert best["acc"]["id"] == "2"
    (posted,) = received
    assert posted["summary"]["counts"] == summary["counts"]
    assert "1 failed" in posted["text"].splitlines()[0]


def test_a_failing_notifier_warns_and_never_fails_the_run(pytester: pytest.Pytester, run_plain) -> None:
    pytester.makepyfile(test_grid=GRID.replace("assert config.x != 3", "assert True"))
    result = run_plain("--memento-webhook", "http://127.0.0.1:9/nothing-listens-here")
    assert result.ret == 0
    result.stdout.fnmatch_lines(["*warning: *webhook*127.0.0.1:9*"])


def test_bad_notifier_settings_are_usage_errors(pytester: pytest.Pytester, run_plain) -> None:
    pytester.makepyfile(test_grid=GRID)
    result = run_plain("--memento-webhook", "ftp://example.org/x")
    assert result.ret == pytest.ExitCode.USAGE_ERROR
    result.stderr.fnmatch_lines(["*expected an http:// or https:// URL*"])
    pytester.makeini("[pytest]\nmemento_email_to = a@example.org\nmemento_smtp_port = many\n")
    result = run_plain()
    assert result.ret == pytest.ExitCode.USAGE_ERROR
    result.stderr.fnmatch_lines(["*memento_smtp_port*many*"])
