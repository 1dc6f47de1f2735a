"""cdk_app/aspects/naming.py on a small stack with every guardrail: a physical name that does not follow
{resource-type}-{suffix}, is missing or is too long fails synthesis with STK-NAME-001."""

from __future__ import annotations

from tests.conftest import CDK_AND_CHECKOV
from tests.unit.cdk_app.aspects.small_stack import only, project_key, synth_small

pytestmark = CDK_AND_CHECKOV  # every test builds constructs (tests/conftest.py says why the group)


def test_naming_aspect_rejects_bad_and_missing_names():
    from aws_cdk import aws_ecs as ecs
    from aws_cdk import aws_logs as logs

    def build(stack):
        key = project_key(stack)
        logs.LogGroup(stack, "Bad", log_group_name="/ecs/Thing_Prod", encryption_key=key)
        ecs.CfnCluster(stack, "Unnamed")
        ecs.CfnCluster(stack, "TooLong", cluster_name="x" * 251 + "-unit")
    _, errors, _ = synth_small(build)
    naming = only(errors, "STK-NAME-001")
    assert len(naming) == 3
    assert any("'/ecs/Thing_Prod' does not follow {resource-type}-unit" in e for e in naming)
    assert any("has no explicit name" in e and "Small/Unnamed" in e for e in naming)
    assert any("the limit is 255" in e for e in naming)
