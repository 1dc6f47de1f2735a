"""Readers of the REST API, its stage, methods, usage plan, keys and VPC link."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from opscli.readers.base import (
    FACTS,
    UNDECLARED,
    Call,
    MalformedAnswer,
    ReadContext,
    ask,
    need,
    no_reader,
    pages,
    pascal,
    reader,
    resolved,
    tag_list,
)
from opscli.stack import Declared, Present
from platform_spec.intrinsics import ref_target
from platform_spec.strict_json import KeyTwice, parse

# API Gateway authorizes its control plane by HTTP verb on the path read (every operation is the action
# apigateway:GET): the stack's APIs (and their stages, resources, methods), its usage plans, API keys and VPC
# links. Their ids are made by AWS.
GET = ("arn:aws:apigateway:{region}::/restapis/*", "arn:aws:apigateway:{region}::/usageplans/*",
       "arn:aws:apigateway:{region}::/apikeys/*", "arn:aws:apigateway:{region}::/vpclinks/*")

no_reader("AWS::ApiGateway::Account", "account-wide setting (CloudWatch role), not a resource of this stack alone")
no_reader("AWS::ApiGateway::Deployment", "an immutable snapshot; the stage that serves it is read",
          derived=lambda p: {"DeploymentId": p.id})
no_reader("AWS::ApiGateway::RequestValidator", "validation settings; its method references are read",
          derived=lambda p: {"RequestValidatorId": p.id})
no_reader("AWS::ApiGateway::Resource", "a path segment; its methods are read", derived=lambda p: {"ResourceId": p.id})
no_reader("AWS::ApiGateway::UsagePlanKey", "a key-to-plan link; the plan is read and the key value is a secret")


def _declared_methods(ctx: ReadContext, api: Declared | Present) -> set[tuple[str, str]]:
    """(path, HTTP method) of every method the stack declares on the API (and (path, "") for every resource):
    a resource's path is its parents' path parts, up to the API's root."""
    resources = {d.logical_id: d for d in ctx.scope.of_type("AWS::ApiGateway::Resource")
                 if ref_target(d.properties.get("RestApiId")) == api.logical_id}

    def path(lid: str | None, seen: tuple[str, ...] = ()) -> str | None:
        if lid is None or lid == api.logical_id:  # the root: Fn::GetAtt [Api, RootResourceId]
            return ""
        resource = resources.get(lid)
        if resource is None or lid in seen:
            return None
        parent = path(ref_target(resource.properties.get("ParentId")), (*seen, lid))
        return None if parent is None else f"{parent}/{resource.properties.get('PathPart')}"

    declared = {("/", "")} | {(p, "") for lid in resources if (p := path(lid))}
    for method in ctx.scope.of_type("AWS::ApiGateway::Method"):
        if ref_target(method.properties.get("RestApiId")) == api.logical_id:
            where = path(ref_target(method.properties.get("ResourceId")))
            declared.add(((where or "/") if where is not None else "?", str(method.properties.get("HttpMethod"))))
    return declared


def _undeclared_methods(ctx: ReadContext, r: Present) -> list[str]:
    """Resources and methods of the API that the stack does not declare (a debug route, an open method)."""
    declared = _declared_methods(ctx, r)
    found = []
    for page in pages(ctx.aws.client("apigateway"), "get_resources", "GetResources", restApiId=r.physical_id,
                      embed=["methods"]):
        for item in need(page, "items", list, operation="GetResources"):
            where = str(need(item, "path", str, operation="GetResources"))
            if (where, "") not in declared:
                found.append(f"resource {where}")
            for verb in item.get("resourceMethods") or {}:
                if (where, verb) not in declared:
                    found.append(f"method {verb} {where}")
    return found


def _undeclared_stages_and_deployments(ctx: ReadContext, r: Present) -> list[str]:
    """Stages and deployments of the API that the stack does not declare: a "debug" stage serves the API without
    the declared stage's web ACL, logging and throttling; a deployment is a frozen copy of the API that any stage
    can be pointed at. CloudFormation removes a replaced deployment, so the live set is the declared one."""
    client = ctx.aws.client("apigateway")
    mine = [d for kind in ("AWS::ApiGateway::Stage", "AWS::ApiGateway::Deployment") for d in ctx.scope.of_type(kind)
            if ref_target(d.properties.get("RestApiId")) == r.logical_id]
    stages = {str(ctx.resolve(d.properties.get("StageName"))) for d in mine if d.properties.get("StageName")}
    deployments = {d.physical_id for d in mine if d.type == "AWS::ApiGateway::Deployment" and d.physical_id}
    found = []
    answer = ask("GetStages", client.get_stages, "NotFoundException", restApiId=r.physical_id)
    for stage in need(answer, "item", list, operation="GetStages"):
        name = need(stage, "stageName", str, operation="GetStages")
        if name not in stages:
            found.append(f"stage {name} (deployment {stage.get('deploymentId', '?')})")
    for page in pages(client, "get_deployments", "GetDeployments", restApiId=r.physical_id):
        for deployment in need(page, "items", list, operation="GetDeployments"):
            ident = need(deployment, "id", str, operation="GetDeployments")
            if ident not in deployments:
                created = deployment.get("createdDate")
                when = f", created {created:%Y-%m-%d %H:%M} UTC" if hasattr(created, "strftime") else ""
                found.append(f"deployment {ident}{when}")
    return found


