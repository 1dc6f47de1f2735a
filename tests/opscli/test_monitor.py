"""The posture monitor's pure parts: what a queue message is (a change, the schedule, poison and why), which of the
stack's resources a change names and what is read with them, and how a run's results are published."""

from __future__ import annotations

import json
from datetime import UTC, datetime

import pytest

from opscli.model import Finding, Report
from opscli.monitor import messages, publish, resolve, run
from opscli.monitor.messages import Change, Poison, Record, Schedule
from opscli.stack import build
from platform_spec import monitor
from platform_spec.result import Status
from platform_spec.rules.stk_perimeter import IDENTITY_ID

SUFFIX = "unit"


def _record(body: object, message_id: str = "m-1") -> Record:
    return Record(message_id, body if isinstance(body, str) else json.dumps(body))


def _event(source: str = "ec2.amazonaws.com", name: str = "AuthorizeSecurityGroupIngress",
           request: object = None, response: object = None, **detail: object) -> dict:
    return {"version": "0", "id": "e-1", "detail-type": "AWS API Call via CloudTrail",
            "source": f"aws.{source.split('.')[0]}", "account": "123456789012", "region": "ap-northeast-1",
            "detail": {"eventSource": source, "eventName": name, "awsRegion": "ap-northeast-1",
                       "requestParameters": request, "responseElements": response, **detail}}


@pytest.mark.parametrize(("body", "reason"), [
    ("", "an empty body"),
    ("not json {", "not JSON"),
    ([1, 2], "a JSON list"),
    ({"detail-type": "Scheduled Event", "detail": {}}, "detail-type 'Scheduled Event'"),
    ({"detail-type": "AWS API Call via CloudTrail"}, "without a detail object"),
    ({"detail-type": "AWS API Call via CloudTrail", "detail": {"eventName": "X"}}, "lacks eventSource"),
    (_event(request="a string"), "requestParameters is a str"),
    ({"opscli-monitor": "audit", "suffix": SUFFIX}, "not 'schedule'"),
    ({"opscli-monitor": "schedule", "suffix": "prod"}, "this monitor watches 'unit'"),
    ("{" + " " * (300 * 1024) + "}", "over 262144 bytes"),
])
def test_a_message_the_monitor_cannot_use_is_poison_with_its_reason(body, reason):
    read = messages.read(_record(body), SUFFIX)
    assert isinstance(read, Poison) and reason in read.reason


def test_a_change_and_the_schedule_are_read():
    change = messages.read(_record(_event(request={"groupId": "sg-1"}, eventID="id-9")), SUFFIX)
    assert isinstance(change, Change) and change.service == "ec2" and change.request == {"groupId": "sg-1"}
    assert change.event_id == "id-9" and not change.failed
    failed = messages.read(_record(_event(errorCode="AccessDenied")), SUFFIX)
    assert isinstance(failed, Change) and failed.failed
    assert isinstance(messages.read(_record({"opscli-monitor": "schedule", "suffix": SUFFIX}), SUFFIX), Schedule)


def test_records_come_from_lambda_and_from_sqs_alike():
    from_lambda = Record.from_lambda({"messageId": "a", "body": "{}", "receiptHandle": "r",
                                      "attributes": {"ApproximateReceiveCount": "2"}})
    from_sqs = Record.from_sqs({"MessageId": "a", "Body": "{}", "ReceiptHandle": "r",
                                "Attributes": {"ApproximateReceiveCount": "2"}})
    assert from_lambda == from_sqs == Record("a", "{}", "r", 2)
    assert Record.from_lambda({"messageId": "b", "body": None, "attributes": "x"}).body == ""


# A small stack: a group with a rule of its own, a bucket with its policy, the project key and its alias, and a
# log group encrypted with the key.
TEMPLATE = {"Resources": {
    "Vpc": {"Type": "AWS::EC2::VPC", "Properties": {"CidrBlock": "10.0.0.0/16"}},
    "Group": {"Type": "AWS::EC2::SecurityGroup", "Properties": {"GroupDescription": "g", "VpcId": {"Ref": "Vpc"}}},
    "GroupRule": {"Type": "AWS::EC2::SecurityGroupIngress", "Properties": {
        "GroupId": {"Fn::GetAtt": ["Group", "GroupId"]}, "IpProtocol": "tcp", "FromPort": 443, "ToPort": 443,
        "CidrIp": "10.0.0.0/16"}},
    "Bucket": {"Type": "AWS::S3::Bucket", "Properties": {}},
    "BucketPolicy": {"Type": "AWS::S3::BucketPolicy", "Properties": {"Bucket": {"Ref": "Bucket"},
                                                                       "PolicyDocument": {}}},
    "Key": {"Type": "AWS::KMS::Key", "Properties": {}},
    "KeyAlias": {"Type": "AWS::KMS::Alias", "Properties": {"AliasName": f"alias/kms-key-{SUFFIX}",
                                                           "TargetKeyId": {"Ref": "Key"}}},
    "Logs": {"Type": "AWS::Logs::LogGroup", "Properties": {"KmsKeyId": {"Fn::GetAtt": ["Key", "Arn"]}}},
    "Route": {"Type": "AWS::EC2::Route", "Properties": {"RouteTableId": "rtb-1", "DestinationCidrBlock": "0.0.0.0/0"}},
}}
PHYSICAL = {"Vpc": "vpc-0a1", "Group": "sg-0b2", "GroupRule": "sgr-0c3", "Bucket": "intake-unit-bucket",
            "BucketPolicy": "intake-unit-bucket", "Key": "1234abcd-12ab-34cd-56ef-1234567890ab",
            "KeyAlias": f"alias/kms-key-{SUFFIX}", "Logs": "/streamtech/unit/api", "Route": "rtb-1|0.0.0.0/0"}


@pytest.fixture(scope="module")
def idx() -> resolve.Index:
    summaries = [{"LogicalResourceId": lid, "ResourceType": TEMPLATE["Resources"][lid]["Type"],
                  "PhysicalResourceId": pid, "ResourceStatus": "CREATE_COMPLETE"} for lid, pid in PHYSICAL.items()]
    scope = build(f"TapStack{SUFFIX}", TEMPLATE, summaries, "test")
    return resolve.index(scope, region="ap-northeast-1", account="123456789012")


def _change(request: object = None, response: object = None, source: str = "ec2.amazonaws.com") -> Change:
    return Change(Record("m", "{}"), source, "X", "ap-northeast-1", request, response)


@pytest.mark.parametrize(("source", "request_parameters", "named"), [
    ("ec2", {"groupId": "sg-0b2", "ipPermissions": [{"ipRanges": [{"cidrIp": "0.0.0.0/0"}]}]}, {"Group"}),
    ("kms", {"keyId": "arn:aws:kms:ap-northeast-1:123456789012:key/1234abcd-12ab-34cd-56ef-1234567890ab"}, {"Key"}),
    ("kms", {"keyId": f"alias/kms-key-{SUFFIX}"}, {"KeyAlias"}),
    ("s3", {"bucket": "intake-unit-bucket"}, {"Bucket", "BucketPolicy"}),
    # the ARN names the bucket (its policy, which has no ARN, is read with it as its child)
    ("s3", {"policyDocument": json.dumps({"Statement": [{"Resource": "arn:aws:s3:::intake-unit-bucket/*"}]})},
     {"Bucket"}),
    ("logs", {"logGroupName": "/streamtech/unit/api"}, {"Logs"}),
    ("ec2", {"queueUrl": "http://127.0.0.1:1/123456789012/other-queue", "port": 22}, set()),
])
def test_a_change_names_the_resources_its_values_are_the_ids_of(idx, source, request_parameters, named):
    """By value, whatever the parameter is called: a whole id, an ARN (or one inside it), a path's last segment,
    an id inside a policy document. A route's destination (0.0.0.0/0, part of its composite id) names no route."""
    assert resolve.named(idx, _change(request_parameters, source=f"{source}.amazonaws.com")) == named


