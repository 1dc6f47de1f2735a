"""STK-STACK-002's live-only half on plain data (platform_spec.rules.stk_stack): what grew next to the declaration,
which no template declares. Its failure and its fix command on a deployment: tests/integration/test_fix_commands.py."""

from __future__ import annotations

from platform_spec.result import Status
from platform_spec.rules import stk_stack


def test_what_grows_next_to_the_declaration_is_named_up_to_five():
    found = [f"grant {n}" for n in range(7)]
    result = stk_stack.nothing_undeclared({}, {"Undeclared": found})
    assert result.status is Status.FAIL and "7 undeclared" in result.reason and "grant 4" in result.reason \
        and "grant 5" not in result.reason
    assert stk_stack.nothing_undeclared({}, {"Undeclared": []}).status is Status.PASS
