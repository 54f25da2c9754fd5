"""A real scikit-learn grid: 4 classifiers x 4 datasets x 3 preprocessings x 2 seeds.

Shows what a typical experiment file looks like:

- parameter values are the classes and loader functions themselves; their
  identity (``module.qualname``) is what the cache key hashes, and their
  ``__name__`` is the test id, so ``-k "SVC and load_iris"`` selects by value;
- ``folds`` is a setting: part of every configuration and of its key, not of the id;
- ``exclude`` drops combinations that are not worth running, as a partial dict
  and as a callable;
- the returned dict's numbers (accuracy, accuracy_std, fit_seconds) are the
  metrics shown in the results table, and an ordinary ``assert`` fails a
  configuration that does no better than always guessing the majority class.

84 configurations (96 minus 12 excluded); a few seconds with ``-n 2``, and
nothing to do the second time.
"""

from __future__ import annotations

import functools
import time
from collections import Counter
from collections.abc import Callable
from typing import Any

import numpy as np
from sklearn.base import BaseEstimator
from sklearn.datasets import load_breast_cancer, load_digits, load_iris, load_wine
from sklearn.ensemble import RandomForestClassifier
from sklearn.linear_model import LogisticRegression
from sklearn.model_selection import StratifiedKFold, cross_val_score
from sklearn.neighbors import KNeighborsClassifier
from sklearn.pipeline import Pipeline, make_pipeline
from sklearn.preprocessing import MinMaxScaler, StandardScaler
from sklearn.svm import SVC

import pytest_memento as memento

Loader = Callable[..., Any]

SCALERS: dict[str, Callable[[], BaseEstimator]] = {
    "standard": StandardScaler,
    "minmax": MinMaxScaler,
}

# Per-classifier options. The forest is kept small so the grid stays quick;
# n_jobs=1 because xdist already keeps every core busy.
OPTIONS: dict[type[BaseEstimator], dict[str, Any]] = {
    # Scaled data converges in under 100 lbfgs iterations; the headroom means no
    # fold ever raises a ConvergenceWarning (this project turns warnings into failures).
    LogisticRegression: {"max_iter": 1000},
    RandomForestClassifier: {"n_estimators": 25, "n_jobs": 1},
    SVC: {},
    KNeighborsClassifier: {"n_neighbors": 5},
}


def build_model(classifier: type[BaseEstimator], preprocessing: str, seed: int) -> Pipeline:
    options = dict(OPTIONS[classifier])
    if "random_state" in classifier().get_params():
        options["random_state"] = seed
    steps: list[BaseEstimator] = [] if preprocessing == "none" else [SCALERS[preprocessing]()]
    return make_pipeline(*steps, classifier(**options))


@functools.cache
def feature_range_ratio(dataset: Loader) -> float:
    """How many times wider the widest feature's range is than the narrowest (non-constant) one."""
    X, _ = dataset(return_X_y=True)
    ranges = np.ptp(X, axis=0)
    ranges = ranges[ranges > 0]
    return float(ranges.max() / ranges.min())


def unscaled_distances(config: memento.Config) -> bool:
    # k-nearest neighbours on raw features measures distance in whatever unit
    # is largest (proline on wine, area on breast cancer): not worth running.
    return (
        config.classifier is KNeighborsClassifier
        and config.preprocessing == "none"
        and feature_range_ratio(config.dataset) > 100
    )


@memento.matrix(
    parameters={
        "classifier": [LogisticRegression, RandomForestClassifier, SVC, KNeighborsClassifier],
        "dataset": [load_iris, load_wine, load_breast_cancer, load_digits],
        "preprocessing": ["none", "standard", "minmax"],
        "seed": range(2),
    },
    settings={"folds": 3},
    # How the metrics are judged against a baseline (--memento-baseline) and
    # which configuration the summary table calls best.
    goals={"accuracy": "max", "fit_seconds": "min"},
    tolerance={"accuracy": 0.02, "accuracy_std": 0.02, "fit_seconds": 1.0},
    exclude=[
        # lbfgs on raw features needs tens of thousands of iterations on wine
        # and breast cancer (else a ConvergenceWarning); the scaled rows answer
        # the same question in a fraction of the time.
        {"classifier": LogisticRegression, "preprocessing": "none"},
        unscaled_distances,
    ],
)
def classify(config: memento.Config) -> dict[str, float]:
    X, y = config.dataset(return_X_y=True)
    model = build_model(config.classifier, config.preprocessing, config.seed)
    # Shuffled, stratified folds seeded from the config: each seed is a
    # different split, and the same seed is the same split on every run.
    folds = StratifiedKFold(n_splits=config.folds, shuffle=True, random_state=config.seed)

    start = time.perf_counter()
    scores = cross_val_score(model, X, y, cv=folds)
    seconds = time.perf_counter() - start

    # Chance level: always predicting the most frequent class.
    chance = Counter(y.tolist()).most_common(1)[0][1] / len(y)
    assert scores.mean() > chance, f"accuracy {scores.mean():.3f} is not above chance {chance:.3f}"
    # Plain floats: numpy scalars would work too, but floats pickle and export everywhere.
    return {
        "accuracy": float(scores.mean()),
        "accuracy_std": float(scores.std()),
        "fit_seconds": seconds,
    }
