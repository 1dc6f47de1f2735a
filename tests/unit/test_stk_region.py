"""STK-REGION-001's predicate (platform_spec/rules/stk_region.py) on plain values. The region aspect judges the
stack's environment with it at synthesis: it judges no resource, so it registers no rule and has no template
fixtures in tests/policy/rules."""

from __future__ import annotations

from platform_spec.result import Status
from platform_spec.rules import stk_region


def test_region_predicate():
    assert stk_region.check("ap-northeast-1").status is Status.PASS
    assert stk_region.check("ap-northeast-3").failed
    assert stk_region.check(None).failed and stk_region.check("${Token[AWS.Region.1]}").failed
