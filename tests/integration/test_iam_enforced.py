"""`opscli iam-policy` is enough, and every statement is needed: the audit, drift and rotate-check run on the local
emulator with IAM enforcement on (moto authorizes each request against the caller's policies once its no-auth
count is spent), as a user whose only permissions are the generated policy. moto judges a policy's actions, not
its resources or conditions; those are checked against AWS's own data in tests/opscli/test_iam_policy.py.

Where moto itself departs from AWS, the departure is written here, not worked around in the policy:
- it authorizes some reads under names IAM does not use for them (MOTO_ACTION_NAMES: CloudWatch under its endpoint
  prefix, three S3 bucket reads as ListBucket, API Gateway by operation, not by verb): the test's user is also
  granted moto's name wherever the policy grants IAM's, and loses it with the statement that grants IAM's;
- it checked the SigV4 signature of a request without a body against a hash of its query parameters, so every
  GET to API Gateway, EFS and Lambda was refused; localenv.emulator now checks the empty payload the client (and
  AWS) signed, and the run ends with no ERROR at all."""

from __future__ import annotations

import copy
import json
import urllib.request

import pytest

from opscli import core, livestack, stackcheck, targets
from opscli.aws import Aws, new_session
from opscli.iam_policy import policy_document
from opscli.operations import declared_operations
from platform_spec.result import Status
from tests.integration.changes import readers_traced_for

pytestmark = [pytest.mark.synth, pytest.mark.xdist_group("deployment")]

USER = "opscli-auditor"
# IAM's action -> the name moto checks instead: CloudWatch under its endpoint prefix; the S3 bucket reads moto's
# action map has no entry for (?encryption, ?publicAccessBlock, ?ownershipControls) fall to its default, ListBucket.
MOTO_ACTION_NAMES = {"cloudwatch:DescribeAlarms": "monitoring:DescribeAlarms",
                     "cloudwatch:ListTagsForResource": "monitoring:ListTagsForResource",
                     "s3:GetEncryptionConfiguration": "s3:ListBucket",
                     "s3:GetBucketPublicAccessBlock": "s3:ListBucket",
                     "s3:GetBucketOwnershipControls": "s3:ListBucket",
                     # IAM authorizes API Gateway's control plane by HTTP verb; moto by operation name
                     "apigateway:GET": tuple(f"apigateway:{op.split(':')[1]}" for op in sorted(declared_operations())
                                             if op.startswith("apigateway:"))}


def _enforce(endpoint: str, after: float) -> None:
    """IAM enforcement on (after 0 more requests) or off (float('inf')): moto's own control endpoint."""
    request = urllib.request.Request(f"{endpoint}/moto-api/reset-auth", data=str(after).encode(), method="POST",
                                     headers={"Content-Type": "text/plain"})  # a form type would hide the body
    with urllib.request.urlopen(request, timeout=30) as answer:
        assert answer.status == 200


def _as_moto_needs(document: dict) -> dict:
    """The policy with moto's own action names added beside IAM's, statement by statement, and each statement's
    Resource widened to "*": moto authorizes most reads on the resource "*", which no scoped ARN matches (the
    scoping is checked call by call in tests/integration/test_policy_scope.py)."""
    document = copy.deepcopy(document)
    for statement in document["Statement"]:
        statement["Resource"] = "*"
        moto_names = [MOTO_ACTION_NAMES[a] for a in statement["Action"] if a in MOTO_ACTION_NAMES]
        statement["Action"] = sorted(set(statement["Action"]) | {name for names in moto_names for name in
                                                                 ([names] if isinstance(names, str) else names)})
    return document


