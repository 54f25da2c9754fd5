"""What pytest-memento does to the process around a run, and undoes.

- SIGTERM (what Slurm and most schedulers send before SIGKILL) ends the run
  like Ctrl-C, so finished results are written and running items keep their
  last checkpoint. Installed only when the process has no handler yet, and
  only in the main thread (where Python delivers signals); restored at the end.
- No cyclic garbage collection while collecting, and what collection built
  frozen out of later collections (``gc.freeze``): the items live for the
  whole session anyway, and rescanning them made collection super-linear in
  the grid size. Unfrozen at the end.
- The store is flushed at session end (problems become warnings) and closed
  when pytest unconfigures.
"""

from __future__ import annotations

import contextlib
import gc
import signal
import threading
from collections.abc import Iterator
from typing import Any

import pytest

from .state import GUARDS_KEY, SESSION_KEY, Guards

__all__ = ["close_store", "flush_store", "quiet_gc", "restore", "stop_cleanly_on_sigterm"]


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

    def interrupt(signum: int, frame: Any) -> None:
        raise KeyboardInterrupt("SIGTERM")

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
        gc.freeze()
        _guards(config).gc_frozen = True


def flush_store(config: pytest.Config) -> None:
    session = config.stash.get(SESSION_KEY, None)
    if session is None:
        return
    try:
        session.store.flush()
    except OSError as exc:
        session.log.problems.append(f"could not write buffered results to {session.store.root}: {exc}")


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
