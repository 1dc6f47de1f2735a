"""The perimeter on the shared local deployment: who can reach in. Each case opens one way in from outside the
account (a role beside the stack trusted by another account that may use the project key; a bucket, queue or topic
policy admitting another account; a grant on the key to another account; the policy of the event bus the intake
rule listens on; an access point with the root identity), and `opscli audit` alone must fail it with its rule, on
the resource changed (or the identity added), naming the outside principal, as the posture monitor judges the
case's writes; each is restored, and what the writes touched must read back as the module found it
(`Monitor.restoring`), and after the last case every check of the audit, the drift and the rotate-check must be as
at the session's start, when every one passed (`all_restored`). Never run against a real account.

The statements that only look pinned or inside are forms of one bucket policy's text: the way that text is read
live (GetBucketPolicy on the emulator, the reader, the audit) is the way in above; each form is read by the same
reader from its text and judged with the rest of one recorded read of the deployment, as the audit judges it."""

from __future__ import annotations

import contextlib
import copy
import json

import pytest

from opscli import core, livestack, stackcheck, targets
from opscli.model import exit_code, path_status
from opscli.readers import ATTRIBUTES, FACTS, READERS, ReadContext
from platform_spec.result import Status
from platform_spec.rules import stk_perim, stk_policy
from tests.integration.changes import Judged

pytestmark = [pytest.mark.synth, pytest.mark.xdist_group("perimeter")]

OUTSIDE = "999999999999"
OUTSIDE_ROOT = f"arn:aws:iam::{OUTSIDE}:root"



def audit(d) -> tuple[int, list[dict]]:
    """`opscli audit`'s core in process, on the deployment's shared clients: (its exit code as the CLI decides it,
    its findings as its JSON report has them). The command itself is tested in tests/opscli."""
    report = core.audit(d.aws, targets.from_outputs(d.outputs_file))
    code, _ = core.conclude(report)
    return code, [f.to_dict() for f in report.findings]


def failed(findings: list[dict]) -> list[dict]:
    return [f for f in findings if f["status"] == "FAIL"]


def as_reported(judged: Judged) -> tuple[int, dict]:
    """What a monitor run judged for a case's writes, as `report` gives the audit of the whole deployment: (the exit
    code, the findings and the paths across the perimeter with their status, as the JSON report has them). The
    rest of the deployment is the session's baseline, every check PASS, and no path there crosses the perimeter
    (test_a_fresh_deployment_passes_every_perimeter_check)."""
    findings = judged.audit
    paths = [{**path.to_dict(), "status": getattr(path_status(path, findings), "value", None)}
             for path in (stackcheck.perimeter_paths(judged.live) if judged.live else [])]
    return exit_code(findings), {"findings": [f.to_dict() for f in findings], "paths": paths}


# --- the ways in, each made and taken back -----------------------------------------------------------------------

@contextlib.contextmanager
def foreign_role_with_the_key(d):
    """A role the stack does not declare, trusted by another account, allowed kms:Decrypt on the project key (whose
    policy delegates to the account's IAM)."""
    iam, name = d.client("iam"), "partner-video-reader"
    iam.create_role(RoleName=name, AssumeRolePolicyDocument=json.dumps({"Version": "2012-10-17", "Statement": [
        {"Sid": "PartnerAccount", "Effect": "Allow", "Principal": {"AWS": OUTSIDE_ROOT}, "Action": "sts:AssumeRole"}]}))
    iam.put_role_policy(RoleName=name, PolicyName="decrypt-videos", PolicyDocument=json.dumps({
        "Version": "2012-10-17", "Statement": [{"Sid": "UseTheKey", "Effect": "Allow", "Action": "kms:Decr*",
                                                "Resource": d.outputs["KmsKeyArn"]}]}))
    try:
        yield iam.get_role(RoleName=name)["Role"]["Arn"]
    finally:
        iam.delete_role_policy(RoleName=name, PolicyName="decrypt-videos")
        iam.delete_role(RoleName=name)


def _with_statement(get, put, statement):
    @contextlib.contextmanager
    def change():
        before = get()
        document = json.loads(before)
        document["Statement"].append(statement)
        put(json.dumps(document))
        try:
            yield
        finally:
            put(before)
    return change()


