"""The end of a run, on the controller: the run log kept from reports, the
terminal section (table, reasons, baseline summary, warnings), the files
written (exports, baseline) and the notifications. Every piece is a function
over the run's :class:`~.outcome.Outcome` records."""

from __future__ import annotations

import os
import time
from collections.abc import Iterable
from pathlib import Path
from typing import Any

import pytest

from . import lifecycle
from .aggregate import group_outcomes
from .baseline import write_baseline
from .checkpoint import iter_checkpoints
from .files import atomic_write
from .gate import markdown
from .html_report import write_report
from .notify import notify_all
from .outcome import Outcome, Status
from .paper import render_tables
from .paper_layout import Layout
from .pytest_compat import terminal_width
from .records import records_from_run
from .regressions import comparisons
from .session import MementoSession
from .state import SESSION_KEY
from .tables import format_table, render, rows_from_run, write_export

__all__ = ["ReportObserver", "best_configurations", "finish", "run_summary", "terminal_summary", "write_outputs"]

#: Warnings listed at the end of a run without -v.
MAX_WARNINGS = 20
#: New and missing configurations listed under the baseline summary.
SHOWN = 20


def _error_line(report: pytest.TestReport) -> str:
    lines = [line for line in report.longreprtext.splitlines() if line.strip()]
    errors = [line for line in lines if line.startswith("E ")]
    return (errors[0][1:].strip() if errors else lines[-1].strip() if lines else report.outcome)[:300]


class ReportObserver:
    """Keeps the run log from reports (on the xdist controller too)."""

    def __init__(self, session: MementoSession, config: pytest.Config | None = None) -> None:
        self.session = session
        self.config = config
        #: Crashed items reported before it was known that the run uses
        #: pytest-memento (a project without experiments gets no section).
        self.crashes: list[Outcome] = []
        #: Items started and not finished (what an interrupt stopped).
        self.running: dict[str, None] = {}

    def pytest_runtest_logstart(self, nodeid: str) -> None:
        self.running[nodeid] = None

    def pytest_runtest_logfinish(self, nodeid: str) -> None:
        self.running.pop(nodeid, None)

    def pytest_runtest_logreport(self, report: pytest.TestReport) -> None:
        data = getattr(report, "memento", None)
        log = self.session.log
        if data is not None and self.config is not None and not lifecycle.is_active(self.config):
            lifecycle.activate(self.config, create=False)  # an xdist controller: a worker ran a matrix item
        if data is None:
            if report.when == "teardown" and report.failed:
                log.mark(report.nodeid, Status.ERROR)
            elif report.failed and report.when not in ("setup", "call", "teardown"):
                # xdist's report for an item whose worker died.
                self.crashes.append(Outcome(report.nodeid, Status.CRASHED, "worker died", error=_error_line(report)))
                self.record_crashes()
            return
        self.record_crashes()
        outcome = self.session.recall(data)
        if report.failed:
            outcome = outcome.replace(error=_error_line(report))
        log.record(outcome)

    def record_crashes(self) -> None:
        """Crashed items count once the run is known to use pytest-memento."""
        if self.crashes and (self.config is None or lifecycle.is_active(self.config)):
            for outcome in self.crashes:
                self.session.log.record(outcome)
            self.crashes = []

    @pytest.hookimpl(trylast=True)
    def pytest_sessionfinish(self, session: pytest.Session) -> None:
        # After the store was flushed (plugin.py, tryfirst) and every worker
        # said what it could not store: a lost result fails the run.
        if hasattr(session.config, "workerinput"):
            return
        if self.session.store.failures and session.exitstatus == pytest.ExitCode.OK:
            session.exitstatus = pytest.ExitCode.TESTS_FAILED


def resume_note(store_root: Path, nodeid: str) -> str:
    """What the next run does with the configuration of ``nodeid``:
    ``resumes it from its checkpoint (save #3 at ...)`` or ``starts it from
    the beginning (it saved no checkpoint)``."""
    for info in iter_checkpoints(store_root):
        if info.label.get("nodeid") == nodeid:
            return f"resumes it from its checkpoint ({info.describe()})"
    return "starts it from the beginning (it saved no checkpoint)"


def interrupted_lines(session: MementoSession, running: Iterable[str]) -> list[str]:
    """For a run stopped by Ctrl-C or SIGTERM: each configuration that was
    running, and where the next run takes it up."""
    lines = []
    for nodeid in running:
        note = resume_note(session.settings.store_dir, nodeid)
        # A plain test without a checkpoint is pytest's business alone.
        if session.log.outcomes or "checkpoint (" in note:
            lines.append(f"interrupted: {nodeid}; the next run {note}")
    return lines


