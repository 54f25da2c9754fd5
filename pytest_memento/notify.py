"""End-of-run notifications: a plain-text summary, a webhook, an e-mail.

The plugin builds one plain summary dict on the controller at the end of a
run and hands it here::

    {"session": "pytest experiments -n 8", "duration": 123.4,
     "counts": {"ran": 10, "cached": 80, "failed": 2, "error": 0, "skipped": 0, "crashed": 0},
     "failures": [{"experiment": ..., "id": ..., "config": {...}, "error": "RuntimeError: diverged"}],
     "best": [{"experiment": ..., "metric": "accuracy", "goal": "max", "value": 0.97, "id": ..., "config": {...}}],
     "exitstatus": 1}

``format_subject`` / ``format_text`` render it; ``send_webhook`` POSTs
``{"text": ..., "summary": ...}`` (the shape Slack and Teams incoming
webhooks accept); ``send_email`` sends it over SMTP. Every sending failure
is a ``NotifyError`` naming the target and the reason; ``notify_all`` turns
those into warning strings and never raises, so a notifier can never fail a
run. Credentials only ever come from environment variables, read at send
time. Standard library only; no pytest in here.
"""

from __future__ import annotations

import http.client
import json
import math
import smtplib
import ssl
import urllib.error
import urllib.parse
import urllib.request
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from email.message import EmailMessage
from email.utils import formatdate, make_msgid
from typing import Any

__all__ = [
    "MAX_FAILURES",
    "EmailSettings",
    "NotifyError",
    "build_email",
    "format_duration",
    "format_subject",
    "format_text",
    "notify_all",
    "send_email",
    "send_webhook",
    "webhook_payload",
]

#: Failures listed in a message; the rest are counted ("... and N more").
MAX_FAILURES = 20
#: Longest error line kept in a message (a longer one is cut with "...").
MAX_ERROR_CHARS = 300
#: Longest part of an HTTP error body quoted in a NotifyError.
MAX_BODY_CHARS = 200

#: Counts beyond ran/cached/failed, named in the subject only when non-zero.
_EXTRA_COUNTS = (("error", "error", "errors"), ("crashed", "crashed", "crashed"), ("skipped", "skipped", "skipped"))


class NotifyError(Exception):
    """A notification could not be configured or sent (the message names the target and the reason)."""


# --------------------------------------------------------------------------- formatting


def format_duration(seconds: object) -> str:
    """``4.2s`` under a minute, ``2m03s`` under an hour, ``1h02m`` beyond; ``?`` if not a number."""
    if isinstance(seconds, bool) or not isinstance(seconds, (int, float)) or not math.isfinite(seconds):
        return "?"
    value = max(float(seconds), 0.0)
    if round(value, 1) < 60:
        return f"{value:.1f}s"
    total = round(value)
    if total < 3600:
        return f"{total // 60}m{total % 60:02d}s"
    minutes = round(value / 60)
    return f"{minutes // 60}h{minutes % 60:02d}m"


def _count(counts: Mapping[str, Any], name: str) -> int:
    value = counts.get(name, 0)
    try:
        return int(value)
    except (TypeError, ValueError):
        return 0


def _counts_of(summary: Mapping[str, Any]) -> Mapping[str, Any]:
    counts = summary.get("counts")
    return counts if isinstance(counts, Mapping) else {}


def format_subject(summary: Mapping[str, Any]) -> str:
    """One line: ``pytest-memento: 10 ran, 80 cached, 2 failed in 2m03s``.

    Errors, crashes and skips are added only when there are some.
    """
    counts = _counts_of(summary)
    parts = [f"{_count(counts, name)} {name}" for name in ("ran", "cached", "failed")]
    for name, singular, plural in _EXTRA_COUNTS:
        n = _count(counts, name)
        if n:
            parts.append(f"{n} {singular if n == 1 else plural}")
    subject = "pytest-memento: " + ", ".join(parts)
    duration = summary.get("duration")
    if duration is not None:
        subject += f" in {format_duration(duration)}"
    return subject


