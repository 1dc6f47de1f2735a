"""What the gate's and opscli's SARIF share (platform_spec.sarif). The documents themselves are validated against
the SARIF schema where each program writes them (tests/opscli/test_render.py, tests/policy/gate/)."""

from __future__ import annotations

from platform_spec import sarif


def test_help_uri_only_where_the_rules_are_published():
    assert sarif.help_base({}) is None
    assert sarif.help_base({"GITHUB_SERVER_URL": "https://github.com", "GITHUB_REPOSITORY": "o/r",
                            "GITHUB_SHA": "abc"}) == "https://github.com/o/r/blob/abc"
    assert sarif.help_base({sarif.HELP_BASE_ENV: "https://example.test/docs/"}) == "https://example.test/docs"
    [rule] = sarif.sarif_rules({"STK-NET-005"}, base="https://example.test")
    assert rule["helpUri"] == "https://example.test/docs/rules.md#stk-net-005"
    assert "helpUri" not in sarif.sarif_rules({"STK-NET-005"})[0]