def test_the_response_names_what_the_request_did_not(idx):
    assert resolve.named(idx, _change({"groupName": "g"}, {"groupId": "sg-0b2"})) == {"Group"}
    # what an answer describes besides (an updated service's groups and buckets) is not read for the change
    assert resolve.named(idx, _change({"groupId": "sg-0b2"}, {"bucket": "intake-unit-bucket"})) == {"Group"}


def test_a_resource_is_read_with_its_children_and_what_its_rules_read(idx):
    group = resolve.plan(idx, {"Group"})
    assert {"Group", "GroupRule", "KeyAlias"} <= group.read and not {"Vpc", "Bucket"} & group.read
    assert group.judged == {"Group", "GroupRule"}  # the alias is context: its findings are not sent again
    assert not group.account  # nothing an account rule reads: the account's IAM is not read
    bucket = resolve.plan(idx, {"Bucket"})
    assert {"Bucket", "BucketPolicy", "KeyAlias", "Key"} <= bucket.read  # STK-S3-002 reads the policy, KMS-001 keys
    # STK-PERIM-002 reads the bucket: the account's IAM is read, and every data store it judges is judged again
    assert bucket.account and bucket.judged == {"Bucket", "BucketPolicy", "Key"}
    key = resolve.plan(idx, {"Key"})
    assert {"Key", "KeyAlias", "Logs", "Bucket"} <= key.judged  # a key's change can change every verdict on its users
    assert resolve.complete_for(idx, "STK-S3-002", set(bucket.read))
    assert not resolve.complete_for(idx, "STK-S3-002", {"Bucket"})


def test_a_judged_resource_is_read_with_what_its_declaration_takes_an_attribute_of():
    """A method's integration URI takes a load balancer's DNSName, which only reading the load balancer gives: it is
    read with the method, or the declared URI does not resolve and drift cannot compare it. An attribute the
    declaration gives (a queue's Arn, from its URL) needs no read."""
    template = {"Resources": {
        "Api": {"Type": "AWS::ApiGateway::RestApi", "Properties": {"Name": "api"}},
        "Balancer": {"Type": "AWS::ElasticLoadBalancingV2::LoadBalancer", "Properties": {"Type": "network"}},
        "Queue": {"Type": "AWS::SQS::Queue", "Properties": {}},
        "Method": {"Type": "AWS::ApiGateway::Method", "Properties": {
            "RestApiId": {"Ref": "Api"}, "HttpMethod": "GET", "ResourceId": "root",
            "Integration": {"Type": "HTTP_PROXY", "Uri": {"Fn::Join": ["", [
                "http://", {"Fn::GetAtt": ["Balancer", "DNSName"]}, "/health"]]},
                "RequestParameters": {"integration.request.header.q": {"Fn::Sub": "'${Queue.Arn}'"}}}}}}}
    physical = {"Api": "a1b2c3", "Balancer": "arn:aws:elasticloadbalancing:ap-northeast-1:123456789012:"
                "loadbalancer/net/lb/1", "Queue": "https://sqs.ap-northeast-1.amazonaws.com/123456789012/q-unit",
                "Method": "root|GET"}
    summaries = [{"LogicalResourceId": lid, "ResourceType": template["Resources"][lid]["Type"],
                  "PhysicalResourceId": pid, "ResourceStatus": "CREATE_COMPLETE"} for lid, pid in physical.items()]
    idx = resolve.index(build(f"TapStack{SUFFIX}", template, summaries, "test"), region="ap-northeast-1",
                        account="123456789012")
    assert idx.needs["Method"] == {"Balancer"}
    # garbled intrinsics take no attribute of anything
    assert resolve.attributes_taken({"Fn::GetAtt": 5, "A": {"Fn::Sub": [{"x": 1}]}, "B": {"Fn::Sub": {"y": 2}},
                                     "C": {"Fn::GetAtt": ["Balancer"]}}) == set()
    method = resolve.plan(idx, {"Method"})
    assert "Balancer" in method.read and "Balancer" not in method.judged and "Queue" not in method.read
    assert resolve.plan(idx, {"Queue"}).read.isdisjoint({"Balancer", "Method"})


def test_a_web_acl_association_is_named_by_the_arn_of_what_it_protects():
    """Its physical id is RESOURCE_ARN|WEB_ACL_ARN; DisassociateWebACL names only the resource's ARN (a stage's),
    and the association it removes is what the monitor must read again (and WAF changes no stage)."""
    stage = "arn:aws:apigateway:ap-northeast-1::/restapis/a1b2c3/stages/v1"
    acl = "arn:aws:wafv2:ap-northeast-1:123456789012:regional/webacl/waf-api-unit/0f1e"
    template = {"Resources": {
        "Stage": {"Type": "AWS::ApiGateway::Stage", "Properties": {"RestApiId": "a1b2c3", "StageName": "v1"}},
        "Association": {"Type": "AWS::WAFv2::WebACLAssociation", "Properties": {
            "ResourceArn": stage, "WebACLArn": acl}}}}
    physical = {"Stage": "v1", "Association": f"{stage}|{acl}"}
    summaries = [{"LogicalResourceId": lid, "ResourceType": template["Resources"][lid]["Type"],
                  "PhysicalResourceId": pid, "ResourceStatus": "CREATE_COMPLETE"} for lid, pid in physical.items()]
    idx = resolve.index(build(f"TapStack{SUFFIX}", template, summaries, "test"), region="ap-northeast-1",
                        account="123456789012")
    detached = Change(Record("m", "{}"), "wafv2.amazonaws.com", "DisassociateWebACL", "ap-northeast-1",
                      {"resourceArn": stage})
    assert resolve.named(idx, detached) == {"Association"}
    assert resolve.named(idx, _change({"resourceArn": acl}, source="wafv2.amazonaws.com")) == {"Association"}
    assert resolve.named(idx, _change({"resourceArn": stage.replace("a1b2c3", "zzzzzz")},
                                      source="wafv2.amazonaws.com")) == set()


def test_a_change_to_an_event_buss_policy_names_the_rules_on_that_bus():
    """PutPermission on the default bus names no resource by any value ("default"), but every rule on that bus is
    judged on the bus's policy: it names them. A rule on another bus, another account's bus, or a change of
    another service names nothing."""
    template = {"Resources": {
        "Intake": {"Type": "AWS::Events::Rule", "Properties": {"EventPattern": {"source": ["aws.s3"]}}},
        "Audit": {"Type": "AWS::Events::Rule", "Properties": {"EventBusName": "audit-bus",
                                                               "EventPattern": {"source": ["aws.s3"]}}}}}
    physical = {"Intake": "intake-rule-unit", "Audit": "audit-bus|audit-rule-unit"}
    summaries = [{"LogicalResourceId": lid, "ResourceType": template["Resources"][lid]["Type"],
                  "PhysicalResourceId": pid, "ResourceStatus": "CREATE_COMPLETE"} for lid, pid in physical.items()]
    idx = resolve.index(build(f"TapStack{SUFFIX}", template, summaries, "test"), region="ap-northeast-1",
                        account="123456789012")

    def named(name: str, request: dict, source: str = "events.amazonaws.com") -> set[str]:
        return resolve.named(idx, Change(Record("m", "{}"), source, name, "ap-northeast-1", request))

    assert named("PutPermission", {"action": "events:PutEvents", "principal": "999999999999"}) == {"Intake"}
    assert named("RemovePermission", {"statementId": "s", "eventBusName": "default"}) == {"Intake"}
    assert named("PutPermission", {"eventBusName": "arn:aws:events:ap-northeast-1:123456789012:event-bus/audit-bus"}
                 ) == {"Audit"}
    assert named("PutPermission", {"eventBusName": "arn:aws:events:ap-northeast-1:999999999999:event-bus/default"}
                 ) == set()
    assert named("PutPermission", {"eventBusName": "other-bus"}) == set()
    assert named("PutPermission", {}, source="sqs.amazonaws.com") == set()
    assert named("PutPermission", {"eventBusName": ["default"]}) == set()  # garbled: names no bus
    assert named("PutPermission", {"eventBusName": "arn:aws:events:ap-northeast-1:123456789012:rule/x"}) == set()


