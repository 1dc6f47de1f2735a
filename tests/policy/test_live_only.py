"""The live-only checks on plain data (platform_spec.rules.live_only): facts only a deployment has, which no template
declares. Each check's failure and its fix command on a deployment: tests/integration/test_fix_commands.py."""

from __future__ import annotations

from platform_spec.result import Status
from platform_spec.rules import live_only


def test_what_grows_next_to_the_declaration_is_named_up_to_five():
    found = [f"grant {n}" for n in range(7)]
    result = live_only.nothing_undeclared({}, {"Undeclared": found})
    assert result.status is Status.FAIL and "7 undeclared" in result.reason and "grant 4" in result.reason \
        and "grant 5" not in result.reason
    assert live_only.nothing_undeclared({}, {"Undeclared": []}).status is Status.PASS
