"""Settings of a run, run/cache decisions, stored records and the run log.

The plugin hands this module plain values (option values, ini strings,
environment, paths), so everything here is testable without pytest.
"""

from __future__ import annotations

import numbers
import os
import time
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from datetime import datetime, timezone
from pathlib import Path
from typing import Any

from .baseline import Baseline, BaselineError
from .fingerprint import Fingerprint, FingerprintCache
from .hashing import jsonable
from .matrix import Case
from .notify import EmailSettings
from .provenance import environment, packages_of
from .report import check_export_path
from .signing import Signer
from .store import Entry, ResultStore, StoreError, ensure_store_dir

__all__ = [
    "Decision",
    "MementoSession",
    "Settings",
    "SettingsError",
    "build_record",
    "metrics_of",
    "resolve_settings",
]

RUN = "run"
CACHED = "cached"
NOT_CACHED = "not-cached"


class SettingsError(Exception):
    """An option, ini key or environment variable has a bad value."""


@dataclass(frozen=True)
class Settings:
    store_dir: Path
    rerun: bool = False
    cached_only: bool = False
    #: Keep results whose code changed (with a warning) instead of rerunning.
    keep_stale: bool = False
    #: Seed random, numpy and torch before each item.
    seed: bool = True
    #: --memento-verify: the fraction of stored configurations to re-run.
    verify: float | None = None


def _truthy(text: str, where: str) -> bool:
    lowered = text.strip().lower()
    if lowered in ("1", "true", "yes", "on"):
        return True
    if lowered in ("0", "false", "no", "off", ""):
        return False
    raise SettingsError(f"{where}: expected true or false, got {text!r}")


def resolve_settings(
    *,
    cli_dir: str | None,
    ini_dir: str,
    env: Mapping[str, str],
    rootdir: Path,
    invocation_dir: Path,
    rerun: bool,
    cached_only: bool,
    stale: str = "rerun",
    seed: str = "true",
    verify: str | None = None,
) -> Settings:
    """Resolve the store directory: command line (relative to where pytest
    was invoked), then ``MEMENTO_DIR``, then ini ``memento_dir`` (relative to
    rootdir), then ``<rootdir>/.memento``."""
    if rerun and cached_only:
        raise SettingsError("--memento-rerun and --memento-cached-only contradict each other; give one")
    if cli_dir is not None:
        if not cli_dir.strip():
            raise SettingsError("--memento-dir: empty path")
        where, store_dir = "--memento-dir", invocation_dir / os.path.expanduser(cli_dir)
    elif env.get("MEMENTO_DIR", "").strip():
        where, store_dir = "MEMENTO_DIR", invocation_dir / os.path.expanduser(env["MEMENTO_DIR"])
    elif ini_dir.strip():
        where, store_dir = "memento_dir (ini)", rootdir / os.path.expanduser(ini_dir)
    else:
        where, store_dir = "default store", rootdir / ".memento"
    store_dir = Path(os.path.normpath(store_dir))
    try:
        ensure_store_dir(store_dir)
    except StoreError as exc:
        raise SettingsError(f"{where}: {exc}") from None
    fraction = None
    if verify is not None:
        try:
            fraction = float(verify)
        except ValueError:
            raise SettingsError(f"--memento-verify: expected a fraction in (0, 1], got {verify!r}") from None
        if not 0 < fraction <= 1:
            raise SettingsError(f"--memento-verify: expected a fraction in (0, 1], got {verify!r}")
        if rerun or cached_only:
            raise SettingsError(
                "--memento-verify re-runs stored configurations; it cannot go with --memento-rerun or --memento-cached-only"
            )
    if stale.strip().lower() not in ("rerun", "keep"):
        raise SettingsError(f"memento_stale (ini): expected rerun or keep, got {stale!r}")
    return Settings(
        store_dir=store_dir,
        rerun=rerun,
        cached_only=cached_only,
        keep_stale=stale.strip().lower() == "keep",
        seed=_truthy(seed, "memento_seed (ini)"),
        verify=fraction,
    )


@dataclass(frozen=True)
class ReportSettings:
    """Where the run's table goes and what its metrics are held against."""

    exports: tuple[Path, ...] = ()
    baseline: Baseline | None = None
    save_baseline: Path | None = None
    tolerance: float | None = None
    table: str = "auto"


TABLE_MODES = ("auto", "full", "summary", "off")


