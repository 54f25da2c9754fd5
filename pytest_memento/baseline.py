"""Metric baselines: a committed JSON file of metrics per configuration, and
the comparison that fails a configuration whose metric got worse.

A baseline file::

    {
     "format": "pytest-memento-baseline/1",
     "experiments": {
      "experiments/test_x.py::train": {
       "<config hash>": {"id": "SVC-load_iris-0", "config": {...}, "metrics": {"accuracy": 0.95}}
      }
     }
    }

Replicated experiments also get their replicate groups, which the CI gate
(:mod:`.gate`) compares instead of single configurations::

     "groups": {
      "experiments/test_x.py::train": {
       "<group id: the shared config as canonical JSON>": {
        "label": "model=SVC", "replicates": ["seed"],
        "metrics": {"accuracy": {"n": 3, "mean": 0.95, "std": 0.01}}}}}

Configurations are matched by the experiment and config (not the version,
not the code), so a baseline survives refactoring. Writing a baseline
replaces the experiments of the run and keeps every other experiment of the
file. Pure: no pytest.
"""

from __future__ import annotations

import json
import math
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from .files import atomic_write
from .hashing import as_float, jsonable
from .outcome import BaselineVerdict, Outcome

__all__ = [
    "FORMAT",
    "Baseline",
    "BaselineError",
    "Comparison",
    "check_goals",
    "compare",
    "judge",
    "not_reproduced",
    "tolerance_for",
    "write_baseline",
]

FORMAT = "pytest-memento-baseline/1"
GOALS = ("max", "min")


class BaselineError(Exception):
    """A baseline file is missing, unreadable or malformed."""


def check_goals(goals: Any, tolerance: Any) -> str | None:
    """Why ``goals``/``tolerance`` of a matrix are invalid, or None."""
    if goals is not None:
        if not isinstance(goals, Mapping):
            return f"goals must be a dict of metric -> 'max' or 'min', got {goals!r}"
        for metric, goal in goals.items():
            if goal not in GOALS:
                return f"goals[{metric!r}] must be 'max' or 'min', got {goal!r}"
    if tolerance is not None:
        values = tolerance.values() if isinstance(tolerance, Mapping) else [tolerance]
        for value in values:
            if isinstance(value, bool) or not isinstance(value, (int, float)) or not value >= 0:
                return f"tolerance must be a number >= 0 or a dict of metric -> number >= 0, got {tolerance!r}"
    return None


def tolerance_for(metric: str, tolerance: Any, override: float | None) -> float:
    if override is not None:
        return override
    if isinstance(tolerance, Mapping):
        return float(tolerance.get(metric, 0.0))
    return float(tolerance or 0.0)


@dataclass(frozen=True)
class Comparison:
    """One metric of one configuration against the baseline."""

    metric: str
    baseline: float
    current: float
    tolerance: float
    goal: str | None

    # NaN and infinities (also for --memento-verify, which compares without goals):
    # - NaN equals only NaN, and an infinity only itself: "same", never worse;
    # - a metric that became NaN is worse; one that was NaN and is now a
    #   number is better with a goal and a change (so worse) without one;
    # - infinities otherwise compare as numbers (+inf is the best "max").

    @property
    def same(self) -> bool:
        return self.current == self.baseline or (math.isnan(self.current) and math.isnan(self.baseline))

    @property
    def worse(self) -> bool:
        if self.same:
            return False
        if math.isnan(self.current):
            return True
        if math.isnan(self.baseline):
            return self.goal is None
        if self.goal == "max":
            return self.current < self.baseline - self.tolerance
        if self.goal == "min":
            return self.current > self.baseline + self.tolerance
        return abs(self.current - self.baseline) > self.tolerance

    @property
    def better(self) -> bool:
        if self.same or math.isnan(self.current):
            return False
        if math.isnan(self.baseline):
            return self.goal is not None
        if self.goal == "max":
            return self.current > self.baseline + self.tolerance
        if self.goal == "min":
            return self.current < self.baseline - self.tolerance
        return False

    def describe(self) -> str:
        direction = {"max": "higher is better", "min": "lower is better"}.get(
            self.goal or "", "no goal: any change counts"
        )
        return (
            f"{self.metric}: baseline {self.baseline:.6g}, now {self.current:.6g} "
            f"(change {self.current - self.baseline:+.6g}, tolerance {self.tolerance:g}, {direction})"
        )


