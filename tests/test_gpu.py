"""On a real GPU machine: each xdist worker's torch sees exactly one GPU,
the one pytest-memento gave it, and the record names it. Skipped, saying
why, without torch or without a CUDA GPU."""

from __future__ import annotations

import json
import os

import pytest
from conftest import outcomes, stored

pytestmark = pytest.mark.gpu

EXPERIMENT = """
import json, os, pathlib
import pytest_memento as memento

HERE = pathlib.Path(__file__).parent

@memento.matrix(parameters={"run": list(range(8))})
def on_gpu(config):
    import torch
    x = torch.ones(256, 256, device="cuda")
    total = float((x @ x).sum().item())
    worker = os.environ.get("PYTEST_XDIST_WORKER", "main")
    seen = {
        "visible": os.environ.get("CUDA_VISIBLE_DEVICES"),
        "count": torch.cuda.device_count(),
        "name": torch.cuda.get_device_name(0),
    }
    (HERE / f"seen-{worker}-{config.run}.json").write_text(json.dumps(seen))
    return {"total": total}
"""


def _gpus() -> int:
    torch = pytest.importorskip("torch", reason="torch is not installed: the GPU test needs it")
    if not torch.cuda.is_available():
        pytest.skip("no CUDA GPU is visible to torch (torch.cuda.is_available() is False)")
    return int(torch.cuda.device_count())


def test_each_worker_uses_its_own_gpu_with_torch(pytester: pytest.Pytester) -> None:
    gpus = _gpus()
    visible = os.environ.get("CUDA_VISIBLE_DEVICES")
    listed = (
        [d.strip() for d in visible.split(",") if d.strip()] if visible is not None else [str(i) for i in range(gpus)]
    )
    pytester.makepyfile(test_on_gpu=EXPERIMENT)
    workers = 2 * gpus if gpus > 1 else 2
    result = pytester.runpytest_subprocess("-p", "no:randomly", "-n", str(workers))
    assert outcomes(result) == {"passed": 8}, result.stdout.str()
    for marker in pytester.path.glob("seen-*.json"):
        seen = json.loads(marker.read_text())
        worker = int(marker.name.split("-")[1][2:])
        assert seen["count"] == 1  # exactly one GPU visible to the worker's torch
        assert seen["visible"] == listed[worker % len(listed)]
    records = stored(pytester.path)
    assert all(r["gpu"] is not None and r["metrics"]["total"] == 256.0**3 for r in records)
