"""The cases of platform_spec/rules/stk_log.py (STK-LOG-001), run by the shared tests (tests/policy/fixtures.py
gathers every rule's)."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from tests.policy.mutations import props
from tests.policy.templates import log_group, template

# rule id -> a template that passes and one that fails, through every engine its catalog entry names
FIXTURES: dict[str, dict[str, dict[str, Any]]] = {
    "STK-LOG-001": {"pass": template({"Logs": log_group()}),
                    "fail": template({"Logs": log_group(RetentionInDays=None)})},
}

# name -> (a change of the real template that breaks the rule, the rule the gate must report)
MUTATIONS: dict[str, tuple[Callable[[dict], Any], str]] = {
    "log-group-no-retention": (lambda t: props(t, "AWS::Logs::LogGroup").pop("RetentionInDays"), "STK-LOG-001"),
}

# (rule id, what is broken, how): the live picture broken so that the rule fails and its fix is a command
PICTURE_BREAKS: list[tuple[str, str, Callable[[dict], Any]]] = [
    ("STK-LOG-001", "kept forever", lambda p: props(p, "AWS::Logs::LogGroup").pop("RetentionInDays")),
]