def test_forms_of_an_id():
    assert resolve.forms("alias/kms-key-unit") == {"alias/kms-key-unit", "kms-key-unit"}
    assert resolve.forms("arn:aws:sqs:ap-northeast-1:1:intake/queue") == {"arn:aws:sqs:ap-northeast-1:1:intake/queue"}
    assert resolve.forms("web-acl-unit|0f1e-22|REGIONAL") == {"web-acl-unit|0f1e-22|REGIONAL", "web-acl-unit",
                                                               "0f1e-22"}
    assert resolve.forms("v1") == {"v1"}  # a short id still names itself whole


def _report(*findings: Finding) -> Report:
    return Report(command="monitor", target={"suffix": SUFFIX, "stack": f"TapStack{SUFFIX}", "region":
                                             "ap-northeast-1", "account": "123456789012"},
                  findings=list(findings), created=datetime(2026, 1, 2, 3, 4, 5, tzinfo=UTC))


def test_a_pass_is_archived_and_a_fail_active():
    label = "AWS::EC2::SecurityGroup Group (sg-0b2)"
    report = _report(Finding("STK-NET-002", "STK-NET-002", Status.PASS, label, "ok"),
                     Finding("drift", "STK-DRIFT-001", Status.FAIL, label, "changed"),
                     Finding("STK-TAG-001", "STK-TAG-001", Status.ERROR, label, "could not look"))
    by_status = {f["Compliance"]["Status"]: f["RecordState"] for f in publish.asff(report)}
    assert by_status == {"PASSED": "ARCHIVED", "FAILED": "ACTIVE", "NOT_AVAILABLE": "ACTIVE"}


def test_a_retired_check_is_not_available_and_archived_an_error_active():
    label = "AWS::EC2::SecurityGroup Group (sg-0b2)"
    report = _report(Finding("STK-NET-002", "STK-NET-002", Status.NOT_APPLICABLE, label, "gone"),
                     Finding("STK-TAG-001", "STK-TAG-001", Status.ERROR, label, "could not look"))
    retired, unknown = publish.asff(report)
    assert (retired["Compliance"]["Status"], retired["RecordState"], retired["Severity"]["Label"],
            retired["Workflow"]["Status"]) == ("NOT_AVAILABLE", "ARCHIVED", "INFORMATIONAL", "RESOLVED")
    assert (unknown["Compliance"]["Status"], unknown["RecordState"]) == ("NOT_AVAILABLE", "ACTIVE")


def _live(idx: resolve.Index, states: dict[str, str]) -> object:
    """A read of the small stack: each resource READ unless `states` says otherwise."""
    from types import SimpleNamespace

    from opscli.livestack import LiveResource

    return SimpleNamespace(resources={
        r.logical_id: LiveResource(r, states.get(r.logical_id, "read"), properties={},
                                   detail="AccessDenied: not allowed" if states.get(r.logical_id) == "error"
                                   else "not found") for r in idx.scope.resources})


def _keyed(findings: list[Finding]) -> dict[tuple[str, str], Finding]:
    return {(f.check_id, f.resource.split(" ")[1]): f for f in findings}


def test_a_resource_that_is_gone_keeps_no_verdict_but_its_presence_fail(idx):
    """Deleted beside the declaration: its presence FAILs and every other check it has is retired (not a PASS an
    earlier run gave standing as current)."""
    label = "AWS::EC2::SecurityGroup Group (sg-0b2)"
    presence = Finding("stack.AWS::EC2::SecurityGroup", "STK-STACK-001", Status.FAIL, label, "not there")
    settled = _keyed(run.settle(idx, _live(idx, {"Group": "missing"}), [presence], {"Group"}, {}))
    checks = run.checks_of(idx, {}, whole=False)["Group"]
    assert {check for check, _ in settled} == {check for check, _ in checks} and len(checks) > 3
    assert settled[("stack.AWS::EC2::SecurityGroup", "Group")].status is Status.FAIL
    others = [f for (check, _), f in settled.items() if not check.startswith("stack.")]
    assert others and {f.status for f in others} == {Status.NOT_APPLICABLE}
    assert all("not there" in f.reason for f in others)


def test_an_unread_resource_is_error_for_every_check_whatever_was_found(idx):
    label = "AWS::S3::Bucket Bucket (intake-unit-bucket)"
    stale = Finding("STK-S3-002/stack", "STK-S3-002", Status.PASS, label, "a verdict without a read")
    for read in (None, {"Bucket"}):  # the whole audit, and a change to the bucket read without its policy
        settled = _keyed(run.settle(idx, _live(idx, {"Bucket": "error"}), [stale], {"Bucket"}, {}, read=read))
        assert settled and {f.status for f in settled.values()} == {Status.ERROR}
        assert ("STK-S3-002/stack", "Bucket") in settled and ("drift", "Bucket") in settled
        assert all(f.reason == "AccessDenied: not allowed" for f in settled.values())
    whole = run.checks_of(idx, {}, whole=True)["Bucket"]
    assert any(check.endswith("/account") for check, _ in whole)  # the account rules judge a bucket
    assert not any(check.endswith("/account") for check, _ in run.checks_of(idx, {}, whole=False)["Bucket"])


def test_a_read_resource_gives_every_check_an_answer(idx):
    """A check that gave nothing on a read resource is retired, except where its rule could not judge at all
    (the account's IAM unread): ERROR. A partial run leaves a whole-stack check whose rule did not read everything
    it reads as it was (it did not judge it)."""
    label = "AWS::S3::Bucket Bucket (intake-unit-bucket)"
    judged = Finding("STK-S3-001", "STK-S3-001", Status.PASS, label, "read")
    blind = Finding(f"{IDENTITY_ID}/account", IDENTITY_ID, Status.ERROR, "the account's IAM", "AccessDenied")
    settled = _keyed(run.settle(idx, _live(idx, {}), [judged, blind], {"Bucket"}, {}))
    assert settled[("STK-S3-001", "Bucket")] is judged
    assert settled[(f"{IDENTITY_ID}/account", "Bucket")].status is Status.ERROR
    assert settled[("drift", "Bucket")].status is Status.NOT_APPLICABLE
    partial = _keyed(run.settle(idx, _live(idx, {}), [judged], {"Bucket"}, {}, read={"Bucket"}))
    assert ("STK-S3-002/stack", "Bucket") not in partial  # its rule reads the bucket policy, not read here
    assert not any(check.endswith("/account") for check, _ in partial)
    full = _keyed(run.settle(idx, _live(idx, {}), [judged], {"Bucket"}, {}, read={"Bucket", "BucketPolicy"}))
    assert full[("STK-S3-002/stack", "Bucket")].status is Status.NOT_APPLICABLE


