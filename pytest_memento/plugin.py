"""pytest entry point of pytest-memento: options, hooks and fixtures.

A switchboard: every hook is a few lines that hand off to the modules that
do the work (:mod:`.collect`, :mod:`.items`, :mod:`.summary`,
:mod:`.lifecycle`, :mod:`.xdist`); settings are resolved once, by
:mod:`.settings`, into the session built here.
"""

from __future__ import annotations

import os
from collections.abc import Generator
from pathlib import Path
from typing import Any

import pytest

from . import collect, eta_hooks, handoff, items, lifecycle, plan_hooks, regressions, summary, workers
from .checkpoint import Checkpoint
from .matrix import Config, specs_of
from .notifier_settings import EMAIL_INI
from .project import find_project, identity_root, misread_options
from .session import MementoSession
from .settings import Settings, resolve
from .sources import SettingsError, Sources
from .state import SESSION_KEY

HELP_DIR = (
    "Where results and checkpoints live: a directory, or an fsspec URL such as s3://bucket/prefix "
    "(default: .memento under rootdir; env MEMENTO_DIR)."
)
HELP_STORAGE_OPTIONS = (
    "fsspec storage options for a store URL, as a JSON object (env MEMENTO_STORAGE_OPTIONS); never printed."
)
HELP_CACHE_DIR = (
    "Where a store URL's local mirror lives (default $XDG_CACHE_HOME/pytest-memento; env MEMENTO_CACHE_DIR)."
)
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
HELP_VERIFY = (
    "Re-run stored configurations (all, or a deterministic FRACTION of them) without replacing them; "
    "fail those whose metrics differ."
)
HELP_SHARD = (
    "Run only shard K of N (1-based) of the selected configurations, or 'auto' to read it from Slurm array, "
    "CI or Kubernetes Indexed Job variables."
)
HELP_WEBHOOK = "POST a JSON summary (Slack/Teams 'text' field) to URL when the run ends (env MEMENTO_WEBHOOK)."
HELP_RETRIES = (
    "With xdist: put an item whose worker died back in the queue up to N times (it resumes from its checkpoint)."
)
HELP_SECRET_ENV = (
    "Name of the environment variable holding the secret that signs the store (default MEMENTO_SECRET; "
    "env MEMENTO_SECRET_ENV)."
)
HELP_STALE = (
    "What to do with a stored result whose experiment code changed: rerun (default) or keep (use it, with a warning)."
)
HELP_GATE_SIGMA = (
    "With --memento-baseline: a replicate group fails only when worse than the baseline beyond its tolerance "
    "and beyond K standard errors of the difference of the means (default 2)."
)
HELP_THREADS = (
    "With xdist: each worker's BLAS/OpenMP threads: auto (usable CPUs // workers, default), N, or off "
    "(env MEMENTO_THREADS)."
)
HELP_GPUS = (
    "With xdist: the GPUs to share among workers, worker gwK seeing the (K mod G)-th: auto "
    "(CUDA_VISIBLE_DEVICES, else nvidia-smi -L; default), a comma-separated LIST, or off (env MEMENTO_GPUS)."
)
HELP_PLAN = (
    "Run nothing: decide every selected configuration and print, per experiment, how many are cached, stale "
    "(and why), new or failed last time, and the estimated wall time from stored durations over the workers (-n)."
)
HELP_SEED = "Seed random, numpy and torch from config.seed (else the key) before each item (default true)."

#: Command-line options (dest names), as :class:`~.settings.Sources` reads them.
OPTIONS = (
    "memento_dir",
    "memento_rerun",
    "memento_cached_only",
    "memento_verify",
    "memento_shard",
    "memento_retries",
    "memento_export",
    "memento_baseline",
    "memento_save_baseline",
    "memento_tolerance",
    "memento_webhook",
    "memento_gate_sigma",
    "memento_threads",
    "memento_gpus",
)
#: ini keys holding strings (memento_seed is a bool, parsed by pytest).
INI = {
    "memento_dir": HELP_DIR + " Relative to rootdir.",
    "memento_storage_options": HELP_STORAGE_OPTIONS,
    "memento_cache_dir": HELP_CACHE_DIR + " Relative to rootdir.",
    "memento_table": HELP_TABLE,
    "memento_webhook": HELP_WEBHOOK,
    **EMAIL_INI,
    "memento_secret_env": HELP_SECRET_ENV,
    "memento_retries": HELP_RETRIES,
    "memento_stale": HELP_STALE,
    "memento_gate_sigma": HELP_GATE_SIGMA,
    "memento_threads": HELP_THREADS,
    "memento_gpus": HELP_GPUS,
}


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
    group.addoption("--memento-webhook", dest="memento_webhook", metavar="URL", help=HELP_WEBHOOK)
    group.addoption("--memento-gate-sigma", dest="memento_gate_sigma", metavar="K", help=HELP_GATE_SIGMA)
    group.addoption("--memento-threads", dest="memento_threads", metavar="auto|N|off", help=HELP_THREADS)
    group.addoption("--memento-gpus", dest="memento_gpus", metavar="auto|LIST|off", help=HELP_GPUS)
    group.addoption("--memento-plan", dest="memento_plan", action="store_true", help=HELP_PLAN)
    for name, text in INI.items():
        parser.addini(name, text, default="")
    parser.addini("memento_seed", HELP_SEED, type="bool", default=True)


