"""``--memento-plan``: what a run would do, counted per experiment, and how
long it would take, estimated from stored durations.

Each selected configuration is decided as the run would decide it (see
:mod:`.decide`) and put in one category: cached, stale (with the reason),
new, failed last time, forced (``--memento-rerun``, ``--memento-verify``),
not cached (skipped under ``--memento-cached-only``) or error. A
configuration that will run is estimated at its own last stored duration
when it has one (a stale, forced or failed one), else at the median of the
stored durations of its experiment, else it is unknown. The wall time
spreads the known durations over the workers, longest first, each to the
worker that is free first. Pure: no pytest.
"""

from __future__ import annotations

import heapq
import statistics
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field

__all__ = [
    "CATEGORIES",
    "ExperimentPlan",
    "Planned",
    "category_of",
    "estimates",
    "format_seconds",
    "plan_experiments",
    "render",
    "wall_time",
]

#: In the order they are printed.
CATEGORIES = ("cached", "stale", "new", "failed last time", "forced", "not cached", "error")
#: Categories whose configurations run.
RUNS = frozenset({"stale", "new", "failed last time", "forced", "error"})


def category_of(action: str, reason: str) -> str:
    """The category of a decision (``action`` is :class:`~.decide.Action`'s value)."""
    if action == "cached":
        return "cached"
    if action == "not-cached":
        return "not cached"
    if reason == "new configuration":
        return "new"
    if reason == "last run failed":
        return "failed last time"
    if reason in ("--memento-rerun", "--memento-verify"):
        return "forced"
    return "stale"


@dataclass(frozen=True)
class Planned:
    """One selected configuration: its experiment, category, reason and its
    own last stored duration (None when nothing is stored for it)."""

    experiment: str
    category: str
    reason: str = ""
    duration: float | None = None


@dataclass
class ExperimentPlan:
    """The counts and the estimate of one experiment."""

    experiment: str
    counts: dict[str, int] = field(default_factory=dict)
    #: Why the stale ones run (and errors: why they will error), with counts.
    reasons: dict[str, int] = field(default_factory=dict)
    #: Estimated seconds of each configuration that runs and has an estimate.
    estimates: list[float] = field(default_factory=list)
    #: Configurations that run without any estimate.
    unknown: int = 0

    @property
    def total(self) -> int:
        return sum(self.counts.values())


def estimates(planned: Sequence[Planned], stored: Mapping[str, Sequence[float]]) -> list[float | None]:
    """The estimated seconds of each of ``planned``, in order: None for one
    that does not run or has nothing to be estimated from. ``stored`` gives
    each experiment's stored durations (all its configurations that have a
    result, selected or not)."""
    medians: dict[str, float | None] = {}
    found: list[float | None] = []
    for item in planned:
        if item.category not in RUNS:
            found.append(None)
            continue
        if item.experiment not in medians:
            durations = stored.get(item.experiment, ())
            medians[item.experiment] = statistics.median(durations) if durations else None
        estimate = item.duration if item.duration is not None else medians[item.experiment]
        found.append(None if estimate is None else max(0.0, estimate))
    return found


def plan_experiments(planned: Iterable[Planned], stored: Mapping[str, Sequence[float]]) -> list[ExperimentPlan]:
    """One :class:`ExperimentPlan` per experiment, in the order first met;
    ``stored`` as for :func:`estimates`."""
    chosen = list(planned)
    plans: dict[str, ExperimentPlan] = {}
    for item, estimate in zip(chosen, estimates(chosen, stored), strict=True):
        plan = plans.get(item.experiment)
        if plan is None:
            plan = plans[item.experiment] = ExperimentPlan(item.experiment)
        plan.counts[item.category] = plan.counts.get(item.category, 0) + 1
        if item.category in ("stale", "error"):
            plan.reasons[item.reason] = plan.reasons.get(item.reason, 0) + 1
        if item.category not in RUNS:
            continue
        if estimate is None:
            plan.unknown += 1
        else:
            plan.estimates.append(estimate)
    return list(plans.values())


def wall_time(durations: Iterable[float], workers: int, busy: Iterable[float] = ()) -> float:
    """The wall time of ``durations`` over ``workers``: longest first, each
    to the worker free first (what xdist's load scheduling comes close to).
    ``busy`` are the seconds left to workers already busy (one per worker)."""
    free = [max(0.0, seconds) for seconds in busy]
    free += [0.0] * (max(1, workers) - len(free))
    heapq.heapify(free)
    for duration in sorted(durations, reverse=True):
        heapq.heappush(free, heapq.heappop(free) + duration)
    return max(free)


def format_seconds(seconds: float) -> str:
    """``0.4s``, ``12s``, ``3m 05s``, ``2h 10m``."""
    if seconds < 10:
        return f"{seconds:.1f}s"
    whole = round(seconds)
    if whole < 60:
        return f"{whole}s"
    if whole < 3600:
        return f"{whole // 60}m {whole % 60:02d}s"
    return f"{whole // 3600}h {whole % 3600 // 60:02d}m"


def _counts(counts: Mapping[str, int]) -> str:
    return ", ".join(f"{counts[name]} {name}" for name in CATEGORIES if counts.get(name)) or "nothing selected"


def _estimate(estimates: Sequence[float], unknown: int, workers: int) -> str:
    runs = len(estimates) + unknown
    if not runs:
        return "nothing to run"
    if not estimates:
        return f"{runs} to run, time unknown (nothing stored to estimate from)"
    text = f"{runs} to run, about {format_seconds(wall_time(estimates, workers))}"
    return text + (f" (+ {unknown} of unknown duration)" if unknown else "")


def render(plans: Sequence[ExperimentPlan], workers: int) -> list[str]:
    """The plan as terminal lines: one line per experiment (its reasons
    indented below it), then the total over ``workers``."""
    lines = []
    for plan in plans:
        lines.append(
            f"{plan.experiment}: {plan.total} configurations: {_counts(plan.counts)}; "
            f"{_estimate(plan.estimates, plan.unknown, 1)}"
        )
        for reason, count in sorted(plan.reasons.items(), key=lambda pair: (-pair[1], pair[0])):
            lines.append(f"    {reason} ({count})")
    counts: dict[str, int] = {}
    for plan in plans:
        for name, count in plan.counts.items():
            counts[name] = counts.get(name, 0) + count
    estimates = [seconds for plan in plans for seconds in plan.estimates]
    unknown = sum(plan.unknown for plan in plans)
    on = f"{workers} workers" if workers > 1 else "1 process"
    lines.append(
        f"total: {sum(counts.values())} configurations: {_counts(counts)}; "
        f"{_estimate(estimates, unknown, workers)} on {on}; nothing was run"
    )
    return lines