def bucket_shared(d):
    s3, bucket = d.client("s3"), d.outputs["IngestBucketName"]
    return _with_statement(lambda: s3.get_bucket_policy(Bucket=bucket)["Policy"],
                           lambda policy: s3.put_bucket_policy(Bucket=bucket, Policy=policy),
                           {"Sid": "PartnerReads", "Effect": "Allow", "Principal": {"AWS": OUTSIDE_ROOT},
                            "Action": "s3:GetObject", "Resource": f"arn:aws:s3:::{bucket}/*"})


def queue_shared(d):
    sqs = d.client("sqs")
    url = sqs.get_queue_url(QueueName=d.outputs["IntakeQueueName"])["QueueUrl"]
    arn = sqs.get_queue_attributes(QueueUrl=url, AttributeNames=["QueueArn"])["Attributes"]["QueueArn"]
    return _with_statement(
        lambda: sqs.get_queue_attributes(QueueUrl=url, AttributeNames=["Policy"])["Attributes"]["Policy"],
        lambda policy: sqs.set_queue_attributes(QueueUrl=url, Attributes={"Policy": policy}),
        {"Effect": "Allow", "Principal": {"AWS": OUTSIDE}, "Action": "sqs:ReceiveMessage", "Resource": arn})


def topic_shared(d):
    sns, arn = d.client("sns"), d.outputs["AlarmTopicArn"]
    return _with_statement(
        lambda: sns.get_topic_attributes(TopicArn=arn)["Attributes"]["Policy"],
        lambda policy: sns.set_topic_attributes(TopicArn=arn, AttributeName="Policy", AttributeValue=policy),
        {"Sid": "PartnerSubscribes", "Effect": "Allow", "Principal": {"AWS": OUTSIDE_ROOT},
         "Action": "sns:Subscribe", "Resource": arn})


@contextlib.contextmanager
def key_granted(d):
    kms, key = d.client("kms"), d.outputs["KmsKeyArn"]
    grant = kms.create_grant(KeyId=key, GranteePrincipal=OUTSIDE_ROOT, Operations=["Decrypt"])["GrantId"]
    try:
        yield
    finally:
        kms.revoke_grant(KeyId=key, GrantId=grant)


@contextlib.contextmanager
def bus_opened(d):
    events = d.client("events")
    events.put_permission(EventBusName="default", Action="events:PutEvents", Principal=OUTSIDE,
                          StatementId="partner-puts-events")
    try:
        yield
    finally:
        events.remove_permission(EventBusName="default", StatementId="partner-puts-events")


@contextlib.contextmanager
def root_access_point(d):
    efs = d.client("efs")
    point = efs.create_access_point(FileSystemId=d.outputs["EfsFileSystemId"], PosixUser={"Uid": 0, "Gid": 0},
                                    RootDirectory={"Path": "/"})["AccessPointId"]
    try:
        yield point
    finally:
        efs.delete_access_point(AccessPointId=point)


# name -> (the change, the rule, the check, the resource type, words in the reason)
CASES = {
    "foreign-trusted-role-uses-the-project-key": (
        foreign_role_with_the_key, stk_perim.IDENTITY_ID, f"{stk_perim.IDENTITY_ID}/account",
        "AWS::KMS::Key", (":role/partner-video-reader", OUTSIDE_ROOT, 'statement "PartnerAccount"', "AWS::KMS::Key",
                          "kms:Decrypt", 'statement "UseTheKey"')),
    "bucket-policy-admits-another-account": (
        bucket_shared, stk_policy.RULE_ID, stk_policy.RULE_ID, "AWS::S3::BucketPolicy",
        ('statement "PartnerReads"', f"account {OUTSIDE}")),
    "queue-policy-admits-another-account": (
        queue_shared, stk_policy.RULE_ID, stk_policy.RULE_ID, "AWS::SQS::QueuePolicy",
        ("statement #3", f"account {OUTSIDE}")),
    "topic-policy-admits-another-account": (
        topic_shared, stk_policy.RULE_ID, stk_policy.RULE_ID, "AWS::SNS::TopicPolicy",
        ('statement "PartnerSubscribes"', f"account {OUTSIDE}")),
    "key-granted-to-another-account": (
        key_granted, stk_policy.RULE_ID, stk_policy.GRANTS_CHECK, "AWS::KMS::Key",
        (f"account {OUTSIDE}", OUTSIDE_ROOT, "Decrypt")),
    "event-bus-admits-another-account": (
        bus_opened, stk_policy.RULE_ID, stk_policy.BUS_CHECK, "AWS::Events::Rule",
        ("event bus default", 'statement "partner-puts-events"', f"account {OUTSIDE}")),
    "access-point-with-the-root-identity": (
        root_access_point, stk_perim.ACCESS_POINT_ID, stk_perim.ACCESS_POINTS_CHECK, "AWS::EFS::FileSystem",
        ("enforces the root identity (uid 0)", "rooted at the file system's root directory")),
}


