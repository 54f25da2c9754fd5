"""End-of-run notifications, against real local servers.

The SMTP server is aiosmtpd in a thread, the webhook receiver a
``ThreadingHTTPServer`` in a thread; both listen on 127.0.0.1 on a port the
kernel picks. Nothing here mocks smtplib or urllib.
"""

from __future__ import annotations

import asyncio
import copy
import email
import email.policy
import json
import socket
import threading
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from email.message import EmailMessage
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

import pytest
from aiosmtpd.controller import Controller
from aiosmtpd.smtp import SMTP, AuthResult, Envelope, LoginPassword, Session

from pytest_memento.notifier_settings import email_settings_from
from pytest_memento.notify import (
    EmailSettings,
    NotifyError,
    notify_all,
    send_email,
    send_webhook,
    webhook_payload,
)
from pytest_memento.sources import SettingsError
from pytest_memento.summary_text import MAX_FAILURES, format_duration, format_subject, format_text

FAILURE = {
    "experiment": "exp/test_x.py::train",
    "id": "SVC-iris-0",
    "config": {"model": "SVC", "lr": 0.1},
    "error": "RuntimeError: diverged",
}
BEST = {
    "experiment": "exp/test_x.py::train",
    "metric": "accuracy",
    "goal": "max",
    "value": 0.97,
    "id": "RF-iris-3",
    "config": {"model": "RF", "depth": 7},
}


def make_summary(**changes: Any) -> dict[str, Any]:
    summary: dict[str, Any] = {
        "session": "pytest experiments -n 8",
        "duration": 123.4,
        "counts": {"ran": 10, "cached": 80, "failed": 2, "error": 0, "skipped": 0, "crashed": 0},
        "failures": [copy.deepcopy(FAILURE)],
        "best": [copy.deepcopy(BEST)],
        "exitstatus": 1,
    }
    summary.update(changes)
    return summary


def closed_port() -> int:
    """A port on 127.0.0.1 that nothing listens on (bound, then released)."""
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port: int = sock.getsockname()[1]
    return port


# --------------------------------------------------------------------------- formatting


@pytest.mark.parametrize(
    ("seconds", "expected"),
    [
        (0, "0.0s"),
        (4.2, "4.2s"),
        (59.94, "59.9s"),
        (59.96, "1m00s"),
        (60, "1m00s"),
        (123.4, "2m03s"),
        (3599.4, "59m59s"),
        (3599.6, "1h00m"),
        (3720, "1h02m"),
        (90061, "25h01m"),
        (-1, "0.0s"),
        (float("nan"), "?"),
        ("soon", "?"),
        (None, "?"),
    ],
)
def test_format_duration(seconds: object, expected: str) -> None:
    assert format_duration(seconds) == expected


def test_subject_names_counts_and_duration() -> None:
    assert format_subject(make_summary()) == "pytest-memento: 10 ran, 80 cached, 2 failed in 2m03s"


def test_subject_adds_nonzero_extra_counts_only() -> None:
    counts = {"ran": 1, "cached": 0, "failed": 0, "error": 2, "skipped": 0, "crashed": 1}
    assert (
        format_subject(make_summary(counts=counts, duration=4.2))
        == "pytest-memento: 1 ran, 0 cached, 0 failed, 2 errors, 1 crashed in 4.2s"
    )
    counts["error"] = 1
    assert "1 error," in format_subject(make_summary(counts=counts))


def test_subject_tolerates_a_sparse_summary() -> None:
    assert format_subject({}) == "pytest-memento: 0 ran, 0 cached, 0 failed"
    assert format_text({}).startswith("pytest-memento: 0 ran, 0 cached, 0 failed\n")


def test_text_has_subject_first_then_every_section() -> None:
    text = format_text(make_summary())
    lines = text.splitlines()
    assert lines[0] == "pytest-memento: 10 ran, 80 cached, 2 failed in 2m03s"
    assert "Session: pytest experiments -n 8" in lines
    assert "Duration: 2m03s" in lines
    assert "Exit status: 1" in lines
    assert "Counts: ran 10, cached 80, failed 2, error 0, crashed 0, skipped 0" in lines
    assert "Failures (1):" in lines
    assert "  exp/test_x.py::train[SVC-iris-0]" in lines
    assert "    config: model=SVC, lr=0.1" in lines
    assert "    error: RuntimeError: diverged" in lines
    assert "Best configuration per metric:" in lines
    assert "  accuracy (max) = 0.97: exp/test_x.py::train[RF-iris-3]" in lines
    assert "    config: model=RF, depth=7" in lines


