"""The stack's paths as plain data (platform_spec.rules.paths): who each resource admits and where its data goes,
inside and outside, from a template and from the live facts; and the invariant that makes them the one source of
the perimeter picture: a perimeter or residency rule fails a resource exactly where one of its paths is outside."""

from __future__ import annotations

import pytest

from platform_spec.context import Context
from platform_spec.path import IN, OUT
from platform_spec.registry import BY_ID, LIVE_ONLY_RULES
from platform_spec.result import Status
from platform_spec.rule import AccountFacts
from platform_spec.rules import paths as stack_paths
from platform_spec.rules import stk_perim, stk_policy, stk_res
from tests.policy.fixtures import FIXTURES

ACCOUNT, OTHER = "123456789012", "999999999999"
ROOT = {"Fn::Join": ["", ["arn:aws:iam::", {"Ref": "AWS::AccountId"}, ":root"]]}
QUEUE_ARN = {"Fn::GetAtt": ["Queue", "Arn"]}


def doc(*statements):
    return {"Version": "2012-10-17", "Statement": list(statements)}


TEMPLATE = {
    "Queue": {"Type": "AWS::SQS::Queue", "Properties": {}},
    "QueuePolicy": {"Type": "AWS::SQS::QueuePolicy", "Properties": {"Queues": [{"Ref": "Queue"}], "PolicyDocument": doc(
        {"Sid": "TlsOnly", "Effect": "Deny", "Principal": "*", "Action": "sqs:*", "Resource": QUEUE_ARN,
         "Condition": {"Bool": {"aws:SecureTransport": "false"}}},
        {"Sid": "Events", "Effect": "Allow", "Principal": {"Service": "events.amazonaws.com"},
         "Action": "sqs:SendMessage", "Resource": QUEUE_ARN,
         "Condition": {"StringEquals": {"aws:SourceAccount": {"Ref": "AWS::AccountId"}}}},
        {"Sid": "Worker", "Effect": "Allow", "Principal": {"AWS": {"Fn::GetAtt": ["WorkerRole", "Arn"]}},
         "Action": "sqs:ReceiveMessage", "Resource": QUEUE_ARN},
        {"Sid": "Partner", "Effect": "Allow", "Principal": {"AWS": f"arn:aws:iam::{OTHER}:root"},
         "Action": "sqs:ReceiveMessage", "Resource": QUEUE_ARN})}},
    "Key": {"Type": "AWS::KMS::Key", "Properties": {"KeyPolicy": doc(
        {"Effect": "Allow", "Principal": {"AWS": ROOT}, "Action": "kms:*", "Resource": "*"})}},
    "Rule": {"Type": "AWS::Events::Rule", "Properties": {"Targets": [
        {"Id": "Work", "Arn": QUEUE_ARN},
        {"Id": "Elsewhere", "Arn": f"arn:aws:sqs:us-east-1:{ACCOUNT}:copies"}]}},
    "Bucket": {"Type": "AWS::S3::Bucket", "Properties": {"ReplicationConfiguration": {"Role": "r", "Rules": [
        {"Id": "to-replica", "Status": "Enabled", "Destination": {"Bucket": {"Fn::GetAtt": ["Replica", "Arn"]}}},
        {"Id": "to-virginia", "Status": "Enabled", "Destination": {"Bucket": "arn:aws:s3:::videos-us-east-1"}}]}}},
    "Replica": {"Type": "AWS::S3::Bucket", "Properties": {}},
}


def by_other(found):
    return {(p.direction, p.resource, p.other): p for p in found}