def _one_line(text: object, limit: int = MAX_ERROR_CHARS) -> str:
    """The line of an error that says what happened: the last non-empty one
    (Python tracebacks end with ``Type: message``), cut to ``limit``."""
    lines = [line.strip() for line in str(text).splitlines() if line.strip()]
    line = lines[-1] if lines else ""
    return line if len(line) <= limit else line[: limit - 3] + "..."


def _format_value(value: object, *, metric: bool = False) -> str:
    if isinstance(value, bool) or value is None:
        return str(value)
    if isinstance(value, float):
        return f"{value:.6g}" if metric else repr(value)
    if isinstance(value, int):
        return str(value)
    if isinstance(value, str):
        simple = value and value == value.strip() and value.isprintable() and not any(c in value for c in ",=")
        return value if simple else repr(value)
    try:
        return json.dumps(value, sort_keys=True, default=str)
    except (TypeError, ValueError):
        return repr(value)


def _format_config(config: object) -> str:
    if not isinstance(config, Mapping) or not config:
        return "(none)" if not config else _format_value(config)
    return ", ".join(f"{name}={_format_value(value)}" for name, value in config.items())


def _item_name(entry: Mapping[str, Any]) -> str:
    experiment = str(entry.get("experiment", "") or "?")
    test_id = entry.get("id")
    return f"{experiment}[{test_id}]" if test_id not in (None, "") else experiment


def _entries(summary: Mapping[str, Any], key: str) -> list[Mapping[str, Any]]:
    raw = summary.get(key)
    if not isinstance(raw, Sequence) or isinstance(raw, (str, bytes)):
        return []
    return [entry for entry in raw if isinstance(entry, Mapping)]


def format_text(summary: Mapping[str, Any]) -> str:
    """The whole message as plain text: the subject line first, then the
    session, the counts, the failures (at most ``MAX_FAILURES``, each with its
    configuration and error line) and the best configuration per metric."""
    counts = _counts_of(summary)
    lines = [format_subject(summary), ""]
    if summary.get("session"):
        lines.append(f"Session: {summary['session']}")
    if summary.get("duration") is not None:
        lines.append(f"Duration: {format_duration(summary['duration'])}")
    if summary.get("exitstatus") is not None:
        lines.append(f"Exit status: {summary['exitstatus']}")
    names = ["ran", "cached", "failed", "error", "crashed", "skipped"]
    names += [name for name in counts if name not in names]
    lines.append("Counts: " + ", ".join(f"{name} {_count(counts, name)}" for name in names))

    failures = _entries(summary, "failures")
    if failures:
        lines += ["", f"Failures ({len(failures)}):"]
        for entry in failures[:MAX_FAILURES]:
            lines.append(f"  {_item_name(entry)}")
            lines.append(f"    config: {_format_config(entry.get('config'))}")
            lines.append(f"    error: {_one_line(entry.get('error', ''))}")
        if len(failures) > MAX_FAILURES:
            lines.append(f"  ... and {len(failures) - MAX_FAILURES} more")

    best = _entries(summary, "best")
    if best:
        lines += ["", "Best configuration per metric:"]
        for entry in best:
            goal = f" ({entry['goal']})" if entry.get("goal") else ""
            value = _format_value(entry.get("value"), metric=True)
            lines.append(f"  {entry.get('metric', '?')}{goal} = {value}: {_item_name(entry)}")
            lines.append(f"    config: {_format_config(entry.get('config'))}")
    return "\n".join(lines) + "\n"


# --------------------------------------------------------------------------- webhook


def _jsonable(value: object) -> Any:
    """A copy that ``json.dumps`` writes as strict JSON (NaN and infinities
    become strings, unknown objects their ``str``)."""
    if isinstance(value, Mapping):
        return {str(key): _jsonable(item) for key, item in value.items()}
    if isinstance(value, (list, tuple)):
        return [_jsonable(item) for item in value]
    if isinstance(value, float) and not math.isfinite(value):
        return str(value)
    if value is None or isinstance(value, (str, int, float)):
        return value
    return str(value)