def test_text_without_failures_or_best_has_no_such_sections() -> None:
    text = format_text(make_summary(failures=[], best=[]))
    assert "Failures" not in text
    assert "Best" not in text


def test_text_caps_failures() -> None:
    failures = [dict(FAILURE, id=f"run-{i}") for i in range(MAX_FAILURES + 5)]
    text = format_text(make_summary(failures=failures))
    assert f"Failures ({MAX_FAILURES + 5}):" in text
    assert f"[run-{MAX_FAILURES - 1}]" in text
    assert f"[run-{MAX_FAILURES}]" not in text
    assert text.count("    error: ") == MAX_FAILURES
    assert "  ... and 5 more" in text.splitlines()


def test_text_keeps_the_last_line_of_a_multiline_error_and_cuts_long_ones() -> None:
    traceback = "Traceback (most recent call last):\n  File 'x.py', line 1\n\nValueError: bad lr\n"
    text = format_text(make_summary(failures=[dict(FAILURE, error=traceback), dict(FAILURE, error="E" * 1000)]))
    assert "    error: ValueError: bad lr" in text.splitlines()
    assert "E" * 290 in text
    assert "E" * 400 not in text


def test_text_quotes_awkward_config_values() -> None:
    config = {"name": "a, b", "layers": [64, 32], "flag": True, "none": None, "blank": ""}
    text = format_text(make_summary(failures=[dict(FAILURE, config=config)]))
    assert "config: name='a, b', layers=[64, 32], flag=True, none=None, blank=''" in text


def test_payload_is_text_plus_summary_and_strict_json() -> None:
    summary = make_summary()
    payload = webhook_payload(summary)
    assert payload == {"text": format_text(summary), "summary": summary}
    nan = webhook_payload(make_summary(best=[dict(BEST, value=float("nan"))]))
    assert nan["summary"]["best"][0]["value"] == "nan"
    json.dumps(nan, allow_nan=False)


# --------------------------------------------------------------------------- webhook


@dataclass
class Received:
    path: str
    headers: dict[str, str]
    body: Any


@dataclass
class WebhookServer:
    url: str
    requests: list[Received] = field(default_factory=list)
    status: int = 200


@pytest.fixture
def webhook() -> Iterator[WebhookServer]:
    """A real HTTP server on 127.0.0.1 recording each POST; answers ``status``."""
    state = WebhookServer(url="")

    class Handler(BaseHTTPRequestHandler):
        def do_POST(self) -> None:
            length = int(self.headers.get("Content-Length", "0"))
            raw = self.rfile.read(length)
            state.requests.append(Received(self.path, dict(self.headers.items()), json.loads(raw)))
            reply = b"ok" if state.status < 400 else b"invalid_payload"
            self.send_response(state.status)
            if 300 <= state.status < 400:
                self.send_header("Location", "/elsewhere")
            self.send_header("Content-Length", str(len(reply)))
            self.end_headers()
            self.wfile.write(reply)

        def log_message(self, format: str, *args: Any) -> None:
            pass

    server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    thread = threading.Thread(target=server.serve_forever, kwargs={"poll_interval": 0.05}, daemon=True)
    thread.start()
    state.url = f"http://127.0.0.1:{server.server_address[1]}/services/T000/B000/secret"
    try:
        yield state
    finally:
        server.shutdown()
        server.server_close()
        thread.join(5)


def test_webhook_posts_json_text_and_summary(webhook: WebhookServer) -> None:
    summary = make_summary()
    send_webhook(webhook.url, summary)
    [request] = webhook.requests
    assert request.path == "/services/T000/B000/secret"
    assert request.headers["Content-Type"] == "application/json"
    assert request.body == {"text": format_text(summary), "summary": summary}


@pytest.mark.parametrize(
    ("status", "reason"), [(500, "HTTP 500 Internal Server Error: invalid_payload"), (302, "HTTP 302 Found")]
)
def test_webhook_error_status_names_url_and_status(webhook: WebhookServer, status: int, reason: str) -> None:
    webhook.status = status
    with pytest.raises(NotifyError) as info:
        send_webhook(webhook.url, make_summary())
    message = str(info.value)
    assert reason in message
    assert webhook.url.split("/services")[0] + "/services/..." in message
    assert "secret" not in message  # the webhook's token stays out of logs
    assert len(webhook.requests) == 1  # a redirect is reported, not followed


def test_webhook_connection_refused() -> None:
    port = closed_port()
    with pytest.raises(NotifyError, match=rf"webhook http://127\.0\.0\.1:{port}/hook failed: ConnectionRefusedError"):
        send_webhook(f"http://127.0.0.1:{port}/hook", make_summary())


