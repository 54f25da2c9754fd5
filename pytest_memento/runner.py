"""What happens to one matrix item: decide, run or report from the store,
capture the return value, store it when the item passed.

The pytest glue behind the hooks in :mod:`.plugin`; decisions and records
come from :mod:`.session`.
"""

from __future__ import annotations

import contextlib
import functools
import gc
import hashlib
import inspect
import os
import pickle
import signal
import threading
import time
from collections.abc import Callable, Iterator, Mapping
from typing import Any, Literal

import pytest

from .baseline import compare
from .checkpoint import Checkpoint, checkpoint_path, read_info
from .collect import case_of
from .hashing import jsonable_mapping
from .keys import (
    CHECKPOINT_KEY,
    CONFIG_JSON_KEY,
    DECISION_KEY,
    FROZEN_KEY,
    INVALID_KEY,
    METRICS_KEY,
    PARENT_SKIPS_KEY,
    PHASES_KEY,
    REGRESSED_KEY,
    RESULT_KEY,
    SEED_KEY,
    SESSION_KEY,
    SIGTERM_KEY,
    STARTED_KEY,
)
from .matrix import Case, display_label
from .provenance import seed_everything, seed_for
from .session import CACHED, NOT_CACHED, RUN, Decision, MementoSession, build_record, metrics_of

_SKIP_MARKS = ("skip", "skipif", "xfail")


def _foreign_parameters(item: pytest.Item, case: Case) -> list[str]:
    params = item.callspec.params  # type: ignore[attr-defined]
    if len(params) <= 1 + len(case.params) + len(case.settings) and all(
        name == "config" or name in case.params or name in case.settings for name in params
    ):
        return []
    ours = {"config", *case.params, *case.settings}
    return [name for name in params if name not in ours]


def _may_skip(item: pytest.Item) -> bool:
    """Whether a skip, skipif or xfail mark applies to ``item`` (they are
    evaluated by the normal protocol). Marks of modules and classes are
    looked up once per parent, not once per item."""
    if any(mark.name in _SKIP_MARKS for mark in item.own_markers):
        return True
    parent = item.parent
    if parent is None:
        return False
    cache = item.config.stash.setdefault(PARENT_SKIPS_KEY, {})
    found = cache.get(parent.nodeid)
    if found is None:
        found = cache[parent.nodeid] = any(
            mark.name in _SKIP_MARKS for node in parent.listchain() for mark in node.own_markers
        )
    return found


def protocol(item: pytest.Item, nextitem: pytest.Item | None) -> bool | None:
    """Decide for a matrix item; report cached ones without running them."""
    case = case_of(item)
    if case is None:
        return None
    foreign = _foreign_parameters(item, case)
    if foreign:
        item.stash[INVALID_KEY] = (
            f"pytest-memento: {case.experiment} is also parametrized over {', '.join(foreign)} "
            "outside @memento.matrix, so its results cannot be keyed; make those matrix parameters"
        )
        return None
    session = item.config.stash[SESSION_KEY]
    decision = session.decide(case, item.nodeid, session.fingerprint(item.function, case.experiment))  # type: ignore[attr-defined]
    item.stash[DECISION_KEY] = decision
    if decision.action == RUN or _may_skip(item):
        return None
    _report_without_running(item, nextitem, decision)
    return True


def _report(
    item: pytest.Item,
    keywords: dict[str, Literal[1]],
    when: str,
    outcome: str = "passed",
    longrepr: Any = None,
    **extra: Any,
) -> pytest.TestReport:
    now = time.time()
    return pytest.TestReport(
        item.nodeid,
        item.location,
        keywords,
        outcome,  # type: ignore[arg-type]
        longrepr,
        when,  # type: ignore[arg-type]
        duration=0.0,
        start=now,
        stop=now,
        user_properties=item.user_properties,
        **extra,
    )


