"""What pytest-memento does to the process around a run, and undoes.

- SIGTERM (what Slurm and most schedulers send before SIGKILL) ends the run
  like Ctrl-C, so finished results are written and running items keep their
  last checkpoint. Installed only when the process has no handler yet, and
  only in the main thread (where Python delivers signals); restored at the end.
- No cyclic garbage collection while collecting, and what collection built
  frozen out of later collections (``gc.freeze``): the items live for the
  whole session anyway, and rescanning them made collection super-linear in
  the grid size. Unfrozen at the end.
- The store is flushed at session end and closed when pytest unconfigures.
  Results that could not be written are counted (``store.failures``); an
  xdist worker hands them to the controller in ``workeroutput``.

Installed but idle: none of this happens (no handler, no frozen GC, no store
directory) until the run turns out to use pytest-memento: a collected
``@memento.matrix`` item, a ``checkpoint`` fixture, or (on an xdist
controller, which collects nothing) the first report a matrix item sends.
"""

from __future__ import annotations

import contextlib
import gc
import signal
import threading
from collections.abc import Iterator

import pytest

from .layout import StoreError
from .state import GUARDS_KEY, ITEM_KEY, SESSION_KEY, Guards

__all__ = [
    "activate",
    "activate_if_used",
    "check_remote_before_workers",
    "close_store",
    "flush_store",
    "is_active",
    "quiet_gc",
    "restore",
    "stop_cleanly_on_sigterm",
]

#: Whether this run uses pytest-memento (set once, by :func:`activate`).
ACTIVE_KEY = pytest.StashKey[bool]()


def is_active(config: pytest.Config) -> bool:
    return config.stash.get(ACTIVE_KEY, False)


def activate(config: pytest.Config, *, create: bool = True) -> None:
    """The run uses pytest-memento: create the store directory (a usage
    error when it cannot be made) and stop cleanly on SIGTERM."""
    if is_active(config):
        return
    config.stash[ACTIVE_KEY] = True
    stop_cleanly_on_sigterm(config)
    session = config.stash.get(SESSION_KEY, None)
    if session is not None and create:
        try:
            session.store.create()
        except StoreError as exc:
            raise pytest.UsageError(f"pytest-memento: {exc}") from None


def check_remote_before_workers(config: pytest.Config) -> None:
    """A store at a URL that cannot be reached (no bucket, bad credentials,
    no endpoint) is a usage error of the xdist controller, before workers
    start: a worker that stopped with it would be a crashed worker."""
    session = config.stash.get(SESSION_KEY, None)
    if session is None or session.settings.store_url is None or hasattr(config, "workerinput"):
        return
    if getattr(config.option, "dist", "no") == "no" or not getattr(config.option, "tx", None):
        return
    try:
        session.store.create()
    except StoreError as exc:
        raise pytest.UsageError(f"pytest-memento: {exc}") from None


def activate_if_used(config: pytest.Config, items: list[pytest.Item]) -> None:
    """After collection: activate when an item is a matrix configuration or
    asks for ``checkpoint``."""
    for item in items:
        state = item.stash.get(ITEM_KEY, None)
        if (state is not None and state.case is not None) or "checkpoint" in getattr(item, "fixturenames", ()):
            activate(config)
            return


def _guards(config: pytest.Config) -> Guards:
    found = config.stash.get(GUARDS_KEY, None)
    if found is None:
        found = config.stash[GUARDS_KEY] = Guards()
    return found


def stop_cleanly_on_sigterm(config: pytest.Config) -> None:
    if threading.current_thread() is not threading.main_thread():
        return
    if signal.getsignal(signal.SIGTERM) is not signal.SIG_DFL:
        return

    # Python's own Ctrl-C handler (C code): the KeyboardInterrupt's traceback
    # ends in the code that was running, not in a handler of ours.
    interrupt = signal.default_int_handler
    signal.signal(signal.SIGTERM, interrupt)
    _guards(config).sigterm = interrupt


@contextlib.contextmanager
def quiet_gc(config: pytest.Config) -> Iterator[None]:
    was_enabled = gc.isenabled()
    gc.disable()
    try:
        yield
    finally:
        if was_enabled:
            gc.enable()
        if is_active(config):
            gc.freeze()
            _guards(config).gc_frozen = True


def flush_store(config: pytest.Config) -> None:
    session = config.stash.get(SESSION_KEY, None)
    if session is None:
        return
    with contextlib.suppress(OSError):  # counted in store.failures, reported on the controller
        session.store.flush()
    workeroutput = getattr(config, "workeroutput", None)
    if isinstance(workeroutput, dict):
        workeroutput["memento_active"] = is_active(config)
        if session.store.failures:
            workeroutput["memento_store_failures"] = session.store.failures.to_json()


def close_store(config: pytest.Config) -> None:
    session = config.stash.get(SESSION_KEY, None)
    if session is not None:
        flush_store(config)
        session.store.close()


def restore(config: pytest.Config) -> None:
    """Undo what this module changed: the SIGTERM handler, the frozen GC."""
    guards = config.stash.get(GUARDS_KEY, None)
    if guards is None:
        return
    if guards.gc_frozen:
        gc.unfreeze()
        guards.gc_frozen = False
    if guards.sigterm is not None and signal.getsignal(signal.SIGTERM) is guards.sigterm:
        signal.signal(signal.SIGTERM, signal.SIG_DFL)
    guards.sigterm = None
