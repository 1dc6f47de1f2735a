"""STK-DRIFT-001 (platform_spec.rules.stk_drift): judged by opscli drift alone, over every declared property, never
by the audit's engines (its findings: tests/integration/test_drift.py)."""

from __future__ import annotations

from platform_spec import catalog, stages
from platform_spec.catalog import Engine
from platform_spec.registry import HOME_BY_ID
from platform_spec.rules import stk_drift


def test_drift_is_a_live_rule_judged_by_the_drift_command_alone():
    assert catalog.CATALOG[stk_drift.DRIFT_ID].engines == (Engine.LIVE,)
    assert stages.live_evaluations()[stk_drift.DRIFT_ID] == [stages.DRIFT]
    assert stk_drift.DRIFT_ID not in HOME_BY_ID  # no predicate: the drift command compares declared with live values
