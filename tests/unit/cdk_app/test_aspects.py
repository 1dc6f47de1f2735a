"""cdk_app.aspects.apply_guardrails: every guardrail Aspect on a small compliant stack reports nothing (each
Aspect's own failing and fixing cases are in tests/unit/cdk_app/aspects/, one file per Aspect)."""

from __future__ import annotations

from tests.conftest import CDK_AND_CHECKOV
from tests.unit.cdk_app.aspects.small_stack import project_key, synth_small

pytestmark = CDK_AND_CHECKOV  # every test builds constructs (tests/conftest.py says why the group)


def test_compliant_small_stack_has_no_errors():
    from aws_cdk import aws_logs as logs

    def build(stack):
        logs.LogGroup(stack, "Logs", log_group_name="/ecs/thing-unit", encryption_key=project_key(stack))
    _, errors, _ = synth_small(build)
    assert errors == []
