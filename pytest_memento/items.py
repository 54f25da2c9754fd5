"""What happens to one matrix item: decide, run it or report it from the
store, keep its return value, judge it (``--memento-verify``, baseline),
and store the result when the item passed.

The pytest glue behind the item hooks in :mod:`.plugin`; the decision comes
from :mod:`.decide`, reports of items that do not run from
:mod:`.unrun`, the outcome record from :mod:`.outcome`.
"""

from __future__ import annotations

import functools
import inspect
import time
from collections.abc import Callable
from typing import Any

import pytest

from .baseline import judge, not_reproduced
from .cases import Case
from .checkpoint import Checkpoint, read_info
from .decide import Action, Decision
from .fingerprint import Fingerprint, InputError
from .hashing import jsonable_mapping, node_key
from .ids import display_label
from .outcome import CheckpointNote, Outcome, Status, metrics_of, status_of
from .pickling import dumps, unpicklable_part
from .provenance import seed_everything, seed_for
from .pytest_compat import fixture_functions
from .session import MementoSession, build_record
from .state import ITEM_KEY, SESSION_KEY, ItemState, item_state
from .store import ResultStore
from .unrun import may_skip, report_without_running

__all__ = [
    "annotate",
    "call",
    "check_setup",
    "checkpoint_for",
    "decided",
    "json_metadata",
    "protocol",
    "store_if_passed",
    "unrun_outcome",
]


def _foreign_parameters(item: pytest.Function, case: Case) -> list[str]:
    params = item.callspec.params
    ours = {"config", *case.params, *case.settings}
    if len(params) <= len(ours) and all(name in ours for name in params):
        return []
    return [name for name in params if name not in ours]


def fingerprint_of(item: pytest.Function, case: Case) -> Fingerprint:
    """The code fingerprint of a matrix item's configuration (computed once
    per function and per distinct value; see :mod:`.fingerprint`)."""
    session: MementoSession = item.config.stash[SESSION_KEY]
    return session.fingerprint(item.function, case, lambda: fixture_functions(item))


def decided(item: pytest.Item, store: ResultStore | None = None) -> Decision | None:
    """The decision for a matrix item (from ``store``, else the session's),
    or None for items that are not matrix items or cannot be keyed (they run
    and fail at setup saying why)."""
    state = item.stash.get(ITEM_KEY, None)
    if state is None or state.case is None or not isinstance(item, pytest.Function):
        return None
    case = state.case
    foreign = _foreign_parameters(item, case)
    if foreign:
        state.invalid = (
            f"pytest-memento: {case.experiment} is also parametrized over {', '.join(foreign)} "
            "outside @memento.matrix, so its results cannot be keyed; make those matrix parameters"
        )
        return None
    session = item.config.stash[SESSION_KEY]
    try:
        fingerprint = fingerprint_of(item, case)
    except InputError as exc:
        state.invalid = f"pytest-memento: {case.experiment}[{case.id}]: {exc}"
        return None
    return session.decide(case, item.nodeid, fingerprint, store)


def unrun_outcome(item: pytest.Item, decision: Decision) -> tuple[Outcome, str | None] | None:
    """For an item that will not run (cached, or skipped as not cached):
    its outcome and the failure that judging it gave; None when it runs."""
    session = item.config.stash[SESSION_KEY]
    if decision.action is Action.RUN or may_skip(item, session):
        return None
    state = item.stash[ITEM_KEY]
    assert state.case is not None
    if decision.action is Action.NOT_CACHED:
        return outcome_of(item, state, decision, "setup", "skipped", 0.0), None
    return judged(session, state.case, decision, outcome_of(item, state, decision, "call", "passed", 0.0))


def protocol(item: pytest.Item, nextitem: pytest.Item | None) -> bool | None:
    """Decide for a matrix item; report cached ones without running them."""
    decision = decided(item)
    if decision is None:
        return None
    state = item.stash[ITEM_KEY]
    state.decision = decision
    unrun = unrun_outcome(item, decision)
    if unrun is None:
        return None
    session = item.config.stash[SESSION_KEY]
    report_without_running(item, nextitem, *unrun, json_report=session.json_report)
    # Nothing of the stored entry needs to outlive the report.
    state.decision = None
    return True


