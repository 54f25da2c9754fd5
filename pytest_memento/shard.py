"""Deterministic shards of a grid: ``--memento-shard K/N`` and ``auto``
(Slurm arrays, GitLab CI, Kubernetes Indexed Jobs, our own variables).

Configurations are sorted by key and dealt round-robin, so every process
that collects the same selection computes the same split, shard sizes
differ by at most one, and the union of shards 1..N is every configuration
exactly once. Pure: no pytest.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence

__all__ = ["ShardError", "parse_shard", "shard_of"]


class ShardError(ValueError):
    """A bad ``--memento-shard`` value or environment."""


#: (index variable, count variable, first-index variable or None) per scheduler.
AUTO_SOURCES = (
    ("MEMENTO_SHARD_INDEX", "MEMENTO_SHARD_COUNT", None),
    ("SLURM_ARRAY_TASK_ID", "SLURM_ARRAY_TASK_COUNT", "SLURM_ARRAY_TASK_MIN"),
    ("CI_NODE_INDEX", "CI_NODE_TOTAL", None),
)


def _number(text: str, where: str) -> int:
    try:
        return int(text.strip())
    except ValueError:
        raise ShardError(f"{where}: expected a whole number, got {text!r}") from None


def _checked(index: int, count: int, read: str) -> tuple[int, int]:
    if count < 1:
        raise ShardError(f"the shard count must be 1 or more ({read})")
    if not 1 <= index <= count:
        raise ShardError(f"the shard index must be between 1 and {count} ({read})")
    return index, count


def parse_shard(spec: str, env: Mapping[str, str]) -> tuple[int, int]:
    """``"K/N"`` (1-based) or ``"auto"`` -> (K, N)."""
    spec = spec.strip()
    if spec == "auto":
        return _from_environment(env)
    if spec.count("/") != 1:
        raise ShardError(f"expected K/N (for example 2/8) or auto, got {spec!r}")
    index_text, count_text = spec.split("/")
    index, count = _number(index_text, "K"), _number(count_text, "N")
    return _checked(index, count, f"got {spec!r}")


#: A Kubernetes Indexed Job's pod index (0-based); the count is the Job's completions.
K8S_INDEX = "JOB_COMPLETION_INDEX"


def _from_kubernetes(env: Mapping[str, str]) -> tuple[int, int]:
    """A pod of an Indexed Job: ``JOB_COMPLETION_INDEX`` (0-based) and
    ``MEMENTO_SHARD_COUNT`` (the Job's ``completions``)."""
    text = env[K8S_INDEX]
    if "MEMENTO_SHARD_COUNT" not in env:
        raise ShardError(
            f"auto: {K8S_INDEX}={text!r} (a Kubernetes Indexed Job) needs MEMENTO_SHARD_COUNT, "
            "set to the Job's completions, in the pod's env"
        )
    index = _number(text, K8S_INDEX)
    count = _number(env["MEMENTO_SHARD_COUNT"], "MEMENTO_SHARD_COUNT")
    read = f"read {K8S_INDEX}={text!r} (0-based), MEMENTO_SHARD_COUNT={env['MEMENTO_SHARD_COUNT']!r}"
    if count >= 1 and not 0 <= index < count:
        raise ShardError(
            f"{K8S_INDEX} must be between 0 and {count - 1} ({read}); is MEMENTO_SHARD_COUNT the Job's completions?"
        )
    return _checked(index + 1, count, read)


def _from_environment(env: Mapping[str, str]) -> tuple[int, int]:
    if K8S_INDEX in env and "MEMENTO_SHARD_INDEX" not in env:
        return _from_kubernetes(env)
    for index_name, count_name, first_name in AUTO_SOURCES:
        if index_name not in env and count_name not in env:
            continue
        if index_name not in env or count_name not in env:
            raise ShardError(
                f"auto: {index_name} and {count_name} must both be set (read {index_name}={env.get(index_name)!r}, {count_name}={env.get(count_name)!r})"
            )
        index = _number(env[index_name], index_name)
        count = _number(env[count_name], count_name)
        read = f"read {index_name}={env[index_name]!r}, {count_name}={env[count_name]!r}"
        if first_name is not None:
            # Slurm array ids need not start at 1 (--array=0-7, --array=5-12).
            first = _number(env.get(first_name, "1"), first_name)
            read += f", {first_name}={env.get(first_name, '1 (unset)')!r}"
            index = index - first + 1
        return _checked(index, count, read)
    names = ", ".join(f"{index}/{count}" for index, count, _ in AUTO_SOURCES)
    raise ShardError(f"auto: none of {names} ({K8S_INDEX}/MEMENTO_SHARD_COUNT in a Kubernetes Indexed Job) is set")


def shard_of(keys: Sequence[str], index: int, count: int) -> list[bool]:
    """For each key, whether it belongs to shard ``index`` of ``count``:
    sorted by key, dealt round-robin."""
    order = sorted(range(len(keys)), key=lambda position: keys[position])
    chosen = [False] * len(keys)
    for rank, position in enumerate(order):
        chosen[position] = rank % count == index - 1
    return chosen
