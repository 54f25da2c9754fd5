"""The HTML report: one self-contained file, checked as text and in a real
headless Chromium (DESIGN.md section 8)."""

from __future__ import annotations

import json
import os
import re
import shutil
import time
from pathlib import Path
from typing import Any

import pytest
from chromium import Browser, find_chromium
from conftest import memento_cli, outcomes

from pytest_memento.html_report import render_report
from pytest_memento.records import Record

EXPERIMENT = """
import pytest_memento as memento

@memento.matrix(
    parameters={"model": ["lin", "mlp"], "data_set": ["d_1", "d_2"], "seed": range(3)},
    settings={"epochs": 2},
    goals={"acc": "max", "loss": "min"},
)
def train(config):
    if config.model == "mlp" and config.data_set == "d_2" and config.seed == 1:
        raise RuntimeError("diverged")
    acc = {"lin": 0.5, "mlp": 0.8}[config.model] + (config.data_set == "d_2") / 10 + config.seed / 100
    return {"acc": acc, "loss": 1 - acc}
"""


def embedded(page: str) -> dict[str, Any]:
    found = re.search(r'<script type="application/json" id="memento-data">(.*?)</script>', page, flags=re.DOTALL)
    assert found is not None
    data: dict[str, Any] = json.loads(found.group(1))
    return data


def test_values_cannot_break_out_of_the_page() -> None:
    hostile = "</script><script>alert(1)</script><!--"
    record = Record("e.py::x", hostile, "k" * 64, "stored", {"name": hostile, "seed": 0}, ("name", "seed"), {"m": 1.0})
    page = render_report([record], title="<t>", source="s & s")
    assert "<script>alert(1)" not in page
    assert page.count("</script>") == 2  # the data and the page's own script
    assert "<title>&lt;t&gt;</title>" in page
    assert embedded(page)["experiments"][0]["rows"][0][0] == hostile


def test_the_page_fetches_nothing() -> None:
    record = Record("e.py::x", "0", "k" * 64, "stored", {"seed": 0}, ("seed",), {"m": float("nan")})
    page = render_report([record])
    assert "Content-Security-Policy" in page
    assert "default-src 'none'" in page
    assert not re.search(r"\s(src|href)=", page)
    assert "@import" not in page
    urls = set(re.findall(r"https?://[^\s\"')]+", page))
    assert urls == {"http://www.w3.org/2000/svg"}  # a namespace name, never fetched
    assert embedded(page)["experiments"][0]["rows"][0][5] == ["nan"]


@pytest.fixture
def project(pytester: pytest.Pytester) -> Path:
    pytester.makepyfile(test_grid=EXPERIMENT)
    return pytester.path


def test_export_from_a_run_holds_every_configuration(project: Path, run: Any) -> None:
    result = run("--memento-export", "report.html")
    assert outcomes(result) == {"passed": 11, "failed": 1}
    result.stdout.fnmatch_lines(["*exported 12 configuration(s) to *report.html"])
    data = embedded((project / "report.html").read_text())
    assert data["counts"] == {"ran": 11, "failed": 1}
    (experiment,) = data["experiments"]
    assert experiment["metrics"] == ["acc", "loss"]
    assert experiment["varying"] == ["model", "data_set"]
    assert len(experiment["rows"]) == 12
    # Provenance of stored rows comes from the store, under xdist too.
    ran = [row for row in experiment["rows"] if row[1] == "ran"]
    assert all(len(experiment["shared"][row[6]][3]) == 64 for row in ran)  # the code fingerprint
    failed = next(row for row in experiment["rows"] if row[1] == "failed")
    assert "diverged" in failed[7][3]  # the error line
    notes = [group["note"] for group in experiment["groups"] if group["note"]]
    assert notes == ["2 of 3 (seed=1 failed)"]


def _chromium() -> str:
    binary = find_chromium()
    if binary is None:
        pytest.skip("Chromium is not installed (Debian package chromium; .ci/run installs it when it runs as root)")
    return binary


def _visible_rows(browser: Browser) -> int:
    count: int = browser.evaluate("document.querySelectorAll('table.configs-table tbody tr.row:not([hidden])').length")
    return count


def _column(browser: Browser, header: str) -> list[str]:
    cells: list[str] = browser.evaluate(
        "(() => { const t = document.querySelector('table.configs-table');"
        f" const i = [...t.tHead.rows[0].cells].findIndex(c => c.textContent.startsWith({json.dumps(header)}));"
        " return [...t.tBodies[0].querySelectorAll('tr.row')].map(r => r.cells[i].textContent); })()"
    )
    return cells