def _teardown_previous(item: pytest.Item, nextitem: pytest.Item | None) -> Any:
    """Tear down what earlier items set up and ``nextitem`` does not need.

    Only pytest's own runner teardown is called: other plugins' teardown
    hooks expect their setup hooks to have run, and for this item none did.
    Returns the failure to report, or None.
    """
    if nextitem is not None and nextitem.parent is item.parent:
        # Everything set up is shared with the next item: nothing to do.
        return None
    session = item.config.stash[SESSION_KEY]
    teardown = session.builtin_teardown
    if teardown is None:
        builtin = item.config.pluginmanager.get_plugin("runner")
        teardown = session.builtin_teardown = getattr(builtin, "pytest_runtest_teardown", None)
    if teardown is None:  # pragma: no cover - pytest always has it
        return None
    try:
        teardown(item=item, nextitem=nextitem)
    except Exception as exc:
        return str(pytest.ExceptionInfo.from_exception(exc).getrepr(style="short"))
    return None


def _report_without_running(item: pytest.Item, nextitem: pytest.Item | None, decision: Decision) -> None:
    """Report a cached (or, with --memento-cached-only, a skipped)
    configuration: no fixture is set up, the function is not called."""
    ihook = item.ihook
    ihook.pytest_runtest_logstart(nodeid=item.nodeid, location=item.location)
    keywords: dict[str, Literal[1]] = dict.fromkeys(item.keywords, 1)
    case = case_of(item)
    assert case is not None
    info = _info(item, case, decision, 0.0)
    extra: dict[str, Any] = {"memento": info}
    outcome, longrepr = "passed", None
    if decision.action == CACHED and item.config.stash[SESSION_KEY].report.baseline is not None:
        probe = _report(item, keywords, "call")
        _hold_against_baseline(item, case, probe, info)
        outcome, longrepr = probe.outcome, probe.longrepr
    if item.config.stash[SESSION_KEY].json_report:
        extra["_json_report_extra"] = {"metadata": {"memento": info}}
    # One report per configuration: the outcome. Setup and teardown did
    # nothing, and each report costs a hook round (and an xdist message).
    if decision.action == NOT_CACHED:
        skip = (os.fspath(item.path), (item.location[1] or 0) + 1, f"Skipped: {decision.reason}")
        ihook.pytest_runtest_logreport(report=_report(item, keywords, "setup", "skipped", skip, **extra))
    else:
        ihook.pytest_runtest_logreport(report=_report(item, keywords, "call", outcome, longrepr, **extra))
    failure = _teardown_previous(item, nextitem)
    if failure is not None:
        ihook.pytest_runtest_logreport(report=_report(item, keywords, "teardown", "failed", failure))
    ihook.pytest_runtest_logfinish(nodeid=item.nodeid, location=item.location)
    # Nothing of the stored entry needs to outlive the report.
    del item.stash[DECISION_KEY]


def check_setup(item: pytest.Item) -> None:
    problem = item.stash.get(INVALID_KEY, None)
    if problem:
        pytest.fail(problem, pytrace=False)


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
    decision = item.stash.get(DECISION_KEY, None)
    if decision is None:
        return None
    if decision.action != RUN:
        return True
    func = item.obj
    kwargs = {name: item.funcargs[name] for name in _call_names(func)}
    session = item.config.stash[SESSION_KEY]
    case = case_of(item)
    if session.settings.seed and case is not None:
        # Seeded last thing before the call, so fixtures cannot disturb it.
        seed = seed_for(case.params | case.settings, case.key)
        seed_everything(seed)
        item.stash[SEED_KEY] = seed
    item.stash[STARTED_KEY] = time.time()
    item.stash[METRICS_KEY] = {}
    result = func(**kwargs)
    if inspect.isawaitable(result) or inspect.isasyncgen(result) or inspect.isgenerator(result):
        if hasattr(result, "close"):
            result.close()
        pytest.fail(f"{item.name}: experiments must be plain functions (not async or generators)", pytrace=False)
    item.stash[RESULT_KEY] = result
    item.stash[METRICS_KEY] = metrics_of(result)
    return True


def _config_json(item: pytest.Item, case: Case) -> dict[str, Any]:
    config_json = item.stash.get(CONFIG_JSON_KEY, None)
    if config_json is None:
        config_json = item.stash[CONFIG_JSON_KEY] = jsonable_mapping({**case.params, **case.settings})
    return config_json