def check_setup(item: pytest.Item) -> None:
    state = item.stash.get(ITEM_KEY, None)
    if state is not None and state.invalid:
        pytest.fail(state.invalid, pytrace=False)


@functools.cache
def _signature_names(func: Callable[..., Any]) -> tuple[str, ...]:
    kinds = (inspect.Parameter.POSITIONAL_OR_KEYWORD, inspect.Parameter.KEYWORD_ONLY)
    parameters = inspect.signature(func).parameters.values()
    return tuple(p.name for p in parameters if p.kind in kinds and p.default is p.empty)


def _call_names(obj: Callable[..., Any]) -> tuple[str, ...]:
    func = getattr(obj, "__func__", obj)
    names = _signature_names(func)
    return names[1:] if func is not obj else names


def call(item: pytest.Function) -> bool | None:
    """Call a matrix function and keep its return value (no
    ``PytestReturnNotNoneWarning``: returning the result is the point)."""
    state = item.stash.get(ITEM_KEY, None)
    if state is None or state.decision is None or state.case is None:
        return None
    if state.decision.action is not Action.RUN:
        return True
    func = item.obj
    kwargs = {name: item.funcargs[name] for name in _call_names(func)}
    session = item.config.stash[SESSION_KEY]
    case = state.case
    if session.settings.seed:
        # Seeded last thing before the call, so fixtures cannot disturb it.
        state.seed = seed_for(case.params | case.settings, case.key)
        seed_everything(state.seed)
    state.started = time.time()
    state.metrics = {}
    result = func(**kwargs)
    if inspect.isawaitable(result) or inspect.isasyncgen(result) or inspect.isgenerator(result):
        if hasattr(result, "close"):
            result.close()
        pytest.fail(f"{item.name}: experiments must be plain functions (not async or generators)", pytrace=False)
    state.metrics = metrics_of(result)
    if not state.decision.verify:
        # Pickled now, so a result that cannot be stored fails its own call, once.
        try:
            state.result = dumps(result)
        except Exception as exc:
            where, kind = unpicklable_part(result)
            pytest.fail(
                f"pytest-memento: the result of {item.name} cannot be pickled, so it cannot be stored: "
                f"{where} is a {kind} ({type(exc).__name__}: {str(exc)[:200]})",
                pytrace=False,
            )
        state.has_result = True
    return True


def _config_json(state: ItemState, case: Case) -> dict[str, Any]:
    if state.config_json is None:
        # A value with no identity of its own is shown by the id that stands for it.
        state.config_json = jsonable_mapping({**case.params, **case.settings}) | case.shown
    return state.config_json


def _labels(case: Case) -> dict[str, str]:
    """Short names of parameter values (``SVC`` rather than
    ``sklearn.svm._classes.SVC``), for tables."""
    labels = {}
    for name, value in case.params.items():
        label = case.shown.get(name) or display_label(value)
        if label is not None:
            labels[name] = label
    return labels


def _checkpoint_note(checkpoint: Checkpoint | None) -> CheckpointNote | None:
    if checkpoint is None:
        return None
    resumed = checkpoint.resumed_from.describe() if checkpoint.resumed_from is not None else None
    return CheckpointNote(checkpoint.saves, resumed, checkpoint.ignored)


def outcome_of(
    item: pytest.Item, state: ItemState, decision: Decision, when: str, outcome: str, duration: float
) -> Outcome:
    """The record of a configuration whose phase ``when`` ended with ``outcome``."""
    case = state.case
    assert case is not None
    if decision.entry is not None and not decision.verify:
        metrics, duration = dict(decision.entry.metrics), decision.entry.duration
    else:
        metrics = dict(state.metrics)
    return Outcome(
        nodeid=item.nodeid,
        status=status_of(when, outcome, decision.action is Action.CACHED),
        reason=decision.reason,
        experiment=case.experiment,
        test_id=case.id,
        key=case.key,
        config_hash=case.config_hash,
        config=_config_json(state, case),
        parameters=tuple(case.params),
        labels=_labels(case),
        metrics=metrics,
        duration=duration,
        goals=dict(case.goals or {}),
        replicates=case.replicates,
        group_size=case.group_size if case.replicates else 0,
        problems=decision.problems,
        checkpoint=_checkpoint_note(state.checkpoint),
        executed=decision.action is Action.RUN,
        tolerance=case.tolerance,
    )


