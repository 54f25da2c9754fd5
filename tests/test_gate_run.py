"""End to end: the group gate fails every item of a regressed replicate
group, under xdist too, and the Markdown export carries the comparison."""

from __future__ import annotations

import json

import pytest
from conftest import lines_with, outcomes

GRID = """
import os
import pytest_memento as memento

SHIFT = float(os.environ.get("SHIFT_B", "0"))
NOISE = [0.0, 0.01, -0.01, 0.005, -0.005]

@memento.matrix(parameters={"model": ["a", "b"], "seed": range(5)}, goals={"acc": "max"})
def train(config):
    base = {"a": 0.9, "b": 0.8}[config.model]
    shift = SHIFT if config.model == "b" else 0.0
    return {"acc": base + shift + NOISE[config.seed]}
"""


def test_a_regressed_group_fails_all_its_items_and_noise_does_not(
    pytester: pytest.Pytester, run, monkeypatch: pytest.MonkeyPatch
) -> None:
    pytester.makeini("[pytest]\n")
    pytester.makepyfile(test_grid=GRID)
    assert run("--memento-save-baseline", "baseline.json").ret == 0
    saved = json.loads((pytester.path / "baseline.json").read_text())
    groups = saved["groups"]["test_grid.py::train"]
    assert {g["label"] for g in groups.values()} == {"model=a", "model=b"}
    assert all(g["metrics"]["acc"]["n"] == 5 for g in groups.values())

    monkeypatch.setenv("SHIFT_B", "-0.002")  # well within the seeds' noise
    wobble = run("--memento-baseline", "baseline.json", "--memento-rerun")
    assert wobble.ret == 0, wobble.stdout.str()

    monkeypatch.setenv("SHIFT_B", "-0.05")  # far beyond it
    result = run("--memento-baseline", "baseline.json", "--memento-rerun", "--memento-export", "summary.md")
    assert result.ret == pytest.ExitCode.TESTS_FAILED
    assert outcomes(result) == {"passed": 10, "errors": 5}
    text = result.stdout.str()
    for seed in range(5):
        assert f"test_grid.py::train[b-{seed}]" in text
    assert "group test_grid.py::train[model=b]" in text
    assert "acc: baseline 0.8 ± 0.0079 (n=5), now 0.75 ± 0.0079 (n=5), change -0.05" in text
    assert "worse beyond tolerance 0 and 2 standard errors of the difference" in text
    assert not lines_with(result, "train[a-") or all("ERROR" not in line for line in lines_with(result, "train[a-"))
    summary = (pytester.path / "summary.md").read_text()
    first = summary.splitlines()
    assert first[0] == "### Against the baseline `baseline.json`: 1 worse, 1 same"
    assert (
        "| test_grid.py::train[model=b] | acc | 0.8 ± 0.0079 (n=5) | 0.75 ± 0.0079 (n=5) | -0.05 | **worse** |"
        in summary
    )
    assert len(summary) < 4000

    again = run("--memento-baseline", "baseline.json", "--lf")
    assert again.ret == pytest.ExitCode.TESTS_FAILED  # --lf knows the gated items
    assert outcomes(again)["cached"] == 5
