"""Under xdist, configurations that will not run never leave the controller.

Before the first worker starts, the controller takes one snapshot of the
store (every segment's name and size, :meth:`.ResultStore.snapshot`) and
makes a hand-off directory, and gives both to every worker in
``workerinput``. After collection (``-k``, ``-m``, ``--lf`` and the shard
applied), each worker decides every matrix item from that snapshot
(:class:`.snapshot.SnapshotStore`), so all workers decide alike, and takes
out of its collection the items that will not run: cached ones, those a
baseline fails, and, with ``--memento-cached-only``, those skipped as not
cached. It writes their reports, serialized as xdist would send them, to
``<hand-off>/<worker id>.json``. The controller reads the file of the first
worker to finish collecting and reports those items itself (same reports,
letters, run log, table and json-report metadata), while the scheduler
hands out only the items that run. A replacement worker is given the list
of items taken out and drops exactly those.

When the controller shows the time left (``memento_eta`` in
``workerinput``, :mod:`.eta_hooks`), the file also holds ``estimates``:
node id -> estimated seconds (null: unknown) of every matrix item the
worker keeps, and it is written even when no item was taken out.

A worker that cannot see the hand-off directory (another machine) keeps
every item and decides as it runs them, as without this module.
"""

from __future__ import annotations

import json
import secrets
import shutil
import tempfile
from pathlib import Path
from typing import Any

import pytest

from . import eta_hooks, lifecycle
from .decide import Decision
from .files import atomic_write
from .items import decided, unrun_outcome
from .snapshot import SnapshotStore
from .state import SESSION_KEY
from .unrun import reports_without_running

__all__ = ["ControllerHandoff", "drop_unrun"]

_TOKEN = "token"


def _ours(directory: Path, token: str) -> bool:
    try:
        return (directory / _TOKEN).read_text() == token
    except (OSError, UnicodeDecodeError):
        return False


def drop_unrun(config: pytest.Config, items: list[pytest.Item]) -> None:
    """On a worker, after collection: take out the items that will not run
    and write their reports for the controller (see the module docstring)."""
    workerinput: dict[str, Any] = getattr(config, "workerinput", {})
    where = workerinput.get("memento_handoff")
    if config.option.collectonly:
        return  # --collect-only lists every selected item
    if not where or not _ours(Path(where), workerinput.get("memento_handoff_token", "")):
        return
    directory = Path(where)
    dropped = workerinput.get("memento_dropped")
    if dropped is not None:  # a replacement worker: the first collection decided
        names = set(dropped)
        items[:] = [item for item in items if item.nodeid not in names]
        return
    session = config.stash[SESSION_KEY]
    snapshot = SnapshotStore(
        session.store.root, workerinput.get("memento_snapshot", {}), session.store.on_problem, session.store.signer
    )
    kept: list[pytest.Item] = []
    runs: list[tuple[pytest.Item, Decision]] = []
    handed: list[dict[str, Any]] = []
    for item in items:
        decision = decided(item, snapshot)
        unrun = unrun_outcome(item, decision) if decision is not None else None
        if unrun is None:
            kept.append(item)
            if decision is not None:
                runs.append((item, decision))
            continue
        reports = reports_without_running(item, *unrun, json_report=session.json_report)
        serialized = [config.hook.pytest_report_to_serializable(config=config, report=r) for r in reports]
        handed.append({"nodeid": item.nodeid, "location": list(item.location), "reports": serialized})
    estimates = eta_hooks.estimates_of(config, runs, snapshot) if workerinput.get("memento_eta") else {}
    snapshot.close()
    if not handed and not estimates:
        return
    data = {"items": handed, "estimates": estimates}
    atomic_write(directory / f"{workerinput['workerid']}.json", json.dumps(data).encode())
    if handed:
        lifecycle.activate(config)
        items[:] = kept


class ControllerHandoff:
    """The controller's side: the snapshot, the hand-off directory, and the
    reports of the items no worker runs."""

    def __init__(self, sizes: dict[str, int]) -> None:
        self.directory = Path(tempfile.mkdtemp(prefix="memento-handoff-"))
        self.token = secrets.token_hex(16)
        (self.directory / _TOKEN).write_text(self.token)
        self.sizes = sizes
        #: Node ids of the items reported here (None until a worker collected).
        self.dropped: list[str] | None = None
        #: How many items the workers run.
        self.scheduled = 0
        #: Reports of the first worker not reported yet.
        self.pending: list[dict[str, Any]] = []
        #: Estimated seconds of the items the workers run (None until a worker collected).
        self.estimates: dict[str, float | None] | None = None

    def workerinput(self) -> dict[str, Any]:
        found: dict[str, Any] = {
            "memento_handoff": str(self.directory),
            "memento_handoff_token": self.token,
            "memento_snapshot": self.sizes,
        }
        if self.dropped is not None:
            found["memento_dropped"] = self.dropped
        return found

    @property
    def total(self) -> int:
        return self.scheduled + len(self.dropped or ())

    def collected(self, config: pytest.Config, worker: str, ids: list[str]) -> None:
        """A worker finished collecting ``ids``: the first time, report the
        items it took out."""
        if self.dropped is not None:
            return
        self.scheduled = len(ids)
        try:
            data = json.loads((self.directory / f"{worker}.json").read_bytes())
        except FileNotFoundError:
            self.dropped, self.estimates = [], {}
            return
        self.pending = data["items"]
        self.estimates = data.get("estimates", {})
        self.dropped = [entry["nodeid"] for entry in self.pending]
        if self.pending:
            lifecycle.activate(config, create=False)

    def report(self, config: pytest.Config) -> None:
        """Report the items no worker runs (once, when the first item that
        runs starts or, when none does, at the end of the run loop: after
        xdist's own lines about its workers)."""
        entries, self.pending = self.pending, []
        hook = config.hook
        for entry in entries:
            nodeid, location = entry["nodeid"], tuple(entry["location"])
            hook.pytest_runtest_logstart(nodeid=nodeid, location=location)
            for raw in entry["reports"]:
                report = hook.pytest_report_from_serializable(config=config, data=raw)
                if isinstance(report.longrepr, list):  # a skip's (path, line, reason), a list in JSON
                    report.longrepr = tuple(report.longrepr)
                hook.pytest_runtest_logreport(report=report)
            hook.pytest_runtest_logfinish(nodeid=nodeid, location=location)

    def close(self) -> None:
        shutil.rmtree(self.directory, ignore_errors=True)
