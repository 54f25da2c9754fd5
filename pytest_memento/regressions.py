"""The CI gate at the end of a run (controller): replicate groups against
the baseline (:mod:`.gate`), and the items of a worse group failed.

A group's verdict needs all its members, which finish on different workers
and at different times, so it is decided once the run loop is over: each
item of a worse group then gets a failed report of its own (phase
``teardown``, as a teardown error would), which pytest counts, lists in its
short summary, records for ``--lf`` and hands to pytest-json-report, and the
run exits 1. Configurations of experiments without replicate groups in the
baseline were judged one by one as they ran (:mod:`.items`).
"""

from __future__ import annotations

import os

import pytest

from .aggregate import group_outcomes
from .gate import Verdict, config_verdicts, group_verdicts
from .outcome import BaselineVerdict, Status
from .session import MementoSession
from .state import SESSION_KEY

__all__ = ["comparisons", "fail_worse_groups"]


def comparisons(session: MementoSession) -> list[Verdict]:
    """Every metric of this run compared with the baseline (empty without one)."""
    baseline = session.settings.report.baseline
    if baseline is None:
        return []
    if session.log.comparisons is not None:
        return list(session.log.comparisons)
    outcomes = [o for o in session.log.outcomes.values() if o.experiment]
    finished = [o for o in outcomes if o.status.finished]
    tolerances = {o.experiment: o.tolerance for o in outcomes}
    groups = group_outcomes(finished)
    found = group_verdicts(
        groups,
        baseline,
        sigma=session.settings.report.gate_sigma,
        tolerances=tolerances,
        override=session.settings.report.tolerance,
        nodeids={o.key: o.nodeid for o in outcomes},
        experiments={o.experiment for o in outcomes},
    )
    session.log.comparisons = found + config_verdicts(finished, baseline, override=session.settings.report.tolerance)
    return list(session.log.comparisons)


def _location(nodeid: str) -> tuple[str, int | None, str]:
    path, _, name = nodeid.partition("::")
    return os.path.normpath(path), None, name or nodeid


def fail_worse_groups(config: pytest.Config) -> None:
    """Fail every item of a group worse than the baseline (controller only)."""
    session = config.stash.get(SESSION_KEY, None)
    if session is None or hasattr(config, "workerinput") or session.settings.report.baseline is None:
        return
    verdicts = [v for v in comparisons(session) if v.verdict == "worse" and v.nodeids]
    failing: dict[str, list[Verdict]] = {}
    for verdict in verdicts:
        for nodeid in verdict.nodeids:
            failing.setdefault(nodeid, []).append(verdict)
    baseline = session.settings.report.baseline
    for nodeid, found in failing.items():
        outcome = session.log.outcomes.get(nodeid)
        lines = [f"metric regression against {baseline.path}: group {found[0].subject}"]
        lines += [f"  {verdict.describe()}" for verdict in found]
        text = "\n".join(lines)
        report = pytest.TestReport(nodeid, _location(nodeid), {}, "failed", text, "teardown")
        if outcome is not None:
            judged = BaselineVerdict("worse", regressions=tuple(v.describe() for v in found))
            report.memento = outcome.replace(  # type: ignore[attr-defined]
                status=Status.FAILED, baseline=judged, error=lines[1].strip()
            ).to_json()
        session.log.gated.add(nodeid)
        config.hook.pytest_runtest_logreport(report=report)
