"""pyproject.toml's coverage settings measure this session through sys.monitoring where Python has it (3.12+), and
through the C tracer on 3.11. Coverage would fall back to its trace function on 3.12 and 3.13 without a word (with
branch coverage, or a dynamic context: the no-sysmon warning is disabled, for 3.11), and every line of botocore,
moto and jsii would run on the slow tracing path again (bench/README.md)."""

from __future__ import annotations

import os
import sys

import pytest


def test_the_session_measures_through_sys_monitoring_from_python_312(request):
    plugin = request.config.pluginmanager.getplugin("_cov")  # pytest-cov's (tests/coverage_session.py PLUGIN)
    cov = getattr(getattr(plugin, "cov_controller", None), "cov", None)
    if cov is None or not cov._started:
        pytest.skip("coverage does not measure this run (--no-cov, or --affected's pytest-testmon)")
    if os.environ.get("COVERAGE_CORE"):
        pytest.skip(f"COVERAGE_CORE={os.environ['COVERAGE_CORE']} chooses the core")
    assert dict(cov.sys_info())["core"] == ("SysMonitor" if sys.version_info >= (3, 12) else "CTracer")