def test_drift_that_could_not_be_compared_is_an_error_never_a_pass(monkeypatch):
    label = "AWS::S3::Bucket Bucket (b)"
    monkeypatch.setattr(run.stackcheck, "drift", lambda *_, **__: ([
        Finding("drift.none", "STK-DRIFT-001", Status.PASS, label, "matches"),
        Finding("drift.Tags", "STK-DRIFT-001", Status.ERROR, label, "could not compare")], []))
    [found] = run.drift_findings(object(), {})
    assert (found.status, found.reason) == (Status.ERROR, "could not compare")


def test_a_partial_run_never_reports_a_severity_clean():
    label = "AWS::S3::Bucket Bucket (b)"
    report = _report(Finding("STK-S3-001", "STK-S3-001", Status.FAIL, label, "open"),
                     Finding("STK-TAG-001", "STK-TAG-001", Status.PASS, label, "tagged"))
    partial, whole = publish.failing(report, whole=False), publish.failing(report, whole=True)
    severity = report.findings[0].severity
    assert partial == {severity: 1}
    assert whole[severity] == 1 and set(whole) == {"CRITICAL", "HIGH", "MEDIUM", "LOW", "INFO"} and \
        sum(whole.values()) == 1


def test_the_report_is_json_lines_with_the_security_hub_ids():
    outcome = run.Outcome(kind="change", messages=1, changes=1, named=["Group"], read=["Group"],
                          report=_report(Finding("STK-NET-002", "STK-NET-002", Status.FAIL,
                                                 "AWS::EC2::SecurityGroup Group (sg-0b2)", "open")))
    lines = [json.loads(line) for line in publish.report_lines(outcome).splitlines()]
    assert lines[0]["run"]["named"] == ["Group"] and lines[0]["run"]["stack"] == f"TapStack{SUFFIX}"
    assert lines[1]["id"] == f"TapStack{SUFFIX}/STK-NET-002/Group/STK-NET-002" and lines[1]["status"] == "FAIL"
    assert publish.report_key(outcome).startswith(f"TapStack{SUFFIX}/2026/01/02/030405000000-change-")


def test_a_partial_read_keeps_only_what_it_can_vouch_for(idx):
    group, bucket = "AWS::EC2::SecurityGroup Group (sg-0b2)", "AWS::S3::Bucket Bucket (intake-unit-bucket)"
    findings = [Finding("STK-NET-002", "STK-NET-002", Status.PASS, group, "read"),
                Finding("STK-S3-002/stack", "STK-S3-002", Status.PASS, bucket, "policy read"),
                Finding("STK-S3-002/stack", "STK-S3-002", Status.ERROR, bucket, "could not look")]
    assert [f.resource for f in run.about(idx, {"Group"}, findings)] == [group]  # the bucket was not read
    kept = run.about(idx, {"Bucket"}, findings)  # the bucket without its policy: only the ERROR stands
    assert [f.status for f in kept] == [Status.ERROR]
    assert len(run.about(idx, {"Bucket", "BucketPolicy"}, findings)) == 2



def test_a_partial_run_whose_account_read_failed_answers_the_account_checks_error(idx):
    """A change to a data store's policy reads the account's IAM; when that read is refused, the account rule's one
    ERROR (about no declared resource) survives the partial read's filter and every data store's account check is
    ERROR, never retired as not applying (found by the drift cases judged through the planner)."""
    named = resolve.named(idx, Change(Record("m", "{}"), "s3.amazonaws.com", "PutBucketPolicy", "ap-northeast-1",
                                      {"bucketName": "intake-unit-bucket"}, None))
    plan = resolve.plan(idx, named)
    blind = Finding(f"{IDENTITY_ID}/account", IDENTITY_ID, Status.ERROR, "the account's IAM", "AccessDenied")
    kept = run.about(idx, set(plan.read), [blind])
    assert kept == [blind]
    settled = _keyed(run.settle(idx, _live(idx, {}), kept, set(plan.judged), {}, read=set(plan.read),
                                account=plan.account))
    account = {lid: f for (check, lid), f in settled.items() if check == f"{IDENTITY_ID}/account" and lid}
    assert {"Bucket", "Key"} <= set(account), sorted(account)
    assert {f.status for f in account.values()} == {Status.ERROR}

def test_warming_makes_a_client_for_every_service_the_session_may_call():
    from opscli.aws import Aws, new_session
    from opscli.monitor import handler

    aws = Aws(session=new_session(region_name="ap-northeast-1"), allowed=frozenset({"sqs:ListQueues"}),
              writes=frozenset({"s3:PutObject"}))
    assert handler.warm(aws) == 2 and set(aws._clients) == {"sqs", "s3"}


@pytest.mark.parametrize("environment", [{}, {"OPSCLI_MONITOR_SUFFIX": "Not A Suffix"}])
def test_a_function_without_a_valid_suffix_refuses_the_batch_and_says_why(environment, monkeypatch, capsys):
    from opscli.errors import UsageError
    from opscli.monitor import lambda_handler

    monkeypatch.delenv("OPSCLI_MONITOR_SUFFIX", raising=False)
    for key, value in environment.items():
        monkeypatch.setenv(key, value)
    with pytest.raises(UsageError):
        lambda_handler({"Records": []}, None)
    assert json.loads(capsys.readouterr().out)["event"] == "misconfigured"


def test_an_iam_change_or_an_update_of_the_stack_runs_the_whole_audit():
    settings = run.Settings(suffix=SUFFIX)

    def change(source: str, request: object = None, failed: bool = False) -> Change:
        return Change(Record("m", "{}"), source, "X", "ap-northeast-1", request, None, failed=failed)

    assert run.asks_for_whole(change("iam.amazonaws.com"), settings)
    assert not run.asks_for_whole(change("iam.amazonaws.com", failed=True), settings)
    assert run.asks_for_whole(change("cloudformation.amazonaws.com", {"stackName": f"TapStack{SUFFIX}"}), settings)
    assert not run.asks_for_whole(change("cloudformation.amazonaws.com", {"stackName": "Other"}), settings)
    arn = f"arn:aws:cloudformation:ap-northeast-1:123456789012:stack/TapStack{SUFFIX}/0f1e2d3c"
    assert run.asks_for_whole(change("cloudformation.amazonaws.com", {"stackName": arn}), settings)
    assert not run.asks_for_whole(change("cloudformation.amazonaws.com", {"stackName": arn.replace(
        f"TapStack{SUFFIX}/", f"TapStack{SUFFIX}x/")}), settings)
    assert not run.asks_for_whole(change("cloudformation.amazonaws.com", {"stackName": "arn:aws:x"}), settings)
    assert not run.asks_for_whole(change("ec2.amazonaws.com"), settings)


class FakeQueue:
    """An SQS client that answers one message, then nothing; or fails every receive. `calls` is every call in
    order: (operation, its arguments)."""

    def __init__(self, *, failing: bool = False) -> None:
        self.failing, self.deleted, self.returned, self.calls = failing, [], [], []
        self.messages = [{"MessageId": "m-1", "ReceiptHandle": "r-1", "Body": json.dumps(_event()),
                          "Attributes": {"ApproximateReceiveCount": "1"}}]

    def receive_message(self, **kwargs: object) -> dict:
        self.calls.append(("ReceiveMessage", kwargs))
        if self.failing:
            import botocore.exceptions

            raise botocore.exceptions.EndpointConnectionError(endpoint_url="http://127.0.0.1:1")
        found, self.messages = self.messages, []
        return {"Messages": found}

    def delete_message_batch(self, Entries: list, **_: object) -> dict:  # noqa: N803 - botocore's names
        self.calls.append(("DeleteMessageBatch", {"Entries": Entries}))
        self.deleted += Entries
        return {"Successful": Entries, "Failed": []}

    def change_message_visibility_batch(self, Entries: list, **_: object) -> dict:  # noqa: N803
        self.calls.append(("ChangeMessageVisibilityBatch", {"Entries": Entries}))
        self.returned += Entries
        return {"Successful": Entries, "Failed": []}


