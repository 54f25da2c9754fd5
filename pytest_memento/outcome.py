"""The outcome of one configuration in one run: one frozen record.

An :class:`Outcome` is built on the process that ran (or reported) the
item, rides on its pytest report as ``report.memento`` (``to_json()``: plain
JSON, so it crosses from xdist workers untouched) and is read back on the
controller with ``from_json()``. The run log, the terminal table, exports,
baselines, notifications and pytest-json-report metadata are all functions
over a list of these records. Pure: no pytest.

``to_json()`` gives a flat object::

    {"nodeid", "status", "reason", "cached", "experiment", "test_id", "key",
     "config_hash", "config", "parameters", "labels", "metrics", "duration",
     "problems", "executed", "error"?, "goals"?, "replicates"?, "group_size"?,
     "checkpoint_saves"?, "resumed"?, "checkpoint_ignored"?, "verified"?,
     "baseline"?, "regressions"?, "improved"?}

(keys marked ``?`` appear only when they say something).
"""

from __future__ import annotations

import dataclasses
import enum
import numbers
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

__all__ = ["BaselineVerdict", "CheckpointNote", "Outcome", "Status", "metrics_of", "status_of"]


class Status(str, enum.Enum):
    """What happened to a configuration, as tables and exports say it."""

    RAN = "ran"
    CACHED = "cached"
    FAILED = "failed"
    ERROR = "error"
    SKIPPED = "skipped"
    CRASHED = "crashed"

    @property
    def finished(self) -> bool:
        """Whether the configuration has a result (it ran and passed, or is stored)."""
        return self in (Status.RAN, Status.CACHED)

    @property
    def broken(self) -> bool:
        """Whether the configuration did not give a result because something went wrong."""
        return self in (Status.FAILED, Status.ERROR, Status.CRASHED)


def status_of(when: str, outcome: str, cached: bool) -> Status:
    """The status a pytest report of phase ``when`` with ``outcome`` gives."""
    if outcome == "passed":
        return Status.CACHED if cached else Status.RAN
    if outcome == "skipped":
        return Status.SKIPPED
    return Status.FAILED if when == "call" else Status.ERROR


@dataclass(frozen=True)
class CheckpointNote:
    """What the item's checkpoint did in this run."""

    saves: int
    resumed: str | None = None
    ignored: str | None = None


@dataclass(frozen=True)
class BaselineVerdict:
    """How the configuration's metrics compared with the baseline."""

    verdict: str  # "new", "ok" or "worse"
    regressions: tuple[str, ...] = ()
    improved: tuple[str, ...] = ()


