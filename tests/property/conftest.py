"""The property tests under coverage: coverage's tracer is paused while Hypothesis generates each example, and on
while the test's body judges it.

On Python 3.11 coverage measures through a trace function, and while one is set every line of every module runs on
the interpreter's slow tracing path (tests/library_tracing.py): here, mostly Hypothesis's own engine choosing and
recording each example's values, code of no package coverage measures. The body of each example (the property,
which calls our code) runs traced as before, and so does anything else under a tracer that is not coverage's (a
debugger, or Hypothesis's own explain phase, which traces the body only when no tracer is set): the property and
the examples are the same, only the tracing of the engine around them is left out. The few calls our strategies
make into our packages while drawing (AppConfig.for_suffix, the naming limits, opscli's Finding) run untraced;
the bodies and the other tests reach those lines."""

from __future__ import annotations

import functools
import sys
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest

from tests.library_tracing import _is_coverage_tracer, untraced


def measured_body_only(test: Callable[..., Any]) -> Callable[..., Any]:
    """`test` (a function `@given` made) run with coverage's tracer paused but inside each example's body."""
    handle = test.hypothesis  # type: ignore[attr-defined]
    inner = handle.inner_test
    paused: list[Any] = []  # coverage's tracer, while the engine runs without it

    @functools.wraps(inner)
    def body(*args: Any, **kwargs: Any) -> Any:
        if not paused or sys.gettrace() is not None:  # not paused here, or another tracer is on: as it is
            return inner(*args, **kwargs)
        sys.settrace(paused[-1])
        try:
            return inner(*args, **kwargs)
        finally:
            sys.settrace(None)

    handle.inner_test = body

    untraced_test = untraced(test)

    @functools.wraps(test)
    def run(*args: Any, **kwargs: Any) -> Any:
        tracer = sys.gettrace()
        if not _is_coverage_tracer(tracer):
            return test(*args, **kwargs)
        paused.append(tracer)
        try:
            return untraced_test(*args, **kwargs)
        finally:
            paused.pop()

    return run


HERE = Path(__file__).parent


def pytest_collection_modifyitems(items: list[pytest.Item]) -> None:
    """This directory's `@given` tests (the hook sees every item of the session). Not a parametrized one: Hypothesis's
    plugin sets such a test's settings and database key on the function pytest calls, which would be the wrapper."""
    for item in items:
        if (isinstance(item, pytest.Function) and item.path.is_relative_to(HERE) and not hasattr(item, "callspec")
                and hasattr(item.obj, "hypothesis")):
            item.obj = measured_body_only(item.obj)