@pytest.fixture(scope="module")
def enforced(local_deployment):
    """The session's shared deployment, a user holding exactly the policy, and opscli's access as that user (its
    clients made once for the module: a client costs its model, class and endpoint again each time; what the user
    may do is the user's policy, which moto judges on each request). Enforcement is on only inside
    `_read_as_auditor` (tests run one at a time in a test process: no other test reads meanwhile); the user is
    removed after the module, and the deployment is then as it was (no user of that name, enforcement off)."""
    deployment = local_deployment
    admin = new_session(aws_access_key_id="local-emulator", aws_secret_access_key="local-emulator",
                        region_name="ap-northeast-1").client("iam", endpoint_url=deployment.endpoint)
    admin.create_user(UserName=USER)
    try:
        admin.put_user_policy(UserName=USER, PolicyName="opscli",
                              PolicyDocument=json.dumps(_as_moto_needs(_scoped(deployment))))
        key = admin.create_access_key(UserName=USER)["AccessKey"]
        session = new_session(aws_access_key_id=key["AccessKeyId"], aws_secret_access_key=key["SecretAccessKey"],
                              region_name="ap-northeast-1")
        yield deployment, admin, Aws(session=session, endpoint_url=deployment.endpoint, max_attempts=1)
    finally:
        _enforce(deployment.endpoint, float("inf"))
        for access_key in admin.list_access_keys(UserName=USER)["AccessKeyMetadata"]:
            admin.delete_access_key(UserName=USER, AccessKeyId=access_key["AccessKeyId"])
        for name in admin.list_user_policies(UserName=USER)["PolicyNames"]:
            admin.delete_user_policy(UserName=USER, PolicyName=name)
        admin.delete_user(UserName=USER)
    assert USER not in {user["UserName"] for user in admin.list_users()["Users"]}


def _scoped(deployment) -> dict:
    """The policy as an operator generates it for this stack: `opscli iam-policy --outputs FILE`."""
    return policy_document(targets=targets.from_outputs(deployment.outputs_file), account="123456789012")


def _read_as_auditor(deployment, aws) -> tuple[list, list, list]:
    _enforce(deployment.endpoint, 0)
    try:
        target = targets.from_outputs(deployment.outputs_file)
        live = livestack.read_stack(aws, core.stack_scope(aws, target), account=core.account_id(aws),
                                    account_iam=True)
        tags = {"Environment": target.suffix}
        return (stackcheck.judge(live, expected_tags=tags), stackcheck.drift(live, expected_tags=tags)[0],
                core.rotate_secrets(aws, target).findings)
    finally:
        _enforce(deployment.endpoint, float("inf"))


def _errors(findings) -> list[tuple[str, str]]:
    return [(f.resource, f.reason) for f in findings if f.status is Status.ERROR]


def test_the_generated_policy_is_enough_for_every_check(enforced):
    deployment, _admin, auditor = enforced
    # The stack's resources answer as the session's traced baseline read them: their readers run outside coverage's
    # tracer here (the account's IAM, which holds the auditor, and the judging stay traced; the read denied a
    # statement, below, runs traced throughout).
    with readers_traced_for(frozenset()):
        audit, drift, secrets = _read_as_auditor(deployment, auditor)
    assert _errors(secrets) == []
    assert len(audit) > 400 and secrets
    assert _errors(audit + drift) == []
    judged = [f for f in audit if f.status in (Status.PASS, Status.FAIL)]
    assert not [f for f in judged if f.status is Status.FAIL]
    assert {f.resource.split(" ", 1)[0] for f in judged} >= {
        "AWS::RDS::DBInstance", "AWS::ElastiCache::ReplicationGroup", "AWS::ECS::Service", "AWS::KMS::Key",
        "AWS::IAM::Role", "AWS::S3::Bucket", "AWS::SQS::Queue", "AWS::CloudWatch::Alarm", "AWS::EC2::SecurityGroup"}


def test_without_one_statement_exactly_its_checks_are_access_denied(enforced):
    """Without the RDS statement, the RDS resources are ERROR "access denied" (and the whole-stack rules that
    needed them, "is not known"), and nothing else. (RDS: moto enforces its query protocol; it was seen to let
    SQS's JSON-protocol reads through with no statement at all.)"""
    deployment, admin, auditor = enforced
    document = _scoped(deployment)
    kept = {**document, "Statement": [s for s in document["Statement"] if s["Sid"] != "OpscliReadRds"]}
    admin.put_user_policy(UserName=USER, PolicyName="opscli", PolicyDocument=json.dumps(_as_moto_needs(kept)))
    try:
        audit, _drift, secrets = _read_as_auditor(deployment, auditor)
    finally:
        admin.put_user_policy(UserName=USER, PolicyName="opscli",
                              PolicyDocument=json.dumps(_as_moto_needs(document)))
    denied = {resource.split(" ", 1)[0] for resource, reason in _errors(audit) if "access denied" in reason}
    assert denied == {"AWS::RDS::DBInstance", "AWS::RDS::DBParameterGroup", "AWS::RDS::DBSubnetGroup"}, denied
    assert all("access denied to Describe" in reason or "is not known" in reason
               for resource, reason in _errors(audit) if resource.startswith("AWS::RDS::"))
    assert _errors(secrets) == []
