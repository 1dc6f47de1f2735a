"""pytest-cov's reports of a test session from one analysis of each measured file.

pytest-cov reports twice from the combined data (once for the total that --cov-fail-under compares, once for the
terminal table), and coverage parses and analyses every measured file again for each report. The analysis of a
file depends only on the file and the combined data, which do not change once combined: it is kept for the
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


def analyse_once_after_combining(config: pytest.Config) -> bool:
    """Keep each file's analysis for the reports that follow combining (pytest-cov's combining Coverage, in the
    xdist controller or the one process of a run without workers). True if installed."""
    cov = getattr(_controller(config), "combining_cov", None)
    if cov is None:
        return False
    return analyse_once_after(cov, "combine")


def analyse_once_after(cov: Any, method: str) -> bool:
    """From the end of `cov`'s `method` (its data is final then), `cov`'s analysis of a file is made once and kept.
    Only a file named by its path is kept (what a report asks for); anything else is analysed as before."""
    analyse, final = getattr(cov, "_analyze", None), getattr(cov, method, None)
    if not callable(analyse) or not callable(final):
        return False
    kept: dict[str, Any] = {}
    done = False

    @functools.wraps(final)
    def finishing(*args: Any, **kwargs: Any) -> Any:
        nonlocal done
        result = final(*args, **kwargs)
        kept.clear()
        done = True
        return result

    @functools.wraps(analyse)
    def once(morf: Any, *args: Any, **kwargs: Any) -> Any:
        if not done or not isinstance(morf, str):
            return analyse(morf, *args, **kwargs)
        if morf not in kept:
            kept[morf] = analyse(morf, *args, **kwargs)
        return kept[morf]

    setattr(cov, method, finishing)
    cov._analyze = once
    return True
