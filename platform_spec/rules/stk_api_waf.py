"""STK-API-005 (whole stack): every API stage is associated with a web ACL. Without it the API faces the internet
with throttling alone; disassociating the ACL is one call and changes no declared property of the API. (That the
web ACL acts: STK-WAF-001, stk_waf.py.)"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from typing import Any

from platform_spec.intrinsics import as_dict, references
from platform_spec.result import Result
from platform_spec.rule import stack_rule

ASSOCIATED_ID = "STK-API-005"
STAGE = "AWS::ApiGateway::Stage"
ASSOCIATION = "AWS::WAFv2::WebACLAssociation"
WEB_ACL = "AWS::WAFv2::WebACL"


def check_associated(resources: Mapping[str, Any]) -> Iterable[tuple[str, Result]]:
    acls = {lid for lid, r in resources.items() if r.get("Type") == WEB_ACL}
    guarded: dict[str, set[str]] = {}
    for resource in resources.values():
        if resource.get("Type") == ASSOCIATION:
            props = as_dict(resource.get("Properties"))
            # a pseudo parameter (${AWS::Region} in an ARN) names no ACL of this stack: such an ARN is one by ARN
            acl = {name for name in references(props.get("WebACLArn")) if not name.startswith("AWS::")}
            for stage in references(props.get("ResourceArn")):
                guarded.setdefault(stage, set()).update(acl or {"(an ACL by ARN)"})
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


stack_rule(ASSOCIATED_ID, {ASSOCIATION, WEB_ACL}, check_associated)
