"""opscli.monitor.resolve: which of the stack's resources a change names (by the values of its request and
response, whatever the parameter is called) and what is read and judged with them."""

from __future__ import annotations

import json

import pytest

from opscli.monitor import resolve
from opscli.monitor.messages import Change, Record
from opscli.stack import build
from tests.opscli.monitor.conftest import SUFFIX


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
