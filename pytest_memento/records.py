"""One configuration's result as the paper tables and the HTML report see it.

A :class:`Record` is built from a run's :class:`~.outcome.Outcome` (with
the stored metadata of its result, when there is one) or from a stored
entry and its metadata alone (``memento table``, ``memento report``,
``memento.results()``). Either way nothing is unpickled: metadata is JSON.

Which parameters are replicates comes from the record (``replicates`` in
the stored metadata, a list, ``[]`` when the matrix declares none); records
written before it existed fall back to the rule of the matrix: a parameter
named ``seed``. Pure: no pytest.
"""

from __future__ import annotations

import json
import re
from collections.abc import Callable, Iterable, Iterator, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

from .outcome import Outcome, metrics_of
from .segment_format import Entry

__all__ = [
    "FINISHED",
    "Record",
    "record_from_meta",
    "record_from_outcome",
    "records_from_entries",
    "records_from_run",
    "value_labels",
    "value_text",
]

#: Statuses of a configuration that has a result.
FINISHED = frozenset({"ran", "cached", "stored"})
#: What the provenance of a row shows, in this order.
PROVENANCE = ("commit", "dirty", "branch", "fingerprint", "started", "duration", "host", "python", "seed", "worker")


@dataclass(frozen=True)
class Record:
    """One configuration: what it is, how it went and where it came from."""

    experiment: str
    test_id: str
    key: str
    #: ``ran``, ``cached``, ``failed``, ``error``, ``skipped``, ``crashed`` (a run) or ``stored``.
    status: str
    #: Parameters and settings, JSON-safe.
    config: Mapping[str, Any] = field(default_factory=dict)
    #: The names in ``config`` that are parameters (the rest are settings).
    parameters: tuple[str, ...] = ()
    metrics: Mapping[str, int | float] = field(default_factory=dict)
    duration: float = 0.0
    #: Replicate parameters; None when the record does not say (the ``seed`` rule applies).
    replicates: tuple[str, ...] | None = None
    #: Configurations the grid gives this record's replicate group (0: not known).
    group_size: int = 0
    goals: Mapping[str, str] = field(default_factory=dict)
    version: Any = 0
    #: Short names of values (``SVC`` for ``sklearn.svm._classes.SVC``).
    labels: Mapping[str, str] = field(default_factory=dict)
    started: str = ""
    #: Commit, fingerprint, host and the like (see ``PROVENANCE``), plus why it ran or failed.
    provenance: Mapping[str, Any] = field(default_factory=dict)

    @property
    def finished(self) -> bool:
        return self.status in FINISHED

    def replicate_names(self, over: Sequence[str] | None = None) -> tuple[str, ...]:
        """The replicate parameters of this record (``over`` overrides)."""
        if over is not None:
            return tuple(name for name in over if name in self.config)
        if self.replicates is not None:
            return self.replicates
        return ("seed",) if "seed" in (self.parameters or tuple(self.config)) else ()


def _provenance(meta: Mapping[str, Any]) -> dict[str, Any]:
    env = meta.get("environment")
    env = env if isinstance(env, Mapping) else {}
    git = env.get("git")
    git = git if isinstance(git, Mapping) else {}
    found: dict[str, Any] = {
        "commit": git.get("commit"),
        "dirty": git.get("dirty"),
        "branch": git.get("branch"),
        "fingerprint": meta.get("fingerprint"),
        "started": meta.get("started"),
        "duration": meta.get("duration"),
        "host": env.get("host"),
        "python": env.get("python"),
        "seed": meta.get("seed"),
        "worker": meta.get("worker"),
    }
    return {name: value for name, value in found.items() if value not in (None, "", {})}


def _strings(value: Any) -> tuple[str, ...] | None:
    if isinstance(value, list):
        return tuple(str(item) for item in value)
    return None


def record_from_meta(entry: Entry, meta: Mapping[str, Any]) -> Record:
    """The record of a stored result, from its metadata (never unpickled)."""
    config = meta.get("config")
    goals = meta.get("goals")
    size = meta.get("group_size")
    return Record(
        experiment=str(meta.get("experiment", "")),
        test_id=str(meta.get("test_id", "")),
        key=entry.key,
        status="stored",
        config=dict(config) if isinstance(config, Mapping) else {},
        parameters=_strings(meta.get("parameters")) or (),
        metrics=metrics_of(entry.metrics),
        duration=float(entry.duration),
        replicates=_strings(meta.get("replicates")),
        group_size=size if isinstance(size, int) and not isinstance(size, bool) and size > 0 else 0,
        goals={str(k): str(v) for k, v in goals.items()} if isinstance(goals, Mapping) else {},
        version=meta.get("version", 0),
        started=str(meta.get("started") or ""),
        provenance=_provenance(meta),
    )


def record_from_outcome(outcome: Outcome, meta: Mapping[str, Any] | None = None) -> Record:
    """The record of one configuration of a run; ``meta`` is its stored
    metadata (for provenance), when it has a stored result."""
    provenance = _provenance(meta) if meta else {}
    provenance["duration"] = round(outcome.duration, 6)
    if outcome.reason:
        provenance["reason"] = outcome.reason
    if outcome.error:
        provenance["error"] = outcome.error
    return Record(
        experiment=outcome.experiment,
        test_id=outcome.test_id,
        key=outcome.key,
        status=outcome.status.value,
        config=dict(outcome.config),
        parameters=outcome.parameters,
        metrics=dict(outcome.metrics),
        duration=outcome.duration,
        replicates=outcome.replicates,
        group_size=outcome.group_size,
        goals=dict(outcome.goals),
        version=(meta or {}).get("version", 0),
        labels=dict(outcome.labels),
        started=str((meta or {}).get("started") or ""),
        provenance=provenance,
    )


def records_from_entries(pairs: Iterable[tuple[Entry, Mapping[str, Any]]]) -> Iterator[Record]:
    """Records of stored results given with their metadata."""
    for entry, meta in pairs:
        yield record_from_meta(entry, meta)


def records_from_run(
    outcomes: Iterable[Outcome], stored: Callable[[str], Mapping[str, Any] | None] | None = None
) -> list[Record]:
    """Records of a run's configurations, sorted by experiment and id;
    ``stored(key)`` gives the stored metadata of a finished one (provenance)."""
    records = []
    for outcome in outcomes:
        if not outcome.experiment:
            continue
        meta = stored(outcome.key) if stored is not None and outcome.status.finished and outcome.key else None
        records.append(record_from_outcome(outcome, meta))
    records.sort(key=lambda r: (r.experiment, r.test_id))
    return records


def value_text(value: Any) -> str:
    """A config value as one short line of text (strings as themselves)."""
    if isinstance(value, str):
        return value
    if isinstance(value, float):
        return f"{value:g}"
    return json.dumps(value, sort_keys=True, default=str)


_DOTTED = re.compile(r"[A-Za-z_][\w]*(\.[A-Za-z_][\w]*)+")


def value_labels(values: Iterable[Any]) -> dict[str, str]:
    """Short labels for the values of one column, keyed by :func:`value_text`.

    Dotted names (``sklearn.svm._classes.SVC``, how classes and functions
    are stored) become their last part (``SVC``), but only when every value
    of the column is such a name and no two of them would read the same.
    """
    texts = list(dict.fromkeys(value_text(value) for value in values))
    if texts and all(_DOTTED.fullmatch(text) for text in texts):
        short = {text: text.rsplit(".", 1)[1] for text in texts}
        if len(set(short.values())) == len(short):
            return short
    return {text: text for text in texts}
