"""The readers of the posture monitor's own types (AWS::IAM::ManagedPolicy, AWS::Scheduler::Schedule), against
in-process moto: each is read back into its declaration's shape, so audit judges it and drift sees a schedule or a
policy changed by hand; an identity the stack never attached the policy to is undeclared; a schedule that is gone
is missing; an answer without what AWS always sends is ERROR, never a verdict."""

from __future__ import annotations

import json
from typing import Any

import pytest

from opscli import stackcheck
from opscli.aws import Aws, new_session
from opscli.livestack import ReadState, read_stack
from opscli.stack import build
from platform_spec.result import Status

REGION, ACCOUNT = "ap-northeast-1", "123456789012"
STACK = "TapMonitorunit"
SCHEDULE = "monitor-schedule-unit"
DOCUMENT = {"Version": "2012-10-17", "Statement": [
    {"Sid": "SendToQueues", "Effect": "Allow", "Action": "sqs:SendMessage",
     "Resource": f"arn:aws:sqs:{REGION}:{ACCOUNT}:monitor-events-unit"}]}
TEMPLATE = {"Resources": {
    "Queue": {"Type": "AWS::SQS::Queue", "Properties": {"QueueName": "monitor-events-unit"}},
    "Role": {"Type": "AWS::IAM::Role", "Properties": {"AssumeRolePolicyDocument": {
        "Version": "2012-10-17", "Statement": [{"Effect": "Allow", "Action": "sts:AssumeRole",
                                                "Principal": {"Service": "scheduler.amazonaws.com"}}]}}},
    "Sends": {"Type": "AWS::IAM::ManagedPolicy", "Properties": {
        "Description": "The schedule sends to the monitor's queue", "Path": "/", "PolicyDocument": DOCUMENT,
        "Roles": [{"Ref": "Role"}]}},
    "Schedule": {"Type": "AWS::Scheduler::Schedule", "Properties": {
        "Name": SCHEDULE, "Description": "hourly", "ScheduleExpression": "rate(1 hour)",
        "ScheduleExpressionTimezone": "Etc/UTC", "State": "ENABLED", "FlexibleTimeWindow": {"Mode": "OFF"},
        "Target": {"Arn": {"Fn::GetAtt": ["Queue", "Arn"]}, "RoleArn": {"Fn::GetAtt": ["Role", "Arn"]},
                   "Input": '{"opscli-monitor":"schedule","suffix":"unit"}',
                   "RetryPolicy": {"MaximumEventAgeInSeconds": 3600, "MaximumRetryAttempts": 8}}}},
}}


@pytest.fixture
def deployed(moto_env) -> dict[str, Any]:
    """The four resources as CloudFormation would make them (names it generates begin with the stack's)."""
    session = new_session(region_name=REGION)
    sqs, iam, scheduler = (session.client(s) for s in ("sqs", "iam", "scheduler"))
    queue = sqs.create_queue(QueueName="monitor-events-unit")["QueueUrl"]
    role = iam.create_role(RoleName=f"{STACK}-Role", AssumeRolePolicyDocument=json.dumps(
        TEMPLATE["Resources"]["Role"]["Properties"]["AssumeRolePolicyDocument"]))["Role"]
    policy = iam.create_policy(PolicyName=f"{STACK}-Sends", PolicyDocument=json.dumps(DOCUMENT),
                               Description="The schedule sends to the monitor's queue")["Policy"]["Arn"]
    iam.attach_role_policy(RoleName=role["RoleName"], PolicyArn=policy)
    declared = TEMPLATE["Resources"]["Schedule"]["Properties"]
    scheduler.create_schedule(
        Name=SCHEDULE, Description="hourly", ScheduleExpression="rate(1 hour)", ScheduleExpressionTimezone="Etc/UTC",
        State="ENABLED", FlexibleTimeWindow={"Mode": "OFF"},
        Target={"Arn": f"arn:aws:sqs:{REGION}:{ACCOUNT}:monitor-events-unit", "RoleArn": role["Arn"],
                "Input": declared["Target"]["Input"], "RetryPolicy": declared["Target"]["RetryPolicy"]})
    physical = {"Queue": queue, "Role": role["RoleName"], "Sends": policy, "Schedule": SCHEDULE}
    summaries = [{"LogicalResourceId": lid, "ResourceType": TEMPLATE["Resources"][lid]["Type"],
                  "PhysicalResourceId": pid, "ResourceStatus": "CREATE_COMPLETE"} for lid, pid in physical.items()]
    return {"scope": build(STACK, TEMPLATE, summaries, "test"), "iam": iam, "scheduler": scheduler,
            "policy": policy, "session": session}