@pytest.mark.parametrize("name", sorted(CASES))
def test_a_way_in_fails_the_audit_with_its_rule_resource_and_principal(local, monitor, all_restored, baseline_posture,
                                                                        name):
    """What is judged is what the posture monitor reads for the case's writes (their CloudTrail records, its
    planner): each case also proves the monitor catches that way in, and that it sees it closed again."""
    change, rule, check, resource_type, words = CASES[name]
    with monitor.restoring(local.session, baseline_posture) as writes, change(local):
        code, document = as_reported(monitor.judge(list(writes)))
    findings = document["findings"]
    assert code == 1
    # The report's paths show the same way in, as data: one path in from outside, failed by the same rule (an
    # access point is not a path: STK-PERIM-003 judges what it widens for every client of the file system).
    crossing = [p for p in document["paths"] if p["outside"]]
    if rule == stk_perim.ACCESS_POINT_ID:
        assert crossing == []
    else:
        assert {(p["direction"], p["rule_id"], p["status"]) for p in crossing} == {("in", rule, "FAIL")}, crossing
        assert all(OUTSIDE in p["other"] + p["via"] for p in crossing), crossing
    # The one way in is the one failure: no other rule fails (another account's grant or access point is named once,
    # under its perimeter rule, not again as "undeclared").
    assert {f["rule_id"] for f in failed(findings)} == {rule}, [(f["rule_id"], f["reason"]) for f in failed(findings)]
    found = [f for f in failed(findings) if f["check_id"] == check]
    assert len(found) == 1, found
    subject = found[0]["resource"]
    assert subject.startswith(f"{resource_type} "), subject
    for word in words:
        assert word in found[0]["reason"], (word, found[0]["reason"])
    # restored: `monitor.restoring` compares what the writes touched with the session's start, when all passed


def test_a_fresh_deployment_passes_every_perimeter_check(recorded):
    """The audit of the module's recorded read (of the deployment as restored after the ways in), as its JSON report
    gives it."""
    live, _, tags = recorded
    findings = stackcheck.judge(live, expected_tags=tags)
    code = exit_code(findings)
    document = {"paths": [{**path.to_dict(), "status": getattr(path_status(path, findings), "value", None)}
                          for path in stackcheck.perimeter_paths(live)]}
    findings = [f.to_dict() for f in findings]
    assert code == 0, [(f["rule_id"], f["resource"], f["reason"]) for f in failed(findings)]
    perimeter = [f for f in findings if f["rule_id"] in (stk_perim.IDENTITY_ID, stk_perim.ACCESS_POINT_ID,
                                                       stk_policy.RULE_ID)]
    assert perimeter and {f["status"] for f in perimeter} == {"PASS"}
    judged = {f["resource"].split(" ")[0] for f in perimeter if f["rule_id"] == stk_perim.IDENTITY_ID}
    # every data path of the stack: the key, the bucket, the queues, the file system, the database, the secrets
    assert {"AWS::KMS::Key", "AWS::S3::Bucket", "AWS::SQS::Queue", "AWS::EFS::FileSystem",
            "AWS::RDS::DBInstance"} <= judged, judged
    assert any(f["resource"].startswith("arn:aws:secretsmanager:") for f in perimeter
               if f["rule_id"] == stk_perim.IDENTITY_ID)
    # the picture of the same read: paths in (the key policy, the queue and bucket policies) and out (the intake
    # rule's targets), every one inside and passed
    paths = document["paths"]
    assert not [p for p in paths if p["outside"]] and {p["status"] for p in paths} == {"PASS"}, paths
    assert {"AWS::KMS::Key", "AWS::SQS::QueuePolicy", "AWS::S3::BucketPolicy"} <= \
        {p["resource_type"] for p in paths if p["direction"] == "in"}
    assert {"AWS::Events::Rule"} <= {p["resource_type"] for p in paths if p["direction"] == "out"}


# --- forms that read as pinned, inside or a Deny, and are not -------------------------------------------------