def test_a_template_gives_each_resources_paths_in_and_out_inside_and_outside():
    found = by_other(stack_paths.stack_paths(TEMPLATE, account=ACCOUNT))
    # in: the queue policy admits a service pinned to the account, the stack's own role and another account
    events = found[(IN, "QueuePolicy", "service events.amazonaws.com")]
    assert not events.outside and events.kind == "service" and events.via == \
        'statement "Events" (pinned by aws:SourceAccount)' and events.actions == ("sqs:SendMessage",)
    worker = found[(IN, "QueuePolicy", "the stack's WorkerRole")]
    assert not worker.outside and worker.kind == "stack" and worker.rule_id == stk_policy.RULE_ID
    partner = found[(IN, "QueuePolicy", f"account {OTHER} (arn:aws:iam::{OTHER}:root)")]
    assert partner.outside and partner.kind == "account" and partner.via == 'statement "Partner"'
    assert partner.resource_type == "AWS::SQS::QueuePolicy" and partner.judged == "QueuePolicy"
    assert not found[(IN, "Key", "this account (its IAM decides)")].outside
    # a Deny admits nobody: no path
    assert not [p for p in found.values() if "TlsOnly" in p.via]
    # out: a target that is the stack's queue stays, one in Virginia leaves; the same for replication rules
    assert not found[(OUT, "Rule", "the stack's Queue")].outside
    virginia = found[(OUT, "Rule", f"arn:aws:sqs:us-east-1:{ACCOUNT}:copies")]
    assert virginia.outside and virginia.rule_id == stk_res.EVENTS_ID and virginia.via == "target Elsewhere" \
        and "in us-east-1, not ap-northeast-1" in virginia.why
    assert not found[(OUT, "Bucket", "the stack's Replica")].outside
    copy = found[(OUT, "Bucket", "arn:aws:s3:::videos-us-east-1")]
    assert copy.outside and copy.via == "replication rule to-virginia" and copy.kind == "bucket"
    assert len(found) == 8, sorted(found)


def test_live_facts_add_the_grants_the_bus_policy_and_the_copies_aws_keeps():
    key_arn = f"arn:aws:kms:ap-northeast-1:{ACCOUNT}:key/k"
    facts = {
        "Key": {"Grants": [{"GrantId": "g-service", "GranteePrincipal": "rds.ap-northeast-1.amazonaws.com",
                            "Operations": ["Decrypt"]},
                           {"GrantId": "g-partner", "GranteePrincipal": f"arn:aws:iam::{OTHER}:root",
                            "Operations": ["Decrypt", "Encrypt"]}],
                "Account": ACCOUNT, "KeyArn": key_arn,
                "MultiRegionKeys": {"Primary": key_arn, "Replicas": [f"arn:aws:kms:us-west-2:{ACCOUNT}:key/k"]}},
        "Rule": {"EventBus": "default", "Account": ACCOUNT, "EventBusPolicy": doc(
            {"Sid": "partner-puts-events", "Effect": "Allow", "Principal": {"AWS": OTHER},
             "Action": "events:PutEvents", "Resource": "*"})},
    }
    found = by_other(stack_paths.stack_paths(TEMPLATE, account=ACCOUNT, facts=facts))
    assert not found[(IN, "Key", "rds.ap-northeast-1.amazonaws.com")].outside
    grant = found[(IN, "Key", f"account {OTHER} (arn:aws:iam::{OTHER}:root)")]
    assert grant.outside and grant.via == "grant g-partner" and grant.actions == ("Decrypt", "Encrypt")
    bus = found[(IN, "Rule", f"account {OTHER}")]
    assert bus.outside and bus.via == 'event bus default statement "partner-puts-events"'
    replica = found[(OUT, "Key", f"arn:aws:kms:us-west-2:{ACCOUNT}:key/k")]
    assert replica.outside and replica.why == ("in us-west-2",) and replica.via == "replica key"


