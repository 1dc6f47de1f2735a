"""cdk_app/tap_stack.py: TapStack as a whole, asserted on the session's one synthesized template: no guardrail
error, the fixed region and AZs, nothing retained, every resource tagged, the connections and grants it wires
between its constructs, the outputs it declares, and a second synthesis giving the same template. Each
construct's own resources are asserted in tests/unit/cdk_app/constructs/test_<construct>.py."""

from __future__ import annotations

import pytest

from platform_spec.intrinsics import ref_target, tag_map
from platform_spec.rules.stk_tag import TAG_PROPERTY, TAGGABLE_TYPES
from platform_spec.tagging import REQUIRED_TAG_KEYS, compute_tags
from tests.conftest import COLD_SYNTHESIS

pytestmark = pytest.mark.synth


def test_synthesis_reports_no_guardrail_errors(synth):
    assert synth.errors == []


def test_region_and_azs_are_fixed(synth):
    assert synth.environment.endswith("/ap-northeast-1")
    azs = {v["Properties"]["AvailabilityZone"] for v in synth.resources("AWS::EC2::Subnet").values()}
    assert azs == {"ap-northeast-1a", "ap-northeast-1c", "ap-northeast-1d"}


def test_nothing_is_retained_or_snapshotted(synth):
    for logical_id, resource in synth.template["Resources"].items():
        assert resource.get("DeletionPolicy", "Delete") == "Delete", logical_id
        assert resource.get("UpdateReplacePolicy", "Delete") == "Delete", logical_id


def test_every_taggable_resource_carries_the_required_tags(synth):
    expected = compute_tags(synth.config)
    checked = 0
    for logical_id, resource in synth.template["Resources"].items():
        if resource["Type"] not in TAGGABLE_TYPES:
            continue
        tags = tag_map(resource["Properties"].get(TAG_PROPERTY.get(resource["Type"], "Tags")))
        for key in REQUIRED_TAG_KEYS:
            assert tags.get(key) == expected[key], f"{logical_id} {key}"
        checked += 1
    assert checked > 50


def test_security_groups_admit_only_the_callers_that_need_each_port(synth):
    sgs = synth.resources("AWS::EC2::SecurityGroup")
    by_name = {v["Properties"]["GroupName"]: k for k, v in sgs.items()}
    ingress = [v["Properties"] for v in synth.resources("AWS::EC2::SecurityGroupIngress").values()]
    def sources(sg_name: str) -> set[tuple[str, int]]:
        sg_id = by_name[sg_name]
        return {(ref_target(i["SourceSecurityGroupId"]), i["FromPort"]) for i in ingress
                if ref_target(i["GroupId"]) == sg_id}
    worker, api, nlb = by_name["video-processing-sg-test"], by_name["metadata-api-sg-test"], by_name["nlb-sg-test"]
    assert sources("rds-sg-test") == {(worker, 5433), (api, 5433)}
    assert sources("redis-sg-test") == {(worker, 6380), (api, 6380)}
    assert sources("efs-sg-test") == {(worker, 2049)}
    assert sources("metadata-api-sg-test") == {(nlb, 8080)}
    # No inline 0.0.0.0/0 ingress anywhere.
    for sg in sgs.values():
        assert all(r.get("CidrIp") != "0.0.0.0/0" for r in sg["Properties"].get("SecurityGroupIngress", []))


def test_iam_has_no_wildcard_action_on_wildcard_resource(synth):
    for logical_id, policy in synth.resources("AWS::IAM::Policy").items():
        for statement in policy["Properties"]["PolicyDocument"]["Statement"]:
            actions = statement["Action"] if isinstance(statement["Action"], list) else [statement["Action"]]
            assert "*" not in actions, logical_id
    task_role_policies = [p for k, p in synth.resources("AWS::IAM::Policy").items() if "TaskRole" in k]
    efs = [s for p in task_role_policies for s in p["Properties"]["PolicyDocument"]["Statement"]
           if "elasticfilesystem:ClientMount" in s["Action"]]
    assert efs and "elasticfilesystem:AccessPointArn" in efs[0]["Condition"]["StringEquals"]


def test_outputs_cover_what_integration_tests_and_opscli_read(synth):
    outputs = set(synth.template["Outputs"])
    assert {"VpcId", "ClusterName", "VideoProcessingServiceName", "MetadataApiServiceName", "DbEndpoint",
            "DbInstanceIdentifier", "RedisReplicationGroupId", "RedisPrimaryEndpoint", "EfsFileSystemId",
            "ApiUrl", "ApiId", "KmsKeyArn", "VideoProcessingLogGroup", "ApiAccessLogGroup", "DbSecretName",
            "ApiKeySecretName", "RedisAuthSecretName"} <= outputs


def test_only_the_worker_reads_videos_and_consumes_the_queue(synth):
    statements = {k: p["Properties"]["PolicyDocument"]["Statement"]
                  for k, p in synth.resources("AWS::IAM::Policy").items()}
    readers = {k for k, st in statements.items() for s in st
               if "s3:GetObject" in (s["Action"] if isinstance(s["Action"], list) else [s["Action"]])}
    consumers = {k for k, st in statements.items() for s in st
                 if "sqs:ReceiveMessage" in (s["Action"] if isinstance(s["Action"], list) else [s["Action"]])}
    assert len(readers) == 1 and readers == consumers and "VideoProcessingWorker" in next(iter(readers))


@COLD_SYNTHESIS
def test_synthesis_is_deterministic(synth, cold_synthesis):
    """A second synthesis of the same context gives the identical template, byte for byte (offline, no lookups).
    `synth` came from the CDK CLI (or the cache); the second is a cold `cdk synth` in another process, of a copy of
    the sources (tests/conftest.py cold_synthesis: its monitor code differs, which is TapMonitor's asset, no input
    of TapStack's template)."""
    name = synth.template_path.name
    assert (cold_synthesis.directory / name).read_bytes() == synth.template_path.read_bytes()