def test_webhook_timeout() -> None:
    with socket.socket() as silent:  # accepts connections (backlog) but never answers
        silent.bind(("127.0.0.1", 0))
        silent.listen(1)
        port = silent.getsockname()[1]
        start = time.monotonic()
        with pytest.raises(NotifyError, match=rf"127\.0\.0\.1:{port}.*timed out"):
            send_webhook(f"http://127.0.0.1:{port}/", make_summary(), timeout=0.3)
        assert time.monotonic() - start < 5


@pytest.mark.parametrize(
    ("url", "reason"),
    [
        ("file:///etc/passwd", "only http:// and https:// URLs"),
        ("ftp://example.invalid/hook", "only http:// and https:// URLs"),
        ("hooks.slack.com/services/x", "only http:// and https:// URLs"),
        ("http:///nohost", "no host"),
    ],
)
def test_webhook_rejects_other_urls_without_network(url: str, reason: str, monkeypatch: pytest.MonkeyPatch) -> None:
    def no_network(*args: object, **kwargs: object) -> None:
        raise AssertionError("network access attempted")

    monkeypatch.setattr(socket, "create_connection", no_network)
    monkeypatch.setattr(socket.socket, "connect", no_network)
    with pytest.raises(NotifyError, match=reason):
        send_webhook(url, make_summary())


def test_webhook_rejects_an_out_of_range_port() -> None:
    with pytest.raises(NotifyError, match="invalid URL"):
        send_webhook("http://127.0.0.1:99999/hook", make_summary())


# --------------------------------------------------------------------------- e-mail


class RecordingHandler:
    """aiosmtpd handler keeping every delivered message (and who logged in)."""

    def __init__(self) -> None:
        self.messages: list[EmailMessage] = []
        self.envelopes: list[tuple[str, list[str]]] = []
        self.logins: list[str | None] = []

    async def handle_DATA(self, server: SMTP, session: Session, envelope: Envelope) -> str:
        content = envelope.content
        assert isinstance(content, bytes)
        message = email.message_from_bytes(content, policy=email.policy.default)
        assert isinstance(message, EmailMessage)
        self.messages.append(message)
        self.envelopes.append((str(envelope.mail_from), list(envelope.rcpt_tos)))
        login = (
            session.auth_data.login.decode()
            if session.authenticated and isinstance(session.auth_data, LoginPassword)
            else None
        )
        self.logins.append(login)
        return "250 OK"


class LocalController(Controller):
    """aiosmtpd's threaded controller on a kernel-chosen port (``port=0``):
    learn the bound port before the controller's own readiness probe."""

    def _trigger_server(self) -> None:
        assert isinstance(self.server, asyncio.Server)
        self.port = self.server.sockets[0].getsockname()[1]
        super()._trigger_server()  # type: ignore[no-untyped-call]


def accept_u_p(server: SMTP, session: Session, envelope: Envelope, mechanism: str, auth_data: Any) -> AuthResult:
    ok = isinstance(auth_data, LoginPassword) and (auth_data.login, auth_data.password) == (b"u", b"p")
    return AuthResult(success=ok, handled=False, auth_data=auth_data if ok else None)


SmtpFactory = Callable[..., tuple[LocalController, RecordingHandler]]


@pytest.fixture
def smtp_server() -> Iterator[SmtpFactory]:
    """Start real SMTP servers on 127.0.0.1 (keyword arguments go to aiosmtpd's SMTP); stopped afterwards."""
    started: list[LocalController] = []

    def start(**smtp_kwargs: Any) -> tuple[LocalController, RecordingHandler]:
        handler = RecordingHandler()
        controller = LocalController(handler, hostname="127.0.0.1", port=0, server_hostname="localhost", **smtp_kwargs)
        controller.start()
        started.append(controller)
        return controller, handler

    try:
        yield start
    finally:
        for controller in started:
            controller.stop()


def settings_for(controller: LocalController, **changes: Any) -> EmailSettings:
    values: dict[str, Any] = {
        "host": "127.0.0.1",
        "port": controller.port,
        "sender": "memento@example.org",
        "recipients": ("ann@example.org", "bob@example.org"),
        "starttls": False,
        "timeout": 5.0,
    }
    values.update(changes)
    return EmailSettings(**values)


