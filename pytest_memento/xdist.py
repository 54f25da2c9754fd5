"""pytest-xdist glue, registered only when xdist is active.

The controller resolves the store directory once and hands it to every
worker (replacement workers included) through ``workerinput``, so all
processes of a run write to the same store. When a worker dies (SIGKILL,
``os._exit``, out of memory), xdist fails the item it was running; this glue
says in that report where the configuration will resume from, and with
``--memento-retries N`` puts the item back in the queue (up to N times), so a
fresh worker resumes it from its checkpoint within the same run.
"""

from __future__ import annotations

import os
from typing import Any

import pytest

from . import eta_hooks, lifecycle
from .handoff import ControllerHandoff
from .session import MementoSession
from .summary import resume_note
from .workers import Shares


class XdistGlue:
    def __init__(self, session: MementoSession, config: pytest.Config | None = None) -> None:
        self.session = session
        self.config = config
        self.retries = session.settings.retries
        self.attempts: dict[str, int] = {}
        self._scanned = False
        self.handoff: ControllerHandoff | None = None
        self.pytest_session: pytest.Session | None = None

    def pytest_sessionstart(self, session: pytest.Session) -> None:
        self.pytest_session = session

    @pytest.hookimpl(tryfirst=True)
    def pytest_runtest_logstart(self) -> None:
        self._count_unrun()

    @pytest.hookimpl(wrapper=True, trylast=True)
    def pytest_runtestloop(self) -> Any:
        result = yield
        # When nothing ran, nothing else reported the cached items or said how
        # many there were; innermost, so before the group gate (plugin.py) judges them.
        self._count_unrun()
        return result

    def pytest_unconfigure(self) -> None:
        if self.handoff is not None:
            self.handoff.close()

    def _count_unrun(self) -> None:
        # xdist counts what it schedules; the items reported here count too
        # (progress percentages, and "no tests ran" when everything is cached).
        if self.handoff is not None and self.handoff.dropped and self.pytest_session is not None:
            self.pytest_session.testscollected = self.handoff.total
            if self.handoff.pending and self.config is not None:
                self.handoff.report(self.config)

    def pytest_testnodedown(self, node: Any, error: object) -> None:
        """A worker finished: what it could not store counts on the
        controller (a full disk must not end in "all passed"), and whether
        its collection used pytest-memento."""
        output = getattr(node, "workeroutput", None)
        if not isinstance(output, dict):
            return
        self.session.store.failures.merge(output.get("memento_store_failures"))
        if output.get("memento_active") and self.config is not None:
            lifecycle.activate(self.config, create=False)
            observer = self.config.pluginmanager.get_plugin("memento-observer")
            if observer is not None:
                observer.record_crashes()

    def pytest_configure_node(self, node: Any) -> None:
        if self.handoff is None:  # before the first worker starts: the one snapshot all decide from
            self.handoff = ControllerHandoff(self.session.store.snapshot())
        node.workerinput.update(self.handoff.workerinput())
        if self.config is not None and self.config.pluginmanager.has_plugin(eta_hooks.NAME):
            node.workerinput["memento_eta"] = True  # the time left needs the workers' estimates
        settings = self.session.settings
        node.workerinput["memento_dir"] = settings.store_url or str(settings.store_dir)
        # Keys are relative to the project root: a worker (remote ones too) finds it from its own rootdir.
        node.workerinput["memento_root"] = os.path.relpath(self.session.rootdir, node.config.rootpath)
        # Each worker's share of the machine: BLAS/OpenMP threads and a GPU (see workers.py).
        if getattr(self, "shares", None) is None:
            settings = self.session.settings
            self.shares = Shares(settings.threads, settings.gpus, dict(os.environ))
        workers = len(node.config.getoption("tx") or ()) or 1
        node.workerinput.update(self.shares.for_worker(str(node.gateway.id), workers))

    def pytest_xdist_node_collection_finished(self, node: Any, ids: list[str]) -> None:
        """The controller collects nothing: it stops cleanly on SIGTERM (so
        workers are shut down, not orphaned) as soon as a worker collected
        a module that uses pytest-memento (it names the plugin or the
        ``checkpoint`` fixture), not only once the first result comes back.
        The first worker's collection also brings the reports of the items
        that will not run (:mod:`.handoff`)."""
        if self.handoff is not None and self.config is not None:
            self.handoff.collected(self.config, str(node.gateway.id), ids)
        if self.config is None or lifecycle.is_active(self.config) or self._scanned:
            return
        self._scanned = True
        for module in dict.fromkeys(nodeid.split("::", 1)[0] for nodeid in ids):
            try:
                with open(self.config.rootpath / module, "rb") as handle:
                    source = handle.read(1 << 22)
            except OSError:
                continue
            if b"pytest_memento" in source or b"checkpoint" in source:
                lifecycle.activate(self.config, create=False)
                return

    def pytest_handlecrashitem(self, crashitem: str, report: pytest.TestReport, sched: Any) -> None:
        note = self._resume_note(crashitem)
        idle = self.config is not None and not lifecycle.is_active(self.config)
        if idle and not self.retries and "checkpoint (" not in note:
            return  # a project without experiments: xdist's report as it is
        attempt = self.attempts.get(crashitem, 0) + 1
        self.attempts[crashitem] = attempt
        if attempt <= self.retries and hasattr(sched, "mark_test_pending"):
            sched.mark_test_pending(crashitem)
            report.outcome = "rerun"  # type: ignore[assignment]
            report.longrepr = f"{report.longrepr}; pytest-memento retries it ({attempt} of {self.retries}): {note}"
        else:
            report.longrepr = f"{report.longrepr}; the worker died, and the next run {note}"

    def _resume_note(self, nodeid: str) -> str:
        return resume_note(self.session.settings.store_dir, nodeid)
