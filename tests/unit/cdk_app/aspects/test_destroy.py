"""cdk_app/aspects/destroy.py on a small stack with every guardrail: it turns Retain and Snapshot into Delete,
and deletion protection off with a warning."""

from __future__ import annotations

import re

from tests.conftest import CDK_AND_CHECKOV
from tests.unit.cdk_app.aspects.small_stack import project_key, small_db, synth_small

pytestmark = CDK_AND_CHECKOV  # every test builds constructs (tests/conftest.py says why the group)


def test_destroy_aspect_turns_retain_and_snapshot_into_delete():
    from aws_cdk import RemovalPolicy
    from aws_cdk import aws_logs as logs
    from aws_cdk import aws_s3 as s3

    def build(stack):
        s3.Bucket(stack, "Kept", removal_policy=RemovalPolicy.RETAIN, encryption=s3.BucketEncryption.S3_MANAGED)
        logs.CfnLogGroup(stack, "Snap", log_group_name="/ecs/snap-unit").apply_removal_policy(RemovalPolicy.SNAPSHOT)
    template, _, _ = synth_small(build)
    for resource in template["Resources"].values():
        assert resource["DeletionPolicy"] == "Delete" and resource["UpdateReplacePolicy"] == "Delete"


def test_destroy_aspect_turns_deletion_protection_off_and_warns():
    from aws_cdk import RemovalPolicy

    def build(stack):
        key = project_key(stack)
        small_db(stack, storage_encryption_key=key, deletion_protection=True, removal_policy=RemovalPolicy.SNAPSHOT)
    template, _, warnings = synth_small(build)
    [db] = [r for r in template["Resources"].values() if r["Type"] == "AWS::RDS::DBInstance"]
    assert db["Properties"]["DeletionProtection"] is False and db["DeletionPolicy"] == "Delete"
    assert any(re.search(r"\[STK-DESTROY-002\].*DeletionProtection was on", w) for w in warnings)
