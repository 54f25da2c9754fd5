"""The aggregated table: layouts, bold, LaTeX, flat exports, `memento table`
and `--memento-export table.tex` (DESIGN.md section 8)."""

from __future__ import annotations

import io
import json
import shutil
import subprocess
from dataclasses import replace
from pathlib import Path
from typing import Any

import pytest
from conftest import memento_cli, outcomes

from pytest_memento.aggregate import group_records
from pytest_memento.paper import render_tables, tex_escape
from pytest_memento.paper_layout import Layout, TableError, build_tables, format_number
from pytest_memento.records import Record

EXP = "exp.py::train"


def grid(goals: dict[str, str] | None = None, drop: tuple[str, str, int] | None = None) -> list[Record]:
    """model x data_set x seed (3 seeds) with acc = base + seed / 100 and loss = 1 - acc."""
    base = {("a", "d_1"): 0.5, ("a", "d_2"): 0.7, ("b", "d_1"): 0.9, ("b", "d_2"): 0.6}
    records = []
    for (model, data), value in base.items():
        for seed in range(3):
            if drop == (model, data, seed):
                continue
            acc = value + seed / 100
            records.append(
                Record(
                    EXP,
                    f"{model}-{data}-{seed}",
                    f"{model}{data}{seed}",
                    "stored",
                    {"model": f"pkg.models.{model.upper()}", "data_set": data, "seed": seed, "folds": 5},
                    ("model", "data_set", "seed"),
                    {"acc": acc, "loss": 1 - acc},
                    replicates=("seed",),
                    group_size=3,
                    goals=goals or {},
                )
            )
    return records


def cells(text: str) -> list[list[str]]:
    """The body rows of a Markdown table."""
    lines = [line for line in text.splitlines() if line.startswith("| ")][1:]
    return [[cell.strip() for cell in line.strip("|").split("|")] for line in lines]


def test_default_layout_rows_are_groups_columns_are_metrics() -> None:
    text = render_tables(group_records(grid({"acc": "max", "loss": "min"})), Layout(), "md")
    assert "**exp.py::train: mean ± std over seed (n = 3)**" in text
    assert "All rows: folds=5" in text  # a setting every group shares is said once
    assert "| model | data_set | acc ↑ | loss ↓ |" in text
    # Dotted class names are shortened; std of {x, x + .01, x + .02} is 0.01.
    assert cells(text) == [
        ["A", "d_1", "0.510 ± 0.010", "0.490 ± 0.010"],
        ["A", "d_2", "0.710 ± 0.010", "0.290 ± 0.010"],
        ["B", "d_1", "**0.910 ± 0.010**", "**0.090 ± 0.010**"],
        ["B", "d_2", "0.610 ± 0.010", "0.390 ± 0.010"],
    ]


def test_bold_follows_the_goal_per_column() -> None:
    minimising = render_tables(group_records(grid({"acc": "min"})), Layout(metrics=("acc",)), "md")
    assert [row[2] for row in cells(minimising)] == [
        "**0.510 ± 0.010**",
        "0.710 ± 0.010",
        "0.910 ± 0.010",
        "0.610 ± 0.010",
    ]
    # No goal: highest is best.
    plain = render_tables(group_records(grid()), Layout(metrics=("loss",)), "md")
    assert [row[2] for row in cells(plain)] == ["**0.490 ± 0.010**", "0.290 ± 0.010", "0.090 ± 0.010", "0.390 ± 0.010"]
    # Pivoted, each column has its own best.
    pivot = render_tables(group_records(grid({"acc": "max"})), Layout(cols=("data_set",), metrics=("acc",)), "md")
    assert cells(pivot) == [["A", "0.510 ± 0.010", "**0.710 ± 0.010**"], ["B", "**0.910 ± 0.010**", "0.610 ± 0.010"]]


def test_ties_as_shown_are_all_bold_and_a_lone_cell_is_not() -> None:
    records = [r for r in grid() if r.config["data_set"] == "d_1"]
    tied = [replace(r, metrics={"acc": 0.5 + r.config["seed"] * 1e-5}) for r in records]
    text = render_tables(group_records(tied), Layout(), "md")
    assert "All rows: data_set=d_1, folds=5" in text
    # A spread too small for the digits keeps its significant ones.
    assert [row[1] for row in cells(text)] == ["**0.500 ± 1e-05**", "**0.500 ± 1e-05**"]
    alone = render_tables(group_records(records[:3]), Layout(), "md")
    assert "**0.510" not in alone