def test_email_is_delivered_with_counts_failures_and_best(smtp_server: SmtpFactory) -> None:
    controller, handler = smtp_server()
    summary = make_summary()
    send_email(settings_for(controller), summary, {})
    [message] = handler.messages
    assert handler.envelopes == [("memento@example.org", ["ann@example.org", "bob@example.org"])]
    assert handler.logins == [None]
    assert message["Subject"] == "pytest-memento: 10 ran, 80 cached, 2 failed in 2m03s"
    assert message["From"] == "memento@example.org"
    assert message["To"] == "ann@example.org, bob@example.org"
    assert message["Message-ID"].endswith("@example.org>")
    body = message.get_content().replace("\r\n", "\n")  # SMTP transports CRLF line ends
    assert body == format_text(summary)
    for fragment in (
        "10 ran, 80 cached, 2 failed",
        "config: model=SVC, lr=0.1",
        "error: RuntimeError: diverged",
        "accuracy (max) = 0.97",
        "config: model=RF, depth=7",
    ):
        assert fragment in body


def test_starttls_not_offered_is_an_error_naming_host_and_port(smtp_server: SmtpFactory) -> None:
    controller, handler = smtp_server()
    settings = settings_for(controller, starttls=True)
    target = f"127.0.0.1:{controller.port}"
    with pytest.raises(NotifyError, match=rf"e-mail via {target} failed: .*STARTTLS"):
        send_email(settings, make_summary(), {})
    assert handler.messages == []
    warnings = notify_all(make_summary(), webhook_url=None, email=settings, env={})
    assert len(warnings) == 1
    assert target in warnings[0]
    assert "STARTTLS" in warnings[0]


def test_login_with_credentials_from_env(smtp_server: SmtpFactory) -> None:
    controller, handler = smtp_server(authenticator=accept_u_p, auth_require_tls=False)
    env = {"MEMENTO_SMTP_USER": "u", "MEMENTO_SMTP_PASSWORD": "p"}
    send_email(settings_for(controller), make_summary(), env)
    assert len(handler.messages) == 1
    assert handler.logins == ["u"]


def test_credentials_env_names_are_settings(smtp_server: SmtpFactory) -> None:
    controller, handler = smtp_server(authenticator=accept_u_p, auth_require_tls=False)
    settings = settings_for(controller, user_env="CI_MAIL_USER", password_env="CI_MAIL_PASS")
    send_email(settings, make_summary(), {"CI_MAIL_USER": "u", "CI_MAIL_PASS": "p", "MEMENTO_SMTP_PASSWORD": "wrong"})
    assert handler.logins == ["u"]


def test_wrong_password_is_an_error(smtp_server: SmtpFactory) -> None:
    controller, handler = smtp_server(authenticator=accept_u_p, auth_require_tls=False)
    env = {"MEMENTO_SMTP_USER": "u", "MEMENTO_SMTP_PASSWORD": "nope"}
    with pytest.raises(
        NotifyError, match=rf"e-mail via 127\.0\.0\.1:{controller.port} failed: SMTPAuthenticationError: 535"
    ):
        send_email(settings_for(controller), make_summary(), env)
    assert handler.messages == []


def test_half_set_credentials_send_without_login_and_say_so_on_failure(smtp_server: SmtpFactory) -> None:
    controller, handler = smtp_server(authenticator=accept_u_p, auth_require_tls=False)
    send_email(settings_for(controller), make_summary(), {"MEMENTO_SMTP_USER": "u"})
    assert handler.logins == [None]
    closed = EmailSettings(
        host="127.0.0.1", port=closed_port(), sender="a@b", recipients=("c@d",), starttls=False, timeout=2
    )
    with pytest.raises(NotifyError, match="MEMENTO_SMTP_USER is set but MEMENTO_SMTP_PASSWORD is not"):
        send_email(closed, make_summary(), {"MEMENTO_SMTP_USER": "u"})


def test_refused_recipient_is_an_error(smtp_server: SmtpFactory) -> None:
    class PickyHandler(RecordingHandler):
        async def handle_RCPT(
            self, server: SMTP, session: Session, envelope: Envelope, address: str, rcpt_options: list[str]
        ) -> str:
            if address.startswith("bob@"):
                return "550 no such user"
            envelope.rcpt_tos.append(address)
            return "250 OK"

    handler = PickyHandler()
    controller = LocalController(handler, hostname="127.0.0.1", port=0, server_hostname="localhost")
    controller.start()
    try:
        with pytest.raises(NotifyError, match=r"recipients refused: bob@example.org \(550 no such user\)"):
            send_email(settings_for(controller), make_summary(), {})
    finally:
        controller.stop()
    assert len(handler.messages) == 1  # ann still got it


def test_email_connection_refused() -> None:
    port = closed_port()
    settings = EmailSettings(host="127.0.0.1", port=port, sender="a@b", recipients=("c@d",), timeout=2)
    with pytest.raises(NotifyError, match=rf"e-mail via 127\.0\.0\.1:{port} failed: ConnectionRefusedError"):
        send_email(settings, make_summary(), {})


