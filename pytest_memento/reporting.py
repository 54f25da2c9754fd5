"""The end of a run, on the controller: the run log kept from reports, the
terminal section (table, reasons, baseline summary, warnings) and the files
written (exports, baseline)."""

from __future__ import annotations

from typing import Any

import pytest

from .baseline import write_baseline
from .keys import SESSION_KEY
from .report import format_table, rows_from_run, write_export
from .session import CACHED, MementoSession


class ReportObserver:
    """Keeps the run log from reports (on the xdist controller too)."""

    def __init__(self, session: MementoSession) -> None:
        self.session = session

    def pytest_runtest_logreport(self, report: pytest.TestReport) -> None:
        info = getattr(report, "memento", None)
        rows = self.session.log.rows
        if info is None:
            if report.when == "teardown" and report.failed and report.nodeid in rows:
                rows[report.nodeid]["outcome"] = "error"
            elif report.failed and report.when not in ("setup", "call", "teardown"):
                # xdist's report for an item whose worker died.
                rows[report.nodeid] = {
                    "nodeid": report.nodeid,
                    "outcome": "crashed",
                    "reason": "worker died",
                    "error": _error_line(report),
                }
            return
        if report.failed:
            info = {**info, "error": _error_line(report)}
        if info.get("cached") and report.passed:
            outcome = CACHED
        elif report.when == "setup" and report.failed:
            outcome = "error"
        else:
            outcome = report.outcome
        self.session.log.record(report.nodeid, info, outcome)


def terminal_summary(reporter: pytest.TerminalReporter, session: MementoSession) -> None:
    log = session.log
    if (not log.rows and not log.problems) or reporter.verbosity < -1:
        return
    reporter.write_sep("-", "memento")
    settings = session.report
    if settings.table != "off" and log.rows:
        hint = f"see {settings.exports[0]}" if settings.exports else "write them all with --memento-export results.csv"
        for line in format_table(
            log.rows.values(),
            width=reporter._tw.fullwidth if hasattr(reporter, "_tw") else 100,
            mode=settings.table,
            export_hint=hint,
        ):
            reporter.write_line(line)
    counts = log.counts()
    order = ["passed", CACHED, "failed", "error", "skipped"]
    parts = [f"{counts[name]} {'ran' if name == 'passed' else name}" for name in order if counts.get(name)]
    parts += [f"{n} {name}" for name, n in counts.items() if name not in order]
    reporter.write_line(f"{len(log.rows)} configurations: {', '.join(parts)}; store: {session.describe_store()}")
    reasons = log.reasons()
    if reasons:
        reporter.write_line("ran because: " + ", ".join(f"{reason} ({n})" for reason, n in reasons.items()))
    for line in baseline_summary(session):
        reporter.write_line(line)
    for line in log.outputs:
        reporter.write_line(line)
    shown = log.problems if reporter.verbosity > 0 else log.problems[:MAX_WARNINGS]
    for problem in shown:
        reporter.write_line(f"warning: {problem}", yellow=True)
    if len(shown) < len(log.problems):
        reporter.write_line(f"warning: ... and {len(log.problems) - len(shown)} more (-v shows them all)", yellow=True)


def baseline_summary(session: MementoSession) -> list[str]:
    """New, missing, improved and regressed configurations (never failed
    for being new or missing)."""
    baseline = session.report.baseline
    if baseline is None:
        return []
    rows = [row for row in session.log.rows.values() if "config_hash" in row]
    regressed = [row for row in rows if row.get("regressions")]
    improved = [row for row in rows if row.get("improved")]
    new = [row for row in rows if row.get("baseline") == "new"]
    experiments = {row["experiment"] for row in rows}
    seen = {(row["experiment"], row["config_hash"]) for row in rows}
    missing = sorted(pair for pair in baseline.known() if pair[0] in experiments and pair not in seen)
    lines = [
        f"baseline {baseline.path}: {len(regressed)} worse, {len(improved)} better, "
        f"{len(new)} new (not in the baseline), {len(missing)} missing from this run"
    ]
    lines += [
        f"  worse: {row['experiment']}[{row['test_id']}] {text}" for row in regressed for text in row["regressions"]
    ]
    lines += [f"  better: {row['experiment']}[{row['test_id']}] {text}" for row in improved for text in row["improved"]]
    lines += [f"  new: {row['experiment']}[{row['test_id']}]" for row in new[:20]]
    lines += [f"  missing: {baseline.label(*pair)}" for pair in missing[:20]]
    return lines


