"""pytest entry point of pytest-memento: options, hooks and fixtures.

A switchboard: every hook is a few lines that hand off to the pure modules
(:mod:`.matrix`, :mod:`.session`, :mod:`.store`) or to :mod:`.runner`.
"""

from __future__ import annotations

import os
from collections.abc import Generator
from typing import Any

import pytest

from . import collect, keys, reporting, runner
from .checkpoint import Checkpoint
from .matrix import Config, MatrixError, argnames_for, specs_of
from .notify import NotifyError, email_settings_from
from .session import CACHED, MementoSession, Notifiers, SettingsError, resolve_report_settings, resolve_settings
from .shard import ShardError, parse_shard
from .signing import signer_from

SESSION_KEY = keys.SESSION_KEY

HELP_DIR = "Where results and checkpoints live (default: .memento under rootdir; env MEMENTO_DIR)."
HELP_RERUN = "Run every configuration again and replace stored results."
HELP_CACHED_ONLY = "Run nothing: report stored configurations, skip the rest as not cached."
HELP_EXPORT = "Write the run's results table to PATH (.csv, .json or .md by extension); may be given several times."
HELP_BASELINE = (
    "Compare metrics with a baseline FILE: a metric worse than its baseline beyond tolerance fails its item."
)
HELP_SAVE_BASELINE = "Write this run's metrics (ran and cached) as a baseline FILE to commit."
HELP_TOLERANCE = "Tolerance for every metric in baseline comparisons (overrides the matrices' tolerance=)."
HELP_TABLE = (
    "The results table at the end of a run: auto (list small grids, summarise large ones), full, summary or off."
)
HELP_VERIFY = "Re-run stored configurations (all, or a deterministic FRACTION of them) without replacing them; fail those whose metrics differ."
HELP_SHARD = "Run only shard K of N (1-based) of the selected configurations, or 'auto' to read it from Slurm array or CI variables."
HELP_WEBHOOK = "POST a JSON summary (Slack/Teams 'text' field) to URL when the run ends (env MEMENTO_WEBHOOK)."
EMAIL_INI = {
    "memento_email_to": "Comma-separated addresses to e-mail a summary to when the run ends.",
    "memento_email_from": "Sender of that e-mail (default pytest-memento@<host>).",
    "memento_smtp_host": "SMTP server (default localhost); credentials from MEMENTO_SMTP_USER / MEMENTO_SMTP_PASSWORD.",
    "memento_smtp_port": "SMTP port (default 587).",
    "memento_smtp_starttls": "Use STARTTLS (default true).",
    "memento_smtp_timeout": "SMTP timeout in seconds.",
}
HELP_RETRIES = (
    "With xdist: put an item whose worker died back in the queue up to N times (it resumes from its checkpoint)."
)


def pytest_addhooks(pluginmanager: pytest.PytestPluginManager) -> None:
    from . import hooks

    pluginmanager.add_hookspecs(hooks)


def pytest_addoption(parser: pytest.Parser) -> None:
    group = parser.getgroup("memento", "pytest-memento: cached experiment grids")
    group.addoption("--memento-dir", dest="memento_dir", metavar="PATH", default=None, help=HELP_DIR)
    group.addoption("--memento-rerun", dest="memento_rerun", action="store_true", help=HELP_RERUN)
    group.addoption("--memento-cached-only", dest="memento_cached_only", action="store_true", help=HELP_CACHED_ONLY)
    group.addoption(
        "--memento-verify",
        dest="memento_verify",
        metavar="FRACTION",
        nargs="?",
        const="1",
        default=None,
        help=HELP_VERIFY,
    )
    group.addoption("--memento-shard", dest="memento_shard", metavar="K/N", help=HELP_SHARD)
    group.addoption("--memento-retries", dest="memento_retries", metavar="N", type=int, default=None, help=HELP_RETRIES)
    group.addoption("--memento-export", dest="memento_export", metavar="PATH", action="append", help=HELP_EXPORT)
    group.addoption("--memento-baseline", dest="memento_baseline", metavar="FILE", help=HELP_BASELINE)
    group.addoption("--memento-save-baseline", dest="memento_save_baseline", metavar="FILE", help=HELP_SAVE_BASELINE)
    group.addoption("--memento-tolerance", dest="memento_tolerance", metavar="X", help=HELP_TOLERANCE)
    parser.addini("memento_dir", HELP_DIR + " Relative to rootdir.", default="")
    parser.addini("memento_table", HELP_TABLE, default="auto")
    group.addoption("--memento-webhook", dest="memento_webhook", metavar="URL", help=HELP_WEBHOOK)
    parser.addini("memento_webhook", HELP_WEBHOOK, default="")
    for name, text in EMAIL_INI.items():
        parser.addini(name, text, default="")
    parser.addini(
        "memento_secret_env",
        "Name of the environment variable holding the secret that signs the store (default MEMENTO_SECRET).",
        default="",
    )
    parser.addini("memento_retries", HELP_RETRIES, default="0")
    parser.addini(
        "memento_stale",
        "What to do with a stored result whose experiment code changed: rerun (default) or keep (use it, with a warning).",
        default="rerun",
    )
    parser.addini(
        "memento_seed",
        "Seed random, numpy and torch from config.seed (else the key) before each item (default true).",
        default="true",
    )


