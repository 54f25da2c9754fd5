"""Every setting of a run, resolved once into one frozen :class:`Settings`.

Each value has one resolver that reads, in order, the command line, the
environment, the ini file and the default (pytest-timeout's rule), and
raises :class:`SettingsError` naming the option, variable or ini key at
fault. The plugin resolves in ``pytest_configure``; the ``memento`` command
resolves the store and the secret with the same functions (from the ini
file :mod:`.project` finds), so both always open the same store and refuse
the same records. Pure: no pytest; the plugin hands in plain values through
:class:`Sources`.
"""

from __future__ import annotations

import math
import os
import re
import socket
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from .baseline import Baseline, BaselineError
from .layout import check_store_dir
from .notify import EmailSettings
from .remote import Remote, RemoteError, is_url, missing_package, parse_storage_options
from .remote_store import StoreLocation
from .shard import ShardError, parse_shard
from .signing import DEFAULT_SECRET_ENV, Signer
from .store import StoreError, ensure_store_dir
from .tables import check_export_path
from .workers import GpuSetting, ThreadSetting

__all__ = [
    "EMAIL_INI",
    "TABLE_MODES",
    "Notifiers",
    "ReportSettings",
    "Settings",
    "SettingsError",
    "Sources",
    "email_settings_from",
    "parse_bool",
    "resolve",
    "resolve_secret",
    "resolve_store",
    "resolve_store_dir",
]

TABLE_MODES = ("auto", "full", "summary", "off")

#: The e-mail ini keys and their help text.
EMAIL_INI = {
    "memento_email_to": "Comma-separated addresses to e-mail a summary to when the run ends.",
    "memento_email_from": "Sender of that e-mail (default pytest-memento@<host>).",
    "memento_smtp_host": "SMTP server (default localhost); credentials from MEMENTO_SMTP_USER / MEMENTO_SMTP_PASSWORD.",
    "memento_smtp_port": "SMTP port (default 587).",
    "memento_smtp_starttls": "Use STARTTLS (default true).",
    "memento_smtp_timeout": "SMTP timeout in seconds.",
}

_TRUE = frozenset({"1", "true", "yes", "on", "y", "t"})
_FALSE = frozenset({"0", "false", "no", "off", "n", "f"})


class SettingsError(Exception):
    """An option, ini key or environment variable has a bad value."""


@dataclass(frozen=True)
class Sources:
    """Where settings come from. ``cli`` maps option names (``memento_dir``)
    to their values (None: not given); ``ini`` maps ini keys to their values
    (missing or empty: not set)."""

    cli: Mapping[str, Any]
    ini: Mapping[str, Any]
    env: Mapping[str, str]
    rootdir: Path
    invocation_dir: Path

    def option(self, name: str) -> Any:
        return self.cli.get(name)

    def ini_text(self, name: str) -> str:
        value = self.ini.get(name)
        return "" if value is None else str(value).strip()


@dataclass(frozen=True)
class ReportSettings:
    """Where the run's table goes and what its metrics are held against."""

    exports: tuple[Path, ...] = ()
    baseline: Baseline | None = None
    save_baseline: Path | None = None
    tolerance: float | None = None
    table: str = "auto"
    #: The CI gate's k: a replicate group fails only beyond k standard errors of the difference.
    gate_sigma: float = 2.0


@dataclass(frozen=True)
class Notifiers:
    """Where the end-of-run summary is sent."""

    webhook: str | None = None
    email: EmailSettings | None = None