def test_an_identity_usable_from_outside_is_a_path_in_to_each_store_it_reaches():
    resources = {"Key": TEMPLATE["Key"], "Queue": TEMPLATE["Queue"]}
    partner = {"RoleName": "partner", "Arn": f"arn:aws:iam::{ACCOUNT}:role/partner",
               "AssumeRolePolicyDocument": doc({"Sid": "Outside", "Effect": "Allow", "Action": "sts:AssumeRole",
                                                "Principal": {"AWS": f"arn:aws:iam::{OTHER}:root"}}),
               "RolePolicyList": [{"PolicyName": "p", "PolicyDocument": doc(
                   {"Effect": "Allow", "Action": "kms:Decrypt", "Resource": "*"})}]}
    facts = AccountFacts(account=ACCOUNT, region="ap-northeast-1", roles=(partner,), attributes={
        "Key": {"Arn": f"arn:aws:kms:ap-northeast-1:{ACCOUNT}:key/k"},
        "Queue": {"Arn": f"arn:aws:sqs:ap-northeast-1:{ACCOUNT}:q"}})
    found = [p for p in stack_paths.stack_paths(resources, account=ACCOUNT, identities=facts)
             if p.rule_id == stk_perim.IDENTITY_ID]
    assert len(found) == 1
    path = found[0]
    assert (path.direction, path.resource, path.resource_type, path.other, path.kind) == \
        (IN, "Key", "AWS::KMS::Key", "role partner", "identity")
    assert path.outside and path.judged == "Key" and path.subject == partner["Arn"]
    assert path.actions[0].startswith("kms:Decrypt (")
    assert path.to_dict()["identity"] == partner["Arn"]
    assert f"arn:aws:iam::{OTHER}:root" in path.via  # who outside can use it, and how


@pytest.mark.parametrize("policy", [
    "{x",
    '{"Statement": [{"Effect": "Allow", "Principal": "*", "Action": "execute-api:Invoke", "Effect": "Deny"}]}',
    doc({"effect": "Allow", "principal": "*", "action": "execute-api:Invoke"}),
    {"statement": [{"Effect": "Allow", "Principal": "*", "Action": "execute-api:Invoke"}]},
    doc({"Effect": "Allow", "Principal": ["*"], "Action": "execute-api:Invoke"}),
])
def test_an_unreadable_policy_is_one_outside_path_to_whoever_it_admits(policy):
    found = stack_paths.resource_paths("Api", {"Type": "AWS::ApiGateway::RestApi", "Properties": {"Policy": policy}},
                                       account=ACCOUNT)
    assert [(p.outside, p.kind) for p in found] == [(True, "unknown")]
    result = BY_ID[stk_policy.RULE_ID].evaluate("AWS::ApiGateway::RestApi", {"Policy": policy},
                                                         Context(account=ACCOUNT))
    assert result.status is Status.FAIL and result.reason == found[0].why[0]


def test_a_wildcard_pin_is_an_outside_path_and_a_pinned_one_is_not():
    def paths(condition):
        return stack_paths.resource_paths("Api", {"Type": "AWS::ApiGateway::RestApi", "Properties": {"Policy": doc(
            {"Effect": "Allow", "Principal": "*", "Action": "execute-api:Invoke", "Condition": condition})}},
            account=ACCOUNT)

    (wild,) = paths({"StringLike": {"aws:PrincipalOrgID": "o-*"}})
    assert wild.outside and wild.kind == "everyone"
    (pinned,) = paths({"ForAnyValue:StringLike": {"aws:PrincipalOrgPaths": "o-abc123/r-ab12/ou-*"}})
    assert not pinned.outside and pinned.via == "statement #1 (pinned by aws:PrincipalOrgPaths)"


# --- a rule fails exactly where one of its paths is outside -----------------------------------------------------

def _fixture_cases():
    for rule_id in sorted(stack_paths.RULE_IDS & set(FIXTURES) & set(BY_ID)):
        for kind in ("pass", "fail"):
            for lid, resource in FIXTURES[rule_id][kind]["Resources"].items():
                if BY_ID[rule_id].applies_to(resource["Type"]):
                    yield pytest.param(rule_id, lid, resource, id=f"{rule_id}-{kind}-{lid}")


@pytest.mark.parametrize("rule_id, lid, resource", list(_fixture_cases()))
@pytest.mark.parametrize("account", [None, ACCOUNT])
def test_a_rule_fails_a_fixture_exactly_where_one_of_its_paths_is_outside(rule_id, lid, resource, account):
    result = BY_ID[rule_id].evaluate(resource["Type"], resource.get("Properties"), Context(account=account))
    outside = [p for p in stack_paths.resource_paths(lid, resource, account=account)
               if p.rule_id == rule_id and p.outside]
    assert (result.status is Status.FAIL) == bool(outside), (result, outside)


