"""Where the end-of-run summary is sent, resolved from the settings: the
webhook URL and the e-mail settings (recipients, sender, SMTP server).
Pure: no pytest; credentials are not read here but at send time.
"""

from __future__ import annotations

import math
import re
import socket
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from typing import Any

from .notify import EmailSettings
from .sources import SettingsError, Sources, parse_bool

__all__ = ["EMAIL_INI", "Notifiers", "email_settings_from", "resolve_notifiers"]

#: The e-mail ini keys and their help text.
EMAIL_INI = {
    "memento_email_to": "Comma-separated addresses to e-mail a summary to when the run ends.",
    "memento_email_from": "Sender of that e-mail (default pytest-memento@<host>).",
    "memento_smtp_host": "SMTP server (default localhost); credentials from MEMENTO_SMTP_USER / MEMENTO_SMTP_PASSWORD.",
    "memento_smtp_port": "SMTP port (default 587).",
    "memento_smtp_starttls": "Use STARTTLS (default true).",
    "memento_smtp_timeout": "SMTP timeout in seconds.",
}


@dataclass(frozen=True)
class Notifiers:
    """Where the end-of-run summary is sent."""

    webhook: str | None = None
    email: EmailSettings | None = None


def resolve_notifiers(sources: Sources) -> Notifiers:
    """The webhook (command line, then environment, then ini) and the e-mail (ini)."""
    return Notifiers(webhook=_webhook(sources), email=_email(sources))


def _webhook(sources: Sources) -> str | None:
    url = (
        sources.option("memento_webhook")
        or sources.env.get("MEMENTO_WEBHOOK", "").strip()
        or sources.ini_text("memento_webhook")
    )
    if url and not url.startswith(("http://", "https://")):
        raise SettingsError(
            f"--memento-webhook / memento_webhook: expected an http:// or https:// URL, got {url[:40]!r}"
        )
    return url or None


def _email(sources: Sources) -> EmailSettings | None:
    values = {name: sources.ini.get(name) for name in EMAIL_INI}
    return email_settings_from({k: v for k, v in values.items() if v is not None and v != ""}, sources.env)


def _value(values: Mapping[str, Any], key: str) -> str:
    raw = values.get(key)
    return "" if raw is None else str(raw).strip()


def email_settings_from(values: Mapping[str, Any], env: Mapping[str, str]) -> EmailSettings | None:
    """E-mail settings from ini values, or ``None`` when e-mail is off.

    ``memento_email_to``: recipients separated by commas or newlines (empty:
    no e-mail); ``memento_email_from`` (default ``pytest-memento@<hostname>``);
    ``memento_smtp_host`` (default ``localhost``); ``memento_smtp_port``
    (default 587); ``memento_smtp_starttls`` (true/false/yes/no/on/off/1/0,
    default true); ``memento_smtp_timeout`` (seconds, default 10). A bad value
    raises ``SettingsError`` naming the key and the value. ``env`` is not read
    for settings: credentials come from it only at send time.
    """
    recipients = tuple(part.strip() for part in re.split(r"[,\n]", _value(values, "memento_email_to")) if part.strip())
    if not recipients:
        return None
    sender = _value(values, "memento_email_from") or f"pytest-memento@{socket.gethostname() or 'localhost'}"
    host = _value(values, "memento_smtp_host") or "localhost"
    if any(c.isspace() for c in host):
        raise SettingsError(f"memento_smtp_host: invalid host {host!r}")
    port = int(_number(values, "memento_smtp_port", 587, int, lambda n: 0 < n < 65536, "an integer from 1 to 65535"))
    raw_tls = values.get("memento_smtp_starttls")
    starttls = True
    if raw_tls is not None and str(raw_tls).strip():
        try:
            starttls = parse_bool(raw_tls, "memento_smtp_starttls")
        except SettingsError:
            raise SettingsError(
                f"memento_smtp_starttls: invalid value {raw_tls!r} (expected true/false, yes/no, on/off or 1/0)"
            ) from None
    timeout = _number(
        values,
        "memento_smtp_timeout",
        10.0,
        float,
        lambda n: math.isfinite(n) and n > 0,
        "a positive number of seconds",
    )
    return EmailSettings(host=host, port=port, sender=sender, recipients=recipients, starttls=starttls, timeout=timeout)


def _number(
    values: Mapping[str, Any],
    key: str,
    default: float,
    convert: Callable[[str], float],
    valid: Callable[[float], bool],
    expected: str,
) -> float:
    """The number under ``key`` (``default`` when unset); an error naming
    the key and value when it does not parse or is out of range."""
    raw = _value(values, key)
    if not raw:
        return default
    try:
        number = convert(raw)
    except ValueError:
        number = math.nan
    if not valid(number):
        raise SettingsError(f"{key}: invalid value {raw!r} (expected {expected})")
    return number