def webhook_payload(summary: Mapping[str, Any]) -> dict[str, Any]:
    """``{"text": format_text(summary), "summary": summary}``: Slack and Teams
    incoming webhooks show ``text``; other receivers get the data too."""
    return {"text": format_text(summary), "summary": _jsonable(summary)}


def _show_url(url: str) -> str:
    """The URL as named in errors: scheme, host, port and the first path
    segment only. Webhook URLs carry their secret in the path (Slack, Teams,
    Discord) and errors end up in CI logs."""
    try:
        parts = urllib.parse.urlsplit(url)
        host = parts.hostname or ""
        port = parts.port
    except ValueError:
        return repr(url.split(":", 1)[0] + ":...")
    if ":" in host:
        host = f"[{host}]"
    netloc = host if port is None else f"{host}:{port}"
    segments = [segment for segment in parts.path.split("/") if segment]
    path = ""
    if segments:
        path = "/" + segments[0] + ("/..." if len(segments) > 1 else "")
    if parts.query:
        path += "?..."
    return f"{parts.scheme}://{netloc}{path}" if parts.scheme else repr(url[:20] + "...")


class _NoRedirect(urllib.request.HTTPRedirectHandler):
    """A redirected POST would be replayed as a body-less GET: report it instead."""

    def redirect_request(
        self, req: urllib.request.Request, fp: Any, code: int, msg: str, headers: Any, newurl: str
    ) -> None:
        return None


def send_webhook(url: str, summary: Mapping[str, Any], *, timeout: float = 10.0) -> None:
    """POST ``webhook_payload(summary)`` as JSON to an http(s) ``url``.

    Raises ``NotifyError`` naming the URL (without its secret path) and the
    reason: a scheme other than http/https (checked before any network
    access), an HTTP status outside 2xx (redirects are not followed), a
    refused connection, a timeout.
    """
    shown = _show_url(url)
    try:
        parts = urllib.parse.urlsplit(url)
        parts.port  # noqa: B018  # raises ValueError when out of range
    except ValueError as error:
        raise NotifyError(f"webhook {shown}: invalid URL ({error})") from None
    if parts.scheme.lower() not in ("http", "https"):
        raise NotifyError(f"webhook {shown}: only http:// and https:// URLs are supported")
    if not parts.hostname:
        raise NotifyError(f"webhook {shown}: invalid URL (no host)")
    body = json.dumps(webhook_payload(summary), allow_nan=False).encode("utf-8")
    request = urllib.request.Request(
        url,
        data=body,
        headers={"Content-Type": "application/json", "User-Agent": "pytest-memento"},
        method="POST",
    )
    opener = urllib.request.build_opener(_NoRedirect)
    try:
        with opener.open(request, timeout=timeout) as response:
            response.read()
    except urllib.error.HTTPError as error:
        with error:
            try:
                detail = error.read(MAX_BODY_CHARS).decode("utf-8", "replace").strip()
            except (OSError, http.client.HTTPException):
                detail = ""
        reason = f"HTTP {error.code} {error.reason}".rstrip()
        if detail:
            reason += f": {_one_line(detail, MAX_BODY_CHARS)}"
        raise NotifyError(f"webhook {shown} failed: {reason}") from None
    except urllib.error.URLError as error:
        raise NotifyError(f"webhook {shown} failed: {_reason(error.reason)}") from None
    except (OSError, http.client.HTTPException, ValueError) as error:
        raise NotifyError(f"webhook {shown} failed: {_reason(error)}") from None


def _reason(error: object) -> str:
    if isinstance(error, BaseException):
        text = str(error)
        return f"{type(error).__name__}: {text}" if text else type(error).__name__
    return str(error)


# --------------------------------------------------------------------------- e-mail


