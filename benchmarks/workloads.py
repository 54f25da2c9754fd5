"""Source of the benchmark experiments, one template per system.

Every workload is written once per system, doing the same work on all sides:
the pytest-memento matrix, the same grid as plain ``@pytest.mark.parametrize``,
a memento-ml script (``Memento(func).run(matrix)``), a ``joblib.Memory``
script and a plain Python loop. ``$name`` placeholders are filled in with
``string.Template`` by ``write_sources``. Scripts print a ``ran=N`` line so
the harness can check that a "cached" run really was served from the cache.

The ``*_FILES`` mappings (file name -> template) are the directory each
workload runs in; the ``workload_*.py`` modules of ``run.py`` and
``bench_core.py`` (``TRIVIAL_GRID_FILES``) all write theirs from here.
"""

from __future__ import annotations

from pathlib import Path
from string import Template

PYTEST_INI = "[pytest]\n"


def write_sources(directory: Path, files: dict[str, str], **values: object) -> None:
    """Write each template of ``files`` into ``directory``, ``$name`` filled in from ``values``."""
    directory.mkdir(parents=True, exist_ok=True)
    for name, source in files.items():
        (directory / name).write_text(Template(source).substitute(values))


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

# The matrix and the same grid as plain parametrize: bench_core.py and the scale workload.
TRIVIAL_GRID_FILES = {"pytest.ini": PYTEST_INI, "test_matrix.py": DISPATCH_MATRIX, "test_plain.py": DISPATCH_PLAIN}
DISPATCH_FILES = {
    **TRIVIAL_GRID_FILES,
    "loop.py": DISPATCH_LOOP,
    "ml.py": DISPATCH_MEMENTO_ML,
    "joblib_grid.py": DISPATCH_JOBLIB,
}

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

PARALLEL_FILES = {
    "pytest.ini": PYTEST_INI,
    "test_sleep.py": SLEEP_MATRIX,
    "test_plain.py": SLEEP_PLAIN,
    "ml.py": SLEEP_MEMENTO_ML,
}

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

KILL_FILES = {"pytest.ini": PYTEST_INI, "test_train.py": CHECKPOINT_MATRIX, "ml.py": CHECKPOINT_MEMENTO_ML}

# --- 4. scale: collection only, of the dispatch grid

SCALE_FILES = TRIVIAL_GRID_FILES

# --- 5. real ML grid: scikit-learn classifiers x datasets x seeds, mean 3-fold CV accuracy.
# The classifiers are named in the grid (a string is a portable configuration value on
# every side) and built by the same code everywhere; the forest gets random_state=seed so
# that its accuracy is a function of the configuration and the systems can be compared.

ML_COMMON = """\
from sklearn.datasets import load_iris, load_wine
from sklearn.ensemble import RandomForestClassifier
from sklearn.linear_model import LogisticRegression
from sklearn.model_selection import StratifiedKFold, cross_val_score
from sklearn.pipeline import make_pipeline
from sklearn.preprocessing import StandardScaler

CLASSIFIERS = ["logistic_regression", "random_forest"]
DATASETS = ["iris", "wine"]
SEEDS = range($seeds)


class ScaledLogisticRegression:
    def build(self, seed):
        return make_pipeline(StandardScaler(), LogisticRegression(max_iter=1000))


class Forest:
    def build(self, seed):
        return RandomForestClassifier(n_estimators=10, random_state=seed)


MODELS = {"logistic_regression": ScaledLogisticRegression, "random_forest": Forest}
LOADERS = {"iris": load_iris, "wine": load_wine}


def accuracy(classifier, dataset, seed):
    X, y = LOADERS[dataset](return_X_y=True)
    folds = StratifiedKFold(n_splits=3, shuffle=True, random_state=seed)
    return float(cross_val_score(MODELS[classifier]().build(seed), X, y, cv=folds).mean())
"""

ML_GRID_MATRIX = (
    ML_COMMON
    + """

import pytest_memento as memento


@memento.matrix(parameters={"classifier": CLASSIFIERS, "dataset": DATASETS, "seed": SEEDS})
def test_grid(config):
    return {"accuracy": accuracy(config.classifier, config.dataset, config.seed)}
"""
)