@dataclass(frozen=True)
class Settings:
    """All of a run's settings; built complete, never patched."""

    #: The store directory, or (with ``store_url``) the cache directory mirroring it.
    store_dir: Path
    rerun: bool = False
    cached_only: bool = False
    #: Keep results whose code changed (with a warning) instead of rerunning.
    keep_stale: bool = False
    #: Seed random, numpy and torch before each item.
    seed: bool = True
    #: --memento-verify: the fraction of stored configurations to re-run.
    verify: float | None = None
    #: With xdist: how often an item whose worker died goes back in the queue.
    retries: int = 0
    #: (K, N) from --memento-shard, or None.
    shard: tuple[int, int] | None = None
    #: Signs results and checkpoints on write, checks them on read (shared stores).
    signer: Signer | None = None
    report: ReportSettings = field(default_factory=ReportSettings)
    notifiers: Notifiers = field(default_factory=Notifiers)
    #: With xdist: each worker's BLAS/OpenMP threads (auto: cpus // workers; off: not limited).
    threads: ThreadSetting = "auto"
    #: With xdist: the GPUs shared among workers (auto: CUDA_VISIBLE_DEVICES, else nvidia-smi).
    gpus: GpuSetting = "auto"
    #: The store's fsspec URL (None: ``store_dir`` is the store).
    store_url: str | None = None
    #: fsspec storage options for ``store_url`` (may hold secrets: never shown).
    storage_options: Mapping[str, Any] = field(default_factory=dict, repr=False)

    @property
    def location(self) -> StoreLocation:
        return StoreLocation(self.store_dir, self.store_url, self.storage_options)


def parse_bool(value: str | bool, where: str) -> bool:
    """``true/false``, ``yes/no``, ``on/off``, ``1/0`` (any case) as a bool."""
    if isinstance(value, bool):
        return value
    lowered = str(value).strip().lower()
    if lowered in _TRUE:
        return True
    if lowered in _FALSE:
        return False
    raise SettingsError(f"{where}: expected true or false, got {value!r}")


# -- one resolver per value -----------------------------------------------


def resolve_store_dir(sources: Sources, *, create: bool = True, check: bool = False) -> Path:
    """The store's directory (for a URL, its cache directory); see :func:`resolve_store`."""
    return resolve_store(sources, create=create, check=check).path


def resolve_store(sources: Sources, *, create: bool = True, check: bool = False) -> StoreLocation:
    """``--memento-dir`` (relative to where the command was run), then
    ``MEMENTO_DIR`` (likewise), then ini ``memento_dir`` (relative to
    rootdir), then ``<rootdir>/.memento``. With ``create``, the directory
    is made (with its ``CACHEDIR.TAG``) or the error names the source; with
    ``check``, nothing is made but the same errors are raised when it could
    not be (the plugin creates it when a run first needs it).

    An fsspec URL (``s3://bucket/prefix``) is a mirrored store: its storage
    options come from ``MEMENTO_STORAGE_OPTIONS``, else ini
    ``memento_storage_options`` (JSON), its cache directory lives under
    ``MEMENTO_CACHE_DIR``, else ini ``memento_cache_dir``, else
    ``$XDG_CACHE_HOME/pytest-memento`` (``~/.cache/pytest-memento``). Only
    the URL's form and the protocol's package are checked here; the remote
    is first reached when the store is created."""
    cli = sources.option("memento_dir")
    if cli is not None:
        if not str(cli).strip():
            raise SettingsError("--memento-dir: empty path")
        where, text, base = "--memento-dir", str(cli).strip(), sources.invocation_dir
    elif sources.env.get("MEMENTO_DIR", "").strip():
        where, text, base = "MEMENTO_DIR", sources.env["MEMENTO_DIR"].strip(), sources.invocation_dir
    elif sources.ini_text("memento_dir"):
        where, text, base = "memento_dir (ini)", sources.ini_text("memento_dir"), sources.rootdir
    else:
        where, text, base = "default store", "", sources.rootdir
    if text and is_url(text):
        return _store_url(sources, where, text, create)
    path = Path(os.path.normpath(base / os.path.expanduser(text) if text else base / ".memento"))
    if create or check:
        try:
            (ensure_store_dir if create else check_store_dir)(path)
        except StoreError as exc:
            raise SettingsError(f"{where}: {exc}") from None
    return StoreLocation(path)