# --------------------------------------------------------------------------- notify_all


def test_notify_all_sends_to_both(webhook: WebhookServer, smtp_server: SmtpFactory) -> None:
    controller, handler = smtp_server()
    warnings = notify_all(make_summary(), webhook_url=webhook.url, email=settings_for(controller), env={})
    assert warnings == []
    assert len(webhook.requests) == 1
    assert len(handler.messages) == 1


def test_notify_all_with_nothing_configured() -> None:
    assert notify_all(make_summary(), webhook_url=None, email=None, env={}) == []
    assert notify_all(make_summary(), webhook_url="", email=None, env={}) == []


def test_notify_all_turns_every_failure_into_a_warning(webhook: WebhookServer) -> None:
    webhook.status = 500
    port = closed_port()
    email_settings = EmailSettings(host="127.0.0.1", port=port, sender="a@b", recipients=("c@d",), timeout=2)
    warnings = notify_all(make_summary(), webhook_url=webhook.url, email=email_settings, env={})
    assert len(warnings) == 2
    assert "HTTP 500" in warnings[0]
    assert f"127.0.0.1:{port}" in warnings[1]
    warnings = notify_all(make_summary(), webhook_url="ftp://x/y", email=None, env={})
    assert len(warnings) == 1
    assert "only http:// and https://" in warnings[0]


def test_notify_all_survives_a_malformed_summary(webhook: WebhookServer) -> None:
    class Unprintable:
        def __str__(self) -> str:
            raise RuntimeError("no str")

    warnings = notify_all({"session": Unprintable()}, webhook_url=webhook.url, email=None, env={})
    assert len(warnings) == 1
    assert "unexpected RuntimeError: no str" in warnings[0]


# --------------------------------------------------------------------------- settings


def test_email_off_without_recipients() -> None:
    assert email_settings_from({}, {}) is None
    assert email_settings_from({"memento_email_to": " , ", "memento_smtp_port": "bad"}, {}) is None


def test_email_settings_defaults() -> None:
    settings = email_settings_from({"memento_email_to": "ann@example.org"}, {})
    assert settings == EmailSettings(
        host="localhost",
        port=587,
        sender=f"pytest-memento@{socket.gethostname()}",
        recipients=("ann@example.org",),
        starttls=True,
        timeout=10.0,
    )
    assert settings.user_env == "MEMENTO_SMTP_USER"
    assert settings.password_env == "MEMENTO_SMTP_PASSWORD"


def test_email_settings_parsed() -> None:
    values = {
        "memento_email_to": "ann@example.org, Bob <bob@example.org>\n carl@example.org",
        "memento_email_from": " lab@example.org ",
        "memento_smtp_host": "smtp.example.org",
        "memento_smtp_port": "2525",
        "memento_smtp_starttls": "No",
        "memento_smtp_timeout": "2.5",
    }
    env = {"MEMENTO_SMTP_USER": "lab-user", "MEMENTO_SMTP_PASSWORD": "s3cr3t"}
    settings = email_settings_from(values, env)
    assert settings == EmailSettings(
        host="smtp.example.org",
        port=2525,
        sender="lab@example.org",
        recipients=("ann@example.org", "Bob <bob@example.org>", "carl@example.org"),
        starttls=False,
        timeout=2.5,
    )
    assert "lab-user" not in repr(settings)  # credentials are read at send time only
    assert "s3cr3t" not in repr(settings)


@pytest.mark.parametrize(
    ("raw", "expected"),
    [
        ("true", True),
        ("YES", True),
        ("1", True),
        ("on", True),
        ("false", False),
        ("no", False),
        ("0", False),
        ("", True),
    ],
)
def test_starttls_values(raw: str, expected: bool) -> None:
    settings = email_settings_from({"memento_email_to": "a@b", "memento_smtp_starttls": raw}, {})
    assert settings is not None
    assert settings.starttls is expected


@pytest.mark.parametrize(
    ("key", "raw"),
    [
        ("memento_smtp_port", "smtp"),
        ("memento_smtp_port", "0"),
        ("memento_smtp_port", "70000"),
        ("memento_smtp_port", "25.5"),
        ("memento_smtp_starttls", "maybe"),
        ("memento_smtp_timeout", "-1"),
        ("memento_smtp_host", "smtp example.org"),
    ],
)
def test_bad_settings_name_key_and_value(key: str, raw: str) -> None:
    with pytest.raises(SettingsError) as info:
        email_settings_from({"memento_email_to": "a@b", key: raw}, {})
    assert key in str(info.value)
    assert repr(raw) in str(info.value)
