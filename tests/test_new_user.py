"""What a new user trips over (issue 13), end to end as a user runs it."""

from __future__ import annotations

import json
import os
import re
import signal
import subprocess
import sys
from pathlib import Path

import pytest
from conftest import lines_with, memento_cli, outcomes
from test_crashes import TRAIN, _start_group, _wait_for, steps

GRID = """
import pytest_memento as memento

@memento.matrix(parameters={"a": [1, 2], "seed": [0, 1]}, goals={"score": "max"}, replicates=())
def train(config):
    return {"score": config.a + config.seed / 10}
"""


def test_ran_because_only_counts_what_ran(pytester: pytest.Pytester, run) -> None:
    pytester.makepyfile(test_grid=GRID)
    assert run().ret == 0
    run("--memento-save-baseline", "baseline.json")
    baseline = json.loads((pytester.path / "baseline.json").read_text())
    for entry in baseline["experiments"]["test_grid.py::train"].values():
        entry["metrics"]["score"] += 10  # every stored score is now worse than the baseline
    (pytester.path / "baseline.json").write_text(json.dumps(baseline))
    result = run("--memento-baseline", "baseline.json")
    assert outcomes(result) == {"failed": 4}
    assert not lines_with(result, "ran because")
    result.stdout.fnmatch_lines(["*not run: cached, worse than the baseline (4)*"])

    pytester.makepyfile(test_other=GRID.replace("train", "other"))
    only = run("--memento-cached-only", "test_other.py")
    assert outcomes(only) == {"skipped": 4}
    assert not lines_with(only, "ran because")
    only.stdout.fnmatch_lines(["*not run: skipped: not cached (4)*"])


def test_last_failed_after_an_edit_says_the_run_failed(pytester: pytest.Pytester, run) -> None:
    pytester.makepyfile(test_grid=GRID)
    assert run().ret == 0
    pytester.makepyfile(test_grid=GRID.replace("return {", "assert config.a == 1\n    return {"))
    failing = run()
    assert outcomes(failing) == {"passed": 2, "failed": 2}
    failing.stdout.fnmatch_lines(["*ran because: code changed (train) (4)*"])
    again = run("--lf")
    assert outcomes(again)["failed"] == 2
    again.stdout.fnmatch_lines(["*ran because: last run failed (2)*"])
    assert not lines_with(again, "code changed")


IDENTITY = """
import pytest
import pytest_memento as memento

@memento.matrix(parameters={"f": [pytest.param(lambda x: x, id="identity"), pytest.param(abs, id="absolute")]})
def exp(config):
    return {"value": config.f(-2)}
"""


def test_a_value_is_shown_by_its_id_wherever_it_is_shown(pytester: pytest.Pytester, run) -> None:
    pytester.makepyfile(test_fn=IDENTITY)
    result = run("--memento-export", "out.csv", "--memento-export", "out.md", "--memento-save-baseline", "b.json")
    assert result.ret == 0, result.stdout.str()
    everything = result.stdout.str() + (pytester.path / "out.csv").read_text() + (pytester.path / "out.md").read_text()
    everything += (pytester.path / "b.json").read_text()
    assert "0x" not in everything
    assert "<lambda>" not in everything
    assert "identity" in (pytester.path / "out.csv").read_text()
    assert lines_with(result, "identity")  # the terminal table
    configs = [
        e["config"]["f"]
        for e in json.loads((pytester.path / "b.json").read_text())["experiments"]["test_fn.py::exp"].values()
    ]
    assert sorted(configs) == ["builtins.abs", "identity"]  # a stable value keeps its own name


IDS = """
import numpy as np
import pytest_memento as memento

@memento.matrix(parameters={"lr": list(np.logspace(-4, -2, 3))})
def rates(config):
    return {"lr": config.lr}

@memento.matrix(parameters={"x": [1, "1", 10]})
def mixed(config):
    return {"is_str": int(isinstance(config.x, str))}
"""


def test_ids_are_readable_and_unmistakable(pytester: pytest.Pytester, run_plain) -> None:
    pytester.makepyfile(test_ids=IDS)
    result = run_plain("--collect-only", "-q")
    text = result.stdout.str()
    for wanted in ("rates[0.0001]", "rates[0.001]", "rates[0.01]", "mixed[1]", "mixed['1']", "mixed[10]"):
        assert f"test_ids.py::{wanted}" in text, text
    assert "np.float64" not in text
    picked = run_plain("test_ids.py::mixed[10]", "-q")
    assert outcomes(picked) == {"passed": 1}