def _wants_outcome(when: str, passed: bool, decision: Decision) -> bool:
    return when == "call" or (when == "setup" and (not passed or decision.action is Action.NOT_CACHED))


def annotate(item: pytest.Item, report: pytest.TestReport) -> pytest.TestReport:
    """Remember each phase's report; put the outcome (JSON) on the one that
    says how the configuration went, after judging a passed call."""
    state = item.stash.get(ITEM_KEY, None)
    if state is None:
        return report
    checkpoint = state.checkpoint
    if checkpoint is not None and report.failed and checkpoint.saves:
        report.sections.append(("memento checkpoint", _resume_note(checkpoint)))
    state.phases[report.when] = report
    decision = state.decision
    if decision is None or state.case is None or not _wants_outcome(report.when, report.passed, decision):
        return report
    outcome = outcome_of(item, state, decision, report.when, report.outcome, report.duration)
    if report.when == "call" and report.passed:
        outcome, failure = judged(item.config.stash[SESSION_KEY], state.case, decision, outcome)
        if failure is not None:
            state.regressed = outcome.baseline is not None and outcome.baseline.verdict == "worse"
            report.outcome = "failed"
            report.longrepr = failure
    # Rides on the report to the controller as JSON; this process's run log takes the object.
    report.memento = item.config.stash[SESSION_KEY].remember(outcome.to_json(), outcome)  # type: ignore[attr-defined]
    return report


def judged(session: MementoSession, case: Case, decision: Decision, outcome: Outcome) -> tuple[Outcome, str | None]:
    """--memento-verify, then the baseline, for a configuration that passed
    (or is cached): the outcome with their verdicts, and the failure text
    when either fails it (a baseline failure still stores the result: it
    is what the code gives now)."""
    failures: list[str] = []
    tolerance = session.settings.report.tolerance
    if decision.verify and decision.entry is not None:
        lines = not_reproduced(outcome.metrics, decision.entry.metrics, case.tolerance, tolerance)
        outcome = outcome.replace(verified=not lines)
        if lines:
            stored = decision.entry.key[:12]
            failures.append(f"not reproduced: {case.experiment}[{case.id}] config {outcome.config} (stored {stored})")
            failures += lines
    baseline = session.settings.report.baseline
    # Replicated experiments are judged by group once the run is over (see .regressions).
    if baseline is not None and baseline.groups(case.experiment) is None:
        stored_metrics = baseline.metrics(case.experiment, case.config_hash)
        verdict, worse = judge(outcome.metrics, stored_metrics, case.goals, case.tolerance, tolerance)
        outcome = outcome.replace(baseline=verdict)
        if worse:
            failures.append(
                f"metric regression against {baseline.path}: {case.experiment}[{case.id}] config {outcome.config}"
            )
            failures += [f"  {c.describe()}" for c in worse]
    if not failures:
        return outcome, None
    return outcome.replace(status=Status.FAILED), "\n".join(failures)


def json_metadata(item: pytest.Item, call: pytest.CallInfo[None]) -> dict[str, Any]:
    state = item.stash.get(ITEM_KEY, None)
    if state is None or state.decision is None or state.case is None:
        return {}
    if not _wants_outcome(call.when, call.excinfo is None, state.decision):
        return {}
    report = state.phases.get(call.when)
    memento = getattr(report, "memento", None)
    if memento is not None:
        return {"memento": memento}
    outcome = "passed" if call.excinfo is None else "failed"
    return {"memento": outcome_of(item, state, state.decision, call.when, outcome, call.duration).to_json()}


