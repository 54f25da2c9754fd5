"""Replicate groups and their statistics (DESIGN.md section 8).

A *group* is the configurations of one experiment (and one ``version``)
that are equal in everything but their replicate parameters: the seeds of
one model x dataset. Per group and metric: ``n``, ``mean``, ``std``
(``ddof=1``), ``sem`` (``std / sqrt(n)``), ``ci95`` (half-width of the 95 %
Student-t interval, ``t(0.975, n - 1) * sem``), ``min`` and ``max``. With
one member, ``std``, ``sem`` and ``ci95`` are None (undefined, not 0).
NaN and infinite values are left out (``n`` counts the rest).

A group with fewer members than the grid gives it is flagged with what is
missing: a replicate that failed (in a run), or one that never ran (named
when the other groups of the experiment have it, else counted).

:func:`group_records` is a pure function of records: the paper tables, the
HTML report, ``memento.results().aggregate()`` and the CI gate over
replicate groups all use it. The Student-t quantile is computed here (no
scipy): the t distribution's CDF through the regularized incomplete beta
function (a continued fraction), inverted by bisection.
"""

from __future__ import annotations

import functools
import json
import math
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

from .hashing import as_float
from .outcome import Outcome
from .records import Record, record_from_outcome, value_text

__all__ = [
    "SPREADS",
    "Group",
    "Stats",
    "group_outcomes",
    "group_records",
    "sort_key",
    "student_t_quantile",
    "summarize",
]

#: The spreads a table can show, as ``--spread`` names them.
SPREADS = ("std", "sem", "ci95")


# -- the Student-t quantile ------------------------------------------------


def _beta_fraction(a: float, b: float, x: float) -> float:
    """The continued fraction of the incomplete beta function (modified Lentz)."""
    tiny = 1e-300
    c, d = 1.0, 1.0 - (a + b) * x / (a + 1.0)
    d = 1.0 / (d if abs(d) > tiny else tiny)
    result = d
    for m in range(1, 500):
        # Even step, then odd step of the fraction.
        for numerator in (
            m * (b - m) * x / ((a + 2 * m - 1) * (a + 2 * m)),
            -(a + m) * (a + b + m) * x / ((a + 2 * m) * (a + 2 * m + 1)),
        ):
            d = 1.0 + numerator * d
            d = 1.0 / (d if abs(d) > tiny else tiny)
            c = 1.0 + numerator / c
            c = c if abs(c) > tiny else tiny
            step = c * d
            result *= step
        if abs(step - 1.0) < 3e-16:
            break
    return result


def regularized_beta(x: float, a: float, b: float) -> float:
    """I_x(a, b), the regularized incomplete beta function."""
    if x <= 0.0:
        return 0.0
    if x >= 1.0:
        return 1.0
    log_front = math.lgamma(a + b) - math.lgamma(a) - math.lgamma(b) + a * math.log(x) + b * math.log1p(-x)
    front = math.exp(log_front)
    # The fraction converges fast on this side of the mean; use symmetry otherwise.
    if x < (a + 1.0) / (a + b + 2.0):
        return front * _beta_fraction(a, b, x) / a
    return 1.0 - front * _beta_fraction(b, a, 1.0 - x) / b


def student_t_cdf(t: float, df: float) -> float:
    """P(T <= t) for Student's t with ``df`` degrees of freedom."""
    tail = 0.5 * regularized_beta(df / (df + t * t), df / 2.0, 0.5)
    return 1.0 - tail if t >= 0 else tail


@functools.cache
def student_t_quantile(p: float, df: float) -> float:
    """The ``p`` quantile of Student's t with ``df`` degrees of freedom."""
    if not 0.0 < p < 1.0 or not df > 0:
        raise ValueError(f"student_t_quantile needs 0 < p < 1 and df > 0, got p={p}, df={df}")
    if p < 0.5:
        return -student_t_quantile(1.0 - p, df)
    if p == 0.5:
        return 0.0
    if df == 1:  # Cauchy: exact
        return math.tan(math.pi * (p - 0.5))
    if df == 2:  # exact
        return (2.0 * p - 1.0) / math.sqrt(2.0 * p * (1.0 - p))
    low, high = 0.0, 1.0
    while student_t_cdf(high, df) < p:
        low, high = high, high * 2.0
    for _ in range(200):
        middle = (low + high) / 2.0
        if student_t_cdf(middle, df) < p:
            low = middle
        else:
            high = middle
        if high - low <= 1e-15 * high:
            break
    return (low + high) / 2.0


