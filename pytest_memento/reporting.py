"""The end of a run, on the controller: the run log kept from reports, the
terminal section (table, reasons, baseline summary, warnings) and the files
written (exports, baseline)."""

from __future__ import annotations

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
                rows[report.nodeid] = {"nodeid": report.nodeid, "outcome": "crashed", "reason": "worker died"}
            return
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
        for line in format_table(log.rows.values(), width=reporter._tw.fullwidth if hasattr(reporter, "_tw") else 100, mode=settings.table, export_hint=hint):
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
    for problem in log.problems:
        reporter.write_line(f"warning: {problem}", yellow=True)


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
    lines += [f"  worse: {row['experiment']}[{row['test_id']}] {text}" for row in regressed for text in row["regressions"]]
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
            log.outputs.append(f"saved the metrics of {count} configuration(s) as a baseline in {settings.save_baseline}")
        except (OSError, ValueError) as exc:
            log.problems.append(f"could not write the baseline {settings.save_baseline}: {exc}")

