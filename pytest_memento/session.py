"""Per-process state of a run: its settings, its store, the fingerprints
and package versions computed once, the decisions, and the run log.

Built complete in ``pytest_configure`` (never patched afterwards) and kept
in ``config.stash``. Pure: no pytest.
"""

from __future__ import annotations

import os
import time
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import datetime, timezone
from pathlib import Path
from typing import Any

from .cases import Case
from .decide import Decision, decide
from .fingerprint import Fingerprint, FingerprintCache, InputError
from .hashing import jsonable
from .outcome import Outcome, Status
from .provenance import environment, packages_of
from .remote_store import open_store
from .settings import Settings
from .store import ResultStore

__all__ = ["MementoSession", "RunLog", "build_record"]


@dataclass
class RunLog:
    """What happened to each configuration in this run (on the controller),
    one :class:`Outcome` per node id, plus warnings and files written."""

    outcomes: dict[str, Outcome] = field(default_factory=dict)
    problems: list[str] = field(default_factory=list)
    #: Files written at the end of the run (exports, baseline), to report.
    outputs: list[str] = field(default_factory=list)
    #: Items failed by the group gate after the run (their results were fine on their own).
    gated: set[str] = field(default_factory=set)
    #: The run's metrics against the baseline (:class:`~.gate.Verdict`), once the run loop is over.
    comparisons: list[Any] | None = None

    def record(self, outcome: Outcome) -> None:
        self.outcomes[outcome.nodeid] = outcome
        for problem in outcome.problems:
            if problem not in self.problems:
                self.problems.append(problem)

    def mark(self, nodeid: str, status: Status) -> None:
        """A later phase changed how the configuration went (a teardown error)."""
        found = self.outcomes.get(nodeid)
        if found is not None:
            self.outcomes[nodeid] = found.replace(status=status)

    def counts(self) -> dict[Status, int]:
        counts: dict[Status, int] = {}
        for outcome in self.outcomes.values():
            counts[outcome.status] = counts.get(outcome.status, 0) + 1
        return counts

    def reasons(self) -> dict[str, int]:
        """Why the configurations that ran did."""
        reasons: dict[str, int] = {}
        for outcome in self.outcomes.values():
            if outcome.executed and outcome.status is not Status.CACHED and outcome.reason:
                reasons[outcome.reason] = reasons.get(outcome.reason, 0) + 1
        return reasons

    def not_run(self) -> dict[str, int]:
        """What happened to configurations that did not run and are not
        simply cached: skipped as not cached, failed from the store by the
        baseline."""
        found: dict[str, int] = {}
        for outcome in self.outcomes.values():
            if outcome.executed or outcome.status is Status.CACHED:
                continue
            if outcome.status is Status.SKIPPED:
                what = f"skipped: {outcome.reason}"
            elif outcome.baseline is not None and outcome.baseline.verdict == "worse":
                what = "cached, worse than the baseline"
            else:
                what = f"{outcome.status.value} from the store"
            found[what] = found.get(what, 0) + 1
        return found


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