# -- statistics --------------------------------------------------------------


@dataclass(frozen=True)
class Stats:
    """One metric over the members of one group."""

    n: int
    mean: float
    std: float | None
    sem: float | None
    ci95: float | None
    min: float
    max: float

    def spread(self, kind: str) -> float | None:
        """``std``, ``sem`` or ``ci95``."""
        if kind not in SPREADS:
            raise ValueError(f"unknown spread {kind!r}; use one of {', '.join(SPREADS)}")
        value: float | None = getattr(self, kind)
        return value

    def to_json(self) -> dict[str, Any]:
        return {name: getattr(self, name) for name in ("n", "mean", "std", "sem", "ci95", "min", "max")}


def summarize(values: Iterable[float]) -> Stats | None:
    """The statistics of ``values`` (finite ones only); None when there are none."""
    finite = [float(v) for v in values if math.isfinite(v)]
    n = len(finite)
    if not n:
        return None
    mean = math.fsum(finite) / n
    if n == 1:
        return Stats(1, mean, None, None, None, finite[0], finite[0])
    std = math.sqrt(math.fsum((v - mean) ** 2 for v in finite) / (n - 1))
    sem = std / math.sqrt(n)
    ci95 = student_t_quantile(0.975, n - 1) * sem
    return Stats(n, mean, std, sem, ci95, min(finite), max(finite))


# -- groups ------------------------------------------------------------------


@dataclass(frozen=True)
class Group:
    """The replicates of one configuration of one experiment."""

    experiment: str
    #: The config the members share (replicate parameters left out), JSON-safe.
    values: Mapping[str, Any]
    replicates: tuple[str, ...]
    #: Members with a result (ran, cached, stored), in replicate order.
    members: tuple[Record, ...]
    #: Members of this run without one (failed, error, crashed, skipped).
    failed: tuple[Record, ...] = ()
    #: How many members the grid gives the group (0: not known).
    expected: int = 0
    #: What is missing, e.g. ``("seed=3 failed", "seed=4 never run")``.
    missing: tuple[str, ...] = ()
    stats: Mapping[str, Stats] = field(default_factory=dict)
    goals: Mapping[str, str] = field(default_factory=dict)
    version: Any = 0
    #: Parameters of the experiment (not settings), in declared order.
    parameters: tuple[str, ...] = ()

    @property
    def n(self) -> int:
        return len(self.members)

    @property
    def complete(self) -> bool:
        return not self.missing

    @property
    def id(self) -> str:
        """Stable across runs and machines: the shared config as canonical JSON."""
        return json.dumps(self.values, sort_keys=True, separators=(",", ":"), default=str)

    def label(self, names: Sequence[str] | None = None) -> str:
        """``model=SVC, lr=0.1`` (the values of ``names``, default all)."""
        shown = self.values if names is None else {name: self.values.get(name) for name in names}
        return ", ".join(f"{name}={value_text(value)}" for name, value in shown.items())

    def note(self) -> str:
        """Why the group is incomplete, e.g. ``4 of 5 (seed=3 failed)``; empty when complete."""
        if self.complete:
            return ""
        total = self.expected or self.n + len(self.missing)
        return f"{self.n} of {total} ({'; '.join(self.missing)})"


def replicate_text(record: Record, names: Sequence[str]) -> str:
    """``seed=3`` (or ``seed=3, fold=1``): which replicate a record is."""
    return ", ".join(f"{name}={value_text(record.config.get(name))}" for name in names)