def test_misspelled_parameter_is_one_error_naming_the_closest_match(pytester: pytest.Pytester, run) -> None:
    pytester.makepyfile(
        test_typo="""
        import pytest_memento as memento

        @memento.matrix(parameters={"learning_rate": [0.1, 0.01], "seed": range(3)}, settings={"epochs": 2})
        def train(learning_rat, seed):
            return {}
        """
    )
    result = run()
    assert result.ret != 0
    assert outcomes(result) == {"errors": 1}
    result.stdout.fnmatch_lines(
        [
            "*test_typo.py::train: argument 'learning_rat' is not a parameter, a setting or a fixture "
            "(parameters: learning_rate, seed; settings: epochs); did you mean 'learning_rate'?*"
        ]
    )
    assert not lines_with(result, "fixture 'learning_rat' not found")


def test_checkpoint_resumed_from_reads_as_promised(tmp_path: Path) -> None:
    from pytest_memento.checkpoint import Checkpoint

    path = tmp_path / "c.ckpt"
    first = Checkpoint(path, key="k" * 64)
    first.save({"epoch": 1})
    again = Checkpoint(path, key="k" * 64)
    assert again.load() == {"epoch": 1}
    assert str(again.resumed_from).startswith("save #1 at ")


def test_a_malformed_baseline_is_a_usage_error_and_missing_lists_are_counted(
    pytester: pytest.Pytester, run_plain
) -> None:
    pytester.makepyfile(test_grid=GRID.replace('"seed": [0, 1]', '"seed": range(13)'))
    assert run_plain("--memento-save-baseline", "b.json").ret == 0
    document = json.loads((pytester.path / "b.json").read_text())
    entries = document["experiments"]["test_grid.py::train"]
    first = next(iter(entries.values()))
    first["metrics"]["score"] = "high"
    (pytester.path / "bad.json").write_text(json.dumps(document))
    bad = run_plain("--memento-baseline", "bad.json")
    assert bad.ret == pytest.ExitCode.USAGE_ERROR
    assert f"bad.json: test_grid.py::train[{first['id']}]: metric 'score' is 'high', not a number" in bad.stderr.str()
    first["metrics"]["score"] = 1.0
    (pytester.path / "b.json").write_text(json.dumps(document))
    only_one = run_plain("--memento-baseline", "b.json", "-k", "1-0")
    only_one.stdout.fnmatch_lines(["*25 missing from this run*", "*... and 5 more missing*"])
    assert len(lines_with(only_one, "  missing: ")) == 20


UNPICKLABLE = """
import threading
import pytest_memento as memento

class Model:
    def __init__(self):
        self.optimizer = threading.Lock()

@memento.matrix(parameters={"seed": [0]})
def train(config):
    return {"score": 1.0, "model": Model()}
"""


def test_an_unpicklable_result_is_one_failure_naming_the_part(pytester: pytest.Pytester, run) -> None:
    pytester.makepyfile(test_pickle=UNPICKLABLE)
    result = run()
    assert outcomes(result) == {"failed": 1}
    text = result.stdout.str()
    assert "result['model'].optimizer is a _thread.lock" in text
    assert text.count("Traceback") == 0
    assert "cannot be pickled, so it cannot be stored" in text
    again = run()
    assert outcomes(again) == {"failed": 1}  # nothing was stored


@pytest.mark.parametrize("mode", [["-p", "no:xdist"], ["-n", "2"]], ids=["no-xdist", "n2"])
@pytest.mark.parametrize("sig", [signal.SIGINT, signal.SIGTERM], ids=["ctrl-c", "SIGTERM"])
def test_an_interrupt_names_what_it_stopped_and_where_it_resumes(
    pytester: pytest.Pytester, mode: list[str], sig: signal.Signals
) -> None:
    pytester.makepyfile(test_train=TRAIN)
    process = _start_group(pytester.path, *mode, env_extra={"EPOCH_SECONDS": "0.3"})
    _wait_for(lambda: len(steps(pytester.path, "b")) >= 3)
    os.killpg(process.pid, sig)
    output, _ = process.communicate(timeout=60)
    assert process.returncode == pytest.ExitCode.INTERRUPTED, output
    assert re.search(
        r"interrupted: test_train\.py::train\[b\]; the next run resumes it from its checkpoint \(save #\d+ at ", output
    ), output
    if "no:xdist" in mode:
        # The traceback ends where the signal landed: in the experiment, not in the plugin.
        assert re.search(r"test_train\.py:\d+: KeyboardInterrupt", output), output
        assert "pytest_memento" not in output.split("KeyboardInterrupt", 1)[1].split("memento ---", 1)[0]


CLASSIFIERS = """
import pytest_memento as memento
from sklearn.naive_bayes import GaussianNB
from sklearn.tree import DecisionTreeClassifier

@memento.matrix(parameters={"classifier": [GaussianNB, DecisionTreeClassifier], "seed": [0, 1]})
def classify(config):
    return {"seed": config.seed}

@memento.matrix(parameters={"x": [1, 2]})
def old(config):
    return {"x": config.x}
"""