def _info(item: pytest.Item, case: Case, decision: Decision, duration: float) -> dict[str, Any]:
    config_json = _config_json(item, case)
    if decision.entry is not None and not decision.verify:
        metrics = dict(decision.entry.metrics)
        duration = decision.entry.duration
    else:
        stored: Mapping[str, Any] = item.stash.get(METRICS_KEY, {})
        metrics = dict(stored)
    return {
        "key": case.key,
        "config_hash": case.config_hash,
        "experiment": case.experiment,
        "test_id": case.id,
        "config": config_json,
        "parameters": list(case.params),
        "labels": _labels(item, case),
        "metrics": metrics,
        "cached": decision.action == CACHED,
        "reason": decision.reason,
        "duration": duration,
        "problems": list(decision.problems),
        **({"goals": dict(case.goals)} if case.goals else {}),
        **_checkpoint_info(item),
    }


def _labels(item: pytest.Item, case: Case) -> dict[str, str]:
    """Short names of parameter values (``SVC`` rather than
    ``sklearn.svm._classes.SVC``), for tables."""
    labels = {}
    for name, value in case.params.items():
        label = display_label(value)
        if label is not None:
            labels[name] = label
    return labels


def _checkpoint_info(item: pytest.Item) -> dict[str, Any]:
    checkpoint = item.stash.get(CHECKPOINT_KEY, None)
    if checkpoint is None:
        return {}
    info: dict[str, Any] = {"checkpoint_saves": checkpoint.saves}
    if checkpoint.resumed_from is not None:
        info["resumed"] = checkpoint.resumed_from.describe()
    if checkpoint.ignored:
        info["checkpoint_ignored"] = checkpoint.ignored
    return info


def _wants_info(when: str, passed: bool, decision: Decision) -> bool:
    return when == "call" or (when == "setup" and (not passed or decision.action == NOT_CACHED))


def annotate(item: pytest.Item, report: pytest.TestReport) -> pytest.TestReport:
    """Remember each phase's report; put the memento info on the one that
    says how the configuration went (JSON-safe: it crosses to xdist)."""
    checkpoint = item.stash.get(CHECKPOINT_KEY, None)
    if checkpoint is not None and report.failed and checkpoint.saves:
        report.sections.append(("memento checkpoint", _resume_note(checkpoint)))
    decision = item.stash.get(DECISION_KEY, None)
    if decision is None:
        if checkpoint is not None:
            item.stash.setdefault(PHASES_KEY, {})[report.when] = report
        return report
    phases = item.stash.setdefault(PHASES_KEY, {})
    phases[report.when] = report
    case = case_of(item)
    if case is not None and _wants_info(report.when, report.passed, decision):
        info = report.memento = _info(item, case, decision, report.duration)  # type: ignore[attr-defined]
        if report.when == "call" and report.passed:
            if decision.verify:
                _verify(item, case, decision, report, info)
            _hold_against_baseline(item, case, report, info)
    return report


def _verify(item: pytest.Item, case: Case, decision: Decision, report: pytest.TestReport, info: dict[str, Any]) -> None:
    """--memento-verify: fail when the re-run's metrics differ from the
    stored ones beyond tolerance (any direction counts)."""
    assert decision.entry is not None
    override = item.config.stash[SESSION_KEY].report.tolerance
    stored = decision.entry.metrics
    differ = [c for c in compare(info["metrics"], stored, None, case.tolerance, override) if c.worse]
    missing = sorted(set(stored) - set(info["metrics"]))
    info["verified"] = not differ and not missing
    if differ or missing:
        lines = [
            f"not reproduced: {case.experiment}[{case.id}] config {info['config']} (stored {decision.entry.key[:12]})"
        ]
        lines += [
            f"  {c.metric}: stored {c.baseline:.6g}, now {c.current:.6g} (tolerance {c.tolerance:g})" for c in differ
        ]
        lines += [f"  {name}: stored {stored[name]!r}, now missing" for name in missing]
        report.outcome = "failed"
        report.longrepr = "\n".join(lines)


def _hold_against_baseline(item: pytest.Item, case: Case, report: pytest.TestReport, info: dict[str, Any]) -> None:
    """Fail ``report`` when a metric is worse than the baseline allows
    (the result itself is still stored: it is what the code now gives)."""
    settings = item.config.stash[SESSION_KEY].report
    if settings.baseline is None:
        return
    stored = settings.baseline.metrics(case.experiment, case.config_hash)
    if stored is None:
        info["baseline"] = "new"
        return
    comparisons = compare(info["metrics"], stored, case.goals, case.tolerance, settings.tolerance)
    worse = [c for c in comparisons if c.worse]
    info["baseline"] = "worse" if worse else "ok"
    info["improved"] = [c.describe() for c in comparisons if c.better]
    if worse:
        item.stash[REGRESSED_KEY] = True
        info["regressions"] = [c.describe() for c in worse]
        lines = [
            f"metric regression against {settings.baseline.path}: {case.experiment}[{case.id}] config {info['config']}"
        ]
        lines += [f"  {c.describe()}" for c in worse]
        report.outcome = "failed"
        report.longrepr = "\n".join(lines)