@reader("AWS::ApiGateway::RestApi", (Call("apigateway:GetRestApi", GET), Call("apigateway:GetResources", GET),
                                     Call("apigateway:GetStages", GET), Call("apigateway:GetDeployments", GET)),
        "Name Description EndpointConfiguration ApiKeySourceType Policy Tags")
def rest_api(ctx: ReadContext, r: Present) -> dict[str, Any]:
    api = ask("GetRestApi", ctx.aws.client("apigateway").get_rest_api, "NotFoundException", restApiId=r.physical_id)
    props: dict[str, Any] = {"Name": need(api, "name", str, operation="GetRestApi"),
                             "EndpointConfiguration": {"Types": need(need(api, "endpointConfiguration", Mapping,
                                                                          operation="GetRestApi"),
                                                                     "types", list, operation="GetRestApi")},
                             "Tags": tag_list(api.get("tags", {}))}
    for key in ("description", "apiKeySource"):
        if key in api:
            props["Description" if key == "description" else "ApiKeySourceType"] = api[key]
    props["Policy"] = _resource_policy(api.get("policy"))  # None: it has none (GetRestApi leaves it out)
    props[FACTS] = {UNDECLARED: _undeclared_methods(ctx, r) + _undeclared_stages_and_deployments(ctx, r)}
    return props


def _resource_policy(value: Any) -> Any:
    """The API's resource policy: GetRestApi answers it as JSON text whose quotes are escaped once more
    ({\\"Version\\": ...}), as Cloud Control's GetResource does not."""
    if value is None:
        return None
    if not isinstance(value, str):
        raise MalformedAnswer("GetRestApi answered a policy that is not text")
    for text in (value, f'"{value}"'):
        try:
            document = parse(text)
            document = parse(document) if isinstance(document, str) else document
        except KeyTwice as twice:
            raise MalformedAnswer(f"GetRestApi answered a policy with {twice}") from None
        except ValueError:
            continue
        if isinstance(document, Mapping):
            return document
    raise MalformedAnswer("GetRestApi answered a policy that is not a JSON document")


# AWS::ApiGateway::Stage MethodSetting's properties (its CloudFormation schema); GetStage answers more (the
# cache-control authorization settings), which CloudFormation cannot declare.
METHOD_SETTING_PROPERTIES = frozenset({
    "CacheDataEncrypted", "CacheTtlInSeconds", "CachingEnabled", "DataTraceEnabled", "LoggingLevel", "MetricsEnabled",
    "ThrottlingBurstLimit", "ThrottlingRateLimit"})


@reader("AWS::ApiGateway::Stage", (Call("apigateway:GetStage", GET),),
        "StageName DeploymentId TracingEnabled AccessLogSetting MethodSettings Tags")
def api_stage(ctx: ReadContext, r: Present) -> dict[str, Any]:
    api_id = ctx.resolve(r.properties.get("RestApiId"))
    stage_name = ctx.resolve(r.properties.get("StageName")) or r.physical_id
    stage = ask("GetStage", ctx.aws.client("apigateway").get_stage, "NotFoundException", restApiId=api_id,
                stageName=stage_name)
    props: dict[str, Any] = {"StageName": need(stage, "stageName", str, operation="GetStage"),
                             "TracingEnabled": bool(stage.get("tracingEnabled", False)),
                             "Tags": tag_list(stage.get("tags", {}))}
    if "deploymentId" in stage:
        props["DeploymentId"] = stage["deploymentId"]
    props["AccessLogSetting"] = pascal(stage["accessLogSettings"]) if isinstance(
        stage.get("accessLogSettings"), Mapping) else None
    settings = []
    for path, value in (stage.get("methodSettings") or {}).items():
        resource, _, method = path.rpartition("/")
        setting = {"ResourcePath": "/" + resource.lstrip("/") if resource not in ("*", "") else "/*",
                   "HttpMethod": method}
        if isinstance(value, Mapping):
            setting.update({name: value[key] for key in value
                            if (name := key[:1].upper() + key[1:]) in METHOD_SETTING_PROPERTIES})
        settings.append(setting)
    props["MethodSettings"] = settings
    return props