def test_pivot_layouts_and_their_errors() -> None:
    groups = group_records(grid())
    (table,) = build_tables(groups, Layout(rows=("data_set",), cols=("model",), metrics=("acc",)))
    assert table.row_names == ("data_set",)
    assert [table.header(i) for i in range(len(table.columns))] == ["A", "B"]
    assert [row for row, _ in table.rows] == [("d_1",), ("d_2",)]
    (both,) = build_tables(groups, Layout(cols=("model",)))
    assert [both.header(i) for i in range(4)] == ["acc: A", "acc: B", "loss: A", "loss: B"]
    with pytest.raises(TableError, match=r"--rows/--cols leave out data_set, which varies in exp.py::train"):
        build_tables(groups, Layout(rows=("model",)))
    with pytest.raises(TableError, match=r"--cols: 'dataset' is not a parameter of exp.py::train \(parameters: "):
        build_tables(groups, Layout(cols=("dataset",)))
    with pytest.raises(TableError, match=r"--metric: 'f1' is not a metric of exp.py::train \(metrics: acc, loss\)"):
        build_tables(groups, Layout(metrics=("f1",)))
    with pytest.raises(TableError, match="--spread: expected one of std, sem, ci95"):
        Layout(spread="var")


def test_spread_digits_and_one_member() -> None:
    groups = group_records(grid())
    sem = render_tables(groups, Layout(spread="sem", digits=4, metrics=("acc",)), "md")
    assert cells(sem)[0][2] == "0.5100 ± 0.0058"  # 0.01 / sqrt(3)
    ci = render_tables(groups, Layout(spread="ci95", digits=2, metrics=("acc",)), "md")
    assert cells(ci)[0][2] == "0.51 ± 0.02"  # 4.303 * 0.00577 = 0.0248
    assert "mean ± ci95 over seed" in ci
    single = [replace(r, group_size=1) for r in grid() if r.config["seed"] == 0]
    one = render_tables(group_records(single), Layout(metrics=("acc",)), "md")
    assert cells(one)[0][2] == "0.500"  # no spread with one member
    assert format_number(0.000123, 3) == "0.000123"
    assert format_number(-2.5, 1) == "-2.5"


def test_incomplete_groups_carry_a_dagger_and_a_note() -> None:
    text = render_tables(group_records(grid(drop=("b", "d_2", 1))), Layout(metrics=("acc",)), "md")
    assert cells(text)[3] == ["B", "d_2", "0.610 ± 0.014 †"]
    assert "† model=B, data_set=d_2: 2 of 3 (seed=1 never run)" in text
    assert "(n = 2-3)" in text


def test_latex_uses_booktabs_and_escapes() -> None:
    records = [replace(r, config={**r.config, "data_set": r.config["data_set"] + "&50%#$"}) for r in grid()]
    text = render_tables(group_records(records), Layout(cols=("data_set",), metrics=("acc",)), "tex")
    assert "\\begin{tabular}{lrr}" in text
    for rule in ("\\toprule", "\\midrule", "\\bottomrule", "\\cmidrule(lr){2-3}"):
        assert rule in text
    assert "d\\_1\\&50\\%\\#\\$" in text
    assert "data\\_set" in text
    assert "\\textbf{0.910 $\\pm$ 0.010}" in text
    assert "_" not in text.replace("\\_", "")
    assert tex_escape("a_b%c&d#e$f{g}h~i^j\\k") == (
        "a\\_b\\%c\\&d\\#e\\$f\\{g\\}h\\textasciitilde{}i\\textasciicircum{}j\\textbackslash{}k"
    )


