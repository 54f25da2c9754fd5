"""The pytest glue of ``--memento-plan`` (the counting and the estimate are
in :mod:`.plan`).

Before xdist starts (``pytest_cmdline_main``, after xdist has turned ``-n``
into its list of workers) the plan notes the number of workers and turns
distribution off, so no worker is started: everything is decided in the
main process. After collection (``-k``, ``-m`` and ``--memento-shard``
applied) each selected matrix item is decided as a run would decide it, the
plan is printed and the run loop ends without running anything.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from typing import Any

import pytest

from .cases import Case
from .decide import Action, Decision
from .fingerprint import InputError
from .items import fingerprint_of
from .plan import Planned, category_of, plan_experiments, render
from .state import ITEM_KEY, SESSION_KEY
from .store import ResultStore

__all__ = ["PlanGlue", "planned_from", "register", "stored_durations", "turn_off_workers"]

WORKERS_KEY = pytest.StashKey[int]()


def turn_off_workers(config: pytest.Config) -> None:
    """With ``--memento-plan``: remember how many workers ``-n`` asked for
    and start none."""
    if not getattr(config.option, "memento_plan", False):
        return
    tx = getattr(config.option, "tx", None)
    config.stash[WORKERS_KEY] = len(tx) if tx else 1
    if hasattr(config.option, "dist"):
        config.option.dist = "no"
        config.option.tx = []
        config.option.numprocesses = 0


def register(config: pytest.Config) -> None:
    if not getattr(config.option, "memento_plan", False) or hasattr(config, "workerinput"):
        return
    report = config.stash[SESSION_KEY].settings.report
    if report.exports or report.save_baseline is not None:
        # They would be written from a run that ran nothing, replacing what they held.
        given = "--memento-export" if report.exports else "--memento-save-baseline"
        raise pytest.UsageError(f"pytest-memento: --memento-plan runs nothing, so it cannot go with {given}")
    config.pluginmanager.register(PlanGlue(config), "memento-plan")


class PlanGlue:
    def __init__(self, config: pytest.Config) -> None:
        self.config = config
        #: Every collected configuration's key per experiment, selected or not.
        self.keys: dict[str, list[str]] = {}

    @pytest.hookimpl(tryfirst=True)
    def pytest_collection_modifyitems(self, items: list[pytest.Item]) -> None:
        # Before -k and the shard deselect: the median is over the whole experiment.
        for item in items:
            state = item.stash.get(ITEM_KEY, None)
            if state is not None and state.case is not None:
                self.keys.setdefault(state.case.experiment, []).append(state.case.key)

    @pytest.hookimpl(tryfirst=True)
    def pytest_runtestloop(self, session: pytest.Session) -> bool:
        memento = self.config.stash[SESSION_KEY]
        planned = [self._planned(item) for item in session.items]
        stored = stored_durations(memento.store, self.keys)
        workers = self.config.stash.get(WORKERS_KEY, 1)
        lines = render(plan_experiments([p for p in planned if p is not None], stored), workers)
        reporter: Any = self.config.pluginmanager.get_plugin("terminalreporter")
        if reporter is not None:
            reporter.write_sep("=", "memento plan")
            for line in lines:
                reporter.write_line(line)
        return True

    @pytest.hookimpl(tryfirst=True)
    def pytest_sessionfinish(self, session: pytest.Session, exitstatus: int) -> None:
        # A plan of nothing selected (-k, a shard) is still a plan: exit 0, not 5.
        if exitstatus == pytest.ExitCode.NO_TESTS_COLLECTED:
            session.exitstatus = pytest.ExitCode.OK

    def _planned(self, item: pytest.Item) -> Planned | None:
        state = item.stash.get(ITEM_KEY, None)
        if state is None or state.case is None or not isinstance(item, pytest.Function):
            return None
        case, memento = state.case, self.config.stash[SESSION_KEY]
        try:
            fingerprint = fingerprint_of(item, case)
        except InputError as exc:
            return Planned(case.experiment, "error", str(exc))
        return planned_from(case, memento.decide(case, item.nodeid, fingerprint), memento.store)


def planned_from(case: Case, decision: Decision, store: ResultStore) -> Planned:
    """What :mod:`.plan` needs of one decided configuration (its own last
    duration only when it runs: a cached one costs nothing)."""
    category = category_of(decision.action.value, decision.reason)
    entry = decision.entry if decision.entry is not None else store.get(case.key)
    duration = entry.duration if entry is not None and decision.action is Action.RUN else None
    return Planned(case.experiment, category, decision.reason, duration)


def stored_durations(store: ResultStore, keys: Mapping[str, Iterable[str]]) -> dict[str, list[float]]:
    """Per experiment, the stored durations of its configurations ``keys``."""
    found: dict[str, list[float]] = {}
    for experiment, chosen in keys.items():
        entries = (store.get(key) for key in chosen)
        found[experiment] = [entry.duration for entry in entries if entry is not None]
    return found