@reader("AWS::ApiGateway::Method", (Call("apigateway:GetMethod", GET),),
        "HttpMethod AuthorizationType ApiKeyRequired RequestParameters RequestValidatorId Integration")
def api_method(ctx: ReadContext, r: Present) -> dict[str, Any]:
    method = ask("GetMethod", ctx.aws.client("apigateway").get_method, "NotFoundException",
                 restApiId=ctx.resolve(r.properties.get("RestApiId")),
                 resourceId=ctx.resolve(r.properties.get("ResourceId")),
                 httpMethod=ctx.resolve(r.properties.get("HttpMethod")))
    props: dict[str, Any] = {"HttpMethod": need(method, "httpMethod", str, operation="GetMethod"),
                             "AuthorizationType": need(method, "authorizationType", str, operation="GetMethod"),
                             "ApiKeyRequired": bool(method.get("apiKeyRequired", False))}
    if "requestParameters" in method:
        props["RequestParameters"] = method["requestParameters"]
    props["RequestValidatorId"] = method.get("requestValidatorId")
    integration = method.get("methodIntegration")
    if isinstance(integration, Mapping):
        props["Integration"] = {("IntegrationHttpMethod" if k == "httpMethod" else k[:1].upper() + k[1:]): v
                                for k, v in integration.items() if k not in ("cacheNamespace", "cacheKeyParameters",
                                                                             "integrationResponses")}
    return props


@reader("AWS::ApiGateway::UsagePlan", (Call("apigateway:GetUsagePlan", GET),
                                       Call("apigateway:GetUsagePlanKeys", GET)),
        "UsagePlanName ApiStages Throttle Tags", derived=lambda p: {"Id": p.id})
def usage_plan(ctx: ReadContext, r: Present) -> dict[str, Any]:
    plan = ask("GetUsagePlan", ctx.aws.client("apigateway").get_usage_plan, "NotFoundException",
               usagePlanId=r.physical_id)
    props: dict[str, Any] = {"UsagePlanName": need(plan, "name", str, operation="GetUsagePlan"),
                             "ApiStages": [{"ApiId": s.get("apiId"), "Stage": s.get("stage")}
                                           for s in plan.get("apiStages", []) if isinstance(s, Mapping)],
                             "Tags": tag_list(plan.get("tags", {}))}
    if isinstance(plan.get("throttle"), Mapping):
        props["Throttle"] = pascal(plan["throttle"])
    declared = {resolved(ctx, d.properties.get("KeyId")) for d in ctx.scope.of_type("AWS::ApiGateway::UsagePlanKey")
                if resolved(ctx, d.properties.get("UsagePlanId")) == r.physical_id}
    keys = [k for page in pages(ctx.aws.client("apigateway"), "get_usage_plan_keys", "GetUsagePlanKeys",
                                usagePlanId=r.physical_id)
            for k in need(page, "items", list, operation="GetUsagePlanKeys") if isinstance(k, Mapping)]
    props[FACTS] = {UNDECLARED: [f"API key {k.get('id')} ({k.get('name', '?')})" for k in keys
                                 if k.get("id") not in declared]}
    return props


@reader("AWS::ApiGateway::ApiKey", (Call("apigateway:GetApiKey", GET),), "Name Enabled StageKeys Tags",
        derived=lambda p: {"APIKeyId": p.id})
def api_key(ctx: ReadContext, r: Present) -> dict[str, Any]:
    # includeValue stays False: opscli never reads the key itself.
    key = ask("GetApiKey", ctx.aws.client("apigateway").get_api_key, "NotFoundException", apiKey=r.physical_id,
              includeValue=False)
    stage_keys = []
    for item in key.get("stageKeys", []):  # "restApiId/stageName" (the answer's types are checked in answers.py)
        api_id, _, stage = item.partition("/")
        stage_keys.append({"RestApiId": api_id, "StageName": stage})
    return {"Name": need(key, "name", str, operation="GetApiKey"), "Enabled": bool(key.get("enabled", False)),
            "StageKeys": stage_keys, "Tags": tag_list(key.get("tags", {}))}


@reader("AWS::ApiGateway::VpcLink", (Call("apigateway:GetVpcLink", GET),), "Name TargetArns Tags",
        derived=lambda p: {"VpcLinkId": p.id})
def vpc_link(ctx: ReadContext, r: Present) -> dict[str, Any]:
    link = ask("GetVpcLink", ctx.aws.client("apigateway").get_vpc_link, "NotFoundException", vpcLinkId=r.physical_id)
    return {"Name": need(link, "name", str, operation="GetVpcLink"),
            "TargetArns": need(link, "targetArns", list, operation="GetVpcLink"),
            "Tags": tag_list(link.get("tags", {}))}
