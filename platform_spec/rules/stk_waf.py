"""STK-WAF-001 and STK-API-005: the web ACL in front of the API exists, is associated and filters.

STK-API-005 (whole stack): every API stage is associated with a web ACL. Without it the API faces the internet
with throttling alone; disassociating the ACL is one call and changes no declared property of the API.
STK-WAF-001: the web ACL acts. A web ACL emptied of its rules (with an Allow default) filters nothing while every
association still looks right; so does one whose rules all count instead of blocking (a rule's `Action` switched
to `Count`, a rule group's `OverrideAction` to `Count`), the usual leftover of tuning a rule and forgetting it. A
managed rule group whose rules are switched to Count or Allow one by one (`RuleActionOverrides`) or excluded
(`ExcludedRules`, which count) is weakened the same way while its own OverrideAction still says None."""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from typing import Any

from platform_spec.result import Result
from platform_spec.rule import plain_rule, stack_rule
from platform_spec.rules.intrinsics import as_dict, as_list, references

ASSOCIATED_ID = "STK-API-005"
RULES_ID = "STK-WAF-001"
STAGE = "AWS::ApiGateway::Stage"
ASSOCIATION = "AWS::WAFv2::WebACLAssociation"
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


def check_associated(resources: Mapping[str, Any]) -> Iterable[tuple[str, Result]]:
    acls = {lid for lid, r in resources.items() if r.get("Type") == WEB_ACL}
    guarded: dict[str, set[str]] = {}
    for resource in resources.values():
        if resource.get("Type") == ASSOCIATION:
            props = as_dict(resource.get("Properties"))
            for stage in references(props.get("ResourceArn")):
                guarded.setdefault(stage, set()).update(references(props.get("WebACLArn")) or {"(an ACL by ARN)"})
    for lid, resource in resources.items():
        if resource.get("Type") != STAGE:
            continue
        found = guarded.get(lid, set())
        if not found:
            # the stack's own web ACL (when it declares exactly one) is what to associate again
            yield lid, Result.fail("no web ACL is associated with this stage: the API faces the internet unfiltered",
                                   **({"web_acl": {"Fn::GetAtt": [next(iter(acls)), "Arn"]}} if len(acls) == 1 else {}))
        elif acls and not found & acls and "(an ACL by ARN)" not in found:
            yield lid, Result.fail("associated with a web ACL this stack does not declare")
        else:
            yield lid, Result.ok(f"associated with web ACL {', '.join(sorted(found))}")


plain_rule(RULES_ID, {WEB_ACL}, check_rules)
stack_rule(ASSOCIATED_ID, {ASSOCIATION, WEB_ACL}, check_associated)
