"""The pytest glue of time left (the arithmetic is in :mod:`.eta`).

Registered on the main process or xdist controller only when the line can
be seen: output to a terminal, not ``-q``, not ``--memento-plan``; other
runs (benchmarks, CI logs) compute nothing. The estimates are those of
:func:`.plan.estimates`, for the configurations that will run:

- without xdist, the main process decides every collected item once more
  at the first item's start (the decision the item gets later is the same;
  warnings met on the way are put back for it);
- under xdist, each worker adds them to its hand-off file (:mod:`.handoff`),
  decided from the snapshot it decides cached items from, and the
  controller reads them with the reports of the items no worker runs.

A line is written only where the terminal is at the start of a line (just
after pytest ended a line of progress letters with its ``[ 50%]``, and
before the first item), or, with ``-v``, after an item's line is complete;
never in the middle of a line of letters.
"""

from __future__ import annotations

import time
from collections.abc import Iterable
from typing import Any

import pytest

from .decide import Action, Decision
from .eta import Eta
from .items import decided
from .plan import estimates
from .plan_hooks import planned_from, stored_durations
from .pytest_compat import line_width
from .state import ITEM_KEY, SESSION_KEY
from .store import ResultStore
from .unrun import may_skip

__all__ = ["NAME", "EtaGlue", "estimates_of", "register", "summary_lines"]

NAME = "memento-eta"


def _shown(config: pytest.Config) -> bool:
    if hasattr(config, "workerinput") or getattr(config.option, "memento_plan", False):
        return False
    reporter = config.pluginmanager.get_plugin("terminalreporter")
    return reporter is not None and bool(reporter.isatty) and config.get_verbosity() >= 0


def register(config: pytest.Config) -> None:
    """Register the glue when its line can be seen (see the module docstring)."""
    if _shown(config):
        config.pluginmanager.register(EtaGlue(config), NAME)


def estimates_of(
    config: pytest.Config, chosen: Iterable[tuple[pytest.Item, Decision]], store: ResultStore
) -> dict[str, float | None]:
    """Node id -> estimated seconds (None: unknown) of the items of
    ``chosen`` that will run, decided from ``store``."""
    session = config.stash[SESSION_KEY]
    runs = []
    for item, decision in chosen:
        case = item.stash[ITEM_KEY].case
        if case is not None and decision.action is Action.RUN and not may_skip(item, session):
            runs.append((item.nodeid, planned_from(case, decision, store)))
    experiments = {planned.experiment for _, planned in runs}
    keys = {experiment: [case.key for case in session.cases_of(experiment)] for experiment in experiments}
    found = estimates([planned for _, planned in runs], stored_durations(store, keys))
    return {nodeid: estimate for (nodeid, _), estimate in zip(runs, found, strict=True)}


def _decide_ahead(config: pytest.Config, items: Iterable[pytest.Item]) -> dict[str, float | None]:
    session = config.stash[SESSION_KEY]
    chosen: list[tuple[pytest.Item, Decision]] = []
    problems: list[str] = []
    for item in items:
        decision = decided(item)
        if decision is not None:
            chosen.append((item, decision))
            problems.extend(decision.problems)
    session.put_back_problems(problems)
    return estimates_of(config, chosen, session.store)


def summary_lines(config: pytest.Config) -> list[str]:
    """For the memento section at the end: the estimate's error, when a
    time-left line was shown."""
    glue = config.pluginmanager.get_plugin(NAME)
    if not isinstance(glue, EtaGlue) or glue.eta is None or glue.eta.shown_at is None:
        return []
    found = glue.eta.error_line()
    return [found] if found else []


class EtaGlue:
    def __init__(self, config: pytest.Config) -> None:
        self.config = config
        self.eta: Eta | None = None
        self.items: list[pytest.Item] = []
        self.verbose = config.get_verbosity() > 0
        self.begun = False
        #: What each item's call took (its report's duration), until it finishes.
        self.called: dict[str, float] = {}

    @pytest.hookimpl(trylast=True)
    def pytest_collection_finish(self, session: pytest.Session) -> None:
        self.items = session.items  # empty on an xdist controller

    def _ready(self) -> Eta | None:
        if self.eta is not None:
            return self.eta
        handoff = getattr(self.config.pluginmanager.get_plugin("memento-xdist"), "handoff", None)
        if handoff is not None:  # an xdist controller: the first worker's estimates
            if handoff.estimates is None:
                return None
            found = handoff.estimates
            workers = len(self.config.getoption("tx", None) or ()) or 1
        else:
            found, workers = _decide_ahead(self.config, self.items), 1
            self.items = []
        self.eta = Eta(found, workers)
        return self.eta

    @pytest.hookimpl(tryfirst=True)
    def pytest_runtest_logstart(self, nodeid: str) -> None:
        eta = self._ready()
        if eta is not None:
            eta.start(nodeid, time.monotonic())
            self._show(eta, first=not self.begun)
            self.begun = True

    def pytest_runtest_logreport(self, report: pytest.TestReport) -> None:
        if report.when == "call":
            self.called[report.nodeid] = report.duration

    @pytest.hookimpl(trylast=True)
    def pytest_runtest_logfinish(self, nodeid: str) -> None:
        eta = self._ready()
        if eta is not None:
            eta.finish(nodeid, time.monotonic(), self.called.pop(nodeid, None))
            self._show(eta, after_item=True)

    def _show(self, eta: Eta, *, first: bool = False, after_item: bool = False) -> None:
        width = line_width(self.config)
        if width is None:
            return
        # Where a line may go: at a line start; before the first item (what
        # the line holds then is pytest's "collected" line, complete); with
        # -v after an item, whose line pytest ends only when it writes the
        # next one. Never after a part of a line of progress letters.
        if width != 0 and not first and not (self.verbose and after_item):
            return
        line = eta.due(time.monotonic())
        if line is None:
            return
        reporter: Any = self.config.pluginmanager.get_plugin("terminalreporter")
        if width == 0:
            reporter.write(line + "\n", flush=True)
        elif first:
            reporter.write("\n" + line + "\n", flush=True)
        else:
            reporter.write("\n" + line, flush=True)