def store_if_passed(item: pytest.Item) -> None:
    """After a clean teardown: store the result of a configuration whose
    setup and call passed. Failed, errored and interrupted ones never are,
    nor re-runs of --memento-verify (they check, they do not replace)."""
    state = item.stash.get(ITEM_KEY, None)
    if state is None or not isinstance(item, pytest.Function):
        return
    decision, case = state.decision, state.case
    if decision is None or case is None or decision.action is not Action.RUN or not state.has_result or decision.verify:
        return
    result, state.result, state.has_result = state.result, None, False
    setup, called = state.phases.get("setup"), state.phases.get("call")
    if setup is None or not setup.passed or called is None or not (called.passed or state.regressed):
        return
    session = item.config.stash[SESSION_KEY]
    assert result is not None
    payload = result
    fingerprint = fingerprint_of(item, case)
    checkpoint = state.checkpoint
    extra: dict[str, Any] = {"fingerprint": fingerprint.value, "config_hash": case.config_hash, "seed": state.seed}
    # For tables over replicate groups (see aggregate.py); [] means none.
    extra["replicates"] = list(case.replicates)
    if case.replicates:
        extra["group_size"] = case.group_size
    if case.goals:
        extra["goals"] = dict(case.goals)
    if checkpoint is not None and checkpoint.resumed_from is not None:
        extra["resumed"] = checkpoint.resumed_from.describe()
    # The worker's share of the machine (see workers.py); None without xdist or when off.
    workerinput: dict[str, Any] = getattr(item.config, "workerinput", {})
    extra["threads"] = workerinput.get("memento_threads")
    extra["gpu"] = workerinput.get("memento_gpu")
    record = build_record(
        case=case,
        config=_config_json(state, case),
        nodeid=item.nodeid,
        metrics=state.metrics,
        started=state.started if state.started is not None else time.time(),
        duration=called.duration,
        worker=session.worker,
        extra=extra,
    )
    # Quick results are written in batches (at least every max_delay
    # seconds and at session end); slow ones, and any that saved a
    # checkpoint (removed right after), at once.
    quick = called.duration < session.store.max_delay and (checkpoint is None or not checkpoint.exists)
    code = {"fingerprint_parts": fingerprint.parts, "packages": session.packages(item.module)}
    try:
        session.store.put(case.key, record, payload, defer=quick, code=code)
    except OSError as exc:
        pytest.fail(
            f"pytest-memento: could not store the result of {item.name} in {session.store.location}: {exc}",
            pytrace=False,
        )
    if checkpoint is not None:
        checkpoint.remove()


def finish_plain_checkpoint(item: pytest.Item) -> None:
    """A test outside a matrix that passed no longer needs its checkpoint."""
    state = item.stash.get(ITEM_KEY, None)
    if state is None or state.checkpoint is None or state.case is not None:
        return
    setup, called = state.phases.get("setup"), state.phases.get("call")
    if setup is not None and called is not None and setup.passed and called.passed:
        state.checkpoint.remove()


def _resume_note(checkpoint: Checkpoint) -> str:
    info = read_info(checkpoint.path)
    if info is None:
        return "no checkpoint was kept"
    return f"the next run resumes from the checkpoint ({info.describe()}) at {info.path}"


def checkpoint_for(item: pytest.Item) -> Checkpoint:
    """The ``checkpoint`` of an item: keyed by its config key in a matrix,
    else by its rootdir-relative node id."""
    session: MementoSession = item.config.stash[SESSION_KEY]
    state = item_state(item)
    case = state.case
    fingerprint = None
    if case is not None and isinstance(item, pytest.Function):
        key, label = case.key, {"experiment": case.experiment, "test_id": case.id, "nodeid": item.nodeid}
        fingerprint = fingerprint_of(item, case).value
    else:
        key, label = node_key(item.nodeid), {"nodeid": item.nodeid}
    state.checkpoint = session.store.open_checkpoint(
        key, label=label, fresh=session.settings.rerun, signer=session.settings.signer, fingerprint=fingerprint
    )
    return state.checkpoint
