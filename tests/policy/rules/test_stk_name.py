"""The cases of platform_spec/rules/stk_name.py (STK-NAME-001), run by the shared tests (tests/policy/fixtures.py
gathers every rule's)."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from tests.policy.mutations import props
from tests.policy.templates import log_group, template

# rule id -> a template that passes and one that fails, through every engine its catalog entry names
FIXTURES: dict[str, dict[str, dict[str, Any]]] = {
    "STK-NAME-001": {"pass": template({"Logs": log_group()}),
                     "fail": template({"Logs": log_group(LogGroupName="/ecs/Worker_FX")})},
}

# name -> (a change of the real template that breaks the rule, the rule the gate must report)
MUTATIONS: dict[str, tuple[Callable[[dict], Any], str]] = {
    "rds-renamed": (lambda t: props(t, "AWS::RDS::DBInstance").update(DBInstanceIdentifier="database-x"),
                    "STK-NAME-001"),
}
