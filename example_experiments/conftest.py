"""Shared setup for the example experiments.

``@memento.matrix`` needs nothing from here: the plugin provides ``config``
and turns every configuration into an item. This file holds what all
experiments in the folder share; here, one fixture that keeps numerical
libraries to a single thread each.
"""

from __future__ import annotations

from collections.abc import Iterator

import pytest


@pytest.fixture(autouse=True)
def one_thread_per_worker() -> Iterator[None]:
    # With `-n 2` every core already runs an xdist worker. If BLAS/OpenMP also
    # start a thread per core, small fits fight over the cores and can get
    # ten times slower. Cached configurations never set this fixture up.
    try:
        from threadpoolctl import threadpool_limits  # installed with scikit-learn
    except ImportError:  # the quickstart needs only the standard library
        yield
        return
    with threadpool_limits(limits=1):
        yield
