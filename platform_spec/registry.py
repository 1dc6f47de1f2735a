"""Every per-resource rule as (resource types, predicate): the one table the cdk-nag pack, the Checkov
checks and the template engine adapt. Adding a rule: one module in platform_spec.rules that registers it
(platform_spec.rule.plain_rule / resource_rule), its catalog entry, and its pass/fail fixtures."""

from __future__ import annotations

# Every rule module, imported for the rules it registers (platform_spec.rule). Imported by name, not discovered:
# the synthesis cache keys on the import statements (tests/policy/test_catalog.py checks none is missing).
from platform_spec import catalog as _catalog
from platform_spec.rule import (
    ACCOUNT_RULES,
    REGISTERED,
    STACK_RULES,
    AccountRule,
    Predicate,
    ResourceRule,
    StackRule,
)
from platform_spec.rules import (  # noqa: F401
    stk_alarm,
    stk_api,
    stk_api_auth,
    stk_destroy,
    stk_ecs,
    stk_ecs_service,
    stk_ecs_task,
    stk_efs,
    stk_egress,
    stk_flow_log,
    stk_iam,
    stk_iam_escalation,
    stk_iam_trust,
    stk_intake,
    stk_kms,
    stk_log,
    stk_name,
    stk_net,
    stk_perimeter,
    stk_private_routes,
    stk_rds,
    stk_redis,
    stk_residency,
    stk_residency_stores,
    stk_resource_policy,
    stk_s3_ownership,
    stk_secret,
    stk_tag,
    stk_waf,
)

__all__ = ["ACCOUNT_RULES_BY_ID", "BY_ID", "CHECKOV_BUILTIN_COVERED", "RESOURCE_RULES", "STACK_RULES_BY_ID",
           "AccountRule", "Predicate", "ResourceRule", "StackRule", "checkov_custom_rule_ids"]

RESOURCE_RULES: tuple[ResourceRule, ...] = tuple(sorted(REGISTERED, key=lambda rule: rule.rule_id))

BY_ID: dict[str, ResourceRule] = {rule.rule_id: rule for rule in RESOURCE_RULES}
# The whole-stack rules the rule modules register (the template engine runs them beside its own).
STACK_RULES_BY_ID: dict[str, StackRule] = {rule.rule_id: rule for rule in STACK_RULES}
# The account rules (live only: the account's IAM beside the stack), run by opscli's audit.
ACCOUNT_RULES_BY_ID: dict[str, AccountRule] = {rule.rule_id: rule for rule in ACCOUNT_RULES}

# Rules whose template stage Checkov's built-in checks (named in the catalog references) cover fully;
# every other CHECKOV-engine rule gets a custom check (policies/checkov_checks).
CHECKOV_BUILTIN_COVERED = frozenset(rule.id for rule in _catalog.CATALOG.values() if rule.checkov_builtin)


def checkov_custom_rule_ids() -> list[str]:
    from platform_spec import catalog

    return [r.id for r in catalog.rules_for(catalog.Engine.CHECKOV) if r.id not in CHECKOV_BUILTIN_COVERED]
