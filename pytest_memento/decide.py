"""Run, report as cached, or skip: the decision for one configuration, with
the reason a user reads. Pure: no pytest; unit-tested on a real store.

The table, first match wins:

==========================================  =========  ==================================
situation                                    action     reason
==========================================  =========  ==================================
``--memento-rerun``                          run        ``--memento-rerun``
stored, signature refused                    run        ``signature refused``
stored, chosen by ``--memento-verify``       run        ``--memento-verify`` (not replaced)
stored, same code                            cached     ``stored``
stored, code changed, keep or cached-only    cached     ``stale, kept: code changed (...)``
stored, code changed, last run failed        run        ``last run failed``
stored, code changed                         run        ``code changed (...)``
stored, an input of ``depends=`` changed     run        ``input changed (data/train.csv)``
nothing stored, ``--memento-cached-only``    skip       ``not cached``
a damaged record of the key                  run        ``stored entry unusable (...)``
stored at another ``version``                run        ``version changed (0 -> 1)``
pytest's last-failed has the node            run        ``last run failed``
otherwise                                    run        ``new configuration``
==========================================  =========  ==================================
"""

from __future__ import annotations

import enum
from dataclasses import dataclass

from .cases import Case
from .fingerprint import Fingerprint
from .hashing import jsonable
from .inputs import INPUT_PREFIX, MODULE_PREFIX
from .segment_format import Entry
from .settings import Settings
from .store import ResultStore

__all__ = ["Action", "Decision", "decide", "stale_reason", "what_changed"]


class Action(enum.Enum):
    RUN = "run"
    CACHED = "cached"
    NOT_CACHED = "not-cached"


@dataclass(frozen=True)
class Decision:
    """What to do with one configuration, and why."""

    action: Action
    reason: str
    entry: Entry | None = None
    problems: tuple[str, ...] = ()
    #: Re-run a stored configuration to check its metrics; do not replace it.
    verify: bool = False


def _chosen_for_verify(key: str, fraction: float) -> bool:
    # Deterministic by key: the same tenth every time, on every worker.
    return int(key[:8], 16) < fraction * 2**32


def decide(
    case: Case,
    fingerprint: Fingerprint,
    *,
    store: ResultStore,
    settings: Settings,
    last_failed: bool,
    problems: tuple[str, ...] = (),
) -> Decision:
    """The decision for ``case`` whose code has ``fingerprint`` now.
    ``problems`` are warnings met on the way, carried by the decision."""
    if settings.rerun:
        return Decision(Action.RUN, "--memento-rerun", problems=problems)
    entry = store.get(case.key)
    if entry is not None and not store.signature_ok(entry):
        refused = (
            f"{case.experiment}[{case.id}]: stored result {case.key[:12]} is not signed with this store's secret; "
            "not used, not unpickled"
        )
        return Decision(Action.RUN, "signature refused", problems=(*problems, refused))
    if entry is not None and settings.verify is not None and _chosen_for_verify(case.key, settings.verify):
        return Decision(Action.RUN, "--memento-verify", entry, problems, verify=True)
    if entry is not None:
        if entry.fingerprint == fingerprint.value:
            return Decision(Action.CACHED, "stored", entry, problems)
        stale = stale_reason(store, entry, fingerprint)
        if settings.keep_stale or settings.cached_only:
            kept = f"{case.experiment}[{case.id}]: {stale}; kept"
            return Decision(Action.CACHED, f"stale, kept: {stale}", entry, (*problems, kept))
        if last_failed:
            # The stored result predates a run that failed: that failure is why it runs now.
            return Decision(Action.RUN, "last run failed", problems=problems)
        return Decision(Action.RUN, stale, problems=problems)
    if settings.cached_only:
        return Decision(Action.NOT_CACHED, "not cached", problems=problems)
    unusable = store.problem_of(case.key)
    if unusable:
        return Decision(Action.RUN, f"stored entry unusable ({unusable})", problems=problems)
    other = store.same_config(case.config_hash) if case.config_hash else None
    if other is not None and other.version != jsonable(case.version):
        return Decision(Action.RUN, f"version changed ({other.version!r} -> {case.version!r})", problems=problems)
    if last_failed:
        return Decision(Action.RUN, "last run failed", problems=problems)
    return Decision(Action.RUN, "new configuration", problems=problems)


def _listed(names: list[str]) -> str:
    return ", ".join(names[:5]) + (f" and {len(names) - 5} more" if len(names) > 5 else "")


def _changed(store: ResultStore, entry: Entry, fingerprint: Fingerprint) -> list[str] | str:
    """The part names that differ, or why they cannot be told."""
    stored_parts = store.code_of(entry.fingerprint).get("fingerprint_parts")
    if not isinstance(stored_parts, dict):
        return "recorded without a fingerprint" if entry.fingerprint is None else "unknown part"
    return fingerprint.changed_parts(stored_parts)


def _shown(name: str) -> str:
    if name.startswith(INPUT_PREFIX):
        return name[len(INPUT_PREFIX) :]
    if name.startswith(MODULE_PREFIX):
        return "module " + name[len(MODULE_PREFIX) :]
    return name.split("::")[-1]


def what_changed(store: ResultStore, entry: Entry, fingerprint: Fingerprint) -> str:
    """The parts of the code and inputs that differ from what ``entry`` was run with."""
    changed = _changed(store, entry, fingerprint)
    if isinstance(changed, str):
        return changed
    return _listed([_shown(name) for name in changed]) or "unknown part"


def stale_reason(store: ResultStore, entry: Entry, fingerprint: Fingerprint) -> str:
    """Why ``entry`` is stale: ``code changed (MyNet.forward)``, ``input
    changed (data/train.csv)``, or both, joined by ``; ``."""
    changed = _changed(store, entry, fingerprint)
    if isinstance(changed, str):
        return f"code changed ({changed})"
    code = [_shown(name) for name in changed if not name.startswith(INPUT_PREFIX)]
    inputs = [_shown(name) for name in changed if name.startswith(INPUT_PREFIX)]
    reasons = [f"code changed ({_listed(code)})"] if code else []
    if inputs:
        reasons.append(f"input changed ({_listed(inputs)})")
    return "; ".join(reasons) or "code changed (unknown part)"
