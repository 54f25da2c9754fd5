"""Source of the experiments ``run.py`` benchmarks, one template per system.

Every workload is written once per system, doing the same work on all sides:
the pytest-memento matrix, the same grid as plain ``@pytest.mark.parametrize``,
a memento-ml script (``Memento(func).run(matrix)``), a ``joblib.Memory``
script and a plain Python loop. ``$name`` placeholders are filled in with
``string.Template``. Scripts print a ``ran=N`` line so ``run.py`` can check
that a "cached" run really was served from the cache.
"""

from __future__ import annotations

PYTEST_INI = "[pytest]\n"

# --- 1. dispatch: a grid of trivial configurations (a: $rows values x b: $cols values)

DISPATCH_MATRIX = """\
import pytest_memento as memento


@memento.matrix(parameters={"a": range($rows), "b": range($cols)})
def test_grid(config):
    return {"value": config.a * config.b}
"""

DISPATCH_PLAIN = """\
import pytest


@pytest.mark.parametrize("a", range($rows))
@pytest.mark.parametrize("b", range($cols))
def test_grid(a, b):
    assert {"value": a * b}["value"] >= 0
"""

DISPATCH_LOOP = """\
results = [{"value": a * b} for a in range($rows) for b in range($cols)]
print(f"ran={len(results)}")
"""

DISPATCH_MEMENTO_ML = """\
import sys

from memento import Memento


def experiment(context, config):
    return {"value": config.a * config.b}


if __name__ == "__main__":
    matrix = {"parameters": {"a": range($rows), "b": range($cols)}}
    results = Memento(experiment, num_workers=int(sys.argv[1])).run(matrix, cache_path="cache.sqlite")
    assert len(results) == $rows * $cols
    print(f"ran={sum(not result.was_cached for result in results)}")
"""

DISPATCH_JOBLIB = """\
from joblib import Memory

memory = Memory("joblib-cache", verbose=0)
calls = 0


@memory.cache
def experiment(a, b):
    global calls
    calls += 1
    return {"value": a * b}


results = [experiment(a, b) for a in range($rows) for b in range($cols)]
assert len(results) == $rows * $cols
print(f"ran={calls}")
"""

# --- 2. parallel: $count configurations that each sleep $seconds s

SLEEP_MATRIX = """\
import time

import pytest_memento as memento


@memento.matrix(parameters={"i": range($count)}, settings={"seconds": $seconds})
def test_sleep(config):
    time.sleep(config.seconds)
    return {"slept": config.seconds}
"""

SLEEP_PLAIN = """\
import time

import pytest


@pytest.mark.parametrize("i", range($count))
def test_sleep(i):
    time.sleep($seconds)
"""

SLEEP_MEMENTO_ML = """\
import sys
import time

from memento import Memento


def experiment(context, config):
    time.sleep($seconds)
    return {"slept": $seconds}


if __name__ == "__main__":
    results = Memento(experiment, num_workers=int(sys.argv[1])).run({"parameters": {"i": range($count)}}, cache_path="cache.sqlite")
    print(f"ran={sum(not result.was_cached for result in results)}")
"""

# --- 3. kill and resume: $count configurations of $steps steps, a checkpoint after each.
# Each step appends "step <config> <step> <pid>" to progress.log once it is computed
# (before its checkpoint is saved); a finished configuration appends "done <config> <pid>".

CHECKPOINT_MATRIX = """\
import os
import time

import pytest_memento as memento


def log(line):
    with open("progress.log", "a") as handle:
        handle.write(f"{line} {os.getpid()}\\n")


@memento.matrix(parameters={"i": range($count)}, settings={"steps": $steps, "step_seconds": $step_seconds})
def test_train(config, checkpoint):
    state = checkpoint.load(default={"step": 0})
    for step in range(state["step"], config.steps):
        time.sleep(config.step_seconds)
        log(f"step {config.i} {step}")
        state = {"step": step + 1}
        checkpoint.save(state)
    log(f"done {config.i}")
    return {"steps": state["step"]}
"""

CHECKPOINT_MEMENTO_ML = """\
import os
import sys
import time

from memento import Memento


def log(line):
    with open("progress.log", "a") as handle:
        handle.write(f"{line} {os.getpid()}\\n")


def experiment(context, config):
    first = context.restore() if context.checkpoint_exist() else 0
    for step in range(first, $steps):
        time.sleep($step_seconds)
        log(f"step {config.i} {step}")
        context.checkpoint(step + 1)
    log(f"done {config.i}")
    return {"steps": $steps}


if __name__ == "__main__":
    results = Memento(experiment, num_workers=int(sys.argv[1])).run({"parameters": {"i": range($count)}}, cache_path="cache.sqlite")
    print(f"ran={sum(not result.was_cached for result in results)}")
"""

# --- 4. scale: collection only

SCALE_MATRIX = DISPATCH_MATRIX
SCALE_PLAIN = DISPATCH_PLAIN
