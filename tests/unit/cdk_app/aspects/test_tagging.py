"""cdk_app/aspects/tagging.py on a small stack with every guardrail: L1, L2 and untyped resources all carry the
required tags."""

from __future__ import annotations

from platform_spec.intrinsics import tag_map
from platform_spec.tagging import REQUIRED_TAG_KEYS
from tests.conftest import CDK_AND_CHECKOV
from tests.unit.cdk_app.aspects.small_stack import project_key, synth_small

pytestmark = CDK_AND_CHECKOV  # every test builds constructs (tests/conftest.py says why the group)


def test_tagging_aspect_tags_l1_l2_and_untyped_resources():
    from aws_cdk import CfnResource
    from aws_cdk import aws_logs as logs

    def build(stack):
        key = project_key(stack)
        logs.CfnLogGroup(stack, "L1", log_group_name="/ecs/l1-unit", kms_key_id=key.key_arn)
        CfnResource(stack, "Untyped", type="AWS::IAM::Role", properties={"AssumeRolePolicyDocument": {}})
    template, _, _ = synth_small(build)
    tagged = [r for r in template["Resources"].values() if r["Type"] in {"AWS::Logs::LogGroup", "AWS::IAM::Role",
                                                                         "AWS::KMS::Key"}]
    assert len(tagged) == 3
    for resource in tagged:
        tags = tag_map(resource["Properties"]["Tags"])
        assert set(REQUIRED_TAG_KEYS) <= set(tags) and tags["Environment"] == "unit"
