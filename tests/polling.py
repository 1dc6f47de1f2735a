"""Waiting for a state a test observes (a process's answer, a published finding, a queue drained): the condition
is asked again until it holds, and a bound turns a hang into a failure that says what never came. The bound is no
expectation of speed: WAIT is what a condition may take on a busy machine."""

from __future__ import annotations

import time
from collections.abc import Callable
from typing import Any

WAIT = 120.0  # seconds a condition may take on a busy machine before the test fails (one monitor change: ~3 s)


def poll(condition: Callable[[], Any], what: str, timeout: float = WAIT, every: float = 0.2) -> Any:
    """`condition`'s first truthy value, evaluated every `every` seconds until `timeout`."""
    deadline = time.monotonic() + timeout
    while True:
        found = condition()
        if found:
            return found
        if time.monotonic() > deadline:
            raise AssertionError(f"{what}: not within {timeout:.0f} s")
        time.sleep(every)