def _consumer(queue: FakeQueue, log: list, **options: object) -> object:
    import threading

    from opscli.aws import Aws, new_session
    from opscli.monitor.__main__ import Consumer

    aws = Aws(session=new_session(region_name="ap-northeast-1"), allowed=frozenset())
    return Consumer(queue, "http://127.0.0.1:1/q", aws, run.Settings(suffix=SUFFIX),
                    log=lambda event, **fields: log.append({"event": event, **fields}), stop=threading.Event(),
                    poll=0, backoff=0, **{"window": 0, "heartbeat": 3600.0, **options})


def test_a_batch_in_hand_is_hidden_for_seconds_and_renewed_until_it_is_settled(monkeypatch):
    """The consumer receives with a short visibility (a consumer killed mid-batch holds its messages that long at
    most) and renews it from a heartbeat while the batch is judged; the heartbeat stops before the batch is
    settled, so no renewal follows the delete."""
    import threading

    from opscli.monitor import handler
    from opscli.monitor.__main__ import VISIBILITY

    queue, log = FakeQueue(), []
    renewed = threading.Event()
    original = queue.change_message_visibility_batch

    def renew(Entries: list, **kwargs: object) -> dict:  # noqa: N803
        answer = original(Entries, **kwargs)
        if sum(name == "ChangeMessageVisibilityBatch" for name, _ in queue.calls) >= 2:
            renewed.set()
        return answer

    queue.change_message_visibility_batch = renew

    def slow(aws: object, settings: object, records: list, **_: object) -> run.Outcome:
        assert renewed.wait(60), "the heartbeat renewed nothing while the batch was judged"
        return run.Outcome(kind="change", messages=len(records))

    monkeypatch.setattr(handler, "process", slow)
    outcome = _consumer(queue, log, heartbeat=0.01).step()
    assert outcome.kind == "change" and not outcome.retry
    names = [name for name, _ in queue.calls]
    assert names[0] == "ReceiveMessage" and queue.calls[0][1]["VisibilityTimeout"] == VISIBILITY <= 20
    assert names[-1] == "DeleteMessageBatch" and queue.deleted == [{"Id": "0", "ReceiptHandle": "r-1"}]
    renewals = [args["Entries"] for name, args in queue.calls if name == "ChangeMessageVisibilityBatch"]
    assert len(renewals) >= 2 and all(entries == [{"Id": "0", "ReceiptHandle": "r-1",
                                                   "VisibilityTimeout": VISIBILITY}] for entries in renewals)
    assert not [e for e in log if e["event"].startswith("heartbeat")]


def test_a_renewal_that_fails_is_logged_and_the_heartbeat_goes_on():
    import botocore.exceptions

    from opscli.monitor.__main__ import Heartbeat
    from opscli.monitor.messages import Record

    class Refusing:
        def __init__(self) -> None:
            self.tries = 0

        def change_message_visibility_batch(self, Entries: list, **_: object) -> dict:  # noqa: N803
            self.tries += 1
            if self.tries == 1:
                raise botocore.exceptions.EndpointConnectionError(endpoint_url="http://127.0.0.1:1")
            return {"Successful": [], "Failed": [{"Id": "1", "Code": "ReceiptHandleIsInvalid", "SenderFault": True},
                                                 {"Id": "x"}, "junk"]}

    log: list = []
    beat = Heartbeat(Refusing(), "http://127.0.0.1:1/q", 20, lambda event, **fields: log.append(
        {"event": event, **fields}))
    records = [Record("a", "{}", "r-a"), Record("b", "{}", "r-b")]
    beat.renew(records)
    beat.renew(records)
    assert [e["event"] for e in log] == ["heartbeat-failed"] * 4 and beat.beats == 1
    assert "EndpointConnectionError" in log[0]["reason"]
    assert log[1]["messageId"] == "b" and log[1]["reason"] == "ReceiptHandleIsInvalid"
    assert log[2]["messageId"] is None and log[3]["reason"] == "an answer that is not an entry"
    beat.stop()  # never started: nothing to wait for


class StreamQueue(FakeQueue):
    """A queue holding `count` messages of `body_bytes` each, answering at most MaxNumberOfMessages a receive; it
    counts each message's receives as SQS does."""

    def __init__(self, count: int, body_bytes: int = 100) -> None:
        super().__init__()
        self.messages = [{"MessageId": f"m-{n}", "ReceiptHandle": f"r-{n}", "Body": "x" * body_bytes}
                         for n in range(count)]
        self.receives: dict[str, int] = {}

    def receive_message(self, MaxNumberOfMessages: int = 1, **kwargs: object) -> dict:  # noqa: N803
        self.calls.append(("ReceiveMessage", {"MaxNumberOfMessages": MaxNumberOfMessages, **kwargs}))
        assert 1 <= MaxNumberOfMessages <= 10
        found, self.messages = self.messages[:MaxNumberOfMessages], self.messages[MaxNumberOfMessages:]
        for m in found:
            self.receives[m["MessageId"]] = self.receives.get(m["MessageId"], 0) + 1
        return {"Messages": [{**m, "Attributes": {"ApproximateReceiveCount": str(self.receives[m["MessageId"]])}}
                             for m in found]}


def test_the_consumer_bounds_a_batch_as_the_event_source_mapping_does(monkeypatch):
    """A batch closes at the mapping's batch size, or before the message that would take its payload past Lambda's
    6 MB (the real bound: 240 KB bodies, 26 of them fit); what did not fit is held for the next batch, never
    returned to the queue (which would count one more receive towards the dead-letter queue), and received once."""
    from opscli.monitor import handler
    from opscli.monitor.messages import RECORD_OVERHEAD, payload_bytes
    from platform_spec import monitor

    batches: list[list[str]] = []

    def judged(aws: object, settings: object, records: list, **_: object) -> run.Outcome:
        batches.append([r.message_id for r in records])
        return run.Outcome(kind="change", messages=len(records))

    monkeypatch.setattr(handler, "process", judged)
    queue = StreamQueue(60, body_bytes=240_000)
    consumer = _consumer(queue, [], window=300.0)  # only the payload closes these batches
    assert consumer.payload_limit == monitor.BATCH_PAYLOAD_BYTES == 6 * 1024 * 1024
    consumer.step(), consumer.step()
    consumer.window = 0  # the rest: the window closes it
    while consumer.step() is not None:
        pass
    weight = payload_bytes(Record("m-0", "x" * 240_000, "r-0"))
    assert 240_000 + RECORD_OVERHEAD < weight < 240_000 + RECORD_OVERHEAD + 50
    fit = (monitor.BATCH_PAYLOAD_BYTES - 16) // weight
    assert fit == 26 and [len(b) for b in batches] == [fit, fit, 60 - 2 * fit]
    assert [m for batch in batches for m in batch] == [f"m-{n}" for n in range(60)]  # each once, in order
    assert set(queue.receives.values()) == {1} and not [e for e in queue.returned if e["VisibilityTimeout"] == 0]
    assert len(queue.deleted) == 60
    # by count: a batch size of 25 (any, up to the mapping's 10,000) closes each batch at 25; no receive asks for
    # more than the batch still takes
    batches.clear()
    queue = StreamQueue(60)
    consumer = _consumer(queue, [], window=300.0, batch_size=25)
    consumer.step(), consumer.step()
    consumer.window = 0
    while consumer.step() is not None:
        pass
    assert [len(b) for b in batches] == [25, 25, 10] and set(queue.receives.values()) == {1}
    assert [args["MaxNumberOfMessages"] for name, args in queue.calls if name == "ReceiveMessage"][:3] == [10, 10, 5]