@dataclass(frozen=True)
class Outcome:
    """One configuration's outcome in this run.

    ``experiment`` is empty for an item that pytest-memento knows only by
    node id (an xdist worker died before the item said anything).
    """

    nodeid: str
    status: Status
    reason: str = ""
    experiment: str = ""
    test_id: str = ""
    key: str = ""
    config_hash: str = ""
    #: Parameters and settings, JSON-safe.
    config: Mapping[str, Any] = field(default_factory=dict)
    parameters: tuple[str, ...] = ()
    #: Short names of parameter values (``SVC`` for the class), for tables.
    labels: Mapping[str, str] = field(default_factory=dict)
    metrics: Mapping[str, int | float] = field(default_factory=dict)
    duration: float = 0.0
    goals: Mapping[str, str] = field(default_factory=dict)
    #: The parameters whose values are replicates (seeds) of one group, and
    #: how many configurations the grid gives that group (0: not known).
    replicates: tuple[str, ...] = ()
    group_size: int = 0
    #: Warnings met while deciding or storing (shown once at the end of the run).
    problems: tuple[str, ...] = ()
    #: The first line of the failure, for summaries.
    error: str = ""
    checkpoint: CheckpointNote | None = None
    #: --memento-verify: whether the re-run reproduced the stored metrics.
    verified: bool | None = None
    baseline: BaselineVerdict | None = None
    #: Whether the experiment function was called in this run (not for a
    #: cached or not-cached configuration, even when the baseline fails it).
    executed: bool = True
    #: The matrix's ``tolerance=`` (a number, or metric -> number), for comparisons on the controller.
    tolerance: float | Mapping[str, float] | None = None

    @property
    def cached(self) -> bool:
        return self.status is Status.CACHED

    def replace(self, **changes: Any) -> Outcome:
        """A copy with ``changes`` (the record itself never changes)."""
        return dataclasses.replace(self, **changes)

    def to_json(self) -> dict[str, Any]:
        data: dict[str, Any] = {
            "nodeid": self.nodeid,
            "status": self.status.value,
            "reason": self.reason,
            "cached": self.cached,
            "experiment": self.experiment,
            "test_id": self.test_id,
            "key": self.key,
            "config_hash": self.config_hash,
            "config": dict(self.config),
            "parameters": list(self.parameters),
            "labels": dict(self.labels),
            "metrics": dict(self.metrics),
            "duration": self.duration,
            "problems": list(self.problems),
            "executed": self.executed,
        }
        if self.error:
            data["error"] = self.error
        if self.goals:
            data["goals"] = dict(self.goals)
        if self.tolerance is not None:
            data["tolerance"] = dict(self.tolerance) if isinstance(self.tolerance, Mapping) else self.tolerance
        if self.replicates:
            data["replicates"] = list(self.replicates)
        if self.group_size:
            data["group_size"] = self.group_size
        if self.checkpoint is not None:
            data["checkpoint_saves"] = self.checkpoint.saves
            if self.checkpoint.resumed is not None:
                data["resumed"] = self.checkpoint.resumed
            if self.checkpoint.ignored is not None:
                data["checkpoint_ignored"] = self.checkpoint.ignored
        if self.verified is not None:
            data["verified"] = self.verified
        if self.baseline is not None:
            data["baseline"] = self.baseline.verdict
            data["improved"] = list(self.baseline.improved)
            if self.baseline.regressions:
                data["regressions"] = list(self.baseline.regressions)
        return data

    @classmethod
    def from_json(cls, data: Mapping[str, Any]) -> Outcome:
        """The record ``to_json`` gave; raises ``ValueError`` for anything else."""
        if not isinstance(data, Mapping) or not isinstance(data.get("nodeid"), str):
            raise ValueError(f"not a pytest-memento outcome: {data!r:.200}")
        try:
            status = Status(data.get("status"))
        except ValueError:
            raise ValueError(f"unknown status {data.get('status')!r} in the outcome of {data['nodeid']}") from None
        checkpoint = None
        if "checkpoint_saves" in data:
            checkpoint = CheckpointNote(
                int(data["checkpoint_saves"]),
                _text_or_none(data.get("resumed")),
                _text_or_none(data.get("checkpoint_ignored")),
            )
        baseline = None
        if data.get("baseline"):
            baseline = BaselineVerdict(
                str(data["baseline"]), _strings(data.get("regressions")), _strings(data.get("improved"))
            )
        verified = data.get("verified")
        return cls(
            nodeid=data["nodeid"],
            status=status,
            reason=str(data.get("reason", "")),
            experiment=str(data.get("experiment", "")),
            test_id=str(data.get("test_id", "")),
            key=str(data.get("key", "")),
            config_hash=str(data.get("config_hash", "")),
            config=_mapping(data.get("config")),
            parameters=_strings(data.get("parameters")),
            labels={str(k): str(v) for k, v in _mapping(data.get("labels")).items()},
            metrics=metrics_of(_mapping(data.get("metrics"))),
            duration=float(data.get("duration") or 0.0),
            goals={str(k): str(v) for k, v in _mapping(data.get("goals")).items()},
            replicates=_strings(data.get("replicates")),
            group_size=int(data.get("group_size") or 0),
            problems=_strings(data.get("problems")),
            error=str(data.get("error", "")),
            checkpoint=checkpoint,
            verified=verified if isinstance(verified, bool) else None,
            baseline=baseline,
            executed=data.get("executed", True) is not False,
            tolerance=_tolerance(data.get("tolerance")),
        )


def _tolerance(value: Any) -> float | dict[str, float] | None:
    if isinstance(value, Mapping):
        return {str(k): float(v) for k, v in value.items() if isinstance(v, (int, float)) and not isinstance(v, bool)}
    if isinstance(value, (int, float)) and not isinstance(value, bool):
        return float(value)
    return None


def _mapping(value: Any) -> dict[str, Any]:
    return dict(value) if isinstance(value, Mapping) else {}


def _strings(value: Any) -> tuple[str, ...]:
    if isinstance(value, Sequence) and not isinstance(value, str):
        return tuple(str(item) for item in value)
    return ()


def _text_or_none(value: Any) -> str | None:
    return None if value is None else str(value)


def metrics_of(result: Any) -> dict[str, int | float]:
    """Top-level real numbers (not bools, not numpy bools) of a mapping."""
    if not isinstance(result, Mapping):
        return {}
    metrics: dict[str, int | float] = {}
    for name, value in result.items():
        if isinstance(value, bool) or not isinstance(value, numbers.Real):
            continue
        if type(value).__name__ == "bool_":
            continue
        metrics[str(name)] = int(value) if isinstance(value, numbers.Integral) else float(value)
    return metrics
