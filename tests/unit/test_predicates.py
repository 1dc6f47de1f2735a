"""The pure rule predicates, each with inputs that pass and inputs that fail."""

from __future__ import annotations

import pytest

from platform_spec.result import Status
from platform_spec.rules import stk_destroy, stk_kms, stk_name, stk_secret, stk_tag

CMK = {"Fn::GetAtt": ["Cmk", "Arn"]}


@pytest.mark.parametrize("type_, props, status", [
    ("AWS::RDS::DBInstance", {"StorageEncrypted": True, "KmsKeyId": CMK}, Status.PASS),
    ("AWS::RDS::DBInstance", {"StorageEncrypted": "true", "KmsKeyId": CMK, "EnablePerformanceInsights": True,
                              "PerformanceInsightsKMSKeyId": CMK}, Status.PASS),
    ("AWS::RDS::DBInstance", {"StorageEncrypted": True, "KmsKeyId": CMK, "EnablePerformanceInsights": True},
     Status.FAIL),
    ("AWS::RDS::DBInstance", {"StorageEncrypted": False, "KmsKeyId": CMK}, Status.FAIL),
    ("AWS::RDS::DBInstance", {"StorageEncrypted": True}, Status.FAIL),
    ("AWS::EFS::FileSystem", {"Encrypted": True, "KmsKeyId": "alias/aws/elasticfilesystem"}, Status.FAIL),
    ("AWS::ElastiCache::ReplicationGroup", {"AtRestEncryptionEnabled": True, "KmsKeyId": {"Ref": "Other"}},
     Status.FAIL),
    ("AWS::Logs::LogGroup", {"KmsKeyId": "arn:aws:kms:ap-northeast-1:1:key/x"}, Status.FAIL),
    ("AWS::Logs::LogGroup", {"KmsKeyId": {"Ref": "Cmk"}}, Status.PASS),
    ("AWS::SNS::Topic", {"KmsMasterKeyId": CMK}, Status.PASS),
    ("AWS::EC2::VPC", {}, Status.NOT_APPLICABLE),
])
def test_kms_predicate(type_, props, status):
    assert stk_kms.check(type_, props, {"Cmk"}).status is status


@pytest.mark.parametrize("resource, status", [
    ({"Type": "AWS::S3::Bucket"}, Status.PASS),
    ({"Type": "AWS::S3::Bucket", "DeletionPolicy": "Retain"}, Status.FAIL),
    ({"Type": "AWS::Logs::LogGroup", "UpdateReplacePolicy": "RetainExceptOnCreate"}, Status.FAIL),
    ({"Type": "AWS::RDS::DBInstance"}, Status.FAIL),
    ({"Type": "AWS::RDS::DBInstance", "DeletionPolicy": "Snapshot"}, Status.FAIL),
    ({"Type": "AWS::RDS::DBInstance", "DeletionPolicy": "Delete"}, Status.PASS),
])
def test_destroy_policy_predicate(resource, status):
    assert stk_destroy.check_policies(resource).status is status


def test_deletion_protection_predicate():
    lb = "AWS::ElasticLoadBalancingV2::LoadBalancer"
    on = {"LoadBalancerAttributes": [{"Key": "deletion_protection.enabled", "Value": "true"}]}
    assert stk_destroy.check_protection(lb, on).status is Status.FAIL
    assert stk_destroy.check_protection("AWS::RDS::DBInstance", {"DeletionProtection": True}).failed
    assert stk_destroy.check_protection("AWS::Logs::LogGroup", {"DeletionProtectionEnabled": "true"}).failed
    assert stk_destroy.check_protection("AWS::RDS::DBInstance", {"DeletionProtection": False}).status is Status.PASS


def test_secret_predicates():
    assert stk_secret.check_created("AWS::SecretsManager::Secret").failed
    assert stk_secret.check_created("AWS::SecretsManager::RotationSchedule").failed
    assert stk_secret.check_created("AWS::ECS::Service").status is Status.NOT_APPLICABLE
    td = "AWS::ECS::TaskDefinition"
    clean = {"ContainerDefinitions": [{"Name": "a", "Environment": [{"Name": "DB_HOST", "Value": "x"}]}]}
    leaky = {"ContainerDefinitions": [{"Name": "a", "Environment": [
        {"Name": "REDIS_AUTH_TOKEN", "Value": "x"},
        {"Name": "CONFIG", "Value": "{{resolve:secretsmanager:db:SecretString:password}}"}]}]}
    assert stk_secret.check_environment(td, clean).status is Status.PASS
    result = stk_secret.check_environment(td, leaky)
    assert result.failed and "a/REDIS_AUTH_TOKEN" in result.reason and "a/CONFIG" in result.reason
    assert stk_secret.check_environment("AWS::ECS::Service", leaky).status is Status.NOT_APPLICABLE


@pytest.mark.parametrize("type_, props, status", [
    ("AWS::RDS::DBInstance", {"DBInstanceIdentifier": "rds-prod"}, Status.PASS),
    ("AWS::RDS::DBInstance", {"DBInstanceIdentifier": "rds-staging"}, Status.FAIL),
    ("AWS::RDS::DBInstance", {}, Status.FAIL),
    ("AWS::RDS::DBSubnetGroup", {}, Status.PASS),
    ("AWS::ElastiCache::ReplicationGroup", {"ReplicationGroupId": "redis-" + "x" * 30 + "-prod"}, Status.FAIL),
    ("AWS::EFS::FileSystem", {"FileSystemTags": [{"Key": "Name", "Value": "efs-prod"}]}, Status.PASS),
    ("AWS::Logs::LogGroup", {"LogGroupName": {"Fn::Join": ["", ["API-Gateway-Execution-Logs_", {"Ref": "A"}, "/v1"]]}},
     Status.PASS),
    ("AWS::Logs::LogGroup", {"LogGroupName": {"Fn::Join": ["", ["/ecs/", {"Ref": "A"}]]}}, Status.FAIL),
    ("AWS::Logs::LogGroup", {"LogGroupName": 42}, Status.FAIL),
    ("AWS::ElasticLoadBalancingV2::LoadBalancer", {"Name": "internal-nlb-prod"}, Status.FAIL),
    ("AWS::EC2::VPC", {}, Status.NOT_APPLICABLE),
])
def test_name_predicate(type_, props, status):
    assert stk_name.check(type_, props, "prod").status is status


def test_tag_predicate():
    required = ("Project", "Owner")
    good = {"Tags": [{"Key": "Project", "Value": "p"}, {"Key": "Owner", "Value": "o"}]}
    assert stk_tag.check("AWS::EC2::VPC", good, required).status is Status.PASS
    assert stk_tag.check("AWS::EC2::VPC", {"Tags": [{"Key": "Project", "Value": "p"}]}, required).failed
    assert stk_tag.check("AWS::EC2::VPC", good, required, {"Owner": "someone-else"}).failed
    assert stk_tag.check("AWS::EFS::FileSystem", {"FileSystemTags": good["Tags"]}, required).status is Status.PASS
    assert stk_tag.check("AWS::EC2::Route", {}, required).status is Status.NOT_APPLICABLE
