"""Quickstart: a tiny grid that runs in well under a second.

Noisy gradient descent on the quadratic f(x) = (x - 3)^2, for every pair of
``learning_rate`` x ``seed`` (9 configurations). ``steps`` is a setting: it is
part of each configuration and of its cache key, but not of the test id, so the
items read ``test_quickstart.py::gradient_descent[0.1-2]``.

Run it twice: the second run calls nothing and reports every item as cached
(``c``). Change ``steps`` or the code of ``gradient_descent`` or ``loss`` and the
items run again; comments and formatting do not count.
"""

from __future__ import annotations

import random

import pytest_memento as memento

TARGET = 3.0  # the minimum of the quadratic
NOISE = 0.5  # standard deviation of the noise added to every gradient


def loss(x: float) -> float:
    return (x - TARGET) ** 2


@memento.matrix(
    parameters={
        "learning_rate": [0.01, 0.1, 0.5],
        "seed": range(3),
    },
    settings={"steps": 50},
)
def gradient_descent(config: memento.Config) -> dict[str, float]:
    # A private generator seeded from the config keeps each item reproducible
    # whatever order (or xdist worker) it runs in.
    rng = random.Random(config.seed)
    x = rng.uniform(-10.0, 10.0)
    start = loss(x)
    for _ in range(config.steps):
        gradient = 2.0 * (x - TARGET) + rng.gauss(0.0, NOISE)
        x -= config.learning_rate * gradient
    # An ordinary assertion: a diverging run fails its item and is not stored.
    assert loss(x) < start, f"loss went up from {start:.3f} to {loss(x):.3f}"
    # Top-level real numbers of the returned dict are the item's metrics.
    return {"loss": loss(x), "x": x, "start_loss": start}
