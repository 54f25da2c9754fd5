"""The CI gate: this run's metrics against a committed baseline, knowing noise.

Replicated experiments (a ``replicates=`` axis, or a parameter named
``seed``) are compared per replicate group; the baseline holds each group's
``n``, ``mean`` and ``std``. For a metric, with ``d`` the change of the mean
in the worse direction (``baseline - now`` for a ``max`` goal, ``now -
baseline`` for ``min``, ``|now - baseline|`` without a goal) and

    se = sqrt(std_baseline**2 / n_baseline + std_now**2 / n_now)

(the standard error of the difference of the two means), the group is
*worse* when ``d > tolerance`` and ``d > k * se`` (``--memento-gate-sigma
k``, default 2). A change within tolerance never fails; a change beyond it
fails only when it is also unlikely to be seed noise. When either side has a
single member its ``std`` is unknown, so ``se`` cannot be computed and the
rule falls back to the tolerance alone (as for a configuration without
replicates); the verdict's rule says so. *Better* is the same test in the
other direction. Experiments without replicates are compared per
configuration (:mod:`.baseline`), as before.

Every comparison becomes a :class:`Verdict`; :func:`markdown` renders them
worst first for a CI job summary. Pure: no pytest.
"""

from __future__ import annotations

import math
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from typing import Any

from .aggregate import Group, Stats
from .baseline import Baseline, compare, tolerance_for
from .outcome import Outcome
from .records import value_labels, value_text

__all__ = ["DEFAULT_SIGMA", "Verdict", "compare_group", "config_verdicts", "group_verdicts", "markdown"]

DEFAULT_SIGMA = 2.0
#: Order of verdicts in the summary: worst first.
ORDER = {"worse": 0, "missing": 1, "new": 2, "better": 3, "same": 4}


@dataclass(frozen=True)
class Verdict:
    """One metric of one group (or configuration) against the baseline."""

    experiment: str
    subject: str
    metric: str
    verdict: str  # worse, better, same, new or missing
    baseline: str = ""
    now: str = ""
    change: float | None = None
    rule: str = ""
    #: The items that fail with it (worse only).
    nodeids: tuple[str, ...] = ()

    def describe(self) -> str:
        change = "" if self.change is None else f", change {self.change:+.4g}"
        return f"{self.metric}: baseline {self.baseline}, now {self.now}{change}; {self.rule}"


def _short_names(groups: Sequence[Group]) -> dict[tuple[str, str], dict[str, str]]:
    """Per experiment and parameter, short labels of its values (``SVC``)."""
    values: dict[tuple[str, str], list[Any]] = {}
    for group in groups:
        for name in group.parameters:
            values.setdefault((group.experiment, name), []).append(group.values.get(name))
    return {slot: value_labels(found) for slot, found in values.items()}


def _subject(group: Group, names: Mapping[tuple[str, str], Mapping[str, str]]) -> str:
    """``test_x.py::train[model=SVC, dataset=load_iris]``: the module's file
    name, the function and the group's parameters (settings left out)."""
    module, _, qualname = group.experiment.rpartition("::")
    shown = group.parameters or tuple(group.values)
    parts = []
    for name in shown:
        text = value_text(group.values.get(name))
        parts.append(f"{name}={names.get((group.experiment, name), {}).get(text, text)}")
    return f"{module.rsplit('/', 1)[-1]}::{qualname}[{', '.join(parts)}]"


def _spread(mean: float, std: float | None, n: int) -> str:
    return f"{mean:.4g} ± {std:.2g} (n={n})" if std is not None else f"{mean:.4g} (n={n})"


def compare_group(
    metric: str,
    base: Mapping[str, Any],
    now: Stats,
    goal: str | None,
    tolerance: float,
    sigma: float,
) -> tuple[str, float, str]:
    """``(verdict, change, rule)`` of one metric of one group; ``base`` is
    the baseline's ``{"n", "mean", "std"}``."""
    base_mean, base_n = float(base["mean"]), int(base.get("n") or 1)
    base_std = base.get("std")
    change = now.mean - base_mean
    worse_by = {"max": -change, "min": change}.get(goal or "", abs(change))
    better_by = {"max": change, "min": -change}.get(goal or "", 0.0)
    if base_std is None or now.std is None or base_n < 2 or now.n < 2:
        se = None
        rule = f"tolerance {tolerance:g} (n = 1 on one side: no spread to test against)"
    else:
        se = math.sqrt(float(base_std) ** 2 / base_n + now.std**2 / now.n)
        rule = f"tolerance {tolerance:g} and {sigma:g} standard errors of the difference ({sigma * se:.3g})"

    def beyond(amount: float) -> bool:
        return amount > tolerance and (se is None or amount > sigma * se)

    if math.isnan(now.mean) or math.isnan(base_mean):
        return ("worse" if math.isnan(now.mean) and not math.isnan(base_mean) else "same"), change, rule
    if beyond(worse_by):
        return "worse", change, f"worse beyond {rule}"
    if goal is not None and beyond(better_by):
        return "better", change, f"better beyond {rule}"
    return "same", change, f"within {rule}"