def resolve_report_settings(
    *,
    exports: list[str] | None,
    baseline: str | None,
    save_baseline: str | None,
    tolerance: str | None,
    table: str,
    invocation_dir: Path,
) -> ReportSettings:
    """Check every reporting option up front, naming the one at fault."""
    paths = []
    for text in exports or []:
        path = invocation_dir / text
        try:
            check_export_path(path)
        except ValueError as exc:
            raise SettingsError(f"--memento-export {exc}") from None
        paths.append(path)
    loaded = None
    if baseline is not None:
        try:
            loaded = Baseline.load(invocation_dir / baseline)
        except BaselineError as exc:
            raise SettingsError(f"--memento-baseline {exc}") from None
    saved = None
    if save_baseline is not None:
        saved = invocation_dir / save_baseline
        if not saved.parent.is_dir() or saved.is_dir():
            raise SettingsError(
                f"--memento-save-baseline {saved}: the directory does not exist or the path is a directory"
            )
    override = None
    if tolerance is not None:
        try:
            override = float(tolerance)
        except ValueError:
            raise SettingsError(f"--memento-tolerance: expected a number, got {tolerance!r}") from None
        if not override >= 0:
            raise SettingsError(f"--memento-tolerance: expected a number >= 0, got {tolerance!r}")
    if table not in TABLE_MODES:
        raise SettingsError(f"memento_table (ini): expected one of {', '.join(TABLE_MODES)}, got {table!r}")
    return ReportSettings(tuple(paths), loaded, saved, override, table)


@dataclass(frozen=True)
class Notifiers:
    webhook: str | None = None
    email: EmailSettings | None = None


@dataclass(frozen=True)
class Decision:
    """What to do with one configuration, and why."""

    action: str  # RUN, CACHED or NOT_CACHED
    reason: str
    entry: Entry | None = None
    problems: tuple[str, ...] = ()
    #: Re-run a stored configuration to check its metrics; do not replace it.
    verify: bool = False


def metrics_of(result: Any) -> dict[str, int | float]:
    """Top-level real numbers (not bools) of a returned mapping."""
    if not isinstance(result, Mapping):
        return {}
    metrics: dict[str, int | float] = {}
    for name, value in result.items():
        if isinstance(value, bool) or not isinstance(value, numbers.Real):
            continue
        if type(value).__name__ == "bool_":  # numpy.bool_ is not a metric either
            continue
        number = int(value) if isinstance(value, numbers.Integral) else float(value)
        metrics[str(name)] = number
    return metrics


def _utc(timestamp: float) -> str:
    return datetime.fromtimestamp(timestamp, timezone.utc).isoformat(timespec="milliseconds")


def build_record(
    *,
    case: Case,
    config: Mapping[str, Any],
    nodeid: str,
    metrics: Mapping[str, Any],
    started: float,
    duration: float,
    worker: str,
    extra: Mapping[str, Any] | None = None,
) -> dict[str, Any]:
    """The metadata stored beside a result: readable without unpickling."""
    record = {
        "experiment": case.experiment,
        "nodeid": nodeid,
        "test_id": case.id,
        "config": config,
        "parameters": list(case.params),
        "settings": list(case.settings),
        "version": jsonable(case.version),
        "status": "passed",
        "metrics": dict(metrics),
        "started": _utc(started),
        "duration": round(duration, 6),
        "worker": worker,
    }
    if extra:
        record.update(extra)
    return record


@dataclass
class RunLog:
    """What happened to each matrix configuration in this run (controller)."""

    rows: dict[str, dict[str, Any]] = field(default_factory=dict)
    problems: list[str] = field(default_factory=list)
    #: Files written at the end of the run (exports, baseline), to report.
    outputs: list[str] = field(default_factory=list)

    def record(self, nodeid: str, info: Mapping[str, Any], outcome: str) -> None:
        row = dict(self.rows.get(nodeid, {}))
        row.update(info)
        row["nodeid"] = nodeid
        row["outcome"] = outcome
        self.rows[nodeid] = row
        for problem in info.get("problems", ()):
            if problem not in self.problems:
                self.problems.append(problem)

    def counts(self) -> dict[str, int]:
        counts: dict[str, int] = {}
        for row in self.rows.values():
            counts[row["outcome"]] = counts.get(row["outcome"], 0) + 1
        return counts

    def reasons(self) -> dict[str, int]:
        reasons: dict[str, int] = {}
        for row in self.rows.values():
            if row["outcome"] != CACHED and row.get("reason"):
                reasons[row["reason"]] = reasons.get(row["reason"], 0) + 1
        return reasons


