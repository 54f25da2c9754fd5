"""Shards: a deterministic split of the selected configurations."""

from __future__ import annotations

import hashlib
import re

import pytest
from conftest import outcomes

from pytest_memento.hashing import node_key
from pytest_memento.shard import ShardError, parse_shard, shard_of


def keys(count: int) -> list[str]:
    return [hashlib.sha256(str(i).encode()).hexdigest() for i in range(count)]


@pytest.mark.parametrize("count", [1, 2, 3, 7, 8])
@pytest.mark.parametrize("size", [0, 1, 5, 23, 100])
def test_shards_cover_everything_once_and_are_balanced(size: int, count: int) -> None:
    all_keys = keys(size)
    taken = [shard_of(all_keys, index, count) for index in range(1, count + 1)]
    for position in range(size):
        assert sum(chosen[position] for chosen in taken) == 1
    sizes = [sum(chosen) for chosen in taken]
    assert max(sizes) - min(sizes) <= 1


def test_split_depends_on_keys_not_order() -> None:
    all_keys = keys(20)
    chosen = {key for key, keep in zip(all_keys, shard_of(all_keys, 2, 3), strict=True) if keep}
    reversed_keys = list(reversed(all_keys))
    again = {key for key, keep in zip(reversed_keys, shard_of(reversed_keys, 2, 3), strict=True) if keep}
    assert chosen == again


@pytest.mark.parametrize(
    ("spec", "env", "expected"),
    [
        ("1/1", {}, (1, 1)),
        ("3/8", {}, (3, 8)),
        (" 2/4 ", {}, (2, 4)),
        ("auto", {"MEMENTO_SHARD_INDEX": "2", "MEMENTO_SHARD_COUNT": "5"}, (2, 5)),
        ("auto", {"SLURM_ARRAY_TASK_ID": "3", "SLURM_ARRAY_TASK_COUNT": "4", "SLURM_ARRAY_TASK_MIN": "0"}, (4, 4)),
        ("auto", {"SLURM_ARRAY_TASK_ID": "1", "SLURM_ARRAY_TASK_COUNT": "4"}, (1, 4)),
        ("auto", {"CI_NODE_INDEX": "2", "CI_NODE_TOTAL": "3"}, (2, 3)),
        ("auto", {"JOB_COMPLETION_INDEX": "0", "MEMENTO_SHARD_COUNT": "4"}, (1, 4)),
        ("auto", {"JOB_COMPLETION_INDEX": "3", "MEMENTO_SHARD_COUNT": "4"}, (4, 4)),
        # Our own variables win over the pod's index.
        ("auto", {"JOB_COMPLETION_INDEX": "0", "MEMENTO_SHARD_INDEX": "2", "MEMENTO_SHARD_COUNT": "4"}, (2, 4)),
    ],
)
def test_parse_shard(spec: str, env: dict[str, str], expected: tuple[int, int]) -> None:
    assert parse_shard(spec, env) == expected


@pytest.mark.parametrize(
    ("spec", "env", "message"),
    [
        ("3", {}, "expected K/N"),
        ("a/2", {}, "K: expected a whole number, got 'a'"),
        ("0/2", {}, "between 1 and 2"),
        ("3/2", {}, "between 1 and 2"),
        ("1/0", {}, "count must be 1 or more"),
        ("auto", {}, "none of MEMENTO_SHARD_INDEX/MEMENTO_SHARD_COUNT"),
        (
            "auto",
            {"SLURM_ARRAY_TASK_ID": "9", "SLURM_ARRAY_TASK_COUNT": "4", "SLURM_ARRAY_TASK_MIN": "0"},
            "read SLURM_ARRAY_TASK_ID='9'",
        ),
        ("auto", {"CI_NODE_INDEX": "2"}, "CI_NODE_INDEX and CI_NODE_TOTAL must both be set"),
        (
            "auto",
            {"JOB_COMPLETION_INDEX": "1"},
            "JOB_COMPLETION_INDEX='1' (a Kubernetes Indexed Job) needs MEMENTO_SHARD_COUNT",
        ),
        (
            "auto",
            {"JOB_COMPLETION_INDEX": "4", "MEMENTO_SHARD_COUNT": "4"},
            "JOB_COMPLETION_INDEX must be between 0 and 3 (read JOB_COMPLETION_INDEX='4' (0-based), MEMENTO_SHARD_COUNT='4')",
        ),
        (
            "auto",
            {"JOB_COMPLETION_INDEX": "x", "MEMENTO_SHARD_COUNT": "4"},
            "JOB_COMPLETION_INDEX: expected a whole number",
        ),
        ("auto", {"JOB_COMPLETION_INDEX": "0", "MEMENTO_SHARD_COUNT": "0"}, "count must be 1 or more"),
        ("auto", {}, "(JOB_COMPLETION_INDEX/MEMENTO_SHARD_COUNT in a Kubernetes Indexed Job) is set"),
    ],
)
def test_bad_shards(spec: str, env: dict[str, str], message: str) -> None:
    with pytest.raises(ShardError, match=re.escape(message)):
        parse_shard(spec, env)