def _bucket_text(d, edit):
    """The bucket policy's text changed by `edit` (its JSON text in, text out), restored after."""
    s3, bucket = d.client("s3"), d.outputs["IngestBucketName"]

    @contextlib.contextmanager
    def change():
        before = s3.get_bucket_policy(Bucket=bucket)["Policy"]
        s3.put_bucket_policy(Bucket=bucket, Policy=edit(before))
        try:
            yield
        finally:
            s3.put_bucket_policy(Bucket=bucket, Policy=before)
    return change()


def _added(statement):
    """An edit that appends `statement` (a dict, or its JSON text as written) to the policy's statements."""
    def edit(before: str) -> str:
        document = json.loads(before)
        text = json.dumps(document["Statement"])
        document["Statement"] = "STATEMENTS"
        added = statement if isinstance(statement, str) else json.dumps(statement)
        return json.dumps(document).replace('"STATEMENTS"', f"{text[:-1]}, {added}]")
    return edit


def _evasive(d, own: str) -> dict[str, str | dict]:
    objects = f"arn:aws:s3:::{d.outputs['IngestBucketName']}/*"
    base = {"Effect": "Allow", "Principal": "*", "Action": "s3:GetObject", "Resource": objects}
    return {
        "wildcard-organization": {**base, "Condition": {"StringLike": {"aws:PrincipalOrgID": "o-*"}}},
        "wildcard-endpoint": {**base, "Condition": {"StringLike": {"aws:SourceVpce": "vpce-*"}}},
        "wildcard-organization-path": {**base, "Condition": {"ForAnyValue:StringLike": {
            "aws:PrincipalOrgPaths": "o-*/*"}}},
        "account-as-a-number": {**base, "Principal": {"AWS": int(OUTSIDE)}},
        "operator-in-another-case": {**base, "Condition": {"stringnotequals": {"aws:PrincipalAccount": own}}},
        "if-exists-in-another-case": {**base, "Condition": {"stringequalsifexists": {"aws:PrincipalAccount": own}}},
        "own-digits-in-another-partition": {**base, "Principal": {"AWS": f"arn:aws-cn:iam::{own}:root"}},
        "effect-in-another-case": {**base, "Effect": "allow"},
        "element-names-in-another-case": {"effect": "Allow", "principal": "*", "action": "s3:GetObject",
                                          "resource": objects},
    }


class _PolicyText:
    """S3 as the bucket policy's reader calls it (GetBucketPolicy), answering `text` as the policy."""

    def __init__(self, text: str) -> None:
        self.text = text

    def client(self, _service: str) -> _PolicyText:
        return self

    def get_bucket_policy(self, Bucket: str) -> dict:  # noqa: N803 - botocore's parameter name
        return {"Policy": self.text}


@pytest.fixture(scope="module")
def recorded(local, monitor) -> tuple[livestack.LiveStack, str, dict[str, str]]:
    """One read of the deployment as declared, as `opscli audit` reads it (the account's IAM too: the read the
    restores are compared with), the bucket policy's text as GetBucketPolicy answers it, and the tags the audit
    expects."""
    text = local.client("s3").get_bucket_policy(Bucket=local.outputs["IngestBucketName"])["Policy"]
    return monitor.before, text, monitor.tags


def judged_with_bucket_policy(recorded, text: str) -> list:
    """The audit's findings on the recorded read with the bucket policy's reader run again on `text`."""
    live, _, tags = recorded
    live = copy.deepcopy(live)
    [(lid, resource)] = [(lid, r) for lid, r in live.resources.items() if r.declared.type == "AWS::S3::BucketPolicy"]
    context = ReadContext(aws=_PolicyText(text), scope=live.scope, resolve=live.resolve)
    properties = READERS["AWS::S3::BucketPolicy"].read(context, resource.declared)
    facts, attributes = properties.pop(FACTS, None) or {}, properties.pop(ATTRIBUTES, None) or {}
    live.resources[lid] = livestack.LiveResource(resource.declared, livestack.ReadState.READ, properties,
                                                 facts=facts, attributes=attributes)
    live.index_ids()  # the read is complete again: judged afresh
    return stackcheck.judge(live, expected_tags=tags)