def write_outputs(config: pytest.Config) -> None:
    """Controller only: exports and the baseline file, from the run log."""
    session = config.stash.get(SESSION_KEY, None)
    if session is None or hasattr(config, "workerinput"):
        return
    settings, log = session.report, session.log
    records = list(log.rows.values())
    for path in settings.exports:
        try:
            write_export(path, rows_from_run(records))
            log.outputs.append(f"exported {len(records)} configuration(s) to {path}")
        except (OSError, ValueError) as exc:
            log.problems.append(f"could not write {path}: {exc}")
    if settings.save_baseline is not None:
        kept = [row for row in records if row.get("outcome") in ("passed", CACHED)]
        try:
            count = write_baseline(settings.save_baseline, kept)
            log.outputs.append(
                f"saved the metrics of {count} configuration(s) as a baseline in {settings.save_baseline}"
            )
        except (OSError, ValueError) as exc:
            log.problems.append(f"could not write the baseline {settings.save_baseline}: {exc}")


def _error_line(report: pytest.TestReport) -> str:
    lines = [line for line in report.longreprtext.splitlines() if line.strip()]
    errors = [line for line in lines if line.startswith("E ")]
    return (errors[0][1:].strip() if errors else lines[-1].strip() if lines else report.outcome)[:300]


#: Warnings listed at the end of a run without -v.
MAX_WARNINGS = 20

COUNTED = {
    "passed": "ran",
    CACHED: "cached",
    "failed": "failed",
    "error": "error",
    "skipped": "skipped",
    "crashed": "crashed",
}


def run_summary(session: MementoSession, *, command: str, duration: float, exitstatus: int) -> dict[str, Any]:
    """The JSON-safe summary handed to ``pytest_memento_run_finished`` and
    the built-in notifiers."""
    rows = list(session.log.rows.values())
    counts = dict.fromkeys(COUNTED.values(), 0)
    for row in rows:
        name = COUNTED.get(row.get("outcome", ""), str(row.get("outcome", "")))
        counts[name] = counts.get(name, 0) + 1
    failures = [
        {
            "experiment": row.get("experiment", row.get("nodeid", "")),
            "id": row.get("test_id", ""),
            "config": row.get("config", {}),
            "error": row.get("error", ""),
        }
        for row in rows
        if row.get("outcome") in ("failed", "error", "crashed")
    ]
    return {
        "session": command,
        "duration": round(duration, 3),
        "exitstatus": int(exitstatus),
        "counts": counts,
        "failures": failures,
        "best": best_configurations(rows),
    }


def best_configurations(rows: list[dict[str, Any]]) -> list[dict[str, Any]]:
    """Per experiment and metric, the configuration with the best value
    (lowest for ``goals`` "min", highest otherwise) among ran and cached."""
    best: dict[tuple[str, str], dict[str, Any]] = {}
    for row in sorted(rows, key=lambda row: str(row.get("test_id", ""))):
        if row.get("outcome") not in ("passed", CACHED):
            continue
        goals = row.get("goals") or {}
        for metric, value in (row.get("metrics") or {}).items():
            if not isinstance(value, (int, float)) or isinstance(value, bool) or value != value:
                continue
            goal = goals.get(metric, "max")
            slot = (row["experiment"], metric)
            current = best.get(slot)
            if current is None or (value < current["value"] if goal == "min" else value > current["value"]):
                best[slot] = {
                    "experiment": row["experiment"],
                    "metric": metric,
                    "goal": goal,
                    "value": value,
                    "id": row.get("test_id", ""),
                    "config": row.get("config", {}),
                }
    return [best[slot] for slot in sorted(best)]


def finish(config: pytest.Config, exitstatus: int) -> None:
    """Controller only: the hook, then the built-in notifiers (whose
    failures are warnings, never a failed run)."""
    session = config.stash.get(SESSION_KEY, None)
    if session is None or hasattr(config, "workerinput") or not session.log.rows:
        return
    import os
    import time

    from .notify import notify_all

    command = "pytest " + " ".join(config.invocation_params.args)
    summary = run_summary(session, command=command, duration=time.time() - session.started, exitstatus=exitstatus)
    config.hook.pytest_memento_run_finished(summary=summary)
    targets = session.notifiers
    if targets.webhook or targets.email:
        session.log.problems.extend(
            notify_all(summary, webhook_url=targets.webhook, email=targets.email, env=os.environ)
        )
