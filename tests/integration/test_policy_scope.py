"""The scoped `opscli iam-policy --outputs` against the calls a whole audit, drift and rotate-check really make on
the local deployment: each call's resource (the ARN AWS authorizes it on, built from the request the way the
service authorization reference describes it) is matched by the Resource of the statement granting its action,
with IAM's wildcards. moto's IAM enforcement judges actions only, so this is where a pattern that would deny a
real call shows. The deployment names what CloudFormation generates as CloudFormation does (<stack>-<id>-...)."""

from __future__ import annotations

import fnmatch
import re

import pytest

from opscli import core, targets
from opscli.iam_policy import IAM_ACTION, IAM_PREFIX, policy_document
from tests.conftest import hooked, local_aws, posture
from tests.library_tracing import untraced_with_its_threads

pytestmark = [pytest.mark.synth, pytest.mark.xdist_group("deployment")]

REGION = "ap-northeast-1"


def _arn(service: str, rest: str, account: str) -> str:
    return f"arn:aws:{service}:{REGION}:{account}:{rest}"


def _named(value: str, service: str, kind: str, account: str) -> str:
    return value if value.startswith("arn:") else _arn(service, f"{kind}{value}", account)


def resources_of(operation: str, params: dict, account: str, path: str) -> list[str] | None:
    """The ARNs AWS authorizes one call on; None for an action authorized on "*" alone."""
    service, _name = operation.split(":")
    p = params
    if service == "apigateway":
        return [f"arn:aws:apigateway:{REGION}::{path}"]
    if service == "cloudformation":
        return [_arn("cloudformation", f"stack/{p['StackName']}/00000000-0000-0000-0000-000000000000", account)]
    if service == "cloudwatch":
        return [p["ResourceARN"]] if "ResourceARN" in p else [_arn("cloudwatch", f"alarm:{n}", account)
                                                              for n in p.get("AlarmNames", [])]
    if operation == "ec2:DescribeVpcAttribute":
        return [_arn("ec2", f"vpc/{p['VpcId']}", account)]
    if operation == "ecs:DescribeClusters":
        return [_named(c, "ecs", "cluster/", account) for c in p["clusters"]]
    if operation == "ecs:DescribeServices":
        return [_named(s, "ecs", f"service/{p['cluster']}/", account) for s in p["services"]]
    if service == "elasticache":
        return [p.get("ResourceName") or _named(p.get("ReplicationGroupId") or p["CacheSubnetGroupName"],
                                                "elasticache", "replicationgroup:" if "ReplicationGroupId" in p
                                                else "subnetgroup:", account)]
    if service == "efs":
        arns = [_arn("elasticfilesystem", f"file-system/{p['FileSystemId']}", account)] if "FileSystemId" in p else []
        arns += [_arn("elasticfilesystem", f"access-point/{p['AccessPointId']}", account)] if "AccessPointId" in p \
            else []
        return arns or [_arn("elasticfilesystem", "file-system/*", account)]  # a mount target's own file system
    if operation == "events:DescribeEventBus":
        return [_arn("events", f"event-bus/{p['Name']}", account)]
    if service == "events":
        return [_arn("events", f"rule/{p['Rule' if 'Rule' in p else 'Name']}", account)]
    if operation == "iam:GetAccountAuthorizationDetails":
        return None  # no resource-level permission: authorized on "*" alone
    if service == "iam":
        return [f"arn:aws:iam::{account}:role/{p['RoleName']}"]
    if service == "kms":
        key = p["KeyId"]
        return [key if key.startswith("arn:") else _arn("kms", f"key/{key}", account)]
    if service == "lambda":
        return [_named(p["FunctionName"], "lambda", "function:", account)]
    if operation == "logs:ListTagsForResource":
        return [p["resourceArn"].removesuffix(":*")]
    if operation == "logs:DescribeSubscriptionFilters":
        return [_arn("logs", f"log-group:{p['logGroupName']}", account)]
    if operation == "rds:DescribeDBParameters":
        return [_arn("rds", f"pg:{p['DBParameterGroupName']}", account)]
    if operation == "rds:ListTagsForResource":
        return [p["ResourceName"]]
    if operation == "rds:DescribeDBSnapshots":
        return [_arn("rds", f"db:{p['DBInstanceIdentifier']}", account)]
    if operation == "rds:DescribeDBSnapshotAttributes":
        return [_arn("rds", f"snapshot:{p['DBSnapshotIdentifier']}", account)]
    if service == "s3":
        return [f"arn:aws:s3:::{p['Bucket']}"]
    if service == "secretsmanager":
        return [_named(p["SecretId"] + "-AbCdEf", "secretsmanager", "secret:", account)
                if not p["SecretId"].startswith("arn:") else p["SecretId"]]
    if service == "sns":
        return [p.get("TopicArn") or p["ResourceArn"]]
    if service == "sqs":
        return [_arn("sqs", p["QueueUrl"].rstrip("/").rsplit("/", 1)[-1], account)]
    if operation in ("wafv2:GetWebACL",):
        return [_arn("wafv2", f"regional/webacl/{p['Name']}/{p['Id']}", account)]
    if operation == "wafv2:GetWebACLForResource":
        return [p["ResourceArn"]]
    if service == "wafv2":
        return [p.get("ResourceArn") or p["ResourceARN"]]
    return None