def test_what_a_stopping_consumer_holds_for_its_next_batch_is_returned_at_once(monkeypatch):
    from opscli.monitor import handler
    from opscli.monitor.messages import EVENT_OVERHEAD, payload_bytes

    monkeypatch.setattr(handler, "process", lambda aws, settings, records, **_: run.Outcome(
        kind="change", messages=len(records)))
    queue, log = StreamQueue(10), []
    eight = EVENT_OVERHEAD + 8 * payload_bytes(Record("m-0", "x" * 100, "r-0"))
    consumer = _consumer(queue, log, payload_limit=eight)
    consumer.stop.set()
    consumer.step()
    assert [r.message_id for r in consumer.held] == ["m-8", "m-9"] and len(queue.deleted) == 8
    assert consumer.run() == 0 and consumer.held == []
    assert [(e["ReceiptHandle"], e["VisibilityTimeout"]) for e in queue.returned] == [("r-8", 0), ("r-9", 0)]
    assert log[-1] == {"event": "stopped", "reason": "signal"}


@pytest.mark.parametrize(("argv", "message"), [
    (["--batch-size", "0"], "the batch size is 1 to 10000"),
    (["--batch-size", "10001"], "the batch size is 1 to 10000"),
    (["--batch-size", "ten"], "the batch size is 1 to 10000"),
    (["--batch-size", "11", "--window", "0.5"], "needs a --window of at least 1 s"),
])
def test_a_batch_the_event_source_mapping_would_refuse_is_a_usage_error(argv, message, capsys):
    from opscli.monitor.__main__ import main

    try:
        code = main(["--suffix", SUFFIX, "--queue-url", "http://127.0.0.1:1/q", *argv])
    except SystemExit as exc:  # argparse's own refusal
        code = exc.code
    assert code == 2 and message in capsys.readouterr().err


@pytest.mark.parametrize("text", ["1", "43201", "ten", "2.5"])
def test_a_visibility_sqs_would_refuse_is_a_usage_error(text):
    import argparse

    from opscli.monitor.__main__ import _visibility

    with pytest.raises(argparse.ArgumentTypeError):
        _visibility(text)


def test_a_batch_the_monitor_fails_on_is_left_on_the_queue(monkeypatch):
    from opscli.monitor import handler

    def broken(*_: object, **__: object) -> None:
        raise RuntimeError("a bug")

    monkeypatch.setattr(handler, "process", broken)
    queue, log = FakeQueue(), []
    outcome = _consumer(queue, log).step()
    assert outcome.kind == "failed" and "RuntimeError: a bug" in outcome.retry["m-1"]
    assert queue.deleted == [] and [e["VisibilityTimeout"] for e in queue.returned] == [5]  # RETRY_DELAY
    assert log[-1]["event"] == "batch-failed"


def test_a_queue_that_cannot_be_read_stops_the_consumer_with_exit_3():
    log: list = []
    assert _consumer(FakeQueue(failing=True), log).run() == 3
    assert [e["event"] for e in log].count("queue-failed") == 5 and log[-1]["event"] == "stopped"


def test_without_the_stack_every_change_is_kept_and_the_stack_is_not_available(moto_env):
    """The declaration cannot be read (no such stack): one NOT_AVAILABLE finding for the stack, the change left
    on the queue; Security Hub refusing the findings leaves it too; a report bucket that is not there is logged."""
    from opscli.aws import new_session
    from opscli.monitor import handler

    aws = handler.monitor_session(session=new_session(region_name="ap-northeast-1"))
    log: list = []
    settings = run.Settings(suffix=SUFFIX, bucket="no-such-bucket", namespace="StreamTech/PostureMonitor")
    outcome = handler.process(aws, settings, [_record(_event(request={"groupId": "sg-1"}))],
                              log=lambda event, **fields: log.append({"event": event, **fields}))
    assert outcome.retry == {"m-1": outcome.report.findings[0].reason} and "does not exist" in \
        outcome.report.findings[0].reason
    hub = aws.client("securityhub")
    assert [f["Compliance"]["Status"] for f in new_session(region_name="ap-northeast-1").client(
        "securityhub").get_findings()["Findings"]] == ["NOT_AVAILABLE"]
    assert [e["event"] for e in log] == ["report-failed", "metric", "retry", "run"]

    refused = {"SuccessCount": 0, "FailedCount": 1, "FailedFindings": [
        {"Id": f"TapStack{SUFFIX}/STK-STACK-001/TapStack{SUFFIX}/stack.scope", "ErrorCode": "InvalidInput",
         "ErrorMessage": "no"}]}

    class Raw:
        def stream(self, **_: object) -> object:
            yield json.dumps(refused).encode()

    def refuse(**_: object) -> tuple:
        import botocore.awsrequest

        return botocore.awsrequest.AWSResponse("https://securityhub", 200, {}, Raw()), refused

    hub.meta.events.register("before-call.securityhub.BatchImportFindings", refuse)
    log.clear()
    handler.process(aws, settings, [_record(_event(request={"groupId": "sg-1"}))],
                    log=lambda event, **fields: log.append({"event": event, **fields}))
    assert [e["event"] for e in log][:1] == ["import-failed"] and "refused 1 of 1" in log[0]["reason"]


class _Metrics:
    """The monitor's session as far as CloudWatch goes: every datum put, recorded; `refuse` makes each put fail."""

    def __init__(self, refuse: bool = False) -> None:
        self.data: list[dict] = []
        self.refuse = refuse

    def client(self, service: str) -> _Metrics:
        assert service == "cloudwatch"
        return self

    def put_metric_data(self, Namespace: str, MetricData: list[dict]) -> None:  # noqa: N803 - botocore's names
        if self.refuse:
            import botocore.exceptions

            raise botocore.exceptions.EndpointConnectionError(endpoint_url="http://127.0.0.1:1")
        self.data += [{**datum, "Namespace": Namespace} for datum in MetricData]


@pytest.mark.parametrize(("kind", "status", "incomplete", "beat"), [
    ("schedule", Status.PASS, None, 1.0),  # judged everything
    ("schedule", Status.FAIL, None, 1.0),  # a verdict all the same
    ("schedule", Status.ERROR, None, 0.0),  # could not look at something: as silent as not running
    ("schedule", Status.PASS, "timeout", 0.0),  # reads cut short
    ("change", Status.PASS, None, None),  # a run on some resources says nothing of the stack
])
def test_a_whole_stack_run_beats_the_heartbeat_one_when_it_judged_everything(kind, status, incomplete, beat):
    from opscli.monitor import handler
    from platform_spec import monitor

    aws, log = _Metrics(), []
    report = Report(command="monitor", target={"suffix": SUFFIX}, incomplete=incomplete, findings=[
        Finding("STK-KMS-002", "STK-KMS-002", status, "AWS::KMS::Key K (k)", "x")])
    outcome = run.Outcome(kind=kind, report=report)
    handler._side_outputs(aws, run.Settings(suffix=SUFFIX, namespace="N"), outcome,
                          lambda event, **fields: log.append({"event": event, **fields}))
    beats = [d for d in aws.data if d["MetricName"] == monitor.HEARTBEAT_METRIC_NAME]
    assert [d["Value"] for d in beats] == ([] if beat is None else [beat])
    assert all(d["Namespace"] == "N" and "Dimensions" not in d and "Timestamp" not in d for d in beats)
    assert [e.get("complete") for e in log if e["event"] == "heartbeat"] == ([] if beat is None else [int(beat)])
    # a heartbeat CloudWatch refuses is logged, never raised: the findings are in Security Hub already
    refused = []
    handler._side_outputs(_Metrics(refuse=True), run.Settings(suffix=SUFFIX, namespace="N"), outcome,
                          lambda event, **fields: refused.append(event))
    # a run that judged everything, or found something failing, has metrics to put; a blind whole run puts no 0
    # (publish.judged_everything) and a clean partial run nothing: "metric" (nothing was put, so nothing failed)
    puts = beat == 1.0 or status is Status.FAIL
    assert refused == ["metric-failed" if puts else "metric", *(["heartbeat-failed"] if beat is not None else [])]