@dataclass(frozen=True, kw_only=True)
class EmailSettings:
    """Where and how to send the e-mail. Credentials are not stored here:
    ``user_env`` and ``password_env`` name the environment variables that
    hold them, read when sending."""

    host: str
    port: int = 587
    sender: str
    recipients: tuple[str, ...]
    starttls: bool = True
    user_env: str = "MEMENTO_SMTP_USER"
    password_env: str = "MEMENTO_SMTP_PASSWORD"
    timeout: float = 10.0


def _smtp_reason(error: BaseException) -> str:
    if isinstance(error, smtplib.SMTPRecipientsRefused):
        refused = ", ".join(f"{address} ({_smtp_reply(*reply)})" for address, reply in error.recipients.items())
        return f"recipients refused: {refused}"
    if isinstance(error, smtplib.SMTPResponseException):
        return f"{type(error).__name__}: {_smtp_reply(error.smtp_code, error.smtp_error)}"
    return _reason(error)


def _smtp_reply(code: int, message: bytes | str) -> str:
    text = message.decode("utf-8", "replace") if isinstance(message, bytes) else str(message)
    return f"{code} {' '.join(text.split())}"


def build_email(settings: EmailSettings, summary: Mapping[str, Any]) -> EmailMessage:
    """The message ``send_email`` sends."""
    message = EmailMessage()
    message["Subject"] = format_subject(summary)
    message["From"] = settings.sender
    message["To"] = ", ".join(settings.recipients)
    message["Date"] = formatdate(localtime=True)
    domain = settings.sender.rpartition("@")[2].strip(" >") or "pytest-memento.invalid"
    message["Message-ID"] = make_msgid("pytest-memento", domain=domain)
    message.set_content(format_text(summary))
    return message


def send_email(settings: EmailSettings, summary: Mapping[str, Any], env: Mapping[str, str]) -> None:
    """Send the summary by SMTP: STARTTLS (verified with
    ``ssl.create_default_context()``) when ``settings.starttls``, login when
    both credential variables are set in ``env``. Raises ``NotifyError``
    naming ``host:port`` and the reason on any failure, including recipients
    the server refused."""
    host = f"[{settings.host}]" if ":" in settings.host else settings.host
    target = f"{host}:{settings.port}"
    user = env.get(settings.user_env, "")
    password = env.get(settings.password_env, "")
    hint = ""
    if bool(user) != bool(password):
        have, missing = (
            (settings.user_env, settings.password_env) if user else (settings.password_env, settings.user_env)
        )
        hint = f" ({have} is set but {missing} is not, so no login was attempted)"
    try:
        if not settings.recipients:
            raise ValueError("no recipients")
        message = build_email(settings, summary)
        with smtplib.SMTP(settings.host, settings.port, timeout=settings.timeout) as smtp:
            smtp.ehlo()
            if settings.starttls:
                smtp.starttls(context=ssl.create_default_context())
                smtp.ehlo()
            if user and password:
                smtp.login(user, password)
            refused = smtp.send_message(message)
        if refused:
            raise smtplib.SMTPRecipientsRefused(refused)
    except (smtplib.SMTPException, OSError, ValueError) as error:
        raise NotifyError(f"e-mail via {target} failed: {_smtp_reason(error)}{hint}") from None


# --------------------------------------------------------------------------- all targets


def notify_all(
    summary: Mapping[str, Any],
    *,
    webhook_url: str | None,
    email: EmailSettings | None,
    env: Mapping[str, str],
    timeout: float = 10.0,
) -> list[str]:
    """Send to every configured target; return one warning string per failed
    target. Never raises (except ``KeyboardInterrupt`` and the like): a
    notification must never fail a run."""
    problems: list[str] = []
    if webhook_url:
        try:
            send_webhook(webhook_url, summary, timeout=timeout)
        except NotifyError as error:
            problems.append(str(error))
        except Exception as error:
            problems.append(f"webhook {_show_url(webhook_url)} failed: unexpected {_reason(error)}")
    if email is not None:
        try:
            send_email(email, summary, env)
        except NotifyError as error:
            problems.append(str(error))
        except Exception as error:
            problems.append(f"e-mail via {email.host}:{email.port} failed: unexpected {_reason(error)}")
    return problems