def _action(operation: str) -> str:
    service, name = operation.split(":")
    if service == "apigateway":
        return "apigateway:GET"
    return IAM_ACTION.get(operation, f"{IAM_PREFIX.get(service, service)}:{name}")


def test_every_call_of_a_whole_read_names_a_resource_its_statement_grants(local_deployment):
    aws = local_aws(local_deployment.endpoint)
    account = core.account_id(aws)
    document = policy_document(targets=targets.from_outputs(local_deployment.outputs_file), account=account)
    granted: dict[str, list[str]] = {}
    for statement in document["Statement"]:
        for action in statement["Action"]:
            granted.setdefault(action, []).extend(
                [statement["Resource"]] if isinstance(statement["Resource"], str) else statement["Resource"])
    calls: list[tuple[str, dict, str]] = []

    def before(params, model, **_):
        # The path of a REST call, from its URI template (API Gateway authorizes by path).
        path = re.sub(r"\{(\w+)\+?\}", lambda m: str(params.get(m.group(1), m.group(0))),
                      model.http.get("requestUri", "/").split("?")[0])
        calls.append((f"{model.service_model.service_name}:{model.name}", dict(params), path))

    # The compliant shared deployment's whole posture, as the session's baseline reads and judges it (traced
    # there): outside coverage's tracer here, where what is judged is the calls it makes (the hook is the test's).
    with hooked(aws, "before-parameter-build.*.*", before):
        found = untraced_with_its_threads(posture)(local_deployment)
    assert [f for f in found if f[2] == "ERROR"] == []
    denied, scoped_calls = [], 0
    for operation, params, path in calls:
        action = _action(operation)
        patterns = granted[action]
        if patterns == ["*"]:
            continue
        resources = resources_of(operation, params, account, path)
        assert resources, f"{operation} is scoped, but this test does not know the resource of {params}"
        scoped_calls += 1
        for arn in resources:
            if not any(fnmatch.fnmatchcase(arn, pattern) for pattern in patterns):
                denied.append((operation, arn))
    print(f"\ncalls {len(calls)}; to scoped actions {scoped_calls}; denied by the scoped policy {len(denied)}")
    assert scoped_calls > 50
    assert denied == []


@pytest.mark.parametrize(("operation", "params", "resource"), [
    ("iam:GetRole", {"RoleName": "OtherStack-Role-ABC"}, "role"),
    ("rds:DescribeDBParameters", {"DBParameterGroupName": "default.postgres16"}, "pg"),
    ("secretsmanager:DescribeSecret", {"SecretId": "rds-credentials-staging"}, "secret"),
    ("s3:GetBucketPolicy", {"Bucket": "someone-elses-bucket"}, "bucket"),
])
def test_a_resource_of_another_stack_is_not_granted(operation, params, resource):
    """The scoping is not a pattern that matches everything: a look-alike outside the stack falls outside it."""
    document = policy_document(targets=targets.from_suffix("prod"), account="123456789012")
    patterns = [r for s in document["Statement"] if _action(operation) in s["Action"]
                for r in ([s["Resource"]] if isinstance(s["Resource"], str) else s["Resource"])]
    arn = resources_of(operation, params, "123456789012", "")[0]
    assert resource in arn and not any(fnmatch.fnmatchcase(arn, p) for p in patterns), (arn, patterns)
