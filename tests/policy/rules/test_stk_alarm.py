"""The cases of platform_spec/rules/stk_alarm.py (STK-ALARM-001), run by the shared tests (tests/policy/fixtures.py
gathers every rule's)."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from tests.policy.mutations import props
from tests.policy.templates import alarm, template

# rule id -> a template that passes and one that fails, through every engine its catalog entry names
FIXTURES: dict[str, dict[str, dict[str, Any]]] = {
    "STK-ALARM-001": {"pass": template({"Alarm": alarm()}), "fail": template({"Alarm": alarm(ActionsEnabled=False)})},
}

# name -> (a change of the real template that breaks the rule, the rule the gate must report)
MUTATIONS: dict[str, tuple[Callable[[dict], Any], str]] = {
    "alarm-actions-off": (lambda t: props(t, "AWS::CloudWatch::Alarm").update(ActionsEnabled=False), "STK-ALARM-001"),
}

# (rule id, what is broken, how): the live picture broken so that the rule fails and its fix is a command
PICTURE_BREAKS: list[tuple[str, str, Callable[[dict], Any]]] = [
    ("STK-ALARM-001", "actions off", lambda p: props(p, "AWS::CloudWatch::Alarm").update(ActionsEnabled=False)),
]
