"""Unit tests of settings resolution and of finding the project (no pytest
spawned): one resolver per value, command line, then environment, then
ini, then default, and errors that name the source at fault."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest

from pytest_memento.project import find_project
from pytest_memento.settings import Settings, resolve, resolve_secret, resolve_store_dir
from pytest_memento.sources import SettingsError, Sources, parse_bool


def sources(
    tmp_path: Path, cli: dict[str, Any] | None = None, ini: dict[str, Any] | None = None, **env: str
) -> Sources:
    root, here = tmp_path / "root", tmp_path / "here"
    root.mkdir(exist_ok=True)
    here.mkdir(exist_ok=True)
    return Sources(cli or {}, ini or {}, env, root, here)


def test_defaults(tmp_path: Path) -> None:
    settings = resolve(sources(tmp_path))
    assert settings == Settings(store_dir=tmp_path / "root" / ".memento")
    assert not (tmp_path / "root" / ".memento").exists()  # made when a run first needs it


def test_store_dir_precedence(tmp_path: Path) -> None:
    ini = {"memento_dir": "from-ini"}
    assert resolve_store_dir(sources(tmp_path, ini=ini)) == tmp_path / "root" / "from-ini"
    both = sources(tmp_path, ini=ini, MEMENTO_DIR="from-env")
    assert resolve_store_dir(both) == tmp_path / "here" / "from-env"
    everything = sources(tmp_path, cli={"memento_dir": "from-cli"}, ini=ini, MEMENTO_DIR="from-env")
    assert resolve_store_dir(everything) == tmp_path / "here" / "from-cli"


def test_store_dir_errors_name_the_source(tmp_path: Path) -> None:
    (tmp_path / "here" / "file").parent.mkdir(parents=True, exist_ok=True)
    (tmp_path / "here" / "file").write_text("x")
    with pytest.raises(SettingsError, match=r"--memento-dir: .*not a directory"):
        resolve_store_dir(sources(tmp_path, cli={"memento_dir": "file"}))
    with pytest.raises(SettingsError, match=r"MEMENTO_DIR: .*not a directory"):
        resolve_store_dir(sources(tmp_path, MEMENTO_DIR="file"))
    with pytest.raises(SettingsError, match="--memento-dir: empty path"):
        resolve_store_dir(sources(tmp_path, cli={"memento_dir": " "}))
    assert not (tmp_path / "root" / "nope").exists()
    resolve_store_dir(sources(tmp_path, ini={"memento_dir": "nope"}), create=False)
    assert not (tmp_path / "root" / "nope").exists()


def test_secret_from_the_variable_the_ini_names(tmp_path: Path) -> None:
    assert resolve_secret(sources(tmp_path)) is None
    plain = resolve_secret(sources(tmp_path, MEMENTO_SECRET="s1"))
    named = resolve_secret(sources(tmp_path, ini={"memento_secret_env": "LAB"}, LAB="s2", MEMENTO_SECRET="s1"))
    env_named = resolve_secret(
        sources(tmp_path, ini={"memento_secret_env": "LAB"}, MEMENTO_SECRET_ENV="OTHER", OTHER="s3")
    )
    assert plain is not None
    assert named is not None
    assert env_named is not None
    assert plain.sign("x") != named.sign("x") != env_named.sign("x")
    assert resolve_secret(sources(tmp_path, ini={"memento_secret_env": "LAB"}, MEMENTO_SECRET="s1")) is None


@pytest.mark.parametrize(
    ("cli", "ini", "message"),
    [
        ({"memento_rerun": True, "memento_cached_only": True}, {}, "contradict"),
        ({"memento_verify": "2"}, {}, r"--memento-verify: expected a fraction in \(0, 1\], got '2'"),
        ({"memento_verify": "x"}, {}, "--memento-verify"),
        ({"memento_verify": "1", "memento_rerun": True}, {}, "cannot go with"),
        ({"memento_retries": -1}, {}, "--memento-retries: expected 0 or more"),
        ({}, {"memento_retries": "two"}, "memento_retries \\(ini\\): expected a whole number, got 'two'"),
        ({}, {"memento_stale": "sometimes"}, "memento_stale \\(ini\\): expected rerun or keep"),
        ({}, {"memento_seed": "perhaps"}, "memento_seed \\(ini\\): expected true or false"),
        ({}, {"memento_table": "wide"}, "memento_table \\(ini\\): expected one of auto, full, summary, off"),
        ({"memento_shard": "3/2"}, {}, "--memento-shard: the shard index must be between 1 and 2"),
        ({"memento_tolerance": "-1"}, {}, "--memento-tolerance: expected a number >= 0"),
        ({"memento_export": ["out.xlsx"]}, {}, "--memento-export .*extension"),
        ({"memento_baseline": "missing.json"}, {}, "--memento-baseline .*no such file"),
        ({"memento_save_baseline": "no/dir.json"}, {}, "--memento-save-baseline"),
        ({"memento_webhook": "ftp://x"}, {}, "expected an http:// or https:// URL"),
        ({}, {"memento_email_to": "a@b", "memento_smtp_port": "0"}, "memento_smtp_port: invalid value '0'"),
    ],
)
def test_bad_values_name_their_source(tmp_path: Path, cli: dict[str, Any], ini: dict[str, Any], message: str) -> None:
    with pytest.raises(SettingsError, match=message):
        resolve(sources(tmp_path, cli=cli, ini=ini))


def test_every_value_resolved(tmp_path: Path) -> None:
    (tmp_path / "here").mkdir(exist_ok=True)
    baseline = tmp_path / "here" / "b.json"
    baseline.write_text(json.dumps({"format": "pytest-memento-baseline/1", "experiments": {}}))
    cli = {
        "memento_verify": "0.5",
        "memento_retries": 2,
        "memento_shard": "2/4",
        "memento_export": ["out.csv"],
        "memento_baseline": "b.json",
        "memento_save_baseline": "new.json",
        "memento_tolerance": "0.1",
    }
    ini = {"memento_stale": "keep", "memento_seed": False, "memento_table": "summary", "memento_email_to": "a@b"}
    settings = resolve(sources(tmp_path, cli=cli, ini=ini, MEMENTO_WEBHOOK="https://hooks.example/x"))
    assert (settings.verify, settings.retries, settings.shard, settings.keep_stale, settings.seed) == (
        0.5,
        2,
        (2, 4),
        True,
        False,
    )
    assert settings.report.exports == (tmp_path / "here" / "out.csv",)
    assert settings.report.baseline is not None
    assert settings.report.baseline.path == baseline
    assert settings.report.save_baseline == tmp_path / "here" / "new.json"
    assert (settings.report.tolerance, settings.report.table) == (0.1, "summary")
    assert settings.notifiers.webhook == "https://hooks.example/x"
    assert settings.notifiers.email is not None
    assert settings.notifiers.email.recipients == ("a@b",)


def test_webhook_precedence(tmp_path: Path) -> None:
    ini = {"memento_webhook": "https://ini"}
    assert resolve(sources(tmp_path, ini=ini)).notifiers.webhook == "https://ini"
    assert resolve(sources(tmp_path, ini=ini, MEMENTO_WEBHOOK="https://env")).notifiers.webhook == "https://env"
    cli = {"memento_webhook": "https://cli"}
    assert (
        resolve(sources(tmp_path, cli=cli, ini=ini, MEMENTO_WEBHOOK="https://env")).notifiers.webhook == "https://cli"
    )


@pytest.mark.parametrize(("text", "value"), [("true", True), ("Yes", True), ("1", True), ("off", False), ("0", False)])
def test_parse_bool(text: str, value: bool) -> None:
    assert parse_bool(text, "x") is value
    assert parse_bool(value, "x") is value


@pytest.mark.parametrize(
    ("name", "text"),
    [
        ("pytest.ini", "[pytest]\nmemento_dir = store\n"),
        (".pytest.ini", "[pytest]\nmemento_dir = store\n"),
        ("pyproject.toml", '[tool.pytest.ini_options]\nmemento_dir = "store"\n'),
        ("pyproject.toml", '[tool.pytest]\nmemento_dir = "store"\n'),
        ("tox.ini", "[pytest]\nmemento_dir = store\n"),
        ("setup.cfg", "[tool:pytest]\nmemento_dir = store\n"),
        ("pytest.toml", '[pytest]\nmemento_dir = "store"\n'),
    ],
)
def test_find_project_reads_the_file_pytest_reads(tmp_path: Path, name: str, text: str) -> None:
    (tmp_path / name).write_text(text)
    deep = tmp_path / "a" / "b"
    deep.mkdir(parents=True)
    project = find_project(deep)
    assert (project.rootdir, project.inifile, project.ini) == (tmp_path, tmp_path / name, {"memento_dir": "store"})


def test_find_project_order_and_fallbacks(tmp_path: Path) -> None:
    (tmp_path / "tox.ini").write_text("[pytest]\nmemento_dir = tox\n")
    (tmp_path / "pytest.ini").write_text("[pytest]\nmemento_dir = ini\n")
    assert find_project(tmp_path).ini == {"memento_dir": "ini"}  # pytest.ini comes first
    inner = tmp_path / "inner"
    inner.mkdir()
    (inner / "setup.cfg").write_text("[metadata]\nname = x\n")  # no pytest section: not a config file
    assert find_project(inner).rootdir == tmp_path
    bare = tmp_path.parent / (tmp_path.name + "-bare") / "sub"
    bare.mkdir(parents=True)
    assert find_project(bare).rootdir == bare.resolve()
    (bare.parent / ".memento").mkdir()
    (bare.parent / ".memento" / "CACHEDIR.TAG").write_text("x")
    assert find_project(bare).rootdir == bare.parent.resolve()