def terminal_summary(
    reporter: pytest.TerminalReporter,
    session: MementoSession,
    exitstatus: int,
    running: Iterable[str] = (),
    extra: Iterable[str] = (),
) -> None:
    """The memento section; ``extra`` are lines to add after the counts
    (the time estimate's error)."""
    log = session.log
    stopped = interrupted_lines(session, running) if exitstatus == pytest.ExitCode.INTERRUPTED else []
    failures = session.store.failures
    if (not log.outcomes and not log.problems and not stopped and not failures) or reporter.verbosity < -1:
        return
    reporter.write_sep("-", "memento")
    if failures:
        reporter.write_line(f"error: {failures.describe(session.describe_store())}", red=True)
    settings = session.settings.report
    if settings.table != "off" and log.outcomes:
        hint = f"see {settings.exports[0]}" if settings.exports else "write them all with --memento-export results.csv"
        width = terminal_width(reporter.config)
        for line in format_table(log.outcomes.values(), width=width, mode=settings.table, export_hint=hint):
            reporter.write_line(line)
    counts = log.counts()
    parts = [f"{counts[status]} {status.value}" for status in Status if counts.get(status)]
    reporter.write_line(f"{len(log.outcomes)} configurations: {', '.join(parts)}; store: {session.describe_store()}")
    reasons = log.reasons()
    if reasons:
        reporter.write_line("ran because: " + ", ".join(f"{reason} ({n})" for reason, n in reasons.items()))
    not_run = log.not_run()
    if not_run:
        reporter.write_line("not run: " + ", ".join(f"{what} ({n})" for what, n in not_run.items()))
    for line in extra:
        reporter.write_line(line)
    for line in baseline_summary(session):
        reporter.write_line(line)
    for line in log.outputs:
        reporter.write_line(line)
    for line in stopped:
        reporter.write_line(line, yellow=True)
    shown = log.problems if reporter.verbosity > 0 else log.problems[:MAX_WARNINGS]
    for problem in shown:
        reporter.write_line(f"warning: {problem}", yellow=True)
    if len(shown) < len(log.problems):
        reporter.write_line(f"warning: ... and {len(log.problems) - len(shown)} more (-v shows them all)", yellow=True)


def baseline_summary(session: MementoSession) -> list[str]:
    """New, missing, improved and regressed configurations (never failed
    for being new or missing)."""
    baseline = session.settings.report.baseline
    if baseline is None:
        return []
    outcomes = [o for o in session.log.outcomes.values() if o.config_hash]
    judged = [(o, o.baseline) for o in outcomes if o.baseline is not None]
    regressed = [(o, text) for o, verdict in judged for text in verdict.regressions]
    improved = [(o, text) for o, verdict in judged for text in verdict.improved]
    new = [o for o, verdict in judged if verdict.verdict == "new"]
    experiments = {o.experiment for o in outcomes}
    seen = {(o.experiment, o.config_hash) for o in outcomes}
    missing = sorted(pair for pair in baseline.known() if pair[0] in experiments and pair not in seen)
    lines = [
        f"baseline {baseline.path}: {len({o.nodeid for o, _ in regressed})} worse, "
        f"{len({o.nodeid for o, _ in improved})} better, "
        f"{len(new)} new (not in the baseline), {len(missing)} missing from this run"
    ]
    lines += [f"  worse: {o.experiment}[{o.test_id}] {text}" for o, text in regressed]
    lines += [f"  better: {o.experiment}[{o.test_id}] {text}" for o, text in improved]
    lines += [f"  new: {o.experiment}[{o.test_id}]" for o in new[:SHOWN]]
    if len(new) > SHOWN:
        lines.append(f"  ... and {len(new) - SHOWN} more new")
    lines += [f"  missing: {baseline.label(*pair)}" for pair in missing[:SHOWN]]
    if len(missing) > SHOWN:
        lines.append(f"  ... and {len(missing) - SHOWN} more missing")
    return lines


