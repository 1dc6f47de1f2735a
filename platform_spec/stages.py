"""How each catalog rule is judged at the live stage (for the compliance matrix and the coverage tests)."""

from __future__ import annotations

from platform_spec import catalog
from platform_spec.catalog import Engine
from platform_spec.registry import ACCOUNT_RULES_BY_ID, LIVE_ONLY_RULES, RESOURCE_RULES
from platform_spec.rules import stk_ops
from platform_spec.rules.stk_drift import DRIFT_ID
from platform_spec.rules.stk_secret_live import SECRET_CHECKS
from platform_spec.rules.stk_stack import PRESENCE_ID
from platform_spec.template_engine import RELATIONSHIP_RULE_IDS

STACK_AUDIT = "audit: every declared resource"
PRESENCE = "audit: every declared resource present"
PRESENCE_RULE = PRESENCE_ID
DRIFT = "drift: every declared property"  # opscli drift, not the audit
ACCOUNT_AUDIT = "audit: the account's IAM beside the stack"


def live_evaluations() -> dict[str, list[str]]:
    """Catalog rule id -> how the live stage judges it: the whole-stack engine over every declared resource read
    back (rules with a LIVE engine and a predicate), live-only checks, and the secrets' checks."""
    out: dict[str, list[str]] = {}
    predicates = {r.rule_id for r in RESOURCE_RULES} | RELATIONSHIP_RULE_IDS
    for rule in catalog.CATALOG.values():
        if Engine.LIVE in rule.engines and rule.id in predicates:
            out.setdefault(rule.id, []).append(STACK_AUDIT)
    out.setdefault(PRESENCE_RULE, []).append(PRESENCE)
    for rule_id in ACCOUNT_RULES_BY_ID:
        out.setdefault(rule_id, []).append(ACCOUNT_AUDIT)
    for live_rule in LIVE_ONLY_RULES:
        out.setdefault(live_rule.rule_id, []).append(live_rule.check_id)
    for check_id, rule_id in SECRET_CHECKS:
        out.setdefault(rule_id, []).append(check_id)
    out.setdefault(DRIFT_ID, []).append(DRIFT)
    out.setdefault(stk_ops.RULE_ID, []).append(stk_ops.CHECK_ID)  # over the accepted-findings file, not a resource
    return out