def _store_url(sources: Sources, where: str, url: str, create: bool) -> StoreLocation:
    try:
        Remote(url, env={})  # its form only: nothing is imported or reached here
    except RemoteError as exc:
        raise SettingsError(f"{where}: {exc}") from None
    missing = missing_package(url)
    if missing:
        raise SettingsError(f"{where}: {missing}")
    options: dict[str, Any] = {}
    if sources.env.get("MEMENTO_STORAGE_OPTIONS", "").strip():
        option_source, option_text = "MEMENTO_STORAGE_OPTIONS", sources.env["MEMENTO_STORAGE_OPTIONS"]
    else:
        option_source, option_text = "memento_storage_options (ini)", sources.ini_text("memento_storage_options")
    if option_text.strip():
        try:
            options = parse_storage_options(option_text, option_source)
        except ValueError as exc:
            raise SettingsError(str(exc)) from None
    if sources.env.get("MEMENTO_CACHE_DIR", "").strip():
        cache_where, cache = (
            "MEMENTO_CACHE_DIR",
            sources.invocation_dir / os.path.expanduser(sources.env["MEMENTO_CACHE_DIR"].strip()),
        )
    elif sources.ini_text("memento_cache_dir"):
        cache_where, cache = (
            "memento_cache_dir (ini)",
            sources.rootdir / os.path.expanduser(sources.ini_text("memento_cache_dir")),
        )
    else:
        xdg = sources.env.get("XDG_CACHE_HOME", "").strip()
        cache_where, cache = "the cache directory", (Path(xdg) if xdg else Path.home() / ".cache") / "pytest-memento"
    location = StoreLocation.for_url(url, options, Path(os.path.normpath(cache)), sources.env)
    try:
        check_store_dir(location.path)
        if create:
            ensure_store_dir(location.path)
    except StoreError as exc:
        raise SettingsError(f"{cache_where}: {exc}") from None
    return location


def resolve_secret(sources: Sources) -> Signer | None:
    """The secret is read from the environment variable named by
    ``MEMENTO_SECRET_ENV``, then ini ``memento_secret_env``, then
    ``MEMENTO_SECRET``; unset or empty means an unsigned store."""
    variable = sources.env.get("MEMENTO_SECRET_ENV", "").strip() or sources.ini_text("memento_secret_env")
    secret = sources.env.get(variable or DEFAULT_SECRET_ENV, "")
    return Signer(secret.encode()) if secret else None


def _verify_fraction(sources: Sources) -> float | None:
    text = sources.option("memento_verify")
    if text is None:
        return None
    try:
        fraction = float(text)
    except ValueError:
        fraction = math.nan
    if not 0 < fraction <= 1:
        raise SettingsError(f"--memento-verify: expected a fraction in (0, 1], got {text!r}")
    if sources.option("memento_rerun") or sources.option("memento_cached_only"):
        raise SettingsError(
            "--memento-verify re-runs stored configurations; it cannot go with --memento-rerun or --memento-cached-only"
        )
    return fraction


def _keep_stale(sources: Sources) -> bool:
    text = sources.ini_text("memento_stale") or "rerun"
    if text.lower() not in ("rerun", "keep"):
        raise SettingsError(f"memento_stale (ini): expected rerun or keep, got {sources.ini.get('memento_stale')!r}")
    return text.lower() == "keep"


def _seed(sources: Sources) -> bool:
    value = sources.ini.get("memento_seed")
    return True if value is None or value == "" else parse_bool(value, "memento_seed (ini)")


def _retries(sources: Sources) -> int:
    cli = sources.option("memento_retries")
    if cli is not None:
        value, where = int(cli), "--memento-retries"
    else:
        text = sources.ini_text("memento_retries") or "0"
        try:
            value, where = int(text), "memento_retries (ini)"
        except ValueError:
            raise SettingsError(f"memento_retries (ini): expected a whole number, got {text!r}") from None
    if value < 0:
        raise SettingsError(f"{where}: expected 0 or more, got {value}")
    return value


def _shard(sources: Sources) -> tuple[int, int] | None:
    spec = sources.option("memento_shard")
    if not spec:
        return None
    try:
        return parse_shard(str(spec), sources.env)
    except ShardError as exc:
        raise SettingsError(f"--memento-shard: {exc}") from None


