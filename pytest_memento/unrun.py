"""Reports for matrix items that do not run: cached configurations (and,
with ``--memento-cached-only``, configurations skipped as not cached).

No fixture is set up and the function is not called. One report is emitted
per configuration, the outcome (setup and teardown did nothing, and each
report costs a hook round and, under xdist, a message); what earlier items
set up is torn down as pytest's own runner would (:mod:`.pytest_compat`).
"""

from __future__ import annotations

import os
import time
from typing import Any, Literal

import pytest

from .outcome import Outcome, Status
from .pytest_compat import builtin_teardown
from .session import MementoSession
from .state import SESSION_KEY

__all__ = ["may_skip", "report_without_running", "reports_without_running"]

_SKIP_MARKS = ("skip", "skipif", "xfail")


def may_skip(item: pytest.Item, session: MementoSession) -> bool:
    """Whether a skip, skipif or xfail mark applies to ``item`` (they are
    evaluated by the normal protocol). Marks of modules and classes are
    looked up once per parent, not once per item."""
    if any(mark.name in _SKIP_MARKS for mark in item.own_markers):
        return True
    parent = item.parent
    if parent is None:
        return False
    found = session.parent_skips.get(parent.nodeid)
    if found is None:
        found = session.parent_skips[parent.nodeid] = any(
            mark.name in _SKIP_MARKS for node in parent.listchain() for mark in node.own_markers
        )
    return found


def _report(
    item: pytest.Item,
    keywords: dict[str, Literal[1]],
    when: Literal["setup", "call", "teardown"],
    outcome: Literal["passed", "failed", "skipped"] = "passed",
    longrepr: Any = None,
    **extra: Any,
) -> pytest.TestReport:
    now = time.time()
    return pytest.TestReport(
        item.nodeid,
        item.location,
        keywords,
        outcome,
        longrepr,
        when,
        duration=0.0,
        start=now,
        stop=now,
        user_properties=item.user_properties,
        **extra,
    )


def _teardown_previous(item: pytest.Item, nextitem: pytest.Item | None) -> str | None:
    """Tear down what earlier items set up and ``nextitem`` does not need;
    returns the failure to report, or None."""
    if nextitem is not None and nextitem.parent is item.parent:
        # Everything set up is shared with the next item: nothing to do.
        return None
    try:
        builtin_teardown(item.config)(item=item, nextitem=nextitem)
    except Exception as exc:
        return str(pytest.ExceptionInfo.from_exception(exc).getrepr(style="short"))
    return None


def reports_without_running(
    item: pytest.Item, outcome: Outcome, failure: str | None, *, json_report: bool
) -> list[pytest.TestReport]:
    """The report of ``outcome`` (cached, failed by the baseline, or
    skipped) as pytest would make it for an item that ran."""
    keywords: dict[str, Literal[1]] = dict.fromkeys(item.keywords, 1)
    record = item.config.stash[SESSION_KEY].remember(outcome.to_json(), outcome)
    extra: dict[str, Any] = {"memento": record}
    if json_report:  # pytest-json-report reads its metadata from here
        extra["_json_report_extra"] = {"metadata": {"memento": record}}
    if outcome.status is Status.SKIPPED:
        skip = (os.fspath(item.path), (item.location[1] or 0) + 1, f"Skipped: {outcome.reason}")
        return [_report(item, keywords, "setup", "skipped", skip, **extra)]
    verdict: Literal["passed", "failed"] = "failed" if failure is not None else "passed"
    return [_report(item, keywords, "call", verdict, failure, **extra)]


def report_without_running(
    item: pytest.Item, nextitem: pytest.Item | None, outcome: Outcome, failure: str | None, *, json_report: bool
) -> None:
    """Report ``outcome`` (see :func:`reports_without_running`) and tear
    down what earlier items set up, as pytest's runner would."""
    ihook = item.ihook
    ihook.pytest_runtest_logstart(nodeid=item.nodeid, location=item.location)
    for report in reports_without_running(item, outcome, failure, json_report=json_report):
        ihook.pytest_runtest_logreport(report=report)
    teardown_failure = _teardown_previous(item, nextitem)
    if teardown_failure is not None:
        keywords: dict[str, Literal[1]] = dict.fromkeys(item.keywords, 1)
        ihook.pytest_runtest_logreport(report=_report(item, keywords, "teardown", "failed", teardown_failure))
    ihook.pytest_runtest_logfinish(nodeid=item.nodeid, location=item.location)