def pytest_configure(config: pytest.Config) -> None:
    workerinput: dict[str, Any] = getattr(config, "workerinput", {})
    try:
        settings = resolve_settings(
            cli_dir=workerinput.get("memento_dir", config.option.memento_dir),
            ini_dir=str(config.getini("memento_dir")),
            env=os.environ,
            rootdir=config.rootpath,
            invocation_dir=config.invocation_params.dir,
            rerun=config.option.memento_rerun,
            cached_only=config.option.memento_cached_only,
            stale=str(config.getini("memento_stale")),
            verify=config.option.memento_verify,
            seed=str(config.getini("memento_seed")),
        )
        report_settings = resolve_report_settings(
            exports=config.option.memento_export,
            baseline=config.option.memento_baseline,
            save_baseline=config.option.memento_save_baseline,
            tolerance=config.option.memento_tolerance,
            table=str(config.getini("memento_table")),
            invocation_dir=config.invocation_params.dir,
        )
        shard = parse_shard(config.option.memento_shard, os.environ) if config.option.memento_shard else None
        notifiers = notifiers_from(config)
    except (SettingsError, ShardError, NotifyError) as exc:
        raise pytest.UsageError(
            f"pytest-memento: {'--memento-shard: ' if isinstance(exc, ShardError) else ''}{exc}"
        ) from None
    cache = getattr(config, "cache", None)
    last_failed: dict[str, Any] = cache.get("cache/lastfailed", {}) if cache is not None else {}
    config.stash[SESSION_KEY] = MementoSession(
        settings,
        rootdir=config.rootpath,
        last_failed=last_failed.__contains__,
        worker=workerinput.get("workerid", "main"),
        signer=signer_from(os.environ, str(config.getini("memento_secret_env"))),
    )
    config.stash[SESSION_KEY].json_report = bool(getattr(config.option, "json_report", False))
    config.stash[SESSION_KEY].report = report_settings
    config.stash[SESSION_KEY].shard = shard
    config.stash[SESSION_KEY].notifiers = notifiers
    config.pluginmanager.register(reporting.ReportObserver(config.stash[SESSION_KEY]), "memento-observer")
    runner.stop_cleanly_on_sigterm(config)
    if config.pluginmanager.hasplugin("xdist"):
        from .xdist import XdistGlue

        retries = runner.retries_of(config.option.memento_retries, str(config.getini("memento_retries")))
        config.pluginmanager.register(XdistGlue(config.stash[SESSION_KEY], retries), "memento-xdist")


@pytest.hookimpl(tryfirst=True)
def pytest_pycollect_makeitem(
    collector: pytest.Module | pytest.Class, name: str, obj: object
) -> pytest.Collector | None:
    # A bad matrix is a collection error of its own experiment only.
    return collect.expand_or_error(collector, name, obj)


def pytest_generate_tests(metafunc: pytest.Metafunc) -> None:
    if not specs_of(metafunc.function):
        return
    experiment, cases = collect.expanded(metafunc.config, metafunc.definition.path, metafunc.function)
    try:
        argnames = argnames_for(cases, metafunc.fixturenames, experiment)
    except MatrixError as exc:
        raise pytest.Collector.CollectError(str(exc)) from None
    values, ids = collect.param_sets(cases, argnames, experiment)
    metafunc.parametrize(argnames, values, ids=ids)


@pytest.hookimpl(wrapper=True)
def pytest_collection(session: pytest.Session) -> Generator[None, object, object]:
    # Collecting a big grid creates hundreds of thousands of long-lived
    # objects; the cyclic collector would scan them again and again
    # (collection grew super-linearly). See runner.quiet_gc.
    with runner.quiet_gc(session.config):
        return (yield)