def test_where_accepts_the_short_names_ids_show_and_says_when_it_cannot(pytester: pytest.Pytester, run_plain) -> None:
    pytester.makeini("[pytest]\n")
    pytester.makepyfile(test_cls=CLASSIFIERS)
    assert run_plain().ret == 0
    short = memento_cli(pytester.path, "list", "--where", "classifier=GaussianNB")
    assert short.returncode == 0, short.stderr
    assert "2 result(s)" in short.stdout
    assert "classify[GaussianNB-0]" in short.stdout
    typo = memento_cli(pytester.path, "list", "--where", "clasifier=GaussianNB")
    assert typo.returncode == 2
    assert "no stored configuration has a parameter 'clasifier'" in typo.stderr
    assert "did you mean 'classifier'?" in typo.stderr
    nothing = memento_cli(pytester.path, "list", "--where", "classifier=SVC")
    assert nothing.returncode == 0
    assert "0 result(s)" in nothing.stdout
    assert "--where classifier=SVC matches nothing" in nothing.stderr


def test_results_of_deleted_experiments_are_marked_and_gc_forgets_them(pytester: pytest.Pytester, run_plain) -> None:
    pytester.makeini("[pytest]\n")
    pytester.makepyfile(test_cls=CLASSIFIERS)
    assert run_plain().ret == 0
    pytester.makepyfile(test_cls=CLASSIFIERS.split('@memento.matrix(parameters={"x"')[0])
    listing = memento_cli(pytester.path, "list")
    old_lines = [line for line in listing.stdout.splitlines() if "::old[" in line]
    assert len(old_lines) == 2
    assert all("  deleted  " in line for line in old_lines)
    assert all("  deleted  " not in line for line in listing.stdout.splitlines() if "::classify[" in line)
    exported = memento_cli(pytester.path, "export", "--format", "csv", "-")
    rows = [line for line in exported.stdout.splitlines() if "::old" in line]
    assert len(rows) == 2
    assert all(",deleted," in row for row in rows)
    gc = memento_cli(pytester.path, "gc", "--deleted")
    assert gc.returncode == 0, gc.stderr
    assert "forgot 2 result(s) of deleted experiments" in gc.stdout
    assert "4 result(s)" in memento_cli(pytester.path, "list").stdout


def _project(base: Path) -> Path:
    project = base / "myexp"
    (project / "experiments").mkdir(parents=True)
    (project / "experiments" / "test_e.py").write_text(GRID)
    return project


def _pytest(cwd: Path, *args: str) -> subprocess.CompletedProcess[str]:
    command = [sys.executable, "-m", "pytest", "-p", "no:xdist", "-p", "no:randomly", "-p", "no:cacheprovider", *args]
    return subprocess.run(command, cwd=cwd, capture_output=True, text=True, timeout=120)


def test_an_option_value_taken_for_a_test_path_stops_the_run(tmp_path: Path) -> None:
    project = _project(tmp_path)
    (project / "pytest.ini").write_text("[pytest]\ntestpaths = experiments\n")
    other = tmp_path / "other"
    other.mkdir()
    saved = _pytest(project, f"--memento-save-baseline={other / 'b.json'}")
    assert saved.returncode == 0, saved.stdout
    misread = _pytest(project, "--memento-baseline", str(other / "b.json"))
    assert misread.returncode == pytest.ExitCode.USAGE_ERROR, misread.stdout
    assert f"pytest did not read {project / 'pytest.ini'}" in misread.stderr
    assert f"'--memento-baseline {other / 'b.json'}' for a test path" in misread.stderr
    assert "write option values with '='" in misread.stderr
    assert not (tmp_path / ".memento").exists()  # nothing ran, no second store
    fixed = _pytest(project, f"--memento-baseline={other / 'b.json'}")
    assert "4 cached" in fixed.stdout, fixed.stdout


def test_without_an_ini_keys_survive_where_pytest_is_run_from(tmp_path: Path) -> None:
    project = _project(tmp_path)
    first = _pytest(project)
    assert "4 passed" in first.stdout, first.stdout
    for cwd, args in ((project / "experiments", ()), (tmp_path, ("myexp/experiments",)), (tmp_path, ("myexp",))):
        again = _pytest(cwd, *args)
        assert "4 cached" in again.stdout, (cwd, args, again.stdout)
    stores = sorted(str(p.parent.relative_to(tmp_path)) for p in tmp_path.rglob("CACHEDIR.TAG"))
    assert stores == ["myexp/.memento"]
