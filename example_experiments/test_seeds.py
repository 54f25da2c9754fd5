"""Replicates: the same configuration over five seeds, for a table in a paper.

3 classifiers x 3 datasets x 5 seeds = 45 configurations, in 9 groups of 5.
``replicates="seed"`` says which parameter repeats a configuration (without
it, a parameter named ``seed`` is the replicate axis anyway); every seed
draws its own cross-validation split and forest, so the spread over seeds
is the noise of the estimate.

    pytest example_experiments/test_seeds.py -n 2
    memento table --experiment test_seeds --cols dataset --metric accuracy --format tex
    memento report report.html

``memento table`` prints one row per group: ``mean ± std`` over the seeds,
the best cell of each column in bold (``goals`` says higher accuracy and
lower fit time are better).
"""

from __future__ import annotations

import time

from sklearn.datasets import load_breast_cancer, load_iris, load_wine
from sklearn.ensemble import RandomForestClassifier
from sklearn.linear_model import LogisticRegression
from sklearn.model_selection import StratifiedKFold, cross_val_score
from sklearn.neighbors import KNeighborsClassifier
from sklearn.pipeline import make_pipeline
from sklearn.preprocessing import StandardScaler

import pytest_memento as memento


def make_model(name: str, seed: int) -> object:
    if name == "logistic":
        return make_pipeline(StandardScaler(), LogisticRegression(max_iter=1000))
    if name == "forest":
        return RandomForestClassifier(n_estimators=20, random_state=seed, n_jobs=1)
    return make_pipeline(StandardScaler(), KNeighborsClassifier(n_neighbors=5))


@memento.matrix(
    parameters={
        "model": ["logistic", "forest", "knn"],
        "dataset": [load_iris, load_wine, load_breast_cancer],
        "seed": range(5),
    },
    settings={"folds": 3},
    replicates="seed",
    goals={"accuracy": "max", "fit_seconds": "min"},
    # Absolute: the CI gate also needs a group's mean to move beyond 2 standard errors.
    tolerance={"accuracy": 0.01, "fit_seconds": 1.0},
)
def compare(config: memento.Config) -> dict[str, float]:
    X, y = config.dataset(return_X_y=True)
    folds = StratifiedKFold(n_splits=config.folds, shuffle=True, random_state=config.seed)
    start = time.perf_counter()
    scores = cross_val_score(make_model(config.model, config.seed), X, y, cv=folds)
    return {"accuracy": float(scores.mean()), "fit_seconds": time.perf_counter() - start}