def test_the_report_in_headless_chromium(project: Path, run_plain: Any, tmp_path: Path) -> None:
    binary = _chromium()
    run_plain("--memento-export", "run.html")
    done = memento_cli(project, "report", "stored.html", "--spread", "ci95", "--title", "Paper grid")
    assert done.returncode == 0, done.stderr
    assert "wrote the report of 11 configuration(s) to stored.html" in done.stderr
    with Browser(binary, tmp_path / "profile", width=1280, height=1000) as browser:
        for page, rows in (("run.html", 12), ("stored.html", 11)):
            browser.open(project / page)
            deadline = time.monotonic() + 30
            while browser.evaluate("document.body.dataset.ready") != "1":
                assert time.monotonic() < deadline, f"{page}: the page's script never finished"
                time.sleep(0.05)
            # Nothing was fetched: the file is the whole report.
            assert browser.evaluate("performance.getEntriesByType('resource').length") == 0
            assert _visible_rows(browser) == rows
            assert (
                browser.evaluate("document.querySelector('.shown').textContent")
                == f"{rows} of {rows} configurations shown"
            )
            # Every metric has a chart against each parameter that varies, with error bars.
            for metric in ("acc", "loss"):
                charts = browser.evaluate(
                    f"[...document.querySelectorAll('svg.chart[data-metric=\"{metric}\"]')].map(s => s.dataset.param)"
                )
                assert charts == ["model", "data_set"]
                points = browser.evaluate(
                    f"document.querySelector('svg.chart[data-metric=\"{metric}\"]').querySelectorAll('g.point').length"
                )
                assert points == 4  # one per group
                assert browser.evaluate(
                    f"document.querySelector('svg.chart[data-metric=\"{metric}\"] g.point line') !== null"
                )
            # A real click on a header sorts; a second click reverses.
            browser.click("table.configs-table th:nth-child(5)")  # id, model, data_set, seed, acc
            sort = "document.querySelector('table.configs-table th:nth-child(5)').getAttribute('aria-sort')"
            assert browser.evaluate(sort) == "ascending"
            accuracies = [float(text) for text in _column(browser, "acc") if text]
            assert len(accuracies) == 11
            assert accuracies == sorted(accuracies)
            browser.click("table.configs-table th:nth-child(5)")
            assert browser.evaluate(sort) == "descending"
            assert [float(text) for text in _column(browser, "acc") if text] == sorted(accuracies, reverse=True)
            # The aggregated table sorts too.
            browser.click("table.aggregate th:nth-child(3)")
            means = browser.evaluate(
                "[...document.querySelectorAll('table.aggregate tbody tr')].map(r => parseFloat(r.cells[2].textContent))"
            )
            assert means == sorted(means)
            # Filtering by words and by status.
            browser.evaluate(
                "(() => { const f = document.querySelector('.tools input'); f.value = 'mlp d_2';"
                " f.dispatchEvent(new Event('input')); })()"
            )
            time.sleep(0.4)
            assert _visible_rows(browser) == (3 if page == "run.html" else 2)
            browser.evaluate(
                "(() => { const f = document.querySelector('.tools input'); f.value = ''; f.dispatchEvent(new Event('input')); })()"
            )
            time.sleep(0.4)
            assert _visible_rows(browser) == rows
            # Provenance on demand: click a row.
            browser.click("table.configs-table tbody tr.row")
            details = browser.evaluate(
                "document.querySelector('tr.prov') && document.querySelector('tr.prov').textContent"
            )
            assert details is not None
            assert "fingerprint" in details
            assert "started" in details
            if page == "run.html":
                browser.evaluate(
                    "(() => { const s = document.querySelector('.tools select'); s.value = 'failed'; s.dispatchEvent(new Event('change')); })()"
                )
                assert _visible_rows(browser) == 1
                browser.click("table.configs-table tbody tr.row:not([hidden])")
                assert "RuntimeError: diverged" in browser.evaluate("document.querySelector('tr.prov').textContent")
        browser.open(project / "stored.html")
        browser.click("table.configs-table tbody tr.row")
        shot = tmp_path / "report.png"
        browser.screenshot(shot)
    assert shot.stat().st_size > 20_000
    assert shot.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"
    # Set MEMENTO_REPORT_SCREENSHOT=path to keep the screenshot and look at it.
    keep = os.environ.get("MEMENTO_REPORT_SCREENSHOT")
    if keep:
        shutil.copyfile(shot, keep)
