"""Time left: the expected remaining time of a run, from the estimates of
:mod:`.plan`, and how far off the estimate was at the end. Pure: no pytest;
times are passed in (the glue, :mod:`.eta_hooks`, uses ``time.monotonic``).

The work is the configurations that run (cached ones cost nothing), each
with its estimate from :func:`.plan.estimates` (its own last stored
duration, else its experiment's median, else unknown). As they finish:

- the **correction** is the ratio of the actual to the estimated seconds of
  the configurations that finished so far (sums, so long ones weigh most;
  1 until one finished). Actual is what the call took (its report's
  duration, what a stored duration measures), so the time spent deciding
  and setting up does not count as the experiment being slower. Machines and loads differ from the run that
  stored the durations; the ratio carries that over to the rest.
- the **time left** spreads, over the workers, the corrected estimates of
  the configurations not started, longest first, after what is left of the
  running ones (corrected estimate minus the time they have run, at least
  0): :func:`.plan.wall_time`. Configurations of unknown duration are
  counted apart (``+ 2 of unknown duration``), never guessed.
- nothing is shown when no configuration that runs has an estimate.

At the end, the estimate made before the run (the known estimates spread
over the workers) is compared with the wall time from the first
configuration that ran starting to the last one finishing, and the
difference in percent when the estimate was at least a second.
"""

from __future__ import annotations

from collections.abc import Mapping

from .plan import format_seconds, wall_time

__all__ = ["Eta", "interval_for", "signed_percent"]

#: Below this estimate (seconds), the error in percent says nothing (0.001 s estimated, 0.5 s taken).
PERCENT_FROM = 1.0
#: Seconds between two time-left lines: a twentieth of the estimated run, within these.
MIN_INTERVAL = 1.0
MAX_INTERVAL = 60.0


def interval_for(total: float) -> float:
    """Seconds between two lines for a run estimated at ``total`` seconds."""
    return min(MAX_INTERVAL, max(MIN_INTERVAL, total / 20))


def signed_percent(actual: float, estimated: float) -> str:
    """``+9%``, ``-12%``, ``0%``; empty when nothing was estimated."""
    if estimated <= 0:
        return ""
    percent = round((actual - estimated) / estimated * 100)
    return f"{percent:+d}%" if percent else "0%"


def _plural(count: int) -> str:
    return "configuration" if count == 1 else "configurations"


class Eta:
    """The configurations of one run that will run (node id -> estimated
    seconds, None when unknown), over ``workers``."""

    def __init__(self, estimates: Mapping[str, float | None], workers: int = 1) -> None:
        self.estimates = dict(estimates)
        self.workers = max(1, workers)
        #: Estimated wall time of the known ones, before anything ran.
        self.total = wall_time([s for s in self.estimates.values() if s is not None], self.workers)
        self.started: dict[str, float] = {}
        self.finished: dict[str, float] = {}
        self.first_start: float | None = None
        self.last_finish: float | None = None
        self.shown_at: float | None = None
        self.interval = interval_for(self.total)

    @property
    def known(self) -> bool:
        """Whether any configuration that runs has an estimate."""
        return any(seconds is not None for seconds in self.estimates.values())

    def start(self, nodeid: str, now: float) -> None:
        if nodeid in self.estimates and nodeid not in self.finished:
            self.started.setdefault(nodeid, now)
            if self.first_start is None:
                self.first_start = now

    def finish(self, nodeid: str, now: float, duration: float | None = None) -> None:
        """``nodeid`` finished at ``now``; ``duration`` is what its call took
        (what stored durations measure), else the time since it started."""
        began = self.started.pop(nodeid, None)
        if began is not None:
            self.finished[nodeid] = now - began if duration is None else duration
            self.last_finish = now

    def correction(self) -> float:
        """Actual / estimated seconds of the configurations finished (1 until one did)."""
        pairs = [(self.estimates[n], actual) for n, actual in self.finished.items() if self.estimates[n] is not None]
        estimated = sum(estimate for estimate, _ in pairs if estimate is not None)
        return sum(actual for _, actual in pairs) / estimated if estimated > 0 else 1.0

    def left(self, now: float) -> tuple[float, int]:
        """Seconds left for the configurations of known duration, and how
        many of unknown duration are not finished."""
        ratio = self.correction()
        busy, pending, unknown = [], [], 0
        for nodeid, estimate in self.estimates.items():
            if nodeid in self.finished:
                continue
            if estimate is None:
                unknown += 1
            elif nodeid in self.started:
                busy.append(estimate * ratio - (now - self.started[nodeid]))
            else:
                pending.append(estimate * ratio)
        return wall_time(pending, max(self.workers, len(busy)), busy), unknown

    def line(self, now: float) -> str | None:
        """``memento: 120/400 configurations to run done, about 12m 30s left``,
        or None when nothing is known or everything finished."""
        done, total = len(self.finished), len(self.estimates)
        if not self.known or done >= total:
            return None
        seconds, unknown = self.left(now)
        head = f"memento: {done}/{total} {_plural(total)} to run done"
        if unknown == total - done:
            return f"{head}, {unknown} left of unknown duration"
        extra = f" (+ {unknown} of unknown duration)" if unknown else ""
        return f"{head}, about {format_seconds(seconds)} left{extra}"

    def due(self, now: float) -> str | None:
        """The line to show now: the first one at once, then one every
        :attr:`interval` seconds at most; None when not due."""
        if self.shown_at is not None and now - self.shown_at < self.interval:
            return None
        found = self.line(now)
        if found is not None:
            self.shown_at = now
        return found

    def error_line(self) -> str | None:
        """The estimate against the actual wall time, at the end of the run:
        ``memento: estimated 4m 10s for 400 configurations to run, took 4m 32s (+9%)``."""
        if not self.known:
            return None
        total = len(self.estimates)
        unknown = sum(1 for seconds in self.estimates.values() if seconds is None)
        what = f"{total} {_plural(total)} to run" + (f" ({unknown} of unknown duration)" if unknown else "")
        head = f"memento: estimated {format_seconds(self.total)} for {what}"
        if self.first_start is None or self.last_finish is None:
            return f"{head}; none finished"
        took = self.last_finish - self.first_start
        if len(self.finished) < total:
            return f"{head}; stopped after {len(self.finished)} of them, in {format_seconds(took)}"
        percent = signed_percent(took, self.total) if self.total >= PERCENT_FROM else ""
        return f"{head}, took {format_seconds(took)}" + (f" ({percent})" if percent else "")