def test_a_long_lived_session_keeps_the_calls_of_one_batch_only(moto_env):
    """The warm function's cached session (and the consumer's) logs each batch's calls, not every call it ever
    made; the run's count of its own calls is unchanged by that."""
    from opscli.aws import new_session
    from opscli.monitor import handler

    aws = handler.monitor_session(session=new_session(region_name="ap-northeast-1"))
    logged = []
    for _ in range(3):
        outcome = handler.process(aws, run.Settings(suffix=SUFFIX), [_record(_event(request={"groupId": "sg-1"}))],
                                  log=lambda event, **fields: None)
        logged.append(list(aws.log.calls))
        assert 0 < outcome.report.api_calls <= len(aws.log.calls)
    assert len(logged[2]) == len(logged[1]) <= len(logged[0])  # not growing with each batch
    assert "cloudformation:GetTemplate" in logged[2]


def _dead_letter_queue() -> tuple[object, str]:
    from opscli.aws import new_session

    sqs = new_session(region_name="ap-northeast-1").client("sqs")
    return sqs, sqs.create_queue(QueueName="monitor-dead-letter-unit")["QueueUrl"]


def _dead_letters(sqs: object, url: str) -> list[dict]:
    return sqs.receive_message(QueueUrl=url, MaxNumberOfMessages=10, MessageAttributeNames=["All"],
                               WaitTimeSeconds=0).get("Messages", [])


def test_poison_and_a_change_failing_on_its_last_receive_are_dead_lettered_with_their_reason(moto_env):
    """The monitor sends them to its own dead-letter queue with the original body and why (message attributes),
    and takes them off the messages left on the queue; a change with receives left stays for another try."""
    from opscli.aws import new_session
    from opscli.monitor import handler
    from platform_spec import monitor

    sqs, url = _dead_letter_queue()
    aws = handler.monitor_session(session=new_session(region_name="ap-northeast-1"))
    log: list = []
    change = json.dumps(_event(request={"groupId": "sg-1"}))  # the stack does not exist: it cannot be read
    records = [Record("poison", "{not an event", receive_count=1),
               Record("last", change, receive_count=monitor.MAX_RECEIVES),
               Record("again", change, receive_count=monitor.MAX_RECEIVES - 1)]
    outcome = handler.process(aws, run.Settings(suffix=SUFFIX), records, log=lambda event, **fields: log.append(
        {"event": event, **fields}), dead_letters=handler.DeadLetters(url, monitor.MAX_RECEIVES))
    assert list(outcome.retry) == ["again"]
    sent = {m["MessageAttributes"][monitor.DEAD_LETTER_MESSAGE_ID]["StringValue"]: m for m in _dead_letters(sqs, url)}
    assert set(sent) == {"poison", "last"}
    poison = sent["poison"]
    assert poison["Body"] == "{not an event"
    assert poison["MessageAttributes"][monitor.DEAD_LETTER_REASON]["StringValue"].startswith(
        "a body that is not JSON")
    assert poison["MessageAttributes"][monitor.DEAD_LETTER_SOURCE]["StringValue"] == "opscli-monitor"
    assert poison["MessageAttributes"][monitor.DEAD_LETTER_RECEIVE_COUNT] == {"DataType": "Number",
                                                                              "StringValue": "1"}
    assert sent["last"]["Body"] == change and "does not exist" in \
        sent["last"]["MessageAttributes"][monitor.DEAD_LETTER_REASON]["StringValue"]
    assert [e["messageId"] for e in log if e["event"] == "dead-lettered"] == ["poison", "last"]
    [summary] = [e for e in log if e["event"] == "run"]
    assert summary["deadLettered"] == 2 and summary["retry"] == 1
    # the batch's weight as Lambda's event would carry it (what the bench's storm reads against the 6 MB bound)
    assert summary["payload"] == messages.EVENT_OVERHEAD + sum(messages.payload_bytes(r) for r in records) > \
        len(change) * 2


def test_what_cannot_be_dead_lettered_stays_on_the_queue_and_the_log_says_why(moto_env):
    """A dead-letter queue that refuses (here: it does not exist) or a body SQS cannot carry: the message stays
    for another try, so the queue's redrive moves it after maxReceiveCount."""
    from opscli.aws import new_session
    from opscli.monitor import handler

    aws = handler.monitor_session(session=new_session(region_name="ap-northeast-1"))
    log: list = []
    missing = handler.DeadLetters("https://sqs.ap-northeast-1.amazonaws.com/123456789012/no-such-queue")
    outcome = handler.process(aws, run.Settings(suffix=SUFFIX), [Record("a", "[]"), Record("b", "")],
                              log=lambda event, **fields: log.append({"event": event, **fields}),
                              dead_letters=missing)
    assert set(outcome.retry) == {"a", "b"}
    failed = {e["messageId"]: e["reason"] for e in log if e["event"] == "dead-letter-failed"}
    assert "QueueDoesNotExist" in failed["a"] and "empty body" in failed["b"]


def test_the_dead_letter_settings_are_checked():
    from opscli.errors import UsageError
    from opscli.monitor import handler
    from platform_spec import monitor

    url = "https://sqs.ap-northeast-1.amazonaws.com/123456789012/monitor-dead-letter-x"
    assert handler.DeadLetters.from_environment({}) is None
    assert handler.DeadLetters.from_environment({monitor.ENV_DEAD_LETTER_QUEUE: url,
                                                 monitor.ENV_MAX_RECEIVES: "3"}) == handler.DeadLetters(url, 3)
    for bad_url, bad_count in (("ftp://x/q", None), ("https://sqs.x/", None), (url, "0"), (url, "three")):
        with pytest.raises(UsageError):
            handler.DeadLetters.checked(bad_url, bad_count)
    # every character SQS refuses in an attribute becomes U+FFFD; never empty, never longer than MAX_REASON
    assert handler._attribute_text("a\x00b\ud800c\n") == "a\ufffdb\ufffdc\n"
    assert handler._attribute_text("") == "(none given)"
    assert len(handler._attribute_text("x" * 5000)) == handler.MAX_REASON


def test_a_batch_the_monitor_fails_on_dead_letters_what_is_on_its_last_receive(moto_env):
    from opscli.aws import new_session
    from opscli.monitor import handler

    sqs, url = _dead_letter_queue()
    aws = handler.monitor_session(session=new_session(region_name="ap-northeast-1"))
    log: list = []
    outcome = handler.failed_batch(aws, [Record("last", "x", receive_count=3), Record("again", "y", receive_count=1)],
                                   RuntimeError("a bug"), log=lambda event, **fields: log.append(
                                       {"event": event, **fields}), dead_letters=handler.DeadLetters(url, 3))
    assert outcome.kind == "failed" and list(outcome.retry) == ["again"] and "RuntimeError: a bug" in \
        outcome.retry["again"]
    [dead] = _dead_letters(sqs, url)
    assert dead["Body"] == "x" and "RuntimeError: a bug" in dead["MessageAttributes"]["reason"]["StringValue"]
    assert [e["event"] for e in log] == ["batch-failed", "dead-lettered"]