def _ini(config: pytest.Config, name: str) -> Any:
    try:
        return config.getini(name)
    except ValueError:  # a bool ini key pytest cannot read
        raise SettingsError(f"{name} (ini): expected true or false") from None


def settings_of(config: pytest.Config) -> Settings:
    """Every setting, resolved once (a worker takes the controller's store)."""
    workerinput: dict[str, Any] = getattr(config, "workerinput", {})
    cli = {name: getattr(config.option, name, None) for name in OPTIONS}
    if "memento_dir" in workerinput:
        cli["memento_dir"] = workerinput["memento_dir"]
    ini = {name: _ini(config, name) for name in (*INI, "memento_seed")}
    return resolve(Sources(cli, ini, os.environ, project_root(config), config.invocation_params.dir))


#: Options that take a value which pytest could mistake for a test path.
VALUE_OPTIONS = ("--memento-dir", "--memento-export", "--memento-baseline", "--memento-save-baseline")


def project_root(config: pytest.Config) -> Path:
    """What experiment keys are relative to (see :func:`.project.identity_root`);
    a worker takes the controller's, relative to its own rootdir."""
    workerinput: dict[str, Any] = getattr(config, "workerinput", {})
    if "memento_root" in workerinput:
        return Path(os.path.normpath(config.rootpath / workerinput["memento_root"]))
    here = config.invocation_params.dir
    paths = [here / arg.split("::")[0] for arg in config.args]
    return identity_root(config.rootpath, config.inipath, [p if p.is_dir() else p.parent for p in paths if p.exists()])


def check_rootdir(config: pytest.Config) -> None:
    """Stop before anything runs when pytest missed the project's
    configuration file: keys (relative to the rootdir) would all change."""
    if hasattr(config, "workerinput") or config.option.rootdir or config.option.inifilename:
        return
    found = find_project(config.invocation_params.dir).inifile
    if found is None or config.inipath is not None:
        return
    misread = misread_options(list(config.invocation_params.args), VALUE_OPTIONS)
    why = (
        f"it took the value of {', '.join(repr(m) for m in misread)} for a test path"
        if misread
        else "it looked for one from the arguments' directories"
    )
    fix = "write option values with '=' (for example --memento-dir=/path)" if misread else f"pass -c {found}"
    raise pytest.UsageError(
        f"pytest-memento: pytest did not read {found} and chose the rootdir {config.rootpath}: {why}. "
        f"Experiment keys are relative to the rootdir, so every configuration would run again; {fix}."
    )


def pytest_cmdline_main(config: pytest.Config) -> None:
    # After xdist's (tryfirst) has read -n, before pytest_configure starts workers.
    plan_hooks.turn_off_workers(config)


def pytest_configure(config: pytest.Config) -> None:
    check_rootdir(config)
    try:
        settings = settings_of(config)
    except SettingsError as exc:
        raise pytest.UsageError(f"pytest-memento: {exc}") from None
    cache = getattr(config, "cache", None)  # absent with -p no:cacheprovider
    last_failed: dict[str, Any] = cache.get("cache/lastfailed", {}) if cache is not None else {}
    workerinput: dict[str, Any] = getattr(config, "workerinput", {})
    workers.apply_limits(workerinput, os.environ)  # a worker's threads and GPU, before experiment code runs
    session = config.stash[SESSION_KEY] = MementoSession(
        settings,
        rootdir=project_root(config),
        last_failed=last_failed.__contains__,
        worker=workerinput.get("workerid", "main"),
        json_report=bool(getattr(config.option, "json_report", False)),
    )
    config.pluginmanager.register(summary.ReportObserver(session, config), "memento-observer")
    lifecycle.check_remote_before_workers(config)
    plan_hooks.register(config)
    # Installed but idle: the SIGTERM handler and the store wait until the
    # run turns out to use pytest-memento (lifecycle.activate).
    if config.pluginmanager.hasplugin("xdist"):
        from .xdist import XdistGlue

        config.pluginmanager.register(XdistGlue(session, config), "memento-xdist")