def group_verdicts(
    groups: Iterable[Group],
    baseline: Baseline,
    *,
    sigma: float,
    tolerances: Mapping[str, Any],
    override: float | None,
    nodeids: Mapping[str, str],
    experiments: Iterable[str] | None = None,
) -> list[Verdict]:
    """Verdicts of replicate groups of experiments whose baseline has groups;
    baseline groups of the run's experiments that did not run are ``missing``.
    ``tolerances`` maps an experiment to its matrix's ``tolerance=``,
    ``nodeids`` a member's key to its item (those fail with a worse group)."""
    verdicts: list[Verdict] = []
    seen: set[tuple[str, str]] = set()
    groups = [group for group in groups if group.replicates and baseline.groups(group.experiment) is not None]
    names = _short_names(groups)
    for group in groups:
        stored = baseline.groups(group.experiment) or {}
        seen.add((group.experiment, group.id))
        subject = _subject(group, names)
        entry = stored.get(group.id)
        members = tuple(nodeids[m.key] for m in (*group.members, *group.failed) if m.key in nodeids)
        if entry is None:
            verdicts.append(Verdict(group.experiment, subject, "*", "new", rule="not in the baseline"))
            continue
        for metric, now in group.stats.items():
            base = entry.get("metrics", {}).get(metric)
            if not isinstance(base, Mapping) or not isinstance(base.get("mean"), (int, float)):
                continue
            goal = group.goals.get(metric)
            verdict, change, rule = compare_group(
                metric, base, now, goal, tolerance_for(metric, tolerances.get(group.experiment), override), sigma
            )
            verdicts.append(
                Verdict(
                    group.experiment,
                    subject,
                    metric,
                    verdict,
                    _spread(float(base["mean"]), base.get("std"), int(base.get("n") or 1)),
                    _spread(now.mean, now.std, now.n),
                    change,
                    rule,
                    members if verdict == "worse" else (),
                )
            )
    run = set(experiments) if experiments is not None else {experiment for experiment, _ in seen}
    for experiment in sorted(run):
        for group_id, entry in (baseline.groups(experiment) or {}).items():
            if (experiment, group_id) not in seen:
                label = str(entry.get("label", group_id))
                verdicts.append(Verdict(experiment, f"{experiment}[{label}]", "*", "missing", rule="did not run"))
    return verdicts


def config_verdicts(outcomes: Iterable[Outcome], baseline: Baseline, *, override: float | None) -> list[Verdict]:
    """Per-configuration verdicts of experiments compared without groups."""
    verdicts: list[Verdict] = []
    for outcome in outcomes:
        if not outcome.config_hash or not outcome.status.finished or baseline.groups(outcome.experiment) is not None:
            continue
        subject = f"{outcome.experiment}[{outcome.test_id}]"
        stored = baseline.metrics(outcome.experiment, outcome.config_hash)
        if stored is None:
            verdicts.append(Verdict(outcome.experiment, subject, "*", "new", rule="not in the baseline"))
            continue
        for comparison in compare(outcome.metrics, stored, outcome.goals, outcome.tolerance, override):
            verdict = "worse" if comparison.worse else "better" if comparison.better else "same"
            verdicts.append(
                Verdict(
                    outcome.experiment,
                    subject,
                    comparison.metric,
                    verdict,
                    f"{comparison.baseline:.4g}",
                    f"{comparison.current:.4g}",
                    comparison.current - comparison.baseline,
                    f"tolerance {comparison.tolerance:g}",
                    (outcome.nodeid,) if verdict == "worse" else (),
                )
            )
    return verdicts


def _cell(text: str) -> str:
    return text.replace("|", "\\|").replace("\n", " ")


def markdown(verdicts: Sequence[Verdict], *, limit: int = 40, baseline: str = "") -> str:
    """The comparison as a Markdown table, worst first, at most ``limit``
    rows (the rest counted by verdict)."""
    ordered = sorted(verdicts, key=lambda v: (ORDER.get(v.verdict, 9), -abs(v.change or 0.0), v.subject, v.metric))
    counts: dict[str, int] = {}
    for verdict in ordered:
        counts[verdict.verdict] = counts.get(verdict.verdict, 0) + 1
    tally = ", ".join(f"{counts[name]} {name}" for name in ORDER if counts.get(name))
    lines = [f"### Against the baseline{f' `{baseline}`' if baseline else ''}: {tally or 'nothing compared'}", ""]
    if ordered:
        lines += ["| group / configuration | metric | baseline | now | change | verdict |", "|---|---|---|---|---|---|"]
        for verdict in ordered[:limit]:
            change = "" if verdict.change is None else f"{verdict.change:+.3g}"
            mark = {"worse": "**worse**"}.get(verdict.verdict, verdict.verdict)
            lines.append(
                f"| {_cell(verdict.subject)} | {_cell(verdict.metric)} | {verdict.baseline} | {verdict.now} | {change} | {mark} |"
            )
        rest = ordered[limit:]
        if rest:
            left: dict[str, int] = {}
            for verdict in rest:
                left[verdict.verdict] = left.get(verdict.verdict, 0) + 1
            lines.append("")
            lines.append("... and " + ", ".join(f"{n} more {name}" for name, n in left.items()))
    return "\n".join(lines) + "\n"
