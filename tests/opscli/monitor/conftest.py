"""What the posture monitor's tests share: its suffix, a queue record and a CloudTrail event as EventBridge delivers
it, and a small stack indexed as the monitor indexes its stack (module-scoped: a test module's tests read one
index)."""

from __future__ import annotations

import json

import pytest

from opscli.monitor import resolve
from opscli.monitor.messages import Record
from opscli.stack import build

SUFFIX = "unit"


def record_of(body: object, message_id: str = "m-1") -> Record:
    """A queue's record of `body` (JSON unless it is text already)."""
    return Record(message_id, body if isinstance(body, str) else json.dumps(body))


def cloudtrail_event(source: str = "ec2.amazonaws.com", name: str = "AuthorizeSecurityGroupIngress",
                     request: object = None, response: object = None, **detail: object) -> dict:
    """An EventBridge event of a CloudTrail record of this account and region (an EC2 call unless told)."""
    return {"version": "0", "id": "e-1", "detail-type": "AWS API Call via CloudTrail",
            "source": f"aws.{source.split('.')[0]}", "account": "123456789012", "region": "ap-northeast-1",
            "detail": {"eventSource": source, "eventName": name, "awsRegion": "ap-northeast-1",
                       "requestParameters": request, "responseElements": response, **detail}}


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