ML_GRID_MEMENTO_ML = (
    ML_COMMON
    + """

import json
import sys

from memento import Memento


def experiment(context, config):
    return {"accuracy": accuracy(config.classifier, config.dataset, config.seed)}


if __name__ == "__main__":
    matrix = {"parameters": {"classifier": CLASSIFIERS, "dataset": DATASETS, "seed": list(SEEDS)}}
    results = Memento(experiment, num_workers=int(sys.argv[1])).run(matrix, cache_path="cache.sqlite")
    rows = [{"classifier": r.config.classifier, "dataset": r.config.dataset, "seed": r.config.seed, "accuracy": r.inner["accuracy"]} for r in results]
    print("RESULTS " + json.dumps(rows))
    print(f"ran={sum(not result.was_cached for result in results)}")
"""
)

ML_GRID_LOOP = (
    ML_COMMON
    + """

import json

rows = [
    {"classifier": c, "dataset": d, "seed": s, "accuracy": accuracy(c, d, s)}
    for c in CLASSIFIERS
    for d in DATASETS
    for s in SEEDS
]
print("RESULTS " + json.dumps(rows))
print(f"ran={len(rows)}")
"""
)

ML_GRID_FILES = {
    "pytest.ini": PYTEST_INI,
    "test_grid.py": ML_GRID_MATRIX,
    "ml.py": ML_GRID_MEMENTO_ML,
    "loop.py": ML_GRID_LOOP,
}

# --- 6. checkpoint cost: save/load of a small dict and of float64 arrays, against a raw
# write (open().write() + os.replace) and read of the same pickled bytes. Each script
# prints one "RESULTS {json}" line: {size: {"save": [s...], "load": [...], "raw_save": [...], "raw_load": [...]}}.

CHECKPOINT_COMMON = """\
import json
import os
import pickle
import time

import numpy as np

SIZES = $sizes  # name -> number of float64 values (0: the small dict)
REPEAT = $repeat


def state_of(n):
    if n == 0:
        return {"step": 12, "loss": 0.25, "lr": 1e-3, "history": list(range(20))}
    return {"step": 12, "weights": np.random.default_rng(0).random(n)}


def timed(function):
    started = time.perf_counter()
    function()
    return time.perf_counter() - started


def bench(state, path, save, load):
    # raw write, save, raw read, load: interleaved, REPEAT times
    data = pickle.dumps(state, protocol=5)

    def raw_save():
        with open(path + ".tmp", "wb") as handle:
            handle.write(data)
        os.replace(path + ".tmp", path)

    def raw_load():
        with open(path, "rb") as handle:
            handle.read()

    times = {"save": [], "load": [], "raw_save": [], "raw_load": []}
    for _ in range(REPEAT):
        times["raw_save"].append(timed(raw_save))
        times["save"].append(timed(lambda: save(state)))
        times["raw_load"].append(timed(raw_load))
        times["load"].append(timed(load))
    return times
"""

CHECKPOINT_COST_MEMENTO = (
    CHECKPOINT_COMMON
    + """
from pathlib import Path

from pytest_memento.checkpoint import Checkpoint

out = {}
for name, n in SIZES.items():
    state = state_of(n)
    checkpoint = Checkpoint(Path("store") / f"{name}.ckpt", key=name)
    out[name] = bench(state, f"raw-{name}.bin", checkpoint.save, checkpoint.load)
    assert checkpoint.load()["step"] == 12
print("RESULTS " + json.dumps(out))
"""
)

CHECKPOINT_COST_MEMENTO_ML = (
    CHECKPOINT_COMMON
    + """
from memento import Memento


def experiment(context, config):
    state = state_of(SIZES[config.size])
    times = bench(state, f"raw-{config.size}.bin", context.checkpoint, context.restore)
    assert context.restore() is not None
    return times


if __name__ == "__main__":
    out = {}
    for name in SIZES:  # one single-configuration run per size
        results = Memento(experiment, num_workers=1).run({"parameters": {"size": [name]}}, cache_path=f"cache-{name}.sqlite")
        out[name] = results[0].inner
    print("RESULTS " + json.dumps(out))
"""
)

CHECKPOINT_COST_FILES = {"bench_memento.py": CHECKPOINT_COST_MEMENTO, "bench_ml.py": CHECKPOINT_COST_MEMENTO_ML}