class MementoSession:
    """Per-process state: settings, the store and this process's decisions."""

    def __init__(
        self,
        settings: Settings,
        *,
        rootdir: Path,
        last_failed: Callable[[str], bool],
        worker: str = "master",
        signer: Signer | None = None,
    ) -> None:
        self.settings = settings
        self.rootdir = rootdir
        self.worker = worker
        self._last_failed = last_failed
        self._problems: list[str] = []
        self.signer = signer
        self.store = ResultStore(settings.store_dir, on_problem=self._problems.append, signer=signer)
        self.store.set_environment(environment(rootdir))
        self.fingerprints = FingerprintCache(rootdir)
        self._packages: dict[str, dict[str, str]] = {}
        self._by_function: dict[Any, Fingerprint] = {}
        self.report = ReportSettings()
        #: (K, N) from --memento-shard, or None.
        self.shard: tuple[int, int] | None = None
        #: Where the end-of-run summary is sent (webhook URL, e-mail settings).
        self.notifiers = Notifiers()
        self.started = time.time()
        self.log = RunLog()
        #: pytest's own runner teardown, looked up once (see runner).
        self.builtin_teardown: Callable[..., Any] | None = None
        #: Whether pytest-json-report is active (cached items carry its metadata).
        self.json_report = False

    def take_problems(self) -> list[str]:
        """Problems met since the last call (to ride on the next report)."""
        problems, self._problems[:] = list(self._problems), []
        return problems

    def experiment_id(self, module_path: Path, qualname: str) -> str:
        """``<rootdir-relative posix path>::<qualname>``: no absolute paths,
        so a copied or moved project keeps its keys."""
        try:
            relative = module_path.relative_to(self.rootdir)
        except ValueError:
            relative = Path(os.path.relpath(module_path, self.rootdir))
        return f"{relative.as_posix()}::{qualname}"

    def fingerprint(self, func: Callable[..., Any], experiment: str | None = None) -> Fingerprint:
        found = self._by_function.get(func)
        if found is None:
            found = self._by_function[func] = self.fingerprints.of(func)
            if experiment is not None:
                self.store.note_current(experiment, found.value)
        return found

    def packages(self, module: Any) -> dict[str, str]:
        """Versions of what an experiment module imported (once per module)."""
        name = getattr(module, "__name__", "")
        found = self._packages.get(name)
        if found is None:
            found = self._packages[name] = packages_of(module)
        return found

    def decide(self, case: Case, nodeid: str, fingerprint: Fingerprint) -> Decision:
        """Run, report as cached, or skip; with the reason a user reads."""
        if self.settings.rerun:
            return Decision(RUN, "--memento-rerun", problems=tuple(self.take_problems()))
        entry = self.store.get(case.key)
        problems = tuple(self.take_problems())
        if entry is not None and not self.store.signature_ok(entry):
            refused = f"{case.experiment}[{case.id}]: stored result {case.key[:12]} is not signed with this store's secret; not used, not unpickled"
            return Decision(RUN, "signature refused", problems=(*problems, refused))
        if (
            entry is not None
            and self.settings.verify is not None
            and int(case.key[:8], 16) < self.settings.verify * 2**32
        ):
            return Decision(RUN, "--memento-verify", entry, problems, verify=True)
        if entry is not None:
            if entry.fingerprint == fingerprint.value:
                return Decision(CACHED, "stored", entry, problems)
            stale = f"code changed ({self._what_changed(entry, fingerprint)})"
            if self.settings.keep_stale or self.settings.cached_only:
                return Decision(
                    CACHED, f"stale, kept: {stale}", entry, (*problems, f"{case.experiment}[{case.id}]: {stale}; kept")
                )
            return Decision(RUN, stale, problems=problems)
        if self.settings.cached_only:
            return Decision(NOT_CACHED, "not cached", problems=problems)
        unusable = self.store.problem_of(case.key)
        if unusable:
            return Decision(RUN, f"stored entry unusable ({unusable})", problems=problems)
        other = self.store.same_config(case.config_hash) if case.config_hash else None
        if other is not None and other.version != jsonable(case.version):
            return Decision(RUN, f"version changed ({other.version!r} -> {case.version!r})", problems=problems)
        if self._last_failed(nodeid):
            return Decision(RUN, "last run failed", problems=problems)
        return Decision(RUN, "new configuration", problems=problems)

    def _what_changed(self, entry: Entry, fingerprint: Fingerprint) -> str:
        stored_parts = self.store.code_of(entry.fingerprint).get("fingerprint_parts")
        if not isinstance(stored_parts, dict):
            return "recorded without a fingerprint" if entry.fingerprint is None else "unknown part"
        changed = fingerprint.changed_parts(stored_parts)
        names = [name.split("::")[-1] for name in changed]
        return ", ".join(names[:5]) + (f" and {len(names) - 5} more" if len(names) > 5 else "") or "unknown part"

    def describe_store(self) -> str:
        try:
            return os.path.relpath(self.settings.store_dir)
        except ValueError:  # other drive on Windows
            return str(self.settings.store_dir)