def test_latex_compiles(tmp_path: Path) -> None:
    if shutil.which("pdflatex") is None:
        pytest.skip("pdflatex is not installed (Debian: texlive-latex-base texlive-latex-recommended)")
    table = render_tables(group_records(grid({"acc": "max"}, drop=("a", "d_1", 2))), Layout(cols=("data_set",)), "tex")
    assert "\\textbf" in table
    assert "$^\\dagger$" in table
    (tmp_path / "table.tex").write_text(table)
    (tmp_path / "paper.tex").write_text(
        "\\documentclass{article}\n\\usepackage{booktabs}\n\\begin{document}\n\\input{table}\n\\end{document}\n"
    )
    done = subprocess.run(
        ["pdflatex", "-interaction=nonstopmode", "-halt-on-error", "paper.tex"],
        cwd=tmp_path,
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert done.returncode == 0, done.stdout[-3000:]
    assert (tmp_path / "paper.pdf").stat().st_size > 1000


def test_flat_csv_and_json_read_by_pandas() -> None:
    pd = pytest.importorskip("pandas")
    groups = group_records(grid(drop=("a", "d_1", 0)))
    frame = pd.read_csv(io.StringIO(render_tables(groups, Layout(), "csv")))
    expected = ["experiment", "model", "data_set", "folds"]
    for metric in ("acc", "loss"):
        expected += [f"{metric}_{part}" for part in ("mean", "std", "sem", "ci95", "n")]
    assert list(frame.columns) == [*expected, "members", "expected", "missing"]
    first = frame.iloc[0]
    assert first.acc_mean == pytest.approx(0.515)
    assert first.acc_n == 2
    assert first.missing == "seed=0 never run"
    records = json.loads(render_tables(groups, Layout(), "json"))
    assert pd.DataFrame(records).acc_std.tolist() == pytest.approx(list(frame.acc_std))
    # Full precision, not the shown digits.
    assert records[1]["acc_mean"] == pytest.approx(0.71, abs=1e-12)
    one = json.loads(render_tables(group_records(grid()[:1]), Layout(), "json"))
    assert one[0]["acc_std"] is None


def test_html_table_escapes() -> None:
    records = [replace(r, config={**r.config, "data_set": "<b>x</b>"}) for r in grid()[:3]]
    page = render_tables(group_records(records), Layout(), "html", title="t<")
    assert "<b>x</b>" not in page
    assert "&lt;b&gt;x&lt;/b&gt;" in page
    assert "<title>t&lt;</title>" in page


# -- end to end: a real run, its store and the command ------------------------

EXPERIMENT = """
import pytest_memento as memento

@memento.matrix(
    parameters={"model": ["lin", "mlp"], "data_set": ["d_1", "d_2"], "seed": range(3)},
    goals={"acc": "max"},
)
def train(config):
    if config.model == "mlp" and config.data_set == "d_2" and config.seed == 1:
        raise RuntimeError("diverged")
    base = {"lin": 0.5, "mlp": 0.8}[config.model] + (config.data_set == "d_2") / 10
    return {"acc": base + config.seed / 100}
"""


@pytest.fixture
def project(pytester: pytest.Pytester) -> Path:
    pytester.makepyfile(test_grid=EXPERIMENT)
    return pytester.path


def test_export_tex_from_a_run(project: Path, run: Any) -> None:
    result = run("--memento-export", "table.tex", "--memento-export", "table.md")
    assert outcomes(result) == {"passed": 11, "failed": 1}
    result.stdout.fnmatch_lines(["*exported 12 configuration(s) to *table.tex"])
    tex = (project / "table.tex").read_text()
    assert "\\toprule" in tex
    # Seeds 0 and 2 of mlp on d_2 (0.90, 0.92): the best mean, bold, and flagged incomplete.
    assert "mlp & d\\_2 & \\textbf{0.910 $\\pm$ 0.014}$^\\dagger$ \\\\" in tex
    assert "model=mlp, data\\_set=d\\_2: 2 of 3 (seed=1 failed)" in tex
    markdown = (project / "table.md").read_text()
    assert markdown.startswith("**test_grid.py::train**: 12 configuration(s) (")
    assert "| model | data_set | seed | acc | status | duration | key |" in markdown


def test_memento_table_command(project: Path, run_plain: Any) -> None:
    run_plain()
    shown = memento_cli(project, "table")
    assert shown.returncode == 0, shown.stderr
    # Only stored results count: the failed seed is simply missing from the store.
    assert "| mlp | d_2 | **0.910 ± 0.014** † |" in shown.stdout
    assert "† model=mlp, data_set=d_2: 2 of 3 (seed=1 never run)" in shown.stdout
    tex = memento_cli(project, "table", "--cols", "data_set", "--spread", "sem", "--digits", "2", "-o", "t.tex")
    assert tex.returncode == 0, tex.stderr
    assert "wrote the table of 11 stored configuration(s) to t.tex" in tex.stderr
    assert "\\textbf{0.81 $\\pm$ 0.01}" in (project / "t.tex").read_text()
    flat = memento_cli(project, "table", "--format", "json", "--metric", "acc")
    assert [row["acc_n"] for row in json.loads(flat.stdout)] == [3, 3, 3, 2]
    nothing = memento_cli(project, "table", "--over", "")
    assert len(cells(nothing.stdout)) == 11  # every configuration its own row
    bad = memento_cli(project, "table", "--cols", "dataset")
    assert bad.returncode == 2
    assert "memento: error: --cols: 'dataset' is not a parameter of test_grid.py::train" in bad.stderr
    assert "Traceback" not in bad.stderr
    missing = memento_cli(project, "table", "--experiment", "nope")
    assert missing.returncode == 2
    assert "no stored results of an experiment matching 'nope'" in missing.stderr
    twice = memento_cli(project, "table", "--rows", "model,model")
    assert "--rows: a name is given twice" in twice.stderr


def test_memento_export_points_tex_and_html_to_the_right_commands(project: Path, run_plain: Any) -> None:
    run_plain()
    for name in ("out.tex", "out.html"):
        done = memento_cli(project, "export", name)
        assert done.returncode == 2
        assert "use `memento table -o FILE.tex` or `memento report FILE.html`" in done.stderr
        assert not (project / name).exists()
    bad = memento_cli(project, "report", "out.txt")
    assert bad.returncode == 2
    assert "out.txt: a report is an .html file" in bad.stderr