def write_outputs(config: pytest.Config) -> None:
    """Controller only: exports and the baseline file, from the run log."""
    session = config.stash.get(SESSION_KEY, None)
    if session is None or hasattr(config, "workerinput"):
        return
    settings, log = session.settings.report, session.log
    outcomes = list(log.outcomes.values())
    for path in settings.exports:
        try:
            if path.suffix.lower() in (".tex", ".html"):
                write_paper_export(path, outcomes, session)
            elif path.suffix.lower() == ".md" and settings.baseline is not None:
                # The comparison first: what a CI job summary is read for.
                table = render(rows_from_run(outcomes), ".md")
                atomic_write(
                    path,
                    (
                        markdown(comparisons(session), baseline=_shown_path(settings.baseline.path)) + "\n" + table
                    ).encode(),
                )
            else:
                write_export(path, rows_from_run(outcomes))
            log.outputs.append(f"exported {len(outcomes)} configuration(s) to {path}")
        except (OSError, ValueError) as exc:
            log.problems.append(f"could not write {path}: {exc}")
    if settings.save_baseline is not None:
        # A member failed by the group gate still passed on its own: its metrics count.
        kept = [o.replace(status=Status.RAN) if o.nodeid in log.gated else o for o in outcomes]
        kept = [o for o in kept if o.status.finished]
        try:
            count = write_baseline(settings.save_baseline, kept, group_outcomes(kept))
            log.outputs.append(
                f"saved the metrics of {count} configuration(s) as a baseline in {settings.save_baseline}"
            )
        except (OSError, ValueError) as exc:
            log.problems.append(f"could not write the baseline {settings.save_baseline}: {exc}")


def _shown_path(path: Path | None) -> str:
    if path is None:
        return ""
    try:
        return os.path.relpath(path)
    except ValueError:  # another drive on Windows
        return str(path)


def write_paper_export(path: Path, outcomes: list[Outcome], session: MementoSession) -> None:
    """``.tex``: the run's table aggregated over replicates; ``.html``: the
    report, with each stored row's provenance read from the store (JSON)."""
    if path.suffix.lower() == ".tex":
        text = render_tables(group_outcomes(outcomes), Layout(), "tex")
        atomic_write(path, text.encode("utf-8"))
        return
    store = session.store
    store.refresh()  # xdist workers wrote what they ran

    def stored(key: str) -> dict[str, Any] | None:
        entry = store.get(key)
        try:
            return None if entry is None else store.meta(entry)
        except LookupError:
            return None

    records = records_from_run(outcomes, stored)
    write_report(
        path, records, source=f"{len(records)} configuration(s) of this run; store: {session.describe_store()}"
    )


def run_summary(outcomes: Iterable[Outcome], *, command: str, duration: float, exitstatus: int) -> dict[str, Any]:
    """The JSON-safe summary handed to ``pytest_memento_run_finished`` and
    the built-in notifiers."""
    outcomes = list(outcomes)
    counts = {status.value: 0 for status in Status}
    for outcome in outcomes:
        counts[outcome.status.value] += 1
    failures = [
        {"experiment": o.experiment or o.nodeid, "id": o.test_id, "config": dict(o.config), "error": o.error}
        for o in outcomes
        if o.status.broken
    ]
    return {
        "session": command,
        "duration": round(duration, 3),
        "exitstatus": int(exitstatus),
        "counts": counts,
        "failures": failures,
        "best": best_configurations(outcomes),
    }


def best_configurations(outcomes: Iterable[Outcome]) -> list[dict[str, Any]]:
    """Per experiment and metric, the configuration with the best value
    (lowest for ``goals`` "min", highest otherwise) among ran and cached."""
    best: dict[tuple[str, str], dict[str, Any]] = {}
    for outcome in sorted(outcomes, key=lambda o: o.test_id):
        if not outcome.status.finished:
            continue
        for metric, value in outcome.metrics.items():
            if value != value:  # NaN is never best
                continue
            goal = outcome.goals.get(metric, "max")
            slot = (outcome.experiment, metric)
            current = best.get(slot)
            if current is None or (value < current["value"] if goal == "min" else value > current["value"]):
                best[slot] = {
                    "experiment": outcome.experiment,
                    "metric": metric,
                    "goal": goal,
                    "value": value,
                    "id": outcome.test_id,
                    "config": dict(outcome.config),
                }
    return [best[slot] for slot in sorted(best)]


def finish(config: pytest.Config, exitstatus: int) -> None:
    """Controller only: the hook, then the built-in notifiers (whose
    failures are warnings, never a failed run)."""
    session = config.stash.get(SESSION_KEY, None)
    if session is None or hasattr(config, "workerinput") or not session.log.outcomes:
        return
    command = "pytest " + " ".join(config.invocation_params.args)
    summary = run_summary(
        session.log.outcomes.values(), command=command, duration=time.time() - session.started, exitstatus=exitstatus
    )
    config.hook.pytest_memento_run_finished(summary=summary)
    targets = session.settings.notifiers
    if targets.webhook or targets.email:
        session.log.problems.extend(
            notify_all(summary, webhook_url=targets.webhook, email=targets.email, env=os.environ)
        )