LIVE_CASES = [  # (check id, facts): the live halves' own cases, passing and failing
    (stk_policy.GRANTS_CHECK, {"Account": ACCOUNT, "Grants": [
        {"GrantId": "g1", "GranteePrincipal": "rds.ap-northeast-1.amazonaws.com", "Operations": ["Decrypt"]}]}),
    (stk_policy.GRANTS_CHECK, {"Account": ACCOUNT, "Grants": [
        {"GrantId": "g2", "GranteePrincipal": f"arn:aws:sts::{OTHER}:assumed-role/r/s", "Operations": []}]}),
    (stk_policy.BUS_CHECK, {"Account": ACCOUNT, "EventBus": "default", "EventBusPolicy": None}),
    (stk_policy.BUS_CHECK, {"Account": ACCOUNT, "EventBus": "default", "EventBusPolicy": doc(
        {"Effect": "Allow", "Principal": "*", "Action": "events:PutEvents", "Resource": "*"})}),
    (stk_policy.BUS_CHECK, {"Account": ACCOUNT, "EventBus": "default", "EventBusPolicy": "{garbled"}),
    ("logs.subscription_destinations", {"Arn": f"arn:aws:logs:ap-northeast-1:{ACCOUNT}:log-group:/g",
                                        "SubscriptionFilters": [{"FilterName": "f", "DestinationArn":
                                                                 f"arn:aws:kinesis:ap-northeast-1:{ACCOUNT}:stream/s"}]}),
    ("logs.subscription_destinations", {"Arn": f"arn:aws:logs:ap-northeast-1:{ACCOUNT}:log-group:/g",
                                        "SubscriptionFilters": [{"FilterName": "ship", "DestinationArn":
                                                                 f"arn:aws:logs:us-east-1:{OTHER}:destination:d"}]}),
    ("rds.replicas_in_japan", {"DBInstanceArn": f"arn:aws:rds:ap-northeast-1:{ACCOUNT}:db:rds-fx",
                               "ReadReplicas": ["rds-fx-replica"]}),
    ("rds.replicas_in_japan", {"DBInstanceArn": f"arn:aws:rds:ap-northeast-1:{ACCOUNT}:db:rds-fx",
                               "ReadReplicas": [f"arn:aws:rds:us-east-1:{ACCOUNT}:db:copy"]}),
    ("rds.snapshots_kept_in_account", {"DBInstanceArn": f"arn:aws:rds:ap-northeast-1:{ACCOUNT}:db:rds-fx",
                                       "SnapshotShares": [{"Snapshot": "s1", "SharedWith": [ACCOUNT]}]}),
    ("rds.snapshots_kept_in_account", {"DBInstanceArn": f"arn:aws:rds:ap-northeast-1:{ACCOUNT}:db:rds-fx",
                                       "SnapshotShares": [{"Snapshot": "s1", "SharedWith": ["all"]}]}),
    ("kms.replicas_in_japan", {"KeyArn": f"arn:aws:kms:ap-northeast-1:{ACCOUNT}:key/k", "MultiRegionKeys": None}),
    ("kms.replicas_in_japan", {"KeyArn": f"arn:aws:kms:ap-northeast-1:{ACCOUNT}:key/k", "MultiRegionKeys": {
        "Primary": f"arn:aws:kms:eu-west-1:{ACCOUNT}:key/k", "Replicas": []}}),
]


@pytest.mark.parametrize("check, facts", LIVE_CASES, ids=[f"{c}-{n}" for n, (c, _f) in enumerate(LIVE_CASES)])
def test_a_live_half_fails_exactly_where_one_of_its_paths_is_outside(check, facts):
    rule = next(r for r in LIVE_ONLY_RULES if r.check_id == check)
    outside = [p for p in rule.paths({}, facts) if p.outside]
    assert (rule.predicate({}, facts).status is Status.FAIL) == bool(outside), outside


def test_every_live_half_of_a_path_rule_gives_its_paths():
    """A live-only half of a rule that judges paths draws them too (else the picture would miss what it fails)."""
    halves = [r for r in LIVE_ONLY_RULES if r.rule_id in stack_paths.RULE_IDS]
    assert halves and all(r.paths is not None for r in halves), [r.check_id for r in halves if r.paths is None]
    assert {r.check_id for r in halves} == {check for check, _facts in LIVE_CASES}
