"""The end-of-run summary as plain text: a subject line and a body.

The plugin builds one plain summary dict on the controller at the end of a
run; :mod:`.notify` sends what is rendered here::

    {"session": "pytest experiments -n 8", "duration": 123.4,
     "counts": {"ran": 10, "cached": 80, "failed": 2, "error": 0, "skipped": 0, "crashed": 0},
     "failures": [{"experiment": ..., "id": ..., "config": {...}, "error": "RuntimeError: diverged"}],
     "best": [{"experiment": ..., "metric": "accuracy", "goal": "max", "value": 0.97, "id": ..., "config": {...}}],
     "exitstatus": 1}

``format_subject`` / ``format_text`` render it; a value of the wrong type
is shown as best it can be, never an error. Standard library only; no
pytest in here.
"""

from __future__ import annotations

import json
import math
from collections.abc import Mapping, Sequence
from typing import Any

__all__ = ["MAX_ERROR_CHARS", "MAX_FAILURES", "format_duration", "format_subject", "format_text", "one_line"]

#: Failures listed in a message; the rest are counted ("... and N more").
MAX_FAILURES = 20
#: Longest error line kept in a message (a longer one is cut with "...").
MAX_ERROR_CHARS = 300

#: Counts beyond ran/cached/failed, named in the subject only when non-zero.
_EXTRA_COUNTS = (("error", "error", "errors"), ("crashed", "crashed", "crashed"), ("skipped", "skipped", "skipped"))


def format_duration(seconds: object) -> str:
    """``4.2s`` under a minute, ``2m03s`` under an hour, ``1h02m`` beyond; ``?`` if not a number."""
    if isinstance(seconds, bool) or not isinstance(seconds, (int, float)) or not math.isfinite(seconds):
        return "?"
    value = max(float(seconds), 0.0)
    if round(value, 1) < 60:
        return f"{value:.1f}s"
    total = round(value)
    if total < 3600:
        return f"{total // 60}m{total % 60:02d}s"
    minutes = round(value / 60)
    return f"{minutes // 60}h{minutes % 60:02d}m"


def _count(counts: Mapping[str, Any], name: str) -> int:
    value = counts.get(name, 0)
    try:
        return int(value)
    except (TypeError, ValueError):
        return 0


def _counts_of(summary: Mapping[str, Any]) -> Mapping[str, Any]:
    counts = summary.get("counts")
    return counts if isinstance(counts, Mapping) else {}


def format_subject(summary: Mapping[str, Any]) -> str:
    """One line: ``pytest-memento: 10 ran, 80 cached, 2 failed in 2m03s``.

    Errors, crashes and skips are added only when there are some.
    """
    counts = _counts_of(summary)
    parts = [f"{_count(counts, name)} {name}" for name in ("ran", "cached", "failed")]
    for name, singular, plural in _EXTRA_COUNTS:
        n = _count(counts, name)
        if n:
            parts.append(f"{n} {singular if n == 1 else plural}")
    subject = "pytest-memento: " + ", ".join(parts)
    duration = summary.get("duration")
    if duration is not None:
        subject += f" in {format_duration(duration)}"
    return subject


def one_line(text: object, limit: int = MAX_ERROR_CHARS) -> str:
    """The line of an error that says what happened: the last non-empty one
    (Python tracebacks end with ``Type: message``), cut to ``limit``."""
    lines = [line.strip() for line in str(text).splitlines() if line.strip()]
    line = lines[-1] if lines else ""
    return line if len(line) <= limit else line[: limit - 3] + "..."


def _format_value(value: object, *, metric: bool = False) -> str:
    if isinstance(value, bool) or value is None:
        return str(value)
    if isinstance(value, float):
        return f"{value:.6g}" if metric else repr(value)
    if isinstance(value, int):
        return str(value)
    if isinstance(value, str):
        simple = value and value == value.strip() and value.isprintable() and not any(c in value for c in ",=")
        return value if simple else repr(value)
    try:
        return json.dumps(value, sort_keys=True, default=str)
    except (TypeError, ValueError):
        return repr(value)


def _format_config(config: object) -> str:
    if not isinstance(config, Mapping) or not config:
        return "(none)" if not config else _format_value(config)
    return ", ".join(f"{name}={_format_value(value)}" for name, value in config.items())


def _item_name(entry: Mapping[str, Any]) -> str:
    experiment = str(entry.get("experiment", "") or "?")
    test_id = entry.get("id")
    return f"{experiment}[{test_id}]" if test_id not in (None, "") else experiment


def _entries(summary: Mapping[str, Any], key: str) -> list[Mapping[str, Any]]:
    raw = summary.get(key)
    if not isinstance(raw, Sequence) or isinstance(raw, (str, bytes)):
        return []
    return [entry for entry in raw if isinstance(entry, Mapping)]


def format_text(summary: Mapping[str, Any]) -> str:
    """The whole message as plain text: the subject line first, then the
    session, the counts, the failures (at most ``MAX_FAILURES``, each with its
    configuration and error line) and the best configuration per metric."""
    counts = _counts_of(summary)
    lines = [format_subject(summary), ""]
    if summary.get("session"):
        lines.append(f"Session: {summary['session']}")
    if summary.get("duration") is not None:
        lines.append(f"Duration: {format_duration(summary['duration'])}")
    if summary.get("exitstatus") is not None:
        lines.append(f"Exit status: {summary['exitstatus']}")
    names = ["ran", "cached", "failed", "error", "crashed", "skipped"]
    names += [name for name in counts if name not in names]
    lines.append("Counts: " + ", ".join(f"{name} {_count(counts, name)}" for name in names))

    failures = _entries(summary, "failures")
    if failures:
        lines += ["", f"Failures ({len(failures)}):"]
        for entry in failures[:MAX_FAILURES]:
            lines.append(f"  {_item_name(entry)}")
            lines.append(f"    config: {_format_config(entry.get('config'))}")
            lines.append(f"    error: {one_line(entry.get('error', ''))}")
        if len(failures) > MAX_FAILURES:
            lines.append(f"  ... and {len(failures) - MAX_FAILURES} more")

    best = _entries(summary, "best")
    if best:
        lines += ["", "Best configuration per metric:"]
        for entry in best:
            goal = f" ({entry['goal']})" if entry.get("goal") else ""
            value = _format_value(entry.get("value"), metric=True)
            lines.append(f"  {entry.get('metric', '?')}{goal} = {value}: {_item_name(entry)}")
            lines.append(f"    config: {_format_config(entry.get('config'))}")
    return "\n".join(lines) + "\n"