def sort_key(value: Any) -> tuple[int, Any]:
    """Orders config values naturally: numbers by value, then strings, then the rest."""
    if isinstance(value, bool):
        return (0, int(value))
    if isinstance(value, (int, float)):
        return (0, value)
    if isinstance(value, str):
        return (1, value)
    return (2, value_text(value))


def _missing(group: list[Record], names: tuple[str, ...], expected: int, universe: Sequence[str]) -> tuple[str, ...]:
    present = {replicate_text(r, names) for r in group if r.finished}
    failed = [r for r in group if not r.finished]
    notes = [f"{replicate_text(r, names)} {r.status}" for r in failed]
    accounted = present | {replicate_text(r, names) for r in failed}
    candidates = [text for text in universe if text not in accounted]
    if not expected:
        return (*notes, *(f"{text} never run" for text in candidates))
    count = expected - len(present) - len(failed)
    if count <= 0:
        return tuple(notes)
    if len(candidates) == count:
        return (*notes, *(f"{text} never run" for text in candidates))
    named = [f"{text} never run" for text in candidates] if len(candidates) < count else []
    rest = count - len(named)
    return (*notes, *named, f"{rest} {'more ' if named else ''}never run")


def group_records(records: Iterable[Record], over: Sequence[str] | None = None) -> list[Group]:
    """Replicate groups of ``records``, sorted by experiment, then by
    their values. ``over`` overrides the replicate
    parameters (``()``: none, every configuration its own group)."""
    buckets: dict[tuple[str, tuple[str, ...], str, str], list[Record]] = {}
    shared: dict[tuple[str, tuple[str, ...], str, str], dict[str, Any]] = {}
    for record in records:
        if not record.experiment:
            continue  # a crashed worker's item that never said what it was
        names = record.replicate_names(over)
        values = {name: value for name, value in record.config.items() if name not in names}
        slot = (
            record.experiment,
            names,
            json.dumps(values, sort_keys=True, default=str),
            json.dumps(record.version, sort_keys=True, default=str),
        )
        buckets.setdefault(slot, []).append(record)
        shared.setdefault(slot, values)
    # The replicate values each experiment has anywhere: what a group lacks is named from these.
    universes: dict[tuple[str, tuple[str, ...]], dict[str, tuple[Any, ...]]] = {}
    for (experiment, names, _, _), members in buckets.items():
        seen = universes.setdefault((experiment, names), {})
        for record in members:
            seen[replicate_text(record, names)] = tuple(sort_key(record.config.get(name)) for name in names)
    groups: list[Group] = []
    for slot, members in buckets.items():
        experiment, names, _, _ = slot
        members.sort(key=lambda r: tuple(sort_key(r.config.get(name)) for name in names))
        seen = universes[(experiment, names)]
        universe = sorted(seen, key=lambda text: seen[text])
        trusted = over is None or all(tuple(over) == r.replicate_names() for r in members)
        expected = max((r.group_size for r in members), default=0) if trusted and names else 0
        finished = [r for r in members if r.finished]
        metrics = list(dict.fromkeys(name for r in finished for name in r.metrics))
        stats = {}
        for metric in metrics:
            found = summarize(as_float(r.metrics[metric]) for r in finished if metric in r.metrics)
            if found is not None:
                stats[metric] = found
        goals = next((r.goals for r in members if r.goals), {})
        parameters = next((r.parameters for r in members if r.parameters), ())
        groups.append(
            Group(
                experiment=experiment,
                values=shared[slot],
                replicates=names,
                members=tuple(finished),
                failed=tuple(r for r in members if not r.finished),
                expected=expected,
                missing=_missing(members, names, expected, universe) if names else (),
                stats=stats,
                goals=dict(goals),
                version=members[0].version,
                parameters=tuple(name for name in parameters if name not in names),
            )
        )
    groups.sort(key=lambda g: (g.experiment, tuple(sort_key(v) for v in g.values.values())))
    return groups


def group_outcomes(outcomes: Iterable[Outcome], over: Sequence[str] | None = None) -> list[Group]:
    """Replicate groups of a run's outcomes (see :func:`group_records`)."""
    return group_records((record_from_outcome(o) for o in outcomes if o.experiment), over)
