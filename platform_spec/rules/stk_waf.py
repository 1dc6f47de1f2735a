"""STK-WAF-001: the web ACL in front of the API acts (that every stage is associated with it: STK-API-005,
stk_api_waf.py). A web ACL emptied of its rules (with an Allow default) filters nothing while every association
still looks right; so does one whose rules all count instead of blocking (a rule's `Action` switched
to `Count`, a rule group's `OverrideAction` to `Count`), the usual leftover of tuning a rule and forgetting it. A
managed rule group whose rules are switched to Count or Allow one by one (`RuleActionOverrides`) or excluded
(`ExcludedRules`, which count) is weakened the same way while its own OverrideAction still says None."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from platform_spec.intrinsics import as_dict, as_list
from platform_spec.result import Result
from platform_spec.rule import plain_rule

RULES_ID = "STK-WAF-001"
WEB_ACL = "AWS::WAFv2::WebACL"


# A rule's own actions that stop a request (Captcha and Challenge stop one that fails them); Allow and Count let it
# through. A rule-group reference acts through the group's own actions unless its OverrideAction is Count.
STOPPING = ("Block", "Captcha", "Challenge")
GROUP_STATEMENTS = ("ManagedRuleGroupStatement", "RuleGroupReferenceStatement")


def _acts(rule: Mapping[str, Any]) -> bool:
    if any(key in as_dict(rule.get("Action")) for key in STOPPING):
        return True
    statement = as_dict(rule.get("Statement"))
    return any(key in statement for key in GROUP_STATEMENTS) and "Count" not in as_dict(rule.get("OverrideAction"))


def _switched_off(rule: Mapping[str, Any]) -> list[str]:
    """The rules of a referenced rule group that no longer act: overridden to Count or Allow, or excluded."""
    statement = as_dict(rule.get("Statement"))
    group = next((as_dict(statement[key]) for key in GROUP_STATEMENTS if key in statement), {})
    off = [f"{as_dict(o).get('Name', '?')} -> {next(iter(as_dict(as_dict(o).get('ActionToUse'))), '?')}"
           for o in as_list(group.get("RuleActionOverrides"))
           if not any(key in as_dict(as_dict(o).get("ActionToUse")) for key in STOPPING)]
    return off + [f"{as_dict(e).get('Name', '?')} excluded" for e in as_list(group.get("ExcludedRules"))]


def check_rules(resource_type: str, properties: Mapping[str, Any]) -> Result:
    if resource_type != WEB_ACL:
        return Result.na()
    rules = as_list(properties.get("Rules"))
    default = "Allow" if "Allow" in as_dict(properties.get("DefaultAction")) else "its default action"
    if not rules:
        return Result.fail(f"no rules: every request meets {default}")
    acting = [str(as_dict(rule).get("Name", "?")) for rule in rules if _acts(as_dict(rule))]
    if not acting:
        return Result.fail(f"{len(rules)} rules, none of which blocks: every rule counts, so every request meets "
                           f"{default}")
    weakened = [f"{as_dict(rule).get('Name', '?')}: {', '.join(off[:4])}{', ...' if len(off) > 4 else ''}"
                for rule in rules if _acts(as_dict(rule)) and (off := _switched_off(as_dict(rule)))]
    if weakened:
        return Result.fail(f"rule groups with rules switched off: {'; '.join(weakened)}")
    return Result.ok(f"{len(rules)} rules, {len(acting)} blocking ({', '.join(acting[:4])}"
                     f"{', ...' if len(acting) > 4 else ''})")


plain_rule(RULES_ID, {WEB_ACL}, check_rules)
