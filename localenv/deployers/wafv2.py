"""Deployers of the WAF web ACL, its association and its logging configuration."""

from __future__ import annotations

from typing import Any

from localenv.deployers.base import DeployContext, deployer, tags
from platform_utils.numbers import whole


@deployer("AWS::WAFv2::WebACL")
def web_acl(ctx: DeployContext, lid: str, p: dict) -> tuple[str, dict]:
    acl = ctx.client("wafv2").create_web_acl(
        Name=p["Name"], Scope=p["Scope"], DefaultAction=p["DefaultAction"], Rules=_waf_rules(p.get("Rules", [])),
        VisibilityConfig=p["VisibilityConfig"], Tags=tags(p))["Summary"]
    # CloudFormation's Ref of a web ACL: name|id|scope.
    return f"{acl['Name']}|{acl['Id']}|{p['Scope']}", {"Arn": acl["ARN"], "Id": acl["Id"]}


@deployer("AWS::WAFv2::WebACLAssociation")
def web_acl_association(ctx: DeployContext, lid: str, p: dict) -> tuple[str, dict]:
    ctx.client("wafv2").associate_web_acl(WebACLArn=p["WebACLArn"], ResourceArn=p["ResourceArn"])
    return f"{p['ResourceArn']}|{p['WebACLArn']}", {}


@deployer("AWS::WAFv2::LoggingConfiguration")
def waf_logging(ctx: DeployContext, lid: str, p: dict) -> tuple[str, dict]:
    ctx.client("wafv2").put_logging_configuration(LoggingConfiguration={
        "ResourceArn": p["ResourceArn"], "LogDestinationConfigs": p["LogDestinationConfigs"]})
    return p["ResourceArn"], {}


def _waf_rules(rules: list[dict[str, Any]]) -> list[dict[str, Any]]:
    """CloudFormation's web ACL rules as the WAFv2 API takes them (numbers where the API wants numbers)."""
    def convert(value: Any, key: str = "") -> Any:
        if isinstance(value, dict):
            return {k: convert(v, k) for k, v in value.items()}
        if isinstance(value, list):
            return [convert(v, key) for v in value]
        if key in ("Priority", "Limit", "EvaluationWindowSec") and isinstance(value, str):
            number = whole(value)
            return value if number is None else number
        return value
    return convert(rules)