def json_metadata(item: pytest.Item, call: pytest.CallInfo[None]) -> dict[str, Any]:
    decision = item.stash.get(DECISION_KEY, None)
    case = case_of(item)
    if decision is None or case is None or not _wants_info(call.when, call.excinfo is None, decision):
        return {}
    return {"memento": _info(item, case, decision, call.duration)}


def pickle_result(result: Any) -> bytes:
    """Pickle with the standard pickler when it can (several times faster
    for small results), with cloudpickle when it cannot (lambdas, classes
    defined in functions, ...). Both are read back by ``pickle.loads``."""
    try:
        return pickle.dumps(result, protocol=5)
    except Exception:
        import cloudpickle  # type: ignore[import-untyped]

        return cloudpickle.dumps(result, protocol=5)  # type: ignore[no-any-return]


def store_if_passed(item: pytest.Item) -> None:
    """After a clean teardown: store the result of a configuration whose
    setup and call passed. Failed, errored and interrupted ones never are,
    nor re-runs of --memento-verify (they check, they do not replace)."""
    decision = item.stash.get(DECISION_KEY, None)
    if decision is None or decision.action != RUN or RESULT_KEY not in item.stash or decision.verify:
        return
    result = item.stash[RESULT_KEY]
    del item.stash[RESULT_KEY]
    phases = item.stash.get(PHASES_KEY, {})
    setup, called = phases.get("setup"), phases.get("call")
    case = case_of(item)
    called_ok = called is not None and (called.passed or item.stash.get(REGRESSED_KEY, False))
    if case is None or setup is None or not setup.passed or not called_ok:
        return
    assert called is not None
    checkpoint = item.stash.get(CHECKPOINT_KEY, None)
    session = item.config.stash[SESSION_KEY]
    try:
        payload = pickle_result(result)
    except Exception as exc:
        pytest.fail(
            f"pytest-memento: the return value of {item.name} cannot be pickled, so nothing was stored: {exc!r}",
            pytrace=False,
        )
    record = build_record(
        case=case,
        config=_config_json(item, case),
        nodeid=item.nodeid,
        metrics=item.stash.get(METRICS_KEY, {}),
        started=item.stash.get(STARTED_KEY, time.time()),
        duration=called.duration,
        worker=session.worker,
        extra=_provenance(item, case, session, checkpoint),
    )
    try:
        # Quick results are written in batches (at least every max_delay
        # seconds and at session end); slow ones at once.
        # Quick results are written in batches (at least every max_delay
        # seconds and at session end); slow ones, and any that saved a
        # checkpoint (removed right after), at once.
        quick = called.duration < session.store.max_delay and (checkpoint is None or not checkpoint.exists)
        code = {
            "fingerprint_parts": session.fingerprint(item.function).parts,
            "packages": session.packages(item.module),
        }  # type: ignore[attr-defined]
        session.store.put(case.key, record, payload, defer=quick, code=code)
    except OSError as exc:
        pytest.fail(
            f"pytest-memento: could not store the result of {item.name} in {session.store.root}: {exc}",
            pytrace=False,
        )
    if checkpoint is not None:
        checkpoint.remove()


def _provenance(
    item: pytest.Item, case: Case, session: MementoSession, checkpoint: Checkpoint | None
) -> dict[str, Any]:
    fingerprint = session.fingerprint(item.function)  # type: ignore[attr-defined]
    extra: dict[str, Any] = {
        "fingerprint": fingerprint.value,
        "config_hash": case.config_hash,
        "seed": item.stash.get(SEED_KEY, None),
    }
    if checkpoint is not None and checkpoint.resumed_from is not None:
        extra["resumed"] = checkpoint.resumed_from.describe()
    return extra