def compare(
    current: Mapping[str, Any],
    stored: Mapping[str, Any],
    goals: Mapping[str, str] | None,
    tolerance: Any,
    override: float | None,
) -> list[Comparison]:
    """Every metric present in both, compared."""
    results = []
    for metric, baseline in stored.items():
        value = current.get(metric)
        if not isinstance(value, (int, float)) or not _is_number(value) or not _is_number(baseline):
            continue
        results.append(
            Comparison(
                metric,
                as_float(baseline),
                as_float(value),
                tolerance_for(metric, tolerance, override),
                (goals or {}).get(metric),
            )
        )
    return results


#: How non-finite metrics are written to a baseline file (JSON has no NaN).
_NON_FINITE = {"nan": math.nan, "inf": math.inf, "-inf": -math.inf}


def _baseline_number(value: Any) -> float | int | None:
    """A metric as a baseline file holds it: a number, or ``"nan"``,
    ``"inf"``, ``"-inf"``; None for anything else."""
    if isinstance(value, str):
        return _NON_FINITE.get(value.strip().lower())
    return value if _is_number(value) else None


def _is_number(value: Any) -> bool:
    return isinstance(value, (int, float)) and not isinstance(value, bool)


class Baseline:
    """A loaded baseline file."""

    def __init__(
        self,
        experiments: Mapping[str, Mapping[str, Mapping[str, Any]]],
        path: Path | None = None,
        groups: Mapping[str, Mapping[str, Mapping[str, Any]]] | None = None,
    ) -> None:
        self.experiments = experiments
        self.path = path
        #: experiment -> group id -> {"label", "replicates", "metrics": {metric: {"n", "mean", "std"}}}
        self.group_entries = groups or {}

    def groups(self, experiment: str) -> Mapping[str, Mapping[str, Any]] | None:
        """The replicate groups of ``experiment``, or None when the baseline
        compares it per configuration."""
        return self.group_entries.get(experiment)

    @classmethod
    def load(cls, path: Path) -> Baseline:
        try:
            data = json.loads(path.read_text(encoding="utf-8"))
        except FileNotFoundError:
            raise BaselineError(f"{path}: no such file (write one with --memento-save-baseline)") from None
        except (OSError, UnicodeDecodeError) as exc:
            raise BaselineError(f"{path}: cannot be read: {exc}") from None
        except ValueError as exc:
            raise BaselineError(f"{path}: not valid JSON: {exc}") from None
        if not isinstance(data, dict) or data.get("format") != FORMAT:
            raise BaselineError(f'{path}: not a pytest-memento baseline (expected "format": "{FORMAT}")')
        experiments = data.get("experiments")
        if not isinstance(experiments, dict) or not all(
            isinstance(configs, dict)
            and all(isinstance(entry, dict) and isinstance(entry.get("metrics"), dict) for entry in configs.values())
            for configs in experiments.values()
        ):
            raise BaselineError(f'{path}: "experiments" must map experiment -> config hash -> {{"metrics": {{...}}}}')
        for experiment, configs in experiments.items():
            for config_hash, entry in configs.items():
                for metric, value in entry["metrics"].items():
                    number = _baseline_number(value)
                    if number is None:
                        where = f"{experiment}[{entry.get('id', config_hash[:12])}]"
                        raise BaselineError(f"{path}: {where}: metric {metric!r} is {value!r}, not a number")
                    entry["metrics"][metric] = number
        groups = data.get("groups", {})
        if not isinstance(groups, dict) or not all(
            isinstance(entries, dict)
            and all(isinstance(e, dict) and isinstance(e.get("metrics"), dict) for e in entries.values())
            for entries in groups.values()
        ):
            raise BaselineError(f'{path}: "groups" must map experiment -> group -> {{"metrics": {{...}}}}')
        for experiment, entries in groups.items():
            for entry in entries.values():
                for metric, stats in entry["metrics"].items():
                    mean = _baseline_number(stats.get("mean")) if isinstance(stats, dict) else None
                    if mean is None:
                        where = f"{experiment}[{entry.get('label', '?')}]"
                        raise BaselineError(
                            f"{path}: group {where}: metric {metric!r} needs a numeric mean, got {stats!r}"
                        )
                    stats["mean"] = mean
        return cls(experiments, path, groups)

    def metrics(self, experiment: str, config_hash: str) -> Mapping[str, Any] | None:
        entry = self.experiments.get(experiment, {}).get(config_hash)
        return entry.get("metrics") if entry is not None else None

    def known(self) -> set[tuple[str, str]]:
        return {
            (experiment, config_hash) for experiment, configs in self.experiments.items() for config_hash in configs
        }

    def label(self, experiment: str, config_hash: str) -> str:
        entry = self.experiments.get(experiment, {}).get(config_hash, {})
        return f"{experiment}[{entry.get('id', config_hash[:12])}]"