def _read(deployed: dict[str, Any]) -> Any:
    aws = Aws(session=deployed["session"], max_attempts=1)
    return read_stack(aws, deployed["scope"], account=ACCOUNT, only={"Sends", "Schedule", "Role", "Queue"})


def _failing(live: Any) -> dict[tuple[str, str], str]:
    found, _ = stackcheck.drift(live)
    found += stackcheck.judge(live)
    return {(f.check_id, f.resource.split(" ")[1]): f.reason for f in found if f.status is Status.FAIL}


def test_both_are_read_as_declared_and_nothing_drifts(deployed):
    live = _read(deployed)
    policy, schedule = live.resources["Sends"], live.resources["Schedule"]
    assert policy.state == ReadState.READ and schedule.state == ReadState.READ, (policy.detail, schedule.detail)
    assert policy.properties["PolicyDocument"] == DOCUMENT and policy.properties["Roles"] == [f"{STACK}-Role"]
    assert schedule.properties["ScheduleExpression"] == "rate(1 hour)"
    assert schedule.attributes["Arn"] == f"arn:aws:scheduler:{REGION}:{ACCOUNT}:schedule/default/{SCHEDULE}"
    assert not {k: v for k, v in _failing(live).items() if k[1] in ("Sends", "Schedule")}


def test_drift_sees_a_schedule_and_a_policy_changed_by_hand(deployed):
    iam, scheduler = deployed["iam"], deployed["scheduler"]
    answer = scheduler.get_schedule(Name=SCHEDULE)
    scheduler.update_schedule(Name=SCHEDULE, ScheduleExpression="rate(7 days)", State="DISABLED",
                              FlexibleTimeWindow=answer["FlexibleTimeWindow"], Target=answer["Target"],
                              ScheduleExpressionTimezone="Etc/UTC", Description="hourly")
    iam.create_policy_version(PolicyArn=deployed["policy"], SetAsDefault=True, PolicyDocument=json.dumps(
        {"Version": "2012-10-17", "Statement": [{"Effect": "Allow", "Action": "sqs:*", "Resource": "*"}]}))
    iam.create_user(UserName="intruder")
    iam.attach_user_policy(UserName="intruder", PolicyArn=deployed["policy"])
    failing = _failing(_read(deployed))
    assert "rate(7 days)" in failing[("drift.ScheduleExpression", "Schedule")]
    assert "DISABLED" in failing[("drift.State", "Schedule")]
    assert "sqs:*" in failing[("drift.PolicyDocument", "Sends")]
    assert "intruder" in failing[("drift.Users", "Sends")]
    assert "attached to user intruder" in failing[("stack.undeclared_children", "Sends")]


def test_a_schedule_that_is_gone_is_missing(deployed):
    deployed["scheduler"].delete_schedule(Name=SCHEDULE)
    assert _read(deployed).resources["Schedule"].state == ReadState.MISSING


@pytest.mark.parametrize(("event", "answer"), [
    ("before-call.scheduler.GetSchedule", {"Arn": "x", "Name": SCHEDULE, "GroupName": "default",
                                           "ScheduleExpression": "rate(1 hour)", "State": "ENABLED",
                                           "FlexibleTimeWindow": {"Mode": "OFF"}}),  # no Target
    ("before-call.iam.GetPolicy", {"Policy": {"PolicyName": f"{STACK}-Sends", "Path": "/"}}),  # no DefaultVersionId
])
def test_an_answer_without_what_aws_always_sends_is_error(deployed, event, answer):
    import botocore.awsrequest

    aws = Aws(session=deployed["session"], max_attempts=1)

    def misshapen(**_: Any) -> Any:
        return botocore.awsrequest.AWSResponse("https://aws", 200, {}, None), {
            **answer, "ResponseMetadata": {"HTTPStatusCode": 200}}

    service = event.split(".")[1]
    aws.client(service).meta.events.register(event, misshapen)
    live = read_stack(aws, deployed["scope"], account=ACCOUNT, only={"Sends", "Schedule"})
    lid = "Schedule" if service == "scheduler" else "Sends"
    assert live.resources[lid].state == ReadState.ERROR and "could not look" in live.resources[lid].detail
    assert all(f.status is Status.ERROR for f in stackcheck.judge(live) if f" {lid}" in f.resource and f.rule_id)