def finish_plain_checkpoint(item: pytest.Item) -> None:
    """A test outside a matrix that passed no longer needs its checkpoint."""
    checkpoint = item.stash.get(CHECKPOINT_KEY, None)
    if checkpoint is None or DECISION_KEY in item.stash:
        return
    phases = item.stash.get(PHASES_KEY, {})
    setup, called = phases.get("setup"), phases.get("call")
    if setup is not None and called is not None and setup.passed and called.passed:
        checkpoint.remove()


def _resume_note(checkpoint: Checkpoint) -> str:
    info = read_info(checkpoint.path)
    if info is None:
        return "no checkpoint was kept"
    return f"the next run resumes from the checkpoint ({info.describe()}) at {info.path}"


def checkpoint_for(item: pytest.Item) -> Checkpoint:
    """The ``checkpoint`` of an item: keyed by its config key in a matrix,
    else by its rootdir-relative node id."""
    session = item.config.stash[SESSION_KEY]
    case = case_of(item)
    if case is not None:
        key, label = case.key, {"experiment": case.experiment, "test_id": case.id, "nodeid": item.nodeid}
    else:
        key = hashlib.sha256(f"pytest-memento/node/1\0{item.nodeid}".encode()).hexdigest()
        label = {"nodeid": item.nodeid}
    checkpoint = Checkpoint(
        checkpoint_path(session.settings.store_dir, key),
        key=key,
        label=label,
        fresh=session.settings.rerun,
        signer=session.signer,
        fingerprint=session.fingerprint(item.function).value if case is not None else None,  # type: ignore[attr-defined]
    )
    item.stash[CHECKPOINT_KEY] = checkpoint
    return checkpoint


def flush_store(config: pytest.Config) -> None:
    session = config.stash.get(SESSION_KEY, None)
    if session is None:
        return
    try:
        session.store.flush()
    except OSError as exc:
        session.log.problems.append(f"could not write buffered results to {session.store.root}: {exc}")


def close_store(config: pytest.Config) -> None:
    session = config.stash.get(SESSION_KEY, None)
    if session is not None:
        flush_store(config)
        session.store.close()


def retries_of(cli: int | None, ini: str) -> int:
    """``--memento-retries`` (else ini ``memento_retries``) as a count."""
    if cli is not None:
        value, where = cli, "--memento-retries"
    else:
        try:
            value, where = int(ini or "0"), "memento_retries (ini)"
        except ValueError:
            raise pytest.UsageError(
                f"pytest-memento: memento_retries (ini): expected a whole number, got {ini!r}"
            ) from None
    if value < 0:
        raise pytest.UsageError(f"pytest-memento: {where}: expected 0 or more, got {value}")
    return value


def stop_cleanly_on_sigterm(config: pytest.Config) -> None:
    """Make SIGTERM (what Slurm and most schedulers send before SIGKILL)
    end the run like Ctrl-C: finished results are written, running items
    keep their last checkpoint. Only if nobody installed a handler already,
    and only in the main thread (where Python delivers signals)."""
    if threading.current_thread() is not threading.main_thread():
        return
    if signal.getsignal(signal.SIGTERM) is not signal.SIG_DFL:
        return

    def interrupt(signum: int, frame: Any) -> None:
        raise KeyboardInterrupt("SIGTERM")

    signal.signal(signal.SIGTERM, interrupt)
    config.stash[SIGTERM_KEY] = interrupt


def restore_sigterm(config: pytest.Config) -> None:
    handler = config.stash.get(SIGTERM_KEY, None)
    if handler is not None and signal.getsignal(signal.SIGTERM) is handler:
        signal.signal(signal.SIGTERM, signal.SIG_DFL)


@contextlib.contextmanager
def quiet_gc(config: pytest.Config) -> Iterator[None]:
    """No cyclic garbage collection while collecting, and the collected
    items frozen out of later collections (``gc.freeze``): they live for the
    whole session anyway, and scanning them over and over made collection
    super-linear in the grid size and slowed every item after it."""
    was_enabled = gc.isenabled()
    gc.disable()
    try:
        yield
    finally:
        if was_enabled:
            gc.enable()
        gc.freeze()
        config.stash[FROZEN_KEY] = True


def thaw_gc(config: pytest.Config) -> None:
    if config.stash.get(FROZEN_KEY, False):
        gc.unfreeze()
