"""Failpoints for fault tests: `STREAMTECH_FAILPOINTS=name[,name]` makes the process die at that point, the
way SIGKILL or a lost Fargate host would. Unset in every task definition; inert unless set."""

from __future__ import annotations

import os

from platform_spec.exit_codes import EXIT_KILLED


def active() -> frozenset[str]:
    return frozenset(n.strip() for n in os.environ.get("STREAMTECH_FAILPOINTS", "").split(",") if n.strip())


def hit(name: str) -> None:
    if name in active():
        os._exit(EXIT_KILLED)
