"""Readers of the web ACL, its association and logging."""

from __future__ import annotations

import base64
from collections.abc import Mapping
from typing import Any

from opscli.readers.base import (
    ATTRIBUTES,
    Call,
    MalformedAnswer,
    NotFound,
    Physical,
    ReadContext,
    ask,
    need,
    reader,
    tag_list,
)
from opscli.stack import Present

WEB_ACL = ("arn:aws:wafv2:{region}:{account}:regional/webacl/{waf}/*",)


def _derived(p: Physical) -> dict[str, str]:
    """A web ACL's physical id is name|id|scope."""
    parts = p.id.split("|")
    if len(parts) != 3:
        return {}
    name, acl_id, scope = parts
    where = "global" if scope == "CLOUDFRONT" else "regional"
    return {"Arn": p.arn("wafv2", f"{where}/webacl/{name}/{acl_id}"), "Id": acl_id}


@reader("AWS::WAFv2::WebACL", (Call("wafv2:GetWebACL", WEB_ACL), Call("wafv2:ListTagsForResource", WEB_ACL)),
        "Name Scope DefaultAction Rules VisibilityConfig Tags", derived=_derived)
def web_acl(ctx: ReadContext, r: Present) -> dict[str, Any]:
    try:
        name, acl_id, scope = r.physical_id.split("|")
    except ValueError:
        raise MalformedAnswer(f"web ACL id {r.physical_id!r} is not name|id|scope") from None
    waf = ctx.aws.client("wafv2")
    answer = ask("GetWebACL", waf.get_web_acl, "WAFNonexistentItemException", Name=name, Scope=scope, Id=acl_id)
    acl = need(answer, "WebACL", Mapping, operation="GetWebACL")
    arn = need(acl, "ARN", str, operation="GetWebACL")
    tag_list_read: list[Any] = []
    markers: set[str] = set()
    marker: str | None = None
    while True:  # WAF pages its tags (NextMarker); botocore has no paginator for it
        page = ask("ListTagsForResource", waf.list_tags_for_resource, ResourceARN=arn,
                   **({"NextMarker": marker} if marker else {}))
        info = need(page, "TagInfoForResource", Mapping, operation="ListTagsForResource")  # AWS always returns it
        tag_list_read += need(info, "TagList", list, operation="ListTagsForResource") if "TagList" in info else []
        marker = page.get("NextMarker")
        if not marker:
            break
        if marker in markers:  # an endpoint that pages in a circle would hold the read forever
            raise MalformedAnswer(f"ListTagsForResource answered NextMarker {marker[:40]!r} twice")
        markers.add(marker)
    return {"Name": need(acl, "Name", str, operation="GetWebACL"), "Scope": scope,
            "DefaultAction": need(acl, "DefaultAction", Mapping, operation="GetWebACL"),
            "Rules": _search_strings(need(acl, "Rules", list, operation="GetWebACL")),
            "VisibilityConfig": need(acl, "VisibilityConfig", Mapping, operation="GetWebACL"),
            "Tags": tag_list(tag_list_read),
            ATTRIBUTES: {"Arn": acl["ARN"], "Id": acl_id}}


def _search_strings(value: Any) -> Any:
    """The rules in CloudFormation's shape: a byte-match statement's SearchString is a blob in WAF's API (botocore
    gives bytes) and a string in the template, or SearchStringBase64 where the bytes are not text."""
    if isinstance(value, list):
        return [_search_strings(item) for item in value]
    if not isinstance(value, Mapping):
        return value
    out = {key: _search_strings(item) for key, item in value.items()}
    if isinstance(out.get("SearchString"), (bytes, bytearray)):
        raw = bytes(out.pop("SearchString"))
        try:
            out["SearchString"] = raw.decode("utf-8")
        except UnicodeDecodeError:
            out["SearchStringBase64"] = base64.b64encode(raw).decode("ascii")
    return out


# AWS authorizes GetWebACLForResource on the web ACL and on the resource asked about (the API's stage).
@reader("AWS::WAFv2::WebACLAssociation",
        (Call("wafv2:GetWebACLForResource", ("arn:aws:wafv2:{region}:{account}:regional/webacl/*/*",
                                             "arn:aws:apigateway:{region}::/restapis/*/stages/*")),),
        "ResourceArn WebACLArn")
def web_acl_association(ctx: ReadContext, r: Present) -> dict[str, Any]:
    resource = ctx.resolve(r.properties.get("ResourceArn"))
    answer = ask("GetWebACLForResource", ctx.aws.client("wafv2").get_web_acl_for_resource,
                 "WAFNonexistentItemException", ResourceArn=resource)
    acl = answer.get("WebACL")
    if not isinstance(acl, Mapping):
        raise NotFound(f"no web ACL is associated with {resource}")
    return {"ResourceArn": resource, "WebACLArn": need(acl, "ARN", str, operation="GetWebACLForResource")}


@reader("AWS::WAFv2::LoggingConfiguration", (Call("wafv2:GetLoggingConfiguration", WEB_ACL),),
        "ResourceArn LogDestinationConfigs")
def waf_logging(ctx: ReadContext, r: Present) -> dict[str, Any]:
    resource = ctx.resolve(r.properties.get("ResourceArn"))
    answer = ask("GetLoggingConfiguration", ctx.aws.client("wafv2").get_logging_configuration,
                 "WAFNonexistentItemException", ResourceArn=resource)
    config = need(answer, "LoggingConfiguration", Mapping, operation="GetLoggingConfiguration")
    return {"ResourceArn": resource, "LogDestinationConfigs": need(config, "LogDestinationConfigs", list,
                                                                   operation="GetLoggingConfiguration")}