def pytest_itemcollected(item: pytest.Item) -> None:
    collect.attach_case(item)


@pytest.hookimpl(trylast=True)
def pytest_collection_modifyitems(session: pytest.Session, config: pytest.Config, items: list[pytest.Item]) -> None:
    # After -k/-m have deselected: the same selection gives the same split.
    collect.keep_shard(config, items)


def pytest_collection_finish(session: pytest.Session) -> None:
    collect.forget_expansions(session.config)


@pytest.fixture(name="config")
def memento_config() -> Config:
    """The configuration of a ``@memento.matrix`` experiment item: a read-only
    mapping of its parameters and settings with attribute access
    (``config.seed`` or ``config["seed"]``)."""
    pytest.fail("the 'config' fixture only exists in @memento.matrix experiments", pytrace=False)


@pytest.fixture
def checkpoint(request: pytest.FixtureRequest) -> Checkpoint:
    """Save and resume the state of a long experiment.

    ``state = checkpoint.load(default=...)`` returns the newest state saved
    by this configuration (same config key and code), else ``default``;
    ``checkpoint.save(state)`` replaces it atomically (``every=60`` writes at
    most once a minute and returns whether it wrote). When the item passes
    and its result is stored, the checkpoint is removed. Outside a matrix it
    is keyed by the test's node id.
    """
    return runner.checkpoint_for(request.node)


@pytest.hookimpl(tryfirst=True)
def pytest_runtest_protocol(item: pytest.Item, nextitem: pytest.Item | None) -> bool | None:
    return runner.protocol(item, nextitem)


@pytest.hookimpl(tryfirst=True)
def pytest_runtest_setup(item: pytest.Item) -> None:
    runner.check_setup(item)


@pytest.hookimpl(tryfirst=True)
def pytest_pyfunc_call(pyfuncitem: pytest.Function) -> bool | None:
    return runner.call(pyfuncitem)


@pytest.hookimpl(wrapper=True)
def pytest_runtest_makereport(
    item: pytest.Item, call: pytest.CallInfo[None]
) -> Generator[None, pytest.TestReport, pytest.TestReport]:
    report = yield
    return runner.annotate(item, report)


@pytest.hookimpl(wrapper=True)
def pytest_runtest_teardown(item: pytest.Item, nextitem: pytest.Item | None) -> Generator[None, None, None]:
    yield
    runner.store_if_passed(item)
    runner.finish_plain_checkpoint(item)


def pytest_report_teststatus(report: pytest.TestReport, config: pytest.Config) -> tuple[str, str, str] | None:
    info = getattr(report, "memento", None)
    if info and info.get("cached") and report.when == "call" and report.passed:
        return CACHED, "c", "CACHED"
    if str(report.outcome) == "rerun":  # a crashed item put back in the queue
        return "rerun", "R", "RERUN"
    return None


@pytest.hookimpl(optionalhook=True)
def pytest_json_runtest_metadata(item: pytest.Item, call: pytest.CallInfo[None]) -> dict[str, Any]:
    """pytest-json-report: every matrix item's metadata holds its memento info."""
    return runner.json_metadata(item, call)


def pytest_terminal_summary(terminalreporter: pytest.TerminalReporter, exitstatus: int, config: pytest.Config) -> None:
    reporting.terminal_summary(terminalreporter, config.stash[SESSION_KEY])


@pytest.hookimpl(tryfirst=True)
def pytest_sessionfinish(session: pytest.Session, exitstatus: int | pytest.ExitCode) -> None:
    runner.flush_store(session.config)
    reporting.write_outputs(session.config)
    reporting.finish(session.config, int(exitstatus))


def pytest_unconfigure(config: pytest.Config) -> None:
    runner.thaw_gc(config)
    runner.close_store(config)
    runner.restore_sigterm(config)


def notifiers_from(config: pytest.Config) -> Notifiers:
    """Webhook (option, ini, then MEMENTO_WEBHOOK) and e-mail (ini) settings."""
    webhook = (
        config.option.memento_webhook or str(config.getini("memento_webhook")) or os.environ.get("MEMENTO_WEBHOOK", "")
    )
    if webhook and not webhook.startswith(("http://", "https://")):
        raise NotifyError(
            f"--memento-webhook / memento_webhook: expected an http:// or https:// URL, got {webhook[:40]!r}"
        )
    values = {name: str(config.getini(name)) for name in EMAIL_INI}
    return Notifiers(
        webhook=webhook or None, email=email_settings_from({k: v for k, v in values.items() if v}, os.environ)
    )