def judge(
    metrics: Mapping[str, Any],
    baseline: Mapping[str, Any] | None,
    goals: Mapping[str, str] | None,
    tolerance: Any,
    override: float | None,
) -> tuple[BaselineVerdict, list[Comparison]]:
    """How ``metrics`` compare with a configuration's ``baseline`` metrics
    (None: the configuration is not in the baseline), and the worse ones."""
    if baseline is None:
        return BaselineVerdict("new"), []
    comparisons = compare(metrics, baseline, goals, tolerance, override)
    worse = [c for c in comparisons if c.worse]
    verdict = BaselineVerdict(
        "worse" if worse else "ok",
        regressions=tuple(c.describe() for c in worse),
        improved=tuple(c.describe() for c in comparisons if c.better),
    )
    return verdict, worse


def not_reproduced(
    metrics: Mapping[str, Any], stored: Mapping[str, Any], tolerance: Any, override: float | None
) -> list[str]:
    """--memento-verify: one line per stored metric that the re-run did not
    reproduce within tolerance, in either direction, or did not give at all."""
    differ = [c for c in compare(metrics, stored, None, tolerance, override) if c.worse]
    lines = [f"  {c.metric}: stored {c.baseline:.6g}, now {c.current:.6g} (tolerance {c.tolerance:g})" for c in differ]
    lines += [f"  {name}: stored {stored[name]!r}, now missing" for name in sorted(set(stored) - set(metrics))]
    return lines


def write_baseline(path: Path, outcomes: Iterable[Outcome], groups: Iterable[Any] = ()) -> int:
    """Write the metrics of ``outcomes`` (and the statistics of their
    replicate ``groups``, :class:`~.aggregate.Group`) as a stable, sorted,
    diffable baseline. The experiments of ``outcomes`` are replaced; every
    other experiment already in the file is kept. Returns the number of
    configurations written for this run's experiments."""
    outcomes = list(outcomes)
    experiments: dict[str, dict[str, Any]] = {}
    ran = {outcome.experiment for outcome in outcomes if outcome.experiment}
    for outcome in outcomes:
        if not outcome.metrics or not outcome.config_hash:
            continue
        experiments.setdefault(outcome.experiment, {})[outcome.config_hash] = {
            "id": outcome.test_id,
            "config": dict(outcome.config),
            "metrics": {name: jsonable(value) for name, value in outcome.metrics.items()},
        }
    written = sum(len(configs) for configs in experiments.values())
    group_entries: dict[str, dict[str, Any]] = {}
    for group in groups:
        if not group.replicates or not group.stats:
            continue
        group_entries.setdefault(group.experiment, {})[group.id] = {
            "label": group.label(),
            "replicates": list(group.replicates),
            "metrics": {
                name: {"n": stats.n, "mean": jsonable(stats.mean), "std": jsonable(stats.std)}
                for name, stats in group.stats.items()
            },
        }
    kept_groups: Mapping[str, Any] = {}
    if path.exists():
        try:
            old = Baseline.load(path)
        except BaselineError:
            old = None  # a broken file is replaced, not merged
        if old is not None:
            experiments = {**{e: dict(c) for e, c in old.experiments.items() if e not in ran}, **experiments}
            kept_groups = {e: dict(g) for e, g in old.group_entries.items() if e not in ran}
    document: dict[str, Any] = {"format": FORMAT, "experiments": _finite(experiments)}
    all_groups = {**kept_groups, **group_entries}
    if all_groups:
        document["groups"] = _finite(all_groups)
    text = json.dumps(document, indent=1, sort_keys=True, allow_nan=False) + "\n"
    atomic_write(path, text.encode())
    return written


def _finite(value: Any) -> Any:
    """``value`` with non-finite floats written as ``"nan"``, ``"inf"``, ``"-inf"``."""
    if isinstance(value, float) and not math.isfinite(value):
        return "nan" if math.isnan(value) else ("inf" if value > 0 else "-inf")
    if isinstance(value, dict):
        return {k: _finite(v) for k, v in value.items()}
    if isinstance(value, list):
        return [_finite(v) for v in value]
    return value
