"""Deployers of the metadata API: the REST API, its resources, methods, deployment, stage, request validator, API key,
usage plan and VPC link."""

from __future__ import annotations

from localenv.deployers.base import DeployContext, deployer, tag_map


@deployer("AWS::ApiGateway::RestApi")
def rest_api(ctx: DeployContext, lid: str, p: dict) -> tuple[str, dict]:
    api = ctx.client("apigateway").create_rest_api(
        name=p["Name"], description=p.get("Description", ""), apiKeySource=p.get("ApiKeySourceType", "HEADER"),
        endpointConfiguration={"types": p.get("EndpointConfiguration", {}).get("Types", ["EDGE"])}, tags=tag_map(p))
    root = ctx.client("apigateway").get_resources(restApiId=api["id"])["items"][0]["id"]
    return api["id"], {"RootResourceId": root}


@deployer("AWS::ApiGateway::Resource")
def api_resource(ctx: DeployContext, lid: str, p: dict) -> tuple[str, dict]:
    resource = ctx.client("apigateway").create_resource(restApiId=p["RestApiId"], parentId=p["ParentId"],
                                                          pathPart=p["PathPart"])
    return resource["id"], {"ResourceId": resource["id"]}


@deployer("AWS::ApiGateway::Method")
def api_method(ctx: DeployContext, lid: str, p: dict) -> tuple[str, dict]:
    api = ctx.client("apigateway")
    api.put_method(restApiId=p["RestApiId"], resourceId=p["ResourceId"], httpMethod=p["HttpMethod"],
                   authorizationType=p.get("AuthorizationType", "NONE"),
                   apiKeyRequired=bool(p.get("ApiKeyRequired")),
                   requestParameters={k: bool(v) for k, v in p.get("RequestParameters", {}).items()},
                   **({"requestValidatorId": p["RequestValidatorId"]} if p.get("RequestValidatorId") else {}))
    integration = p.get("Integration", {})
    extra = {"timeoutInMillis": int(integration["TimeoutInMillis"])} if "TimeoutInMillis" in integration else {}
    if integration.get("RequestParameters"):
        extra["requestParameters"] = integration["RequestParameters"]
    api.put_integration(restApiId=p["RestApiId"], resourceId=p["ResourceId"], httpMethod=p["HttpMethod"],
                        type=integration["Type"],
                        integrationHttpMethod=integration.get("IntegrationHttpMethod", "GET"),
                        uri=integration.get("Uri", ""),
                        connectionType=integration.get("ConnectionType", "INTERNET"),
                        connectionId=integration.get("ConnectionId", ""), **extra)
    return f"{p['ResourceId']}|{p['HttpMethod']}", {}


@deployer("AWS::ApiGateway::Deployment")
def api_deployment(ctx: DeployContext, lid: str, p: dict) -> tuple[str, dict]:
    deployment = ctx.client("apigateway").create_deployment(restApiId=p["RestApiId"],
                                                             description=p.get("Description", ""))
    return deployment["id"], {"DeploymentId": deployment["id"]}


@deployer("AWS::ApiGateway::Stage")
def api_stage(ctx: DeployContext, lid: str, p: dict) -> tuple[str, dict]:
    api = ctx.client("apigateway")
    api.create_stage(restApiId=p["RestApiId"], stageName=p["StageName"], deploymentId=p["DeploymentId"],
                     tracingEnabled=bool(p.get("TracingEnabled")), tags=tag_map(p))
    patches = []
    if p.get("AccessLogSetting"):
        patches += [{"op": "replace", "path": "/accessLogSettings/destinationArn",
                     "value": p["AccessLogSetting"]["DestinationArn"]},
                    {"op": "replace", "path": "/accessLogSettings/format",
                     "value": p["AccessLogSetting"].get("Format", "")}]
    for setting in p.get("MethodSettings", []):
        prefix = f"/{setting.get('ResourcePath', '/*').lstrip('/') or '*'}/{setting.get('HttpMethod', '*')}"
        prefix = prefix.replace("//", "/")
        if "LoggingLevel" in setting:
            patches.append({"op": "replace", "path": f"{prefix}/logging/loglevel",
                            "value": setting["LoggingLevel"]})
        for key, path in (("MetricsEnabled", "metrics/enabled"), ("DataTraceEnabled", "logging/dataTrace"),
                          ("ThrottlingBurstLimit", "throttling/burstLimit"),
                          ("ThrottlingRateLimit", "throttling/rateLimit")):
            if key in setting:
                value = setting[key]
                patches.append({"op": "replace", "path": f"{prefix}/{path}",
                                "value": str(value).lower() if isinstance(value, bool) else str(value)})
    if patches:
        api.update_stage(restApiId=p["RestApiId"], stageName=p["StageName"], patchOperations=patches)
    return p["StageName"], {}


@deployer("AWS::ApiGateway::RequestValidator")
def api_request_validator(ctx: DeployContext, lid: str, p: dict) -> tuple[str, dict]:
    validator = ctx.client("apigateway").create_request_validator(
        restApiId=p["RestApiId"], name=p.get("Name", lid),
        validateRequestBody=bool(p.get("ValidateRequestBody")),
        validateRequestParameters=bool(p.get("ValidateRequestParameters")))
    return validator["id"], {"RequestValidatorId": validator["id"]}


@deployer("AWS::ApiGateway::ApiKey")
def api_key(ctx: DeployContext, lid: str, p: dict) -> tuple[str, dict]:
    key = ctx.client("apigateway").create_api_key(
        name=p["Name"], value=p["Value"], enabled=p.get("Enabled", True),
        stageKeys=[{"restApiId": k["RestApiId"], "stageName": k["StageName"]} for k in p.get("StageKeys", [])],
        tags=tag_map(p))
    return key["id"], {"APIKeyId": key["id"]}


@deployer("AWS::ApiGateway::UsagePlan")
def usage_plan(ctx: DeployContext, lid: str, p: dict) -> tuple[str, dict]:
    plan = ctx.client("apigateway").create_usage_plan(
        name=p["UsagePlanName"],
        apiStages=[{"apiId": s["ApiId"], "stage": s["Stage"]} for s in p.get("ApiStages", [])],
        throttle={"rateLimit": float(p["Throttle"]["RateLimit"]), "burstLimit": int(p["Throttle"]["BurstLimit"])}
        if p.get("Throttle") else {}, tags=tag_map(p))
    return plan["id"], {"Id": plan["id"]}


@deployer("AWS::ApiGateway::UsagePlanKey")
def usage_plan_key(ctx: DeployContext, lid: str, p: dict) -> tuple[str, dict]:
    ctx.client("apigateway").create_usage_plan_key(usagePlanId=p["UsagePlanId"], keyId=p["KeyId"],
                                                     keyType=p["KeyType"])
    return f"{p['UsagePlanId']}|{p['KeyId']}", {}


@deployer("AWS::ApiGateway::VpcLink")
def vpc_link(ctx: DeployContext, lid: str, p: dict) -> tuple[str, dict]:
    link = ctx.client("apigateway").create_vpc_link(name=p["Name"], targetArns=p["TargetArns"], tags=tag_map(p))
    return link["id"], {}