class MementoSession:
    """Per-process state: settings, the store and this process's decisions."""

    def __init__(
        self,
        settings: Settings,
        *,
        rootdir: Path,
        last_failed: Callable[[str], bool],
        worker: str = "main",
        json_report: bool = False,
    ) -> None:
        self.settings = settings
        self.rootdir = rootdir
        self.worker = worker
        #: Whether pytest-json-report is active (cached items carry its metadata).
        self.json_report = json_report
        self._last_failed = last_failed
        self._problems: list[str] = []
        self._fresh: dict[int, Outcome] = {}
        self.store = open_store(settings.location, on_problem=self._problems.append, signer=settings.signer)
        self.store.set_environment(environment(rootdir))
        self.fingerprints = FingerprintCache(rootdir)
        self._packages: dict[str, dict[str, str]] = {}
        self._by_function: dict[Any, Fingerprint] = {}
        self._cases: dict[str, Sequence[Case]] = {}
        self._noted: set[str] = set()
        self.started = time.time()
        self.log = RunLog()
        #: Matrix functions expanded early (at ``pytest_pycollect_makeitem``), until parametrized.
        self.expansions: dict[Any, tuple[str, list[Case]]] = {}
        #: Per parent node id: whether a skip, skipif or xfail mark applies to its items.
        self.parent_skips: dict[str, bool] = {}

    def remember(self, data: dict[str, Any], outcome: Outcome) -> dict[str, Any]:
        """Keep ``outcome`` for the run log of this same process, so the
        report's JSON (``data``, which crosses to an xdist controller) is
        not parsed back here. Returns ``data``."""
        self._fresh[id(data)] = outcome
        return data

    def recall(self, data: dict[str, Any]) -> Outcome:
        """The outcome behind a report's JSON: the object itself when this
        process made it, else parsed (a worker's report on the controller)."""
        found = self._fresh.pop(id(data), None)
        return found if found is not None else Outcome.from_json(data)

    def take_problems(self) -> list[str]:
        """Problems met since the last call (to ride on the next report)."""
        problems, self._problems[:] = list(self._problems), []
        return problems

    def put_back_problems(self, problems: Sequence[str]) -> None:
        """Problems taken by a decision made ahead of time (the time-left
        estimate): the decision that counts carries them."""
        self._problems[:0] = problems

    def experiment_id(self, module_path: Path, qualname: str) -> str:
        """``<rootdir-relative posix path>::<qualname>``: no absolute paths,
        so a copied or moved project keeps its keys."""
        try:
            relative = module_path.relative_to(self.rootdir)
        except ValueError:
            relative = Path(os.path.relpath(module_path, self.rootdir))
        return f"{relative.as_posix()}::{qualname}"

    def remember_cases(self, experiment: str, cases: Sequence[Case]) -> None:
        """Every configuration of ``experiment``, selected or not: the code
        recorded as its current one covers them all (``memento list --stale``)."""
        self._cases[experiment] = cases

    def cases_of(self, experiment: str) -> Sequence[Case]:
        """Every configuration of ``experiment`` collected (selected or not)."""
        return self._cases.get(experiment, ())

    def fingerprint(
        self,
        func: Callable[..., Any],
        case: Case | None = None,
        fixtures: Callable[[], Sequence[Callable[..., Any]]] | None = None,
    ) -> Fingerprint:
        """The fingerprint of ``case`` (its experiment ``func``, the fixtures
        it uses, the code its values hold, its inputs), or of ``func`` alone.
        ``fixtures`` gives the fixture functions (asked once per function).
        Raises :class:`~.fingerprint.InputError` when an input cannot be read."""
        base = self._by_function.get(func)
        if base is None:
            base = self._by_function[func] = self.fingerprints.of(func, fixtures() if fixtures is not None else ())
        if case is None:
            return base
        if case.experiment not in self._noted:
            self._noted.add(case.experiment)
            self.store.note_current(case.experiment, self._current(base, case))
        return self.fingerprints.for_case(base, {**case.params, **case.settings}, case.depends)

    def _current(self, base: Fingerprint, case: Case) -> list[str]:
        found = set()
        for other in self._cases.get(case.experiment, [case]):
            try:
                found.add(self.fingerprints.for_case(base, {**other.params, **other.settings}, other.depends).value)
            except InputError:
                continue  # that configuration errors when it runs
        return sorted(found)

    def packages(self, module: Any) -> dict[str, str]:
        """Versions of what an experiment module imported (once per module)."""
        name = getattr(module, "__name__", "")
        found = self._packages.get(name)
        if found is None:
            found = self._packages[name] = packages_of(module)
        return found

    def decide(self, case: Case, nodeid: str, fingerprint: Fingerprint, store: ResultStore | None = None) -> Decision:
        """Run, report as cached, or skip (see :mod:`.decide`), from
        ``store`` (a snapshot of the store) or the store itself."""
        store = self.store if store is None else store
        if not self.settings.rerun:
            store.get(case.key)  # index the store first: what reading it met rides on this decision
        return decide(
            case,
            fingerprint,
            store=store,
            settings=self.settings,
            last_failed=self._last_failed(nodeid),
            problems=tuple(self.take_problems()),
        )

    def describe_store(self) -> str:
        if self.settings.store_url is not None:
            return self.settings.location.shown
        try:
            return os.path.relpath(self.settings.store_dir)
        except ValueError:  # other drive on Windows
            return str(self.settings.store_dir)
