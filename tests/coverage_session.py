"""pytest-cov's own work in a test session, done once: no tracer where nothing it records is kept, and one analysis
of each measured file for the session's reports.

Under pytest-xdist, pytest-cov starts coverage's tracer in the controller and, because each worker parses the
controller's command line (`-n` included), once more in each worker before the worker's own. Neither records
anything that is kept: the controller collects no tests and runs none of our code, and a worker's early tracer is
replaced at the session's start and its data never saved. Yet on Python 3.11 every call and line of pytest,
xdist and execnet in those processes ran on the tracer's slow path, and the controller receives and reports every
test phase of the run. Stopped once the session is configured, the same is recorded: all the controller saves is
the list of the measured packages' files (so that those no process ran count as 0%), which coverage lists when
it saves once its tracer has run, whatever it traced.

pytest-cov then reports twice from the combined data (once for the total that --cov-fail-under compares, once for
the terminal table), and coverage parses and analyses every measured file again for each report. The analysis
of a file depends only on the file and the combined data, which do not change once combined: it is kept for the
second report.

Everything here leaves pytest-cov as it is when its objects are not the ones described (another pytest-cov)."""

from __future__ import annotations

import functools
from typing import Any

import pytest

#: pytest-cov's name for its plugin (pytest_cov.plugin.pytest_load_initial_conftests registers it so).
PLUGIN = "_cov"


def _controller(config: pytest.Config) -> Any:
    plugin = config.pluginmanager.getplugin(PLUGIN)
    return getattr(plugin, "cov_controller", None)


def stop_tracing_what_is_never_kept(config: pytest.Config) -> bool:
    """Stop pytest-cov's tracer in this process if it belongs to the xdist controller (pytest-cov's DistMaster)
    and this process is one of a run with workers: the controller itself, or a worker (whose own tracer, a
    DistWorker, starts at its session's start). A run without workers keeps its tracer whatever pytest-cov made
    of it: `-n 0 --dist loadgroup` (scripts/test.sh -n 0) measures its tests with a DistMaster. True if stopped."""
    controller = _controller(config)
    if type(controller).__name__ != "DistMaster" or not callable(getattr(controller, "pause", None)):
        return False
    if not hasattr(config, "workerinput") and not getattr(config.option, "numprocesses", None):
        return False
    controller.pause()  # pytest-cov's own pause (its no_cover fixture's); the subprocess patch stays in the environment
    return True


def analyse_once_after_combining(config: pytest.Config) -> bool:
    """Keep each file's analysis for the reports that follow combining (pytest-cov's combining Coverage, in the
    xdist controller or the one process of a run without workers). True if installed."""
    cov = getattr(_controller(config), "combining_cov", None)
    if cov is None:
        return False
    return analyse_once_after(cov, "combine")


def analyse_once_after(cov: Any, method: str) -> bool:
    """From the end of `cov`'s `method` (its data is final then), `cov`'s analysis of a file is made once and kept,
    and so is the file reporter it was made with: a report reads the analysis beside the reporter that
    `_get_file_reporters` gives it (the LCOV report asks that reporter's parser for arc descriptions, which only
    the parser that made the analysis has). Only a file named by its path is kept (what a report asks for);
    anything else is analysed as before."""
    analyse, final = getattr(cov, "_analyze", None), getattr(cov, method, None)
    reporter = getattr(cov, "_get_file_reporter", None)
    if not callable(analyse) or not callable(final) or not callable(reporter):
        return False
    kept: dict[str, Any] = {}
    reporters: dict[str, Any] = {}
    done = False

    @functools.wraps(final)
    def finishing(*args: Any, **kwargs: Any) -> Any:
        nonlocal done
        result = final(*args, **kwargs)
        kept.clear()
        reporters.clear()
        done = True
        return result

    @functools.wraps(reporter)
    def one_reporter(morf: Any) -> Any:
        if not done or not isinstance(morf, str):
            return reporter(morf)
        if morf not in reporters:
            reporters[morf] = reporter(morf)
        return reporters[morf]

    @functools.wraps(analyse)
    def once(morf: Any, *args: Any, **kwargs: Any) -> Any:
        if not done or not isinstance(morf, str):
            return analyse(morf, *args, **kwargs)
        if morf not in kept:
            kept[morf] = analyse(morf, *args, **kwargs)
        return kept[morf]

    setattr(cov, method, finishing)
    cov._get_file_reporter = one_reporter
    cov._analyze = once
    return True
