"""Every rule the rule modules register, read back as the tables the engines adapt: the per-resource rules (the
cdk-nag pack, the Checkov checks and the template engine), the whole-stack rules (the template engine), the account
rules and the live-only halves (opscli's audit). Adding a rule: its rule module in platform_spec/rules, named for its
id family (found here by itself), its catalog entry, and its test file with its fixtures
(tests/policy/rules/test_<rule module>.py)."""

from __future__ import annotations

import importlib
import pkgutil
from types import ModuleType

from platform_spec import catalog as _catalog
from platform_spec import rules as _rules
from platform_spec.rule import (
    ACCOUNT_RULES,
    LIVE_RULES,
    REGISTERED,
    STACK_RULES,
    AccountRule,
    LiveOnlyRule,
    Predicate,
    ResourceRule,
    StackRule,
)

# A rule module is named for its id family: stk_<family>.py or stk_<family>_<aspect>.py, the family being the id's
# middle part lowercased (stk_rds.py holds STK-RDS-..., stk_net_egress.py an STK-NET-... rule), and registers every
# half of its rules (tests/unit/test_architecture.py holds each id to one such module). A few judge what no
# registration describes and register nothing (stk_drift, stk_stack's presence, stk_ops's accepted deviations,
# stk_secret_live's existing secrets): their ids and predicates still live there, and that test lists what judges
# them. The package's other modules are helpers the rule modules import (topology, policy_documents, paths, tls_policy),
# never imported from here.
RULE_MODULE_PREFIX = "stk_"


def discover(package: ModuleType, prefix: str = RULE_MODULE_PREFIX) -> tuple[str, ...]:
    """Import every module of `package` whose name starts with `prefix` (not its subpackages), in name order, and
    return their dotted names: a rule module registers its rules when it is imported.

    Found, not listed, so that a new rule module needs no line elsewhere. Standard library only (Checkov's
    environment imports this). The synthesis cache hashes every file of platform_spec (a staged directory), so a
    module found here is one of its inputs as surely as an imported one."""
    names = sorted(info.name for info in pkgutil.iter_modules(package.__path__)
                   if not info.ispkg and info.name.startswith(prefix) and info.name.isidentifier())
    return tuple(importlib.import_module(f"{package.__name__}.{name}").__name__ for name in names)


RULE_MODULES: tuple[str, ...] = discover(_rules)

__all__ = ["ACCOUNT_RULES_BY_ID", "BY_ID", "CHECKOV_BUILTIN_COVERED", "HOME_BY_ID", "LIVE_ONLY_RULES",
           "RESOURCE_RULES", "RULE_MODULES", "STACK_RULES_BY_ID", "AccountRule", "LiveOnlyRule", "Predicate",
           "ResourceRule", "StackRule", "checkov_custom_rule_ids", "discover"]

RESOURCE_RULES: tuple[ResourceRule, ...] = tuple(sorted(REGISTERED, key=lambda rule: rule.rule_id))

BY_ID: dict[str, ResourceRule] = {rule.rule_id: rule for rule in RESOURCE_RULES}
# The whole-stack rules the rule modules register (the template engine runs them beside its own).
STACK_RULES_BY_ID: dict[str, StackRule] = {rule.rule_id: rule for rule in STACK_RULES}
# The account rules (live only: the account's IAM beside the stack), run by opscli's audit.
ACCOUNT_RULES_BY_ID: dict[str, AccountRule] = {rule.rule_id: rule for rule in ACCOUNT_RULES}
# The live-only halves (facts no template holds), run by opscli's audit on each read resource of their type, in
# the order their modules register them (rule modules in name order).
LIVE_ONLY_RULES: tuple[LiveOnlyRule, ...] = tuple(LIVE_RULES)
# Each registered rule id -> the rule module that registers it (its home: where its tests and fixtures are named from).
HOME_BY_ID: dict[str, str] = {
    **{rule.rule_id: rule.module for rule in RESOURCE_RULES}, **{rule.rule_id: rule.module for rule in STACK_RULES},
    **{rule.rule_id: rule.module for rule in ACCOUNT_RULES}, **{rule.rule_id: rule.module for rule in LIVE_RULES}}

# Rules whose template stage Checkov's built-in checks (named in the catalog references) cover fully;
# every other CHECKOV-engine rule gets a custom check (policies/checkov_checks).
CHECKOV_BUILTIN_COVERED = frozenset(rule.id for rule in _catalog.CATALOG.values() if rule.checkov_builtin)


def checkov_custom_rule_ids() -> list[str]:
    from platform_spec import catalog

    return [r.id for r in catalog.rules_for(catalog.Engine.CHECKOV) if r.id not in CHECKOV_BUILTIN_COVERED]