def test_the_lambda_handler_returns_a_batch_it_fails_on_as_failures(monkeypatch, capsys):
    from opscli.monitor import handler, lambda_handler
    from platform_spec import monitor

    def broken(*_: object, **__: object) -> None:
        raise RuntimeError("a bug")

    monkeypatch.setattr(handler, "process", broken)
    monkeypatch.setenv(monitor.ENV_SUFFIX, SUFFIX)
    for key in (monitor.ENV_DEAD_LETTER_QUEUE, monitor.ENV_MAX_RECEIVES):
        monkeypatch.delenv(key, raising=False)
    event = {"Records": [{"messageId": "a", "body": "{}", "attributes": {}}]}
    assert lambda_handler(event, None) == {"batchItemFailures": [{"itemIdentifier": "a"}]}
    assert json.loads(capsys.readouterr().out)["event"] == "batch-failed"
    monkeypatch.setenv(monitor.ENV_DEAD_LETTER_QUEUE, "not a url")
    with pytest.raises(Exception, match="not a queue URL"):
        lambda_handler(event, None)
    assert json.loads(capsys.readouterr().out)["event"] == "misconfigured"


def test_a_runs_findings_are_stamped_with_when_its_reads_began_not_when_it_ended(monkeypatch, idx):
    """Security Hub keeps the later UpdatedAt of a finding: stamped when the run ended, a run that read before a
    change but ended after the change's own run would win (review34b A). The stamp is when the reads began."""
    from datetime import timedelta
    from types import SimpleNamespace

    start = datetime(2026, 1, 2, 3, 0, 0, tzinfo=UTC)
    clock = {"now": start}

    class Clock(datetime):
        @classmethod
        def now(cls, tz=None):  # type: ignore[override]
            return clock["now"]

    def read_stack(*_: object, **__: object) -> object:
        clock["now"] = start + timedelta(seconds=30)  # a whole audit reads for a while, then judges and ends
        return SimpleNamespace(resources={}, incomplete=None)

    label = "AWS::EC2::SecurityGroup Group (sg-0b2)"
    monkeypatch.setattr(run, "datetime", Clock)
    monkeypatch.setattr(run.core, "stack_scope", lambda *_, **__: idx.scope)
    monkeypatch.setattr(run, "read_stack", read_stack)
    monkeypatch.setattr(run.stackcheck, "judge", lambda *_, **__: [
        Finding("STK-NET-002", "STK-NET-002", Status.PASS, label, "closed when read")])
    monkeypatch.setattr(run, "drift_findings", lambda *_: [])
    monkeypatch.setattr(run, "settle", lambda _idx, _live, findings, *_, **__: findings)
    monkeypatch.setattr(run.stackcheck, "coverage", lambda _: SimpleNamespace(to_dict=dict))
    aws = SimpleNamespace(region="ap-northeast-1", known_account="123456789012", endpoint_url=None,
                          log=SimpleNamespace(calls=[]), check_credentials=lambda: None)
    outcome = run.judge_batch(aws, run.Settings(suffix=SUFFIX),
                              [Record("m", json.dumps(monitor.schedule_input(SUFFIX)))])
    found = publish.asff(outcome.report)  # the group's finding, and the declaration's (read: PASS)
    assert len(found) == 2 and {datetime.fromisoformat(f["UpdatedAt"].replace("Z", "+00:00")) for f in found} == {start}
    # the declaration's finding, PASS, is the one that closes a run's "could not look" ERROR (review34c M2)
    assert {(f["ProductFields"]["opscli/CheckId"], f["Compliance"]["Status"]) for f in found} == {
        ("STK-NET-002", "PASSED"), (run.SCOPE_CHECK, "PASSED")}


class _MetricsPut:
    def __init__(self) -> None:
        self.put: list[dict] = []

    def client(self, _service: str) -> object:
        return self

    def put_metric_data(self, **request: object) -> None:
        self.put.append(request)


@pytest.mark.parametrize("findings", [
    # the declaration could not be read (run._could_not_start): one ERROR for the stack
    [Finding("stack.scope", "STK-STACK-001", Status.ERROR, f"TapStack{SUFFIX}", "could not look: AccessDenied")],
    # the one resource that failed is unreadable this hour (throttled, or a policy denying the monitor's role)
    [Finding("STK-S3-001", "STK-S3-001", Status.ERROR, "AWS::S3::Bucket Bucket (b)", "AccessDenied"),
     Finding("STK-TAG-001", "STK-TAG-001", Status.PASS, "AWS::EC2::VPC Vpc (vpc-1)", "tagged")],
])
def test_a_whole_run_that_could_not_look_never_puts_a_zero(findings):
    """A whole run that could not read something is no evidence that nothing fails: it puts no 0 (neither on the
    alarm's metric, which would clear the alarm, nor on FailingFindings) (review34b B)."""
    metrics = _MetricsPut()
    put = publish.to_metrics(metrics, "ns", _report(*findings), whole=True)
    assert put == {} and metrics.put == []
    cut_short = _report(Finding("STK-S3-001", "STK-S3-001", Status.PASS, "AWS::S3::Bucket Bucket (b)", "ok"))
    cut_short.incomplete = "timeout"
    assert publish.to_metrics(metrics, "ns", cut_short, whole=True) == {}
    clean = publish.to_metrics(metrics, "ns", _report(Finding("STK-S3-001", "STK-S3-001", Status.PASS,
                                                              "AWS::S3::Bucket Bucket (b)", "ok")), whole=True)
    assert clean[monitor.ALARM_METRIC_NAME] == 0 and set(clean) > {monitor.ALARM_METRIC_NAME}


def test_a_change_to_a_data_stores_policy_re_judges_the_perimeter_rule_on_every_data_store(idx):
    """STK-PERIM-002's finding is on each data store, and its rule reads the bucket policy: a change to the policy
    reads the account's IAM and gives every data store's finding a current answer (review34b C)."""
    named = resolve.named(idx, Change(Record("m", "{}"), "s3.amazonaws.com", "PutBucketPolicy", "ap-northeast-1",
                                      {"bucketName": "intake-unit-bucket"}, None))
    plan = resolve.plan(idx, named)
    assert plan.account
    settled = run.settle(idx, _live(idx, {}), [], set(plan.judged), {}, read=set(plan.read), account=plan.account)
    checks = {(f.check_id, f.resource.split(" ")[1]) for f in settled}
    assert {(f"{IDENTITY_ID}/account", "Bucket"), (f"{IDENTITY_ID}/account", "Key")} <= checks, sorted(checks)


def test_a_control_character_in_a_message_never_reaches_the_log_raw():
    """A poison message's reason quotes what it was sent; ESC, BEL and U+202E in it are escaped in the JSON log line
    (what CloudWatch Logs and a terminal tailing the consumer's log show), and a key repeated in another case is
    still poison, never read as the envelope's."""
    import io

    from opscli.monitor import handler

    hostile = "\x1b]0;pwned\x07\x1b[31mred\u202etxt"
    body = json.dumps({"detail-type": hostile, "Source": "aws.ec2", "source": hostile, "detail": {}})
    batch = messages.sort([_record(body)], SUFFIX)
    assert batch.poison and not batch.changes
    stream = io.StringIO()
    handler.json_log(stream)("poison", reason=batch.poison[0].reason, sent=hostile)
    line = stream.getvalue()
    assert not any(ch in line for ch in ("\x1b", "\x07", "\u202e"))
    assert json.loads(line)["event"] == "poison"
