"""End-of-run notifications: the summary sent to a webhook and by e-mail.

The summary dict and its text are :mod:`.summary_text`'s. ``send_webhook``
POSTs ``{"text": ..., "summary": ...}`` (the shape Slack and Teams incoming
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
from collections.abc import Mapping
from dataclasses import dataclass
from email.message import EmailMessage
from email.utils import formatdate, make_msgid
from typing import Any

from .summary_text import format_subject, format_text, one_line

__all__ = [
    "EmailSettings",
    "NotifyError",
    "build_email",
    "notify_all",
    "send_email",
    "send_webhook",
    "webhook_payload",
]

#: Longest part of an HTTP error body quoted in a NotifyError.
MAX_BODY_CHARS = 200


class NotifyError(Exception):
    """A notification could not be configured or sent (the message names the target and the reason)."""


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
            reason += f": {one_line(detail, MAX_BODY_CHARS)}"
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
