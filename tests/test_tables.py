"""Unit tests of the results table and its exports (no pytest spawned)."""

from __future__ import annotations

import csv
import io
import json
import math
from pathlib import Path

import pytest

from pytest_memento.outcome import Outcome, Status
from pytest_memento.tables import check_export_path, format_table, render, rows_from_run

EXP = "test_x.py::train"


def outcome(i: int, status: Status = Status.RAN, **metrics: float) -> Outcome:
    return Outcome(
        nodeid=f"{EXP}[{i}]",
        status=status,
        experiment=EXP,
        test_id=f"m{i % 2}-{i}",
        key=f"{i:064x}",
        config_hash=f"{i:064x}",
        config={"model": f"pkg.Model{i % 2}", "seed": i, "folds": 5},
        parameters=("model", "seed"),
        labels={"model": f"Model{i % 2}"},
        metrics=metrics or {"acc": 0.5 + i / 100},
        duration=0.25 * i,
        goals={"loss": "min"},
    )


def test_small_grid_lists_every_configuration_with_labels_and_metrics_first() -> None:
    lines = format_table([outcome(1), outcome(0, Status.CACHED), outcome(2, Status.FAILED)], width=120)
    assert lines[0] == f"{EXP}: 3 configurations (1 cached, 1 failed, 1 ran)"
    header = lines[1].split()
    assert header == ["status", "acc", "model", "seed", "duration"]
    rows = [line.split() for line in lines[2:]]
    assert [row[0] for row in rows] == ["cached", "failed", "ran"]  # sorted by id
    assert rows[0][1:] == ["0.5", "Model0", "0", "0.00s"]
    assert "pkg.Model0" not in "\n".join(lines)  # the short label, not the qualified name
    assert "folds" not in lines[1]  # settings are not columns


def test_counts_in_the_heading_follow_the_table_order() -> None:
    lines = format_table([outcome(1), outcome(0, Status.FAILED)], width=120)
    assert lines[0] == f"{EXP}: 2 configurations (1 failed, 1 ran)"


def test_narrow_terminal_drops_columns_from_the_right_and_says_so() -> None:
    lines = format_table([outcome(0), outcome(1)], width=18, export_hint="see out.csv")
    assert lines[1].split() == ["status", "acc"]
    assert lines[-1] == "  (3 column(s) do not fit the terminal: see out.csv)"


def test_large_grid_is_summarised_with_best_by_goal() -> None:
    many = [outcome(i, loss=float(i % 7), acc=i / 100) for i in range(40)]
    lines = format_table(many, width=100, export_hint="write them all")
    assert lines[0].startswith(f"{EXP}: 40 configurations")
    text = "\n".join(lines)
    assert "loss (min is best): best 0, worst 6, mean" in text
    assert "acc (no goal: highest): best 0.39, worst 0, mean 0.195" in text
    assert "    best: m1-39" in text
    assert lines[-1] == "  every configuration: write them all"
    assert len(lines) < 10


def test_summary_mode_and_full_mode() -> None:
    few = [outcome(i) for i in range(3)]
    assert any("best:" in line for line in format_table(few, mode="summary"))
    many = [outcome(i) for i in range(40)]
    assert len(format_table(many, mode="full", width=200)) == 42


def test_nan_is_never_best_and_items_without_experiment_are_left_out() -> None:
    rows = [outcome(0, acc=math.nan), outcome(1, acc=0.1), Outcome("other.py::t", Status.CRASHED)]
    lines = format_table(rows, mode="summary")
    assert "best 0.1, worst 0.1" in "\n".join(lines)
    assert all("other.py" not in line for line in lines)


def test_rows_are_flat_and_pandas_readable() -> None:
    pd = pytest.importorskip("pandas")
    rows = rows_from_run([outcome(0), outcome(1, Status.CACHED), Outcome("t.py::plain", Status.RAN)])
    assert [row["status"] for row in rows] == ["ran", "cached"]
    assert rows[0]["model"] == "pkg.Model0"
    assert rows[0]["acc"] == 0.5
    frame = pd.read_csv(io.StringIO(render(rows, ".csv")))
    assert list(frame.columns[:5]) == ["experiment", "id", "status", "key", "duration"]
    assert list(frame["seed"]) == [0, 1]
    records = json.loads(render(rows, ".json"))
    assert pd.DataFrame(records)["acc"].tolist() == [0.5, 0.51]


def test_exports_never_lose_a_column_to_a_name_clash_and_survive_nan() -> None:
    clash = Outcome("n", Status.RAN, experiment=EXP, test_id="0", config={"status": "x"}, metrics={"seed": math.inf})
    rows = rows_from_run([clash.replace(config={"status": "x", "seed": 1})])
    assert rows[0]["status"] == "ran"
    assert rows[0]["config:status"] == "x"
    assert rows[0]["seed"] == 1
    assert rows[0]["metric:seed"] == math.inf
    assert json.loads(render(rows, ".json"))[0]["metric:seed"] == "inf"
    parsed = list(csv.DictReader(io.StringIO(render(rows, ".csv"))))
    assert parsed[0]["metric:seed"] == "inf"


def test_markdown_escapes_pipes() -> None:
    row = rows_from_run([outcome(0).replace(config={"name": "a|b"})])
    text = render(row, ".md")
    assert "a\\|b" in text
    assert any(line.startswith("|---") for line in text.splitlines())


def test_export_paths_are_checked(tmp_path: Path) -> None:
    check_export_path(tmp_path / "ok.csv")
    with pytest.raises(ValueError, match="extension"):
        check_export_path(tmp_path / "out.xlsx")
    with pytest.raises(ValueError, match="does not exist"):
        check_export_path(tmp_path / "missing" / "out.csv")
    (tmp_path / "dir.json").mkdir()
    with pytest.raises(ValueError, match="is a directory"):
        check_export_path(tmp_path / "dir.json")