def test_the_recorded_bucket_policy_reads_back_as_it_was_judged(recorded):
    """The forms below are judged on the recorded read: with the policy's own text read again it is the audit's
    judgement of the deployment, every check passed."""
    live, text, tags = recorded
    again = judged_with_bucket_policy(recorded, text)
    assert [(f.check_id, f.resource, f.status) for f in again] == \
        [(f.check_id, f.resource, f.status) for f in stackcheck.judge(live, expected_tags=tags)]
    assert {f.status for f in again} == {Status.PASS}


@pytest.mark.parametrize("name", ["wildcard-organization", "wildcard-endpoint", "wildcard-organization-path",
                                  "account-as-a-number", "operator-in-another-case", "if-exists-in-another-case",
                                  "own-digits-in-another-partition", "effect-in-another-case",
                                  "element-names-in-another-case"])
def test_a_statement_that_only_looks_pinned_or_inside_fails_the_bucket_policy(local, recorded, name):
    statement = _evasive(local, recorded[0].account)[name]
    findings = judged_with_bucket_policy(recorded, _added(statement)(recorded[1]))
    failures = [f for f in findings if f.status is Status.FAIL]
    assert {f.rule_id for f in failures} == {stk_policy.RULE_ID}, [(f.rule_id, f.reason) for f in failures]
    (found,) = failures
    assert found.resource.startswith("AWS::S3::BucketPolicy "), found


def test_a_bucket_policy_naming_a_key_twice_is_error_never_pass(local, monitor, all_restored, baseline_posture):
    """json keeps the last "Effect" of two (a Deny), another reader the first (an Allow to everyone)."""
    objects = f"arn:aws:s3:::{local.outputs['IngestBucketName']}/*"
    twice = ('{"Effect": "Allow", "Principal": "*", "Action": "s3:GetObject", "Resource": "' + objects
             + '", "Effect": "Deny"}')
    with monitor.restoring(local.session, baseline_posture) as writes, _bucket_text(local, _added(twice)), \
            monitor.traced_for(writes):
        code, findings = audit(local)
    assert code == 3  # ERROR: the policy could not be read, so nothing that reads it gives a verdict
    errors = [f for f in findings if f["status"] == "ERROR"]
    (read,) = [f for f in errors if f["resource"].startswith("AWS::S3::BucketPolicy ")]
    assert "GetBucketPolicy answered 'Policy' with the key 'Effect' twice in one object" in read["reason"], read
    policy_id = read["resource"].split(" ")[1]
    assert all(f is read or f"could not be read ({policy_id})" in f["reason"] for f in errors), errors
    assert {stk_perim.IDENTITY_ID} <= {f["rule_id"] for f in errors}  # the whole-stack rules that read it too
    assert not [f for f in findings if f["resource"].startswith("AWS::S3::BucketPolicy ") and f["status"] == "PASS"]


@contextlib.contextmanager
def _role(d, name, trust):
    iam = d.client("iam")
    iam.create_role(RoleName=name, AssumeRolePolicyDocument=json.dumps(trust))
    iam.put_role_policy(RoleName=name, PolicyName="key", PolicyDocument=json.dumps({
        "Version": "2012-10-17", "Statement": [{"Effect": "Allow", "Action": "kms:*", "Resource": "*"}]}))
    try:
        yield
    finally:
        iam.delete_role_policy(RoleName=name, PolicyName="key")
        iam.delete_role(RoleName=name)


@pytest.mark.parametrize("principal, condition", [
    ({"AWS": "*"}, {"StringLike": {"aws:PrincipalOrgID": "o-*"}}),
    ({"AWS": int(OUTSIDE)}, None),
], ids=["wildcard-organization", "account-as-a-number"])
def test_a_role_trusted_by_what_only_looks_pinned_or_inside_fails_perim_002(local, monitor, all_restored,
                                                                            baseline_posture, principal, condition):
    statement = {"Effect": "Allow", "Principal": principal, "Action": "sts:AssumeRole"}
    if condition:
        statement["Condition"] = condition
    with monitor.restoring(local.session, baseline_posture) as writes, \
            _role(local, "evasive-trust", {"Version": "2012-10-17", "Statement": [statement]}), \
            monitor.traced_for(writes):
        code, findings = audit(local)
    assert code == 1
    found = [f for f in failed(findings) if f["rule_id"] == stk_perim.IDENTITY_ID]
    assert [f["resource"].split(" ")[0] for f in found] == ["AWS::KMS::Key"], failed(findings)
    assert ":role/evasive-trust" in found[0]["reason"], found[0]["reason"]