def test_node_key_is_a_key() -> None:
    assert re.fullmatch(r"[0-9a-f]{64}", node_key("test_x.py::test_y"))


GRID = """
import pytest_memento as memento

@memento.matrix(parameters={"x": range(7), "y": ["a", "b"]})
def exp(config):
    return {"v": config.x}

def test_plain():
    pass
"""


def collected(result: pytest.RunResult) -> set[str]:
    return {line.strip() for line in result.outlines if "::" in line and not line.startswith(("=", "E "))}


def test_shards_of_a_run_partition_the_selection(pytester: pytest.Pytester, run) -> None:
    pytester.makepyfile(test_grid=GRID)
    everything = collected(pytester.runpytest_subprocess("--collect-only", "-q", "-p", "no:xdist"))
    assert len(everything) == 15
    parts = [
        collected(pytester.runpytest_subprocess("--collect-only", "-q", "-p", "no:xdist", "--memento-shard", f"{k}/4"))
        for k in (1, 2, 3, 4)
    ]
    assert set().union(*parts) == everything
    assert sum(len(part) for part in parts) == 15
    assert max(map(len, parts)) - min(map(len, parts)) <= 1
    # Running the shards (in any mode) fills the store; then nothing is left to run.
    for k in (1, 2, 3, 4):
        assert run("--memento-shard", f"{k}/4").ret == 0
    assert outcomes(run()) == {"passed": 1, "cached": 14}


def test_shard_with_selection_and_auto(pytester: pytest.Pytester, monkeypatch: pytest.MonkeyPatch) -> None:
    pytester.makepyfile(test_grid=GRID)
    selected = collected(pytester.runpytest_subprocess("--collect-only", "-q", "-p", "no:xdist", "-k", "a"))
    monkeypatch.setenv("SLURM_ARRAY_TASK_MIN", "0")
    monkeypatch.setenv("SLURM_ARRAY_TASK_COUNT", "2")
    parts = []
    for task in ("0", "1"):
        monkeypatch.setenv("SLURM_ARRAY_TASK_ID", task)
        parts.append(
            collected(
                pytester.runpytest_subprocess(
                    "--collect-only", "-q", "-p", "no:xdist", "-k", "a", "--memento-shard", "auto"
                )
            )
        )
    assert parts[0] | parts[1] == selected
    assert not parts[0] & parts[1]


def test_bad_shard_is_a_usage_error(pytester: pytest.Pytester, run_plain) -> None:
    pytester.makepyfile(test_grid=GRID)
    result = run_plain("--memento-shard", "5/4")
    assert result.ret == pytest.ExitCode.USAGE_ERROR
    result.stderr.fnmatch_lines(["*--memento-shard: the shard index must be between 1 and 4 (got '5/4')*"])
    letters = run_plain("--memento-shard", "a/b")
    assert letters.ret == pytest.ExitCode.USAGE_ERROR
    letters.stderr.fnmatch_lines(["*pytest-memento: --memento-shard: K: expected a whole number, got 'a'"])
    assert "--memento-shard: --memento-shard" not in letters.stderr.str()


def test_adding_a_configuration_reruns_only_it(pytester: pytest.Pytester, run_plain) -> None:
    # Shards are recomputed from the new grid, but the store is the record of
    # what is done: across all shards only the new configuration runs.
    pytester.makepyfile(test_grid=GRID)
    for k in (1, 2, 3):
        run_plain("--memento-shard", f"{k}/3")
    pytester.makepyfile(test_grid=GRID.replace("range(7)", "range(8)"))
    ran = 0
    for k in (1, 2, 3):
        ran += outcomes(run_plain("--memento-shard", f"{k}/3")).get("passed", 0)
    # 2 new configurations (x=7 with y a and b) and the plain test (never cached), once each.
    assert ran == 3
