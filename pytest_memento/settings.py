"""Every setting of a run, resolved once into one frozen :class:`Settings`.

Each value has one resolver that reads, in order, the command line, the
environment, the ini file and the default (pytest-timeout's rule), and
raises :class:`SettingsError` naming the option, variable or ini key at
fault. The plugin resolves in ``pytest_configure``; the ``memento`` command
resolves the store and the secret with the same functions (from the ini
file :mod:`.project` finds), so both always open the same store and refuse
the same records. Pure: no pytest; the plugin hands in plain values through
:class:`~.sources.Sources`. Where the summary is sent is resolved in
:mod:`.notifier_settings`, each worker's threads and GPUs in
:mod:`.worker_settings`.
"""

from __future__ import annotations

import math
import os
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from .baseline import Baseline, BaselineError
from .layout import StoreError, check_store_dir, ensure_store_dir
from .notifier_settings import Notifiers, resolve_notifiers
from .remote import Remote, RemoteError
from .remote_store import StoreLocation
from .shard import ShardError, parse_shard
from .signing import DEFAULT_SECRET_ENV, Signer
from .sources import SettingsError, Sources, parse_bool
from .store_urls import is_url, missing_package, parse_storage_options
from .tables import check_export_path
from .worker_settings import resolve_gpus, resolve_threads
from .workers import GpuSetting, ThreadSetting

__all__ = [
    "TABLE_MODES",
    "ReportSettings",
    "Settings",
    "resolve",
    "resolve_secret",
    "resolve_store",
    "resolve_store_dir",
]

TABLE_MODES = ("auto", "full", "summary", "off")


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
        notifiers=resolve_notifiers(sources),
        threads=resolve_threads(sources),
        gpus=resolve_gpus(sources),
    )