def pytest_sessionstart(session: pytest.Session) -> None:
    # Time left, on a terminal only; the terminal reporter is there by now,
    # and xdist starts its workers after this (trylast).
    eta_hooks.register(session.config)


@pytest.hookimpl(tryfirst=True)
def pytest_pycollect_makeitem(
    collector: pytest.Module | pytest.Class, name: str, obj: object
) -> pytest.Collector | None:
    # A bad matrix is a collection error of its own experiment only.
    return collect.expand_or_error(collector, name, obj)


def pytest_generate_tests(metafunc: pytest.Metafunc) -> None:
    if not specs_of(metafunc.function):
        return
    collect.parametrize(metafunc)


@pytest.hookimpl(wrapper=True)
def pytest_runtestloop(session: pytest.Session) -> Generator[None, object, object]:
    result = yield
    # Replicate groups are judged once all their members are done.
    regressions.fail_worse_groups(session.config)
    return result


@pytest.hookimpl(wrapper=True)
def pytest_collection(session: pytest.Session) -> Generator[None, object, object]:
    # Collecting a big grid creates hundreds of thousands of long-lived
    # objects; the cyclic collector would scan them again and again
    # (collection grew super-linearly). See lifecycle.quiet_gc.
    with lifecycle.quiet_gc(session.config):
        return (yield)


def pytest_itemcollected(item: pytest.Item) -> None:
    collect.attach_case(item)


@pytest.hookimpl(trylast=True)
def pytest_collection_modifyitems(session: pytest.Session, config: pytest.Config, items: list[pytest.Item]) -> None:
    # After -k/-m have deselected: the same selection gives the same split.
    collect.keep_shard(config, items)
    # Of the items kept: one source look-up per function for item.location.
    collect.share_locations(items)
    # An xdist worker: what will not run is reported by the controller.
    handoff.drop_unrun(config, items)


def pytest_collection_finish(session: pytest.Session) -> None:
    collect.forget_expansions(session.config)
    lifecycle.activate_if_used(session.config, session.items)


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
    lifecycle.activate(request.config)
    return items.checkpoint_for(request.node)


@pytest.hookimpl(tryfirst=True)
def pytest_runtest_protocol(item: pytest.Item, nextitem: pytest.Item | None) -> bool | None:
    return items.protocol(item, nextitem)


@pytest.hookimpl(tryfirst=True)
def pytest_runtest_setup(item: pytest.Item) -> None:
    items.check_setup(item)


@pytest.hookimpl(tryfirst=True)
def pytest_pyfunc_call(pyfuncitem: pytest.Function) -> bool | None:
    return items.call(pyfuncitem)


@pytest.hookimpl(wrapper=True)
def pytest_runtest_makereport(
    item: pytest.Item, call: pytest.CallInfo[None]
) -> Generator[None, pytest.TestReport, pytest.TestReport]:
    report = yield
    return items.annotate(item, report)


@pytest.hookimpl(wrapper=True)
def pytest_runtest_teardown(item: pytest.Item, nextitem: pytest.Item | None) -> Generator[None, None, None]:
    yield
    items.store_if_passed(item)
    items.finish_plain_checkpoint(item)


def pytest_report_teststatus(report: pytest.TestReport, config: pytest.Config) -> tuple[str, str, str] | None:
    outcome = getattr(report, "memento", None)
    if outcome and outcome.get("cached") and report.when == "call" and report.passed:
        return "cached", "c", "CACHED"
    if str(report.outcome) == "rerun":  # a crashed item put back in the queue
        return "rerun", "R", "RERUN"
    return None


@pytest.hookimpl(optionalhook=True)
def pytest_json_runtest_metadata(item: pytest.Item, call: pytest.CallInfo[None]) -> dict[str, Any]:
    """pytest-json-report: every matrix item's metadata holds its memento info."""
    return items.json_metadata(item, call)


def pytest_terminal_summary(terminalreporter: pytest.TerminalReporter, exitstatus: int, config: pytest.Config) -> None:
    observer = config.pluginmanager.get_plugin("memento-observer")
    running = observer.running if isinstance(observer, summary.ReportObserver) else {}
    extra = eta_hooks.summary_lines(config)
    summary.terminal_summary(terminalreporter, config.stash[SESSION_KEY], exitstatus, running, extra)


@pytest.hookimpl(tryfirst=True)
def pytest_sessionfinish(session: pytest.Session, exitstatus: int | pytest.ExitCode) -> None:
    lifecycle.flush_store(session.config)
    summary.write_outputs(session.config)
    summary.finish(session.config, int(exitstatus))


def pytest_unconfigure(config: pytest.Config) -> None:
    lifecycle.close_store(config)
    lifecycle.restore(config)