def _report(sources: Sources) -> ReportSettings:
    here = sources.invocation_dir
    exports = []
    for text in sources.option("memento_export") or []:
        path = here / text
        try:
            check_export_path(path)
        except ValueError as exc:
            raise SettingsError(f"--memento-export {exc}") from None
        exports.append(path)
    baseline = None
    if sources.option("memento_baseline") is not None:
        try:
            baseline = Baseline.load(here / sources.option("memento_baseline"))
        except BaselineError as exc:
            raise SettingsError(f"--memento-baseline {exc}") from None
    saved = None
    if sources.option("memento_save_baseline") is not None:
        saved = here / sources.option("memento_save_baseline")
        if not saved.parent.is_dir() or saved.is_dir():
            raise SettingsError(
                f"--memento-save-baseline {saved}: the directory does not exist or the path is a directory"
            )
    tolerance = None
    text = sources.option("memento_tolerance")
    if text is not None:
        try:
            tolerance = float(text)
        except ValueError:
            raise SettingsError(f"--memento-tolerance: expected a number, got {text!r}") from None
        if not tolerance >= 0:
            raise SettingsError(f"--memento-tolerance: expected a number >= 0, got {text!r}")
    table = sources.ini_text("memento_table") or "auto"
    if table not in TABLE_MODES:
        raise SettingsError(f"memento_table (ini): expected one of {', '.join(TABLE_MODES)}, got {table!r}")
    return ReportSettings(tuple(exports), baseline, saved, tolerance, table, _gate_sigma(sources))


def _gate_sigma(sources: Sources) -> float:
    cli = sources.option("memento_gate_sigma")
    where, text = (
        ("--memento-gate-sigma", str(cli))
        if cli is not None
        else ("memento_gate_sigma (ini)", sources.ini_text("memento_gate_sigma"))
    )
    if not text:
        return 2.0
    try:
        sigma = float(text)
    except ValueError:
        sigma = math.nan
    if not (math.isfinite(sigma) and sigma >= 0):
        raise SettingsError(f"{where}: expected a number of standard errors >= 0, got {text!r}")
    return sigma


def _layered(sources: Sources, option: str, variable: str, ini: str) -> tuple[str, str] | None:
    """(where, text) from the command line, then the environment, then the ini file."""
    cli = sources.option(option)
    if cli is not None:
        return "--" + option.replace("_", "-"), str(cli).strip()
    if sources.env.get(variable, "").strip():
        return variable, sources.env[variable].strip()
    if sources.ini_text(ini):
        return f"{ini} (ini)", sources.ini_text(ini)
    return None


def _threads(sources: Sources) -> ThreadSetting:
    found = _layered(sources, "memento_threads", "MEMENTO_THREADS", "memento_threads")
    if found is None:
        return "auto"
    where, text = found
    if text.lower() in ("auto", "off"):
        return "auto" if text.lower() == "auto" else "off"
    if text.isdigit() and int(text) > 0:
        return int(text)
    raise SettingsError(f"{where}: expected auto, off or a number of threads >= 1, got {text!r}")


def _gpus(sources: Sources) -> GpuSetting:
    found = _layered(sources, "memento_gpus", "MEMENTO_GPUS", "memento_gpus")
    if found is None:
        return "auto"
    where, text = found
    if text.lower() in ("auto", "off"):
        return "auto" if text.lower() == "auto" else "off"
    devices = tuple(part.strip() for part in text.split(","))
    if not all(devices) or any(not re.fullmatch(r"[\w:./-]+", device) for device in devices):
        raise SettingsError(
            f"{where}: expected auto, off or a comma-separated list of GPU indices or UUIDs, got {text!r}"
        )
    return devices


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


def resolve(sources: Sources) -> Settings:
    """Every setting, checked up front; a bad one raises :class:`SettingsError`."""
    rerun, cached_only = bool(sources.option("memento_rerun")), bool(sources.option("memento_cached_only"))
    if rerun and cached_only:
        raise SettingsError("--memento-rerun and --memento-cached-only contradict each other; give one")
    location = resolve_store(sources, create=False, check=True)
    return Settings(
        store_dir=location.path,
        store_url=location.url,
        storage_options=location.options,
        rerun=rerun,
        cached_only=cached_only,
        keep_stale=_keep_stale(sources),
        seed=_seed(sources),
        verify=_verify_fraction(sources),
        retries=_retries(sources),
        shard=_shard(sources),
        signer=resolve_secret(sources),
        report=_report(sources),
        notifiers=Notifiers(webhook=_webhook(sources), email=_email(sources)),
        threads=_threads(sources),
        gpus=_gpus(sources),
    )


# -- e-mail ---------------------------------------------------------------


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
