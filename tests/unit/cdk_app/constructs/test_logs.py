"""cdk_app/constructs/logs.py in the session's synthesized TapStack: every log group, CDK's hidden handlers' too, has
the retention and the CMK, and is owned by the stack."""

from __future__ import annotations

import pytest

from platform_spec.intrinsics import ref_target
from tests.unit.cdk_app.constructs.template_reads import key_id

pytestmark = pytest.mark.synth


def test_every_log_group_has_retention_and_the_cmk(synth):
    kid = key_id(synth)
    groups = synth.resources("AWS::Logs::LogGroup").values()
    assert len(groups) >= 8
    for group in groups:
        assert group["Properties"]["RetentionInDays"] == synth.config.log_retention_days
        assert ref_target(group["Properties"]["KmsKeyId"]) == kid
        assert group["DeletionPolicy"] == "Delete"


def test_every_hidden_lambda_has_a_log_group_owned_by_the_stack(synth):
    """CDK's custom-resource handlers (default-SG restriction, bucket auto-delete) log into stack-owned groups."""
    functions = synth.resources("AWS::Lambda::Function")
    names = [g["Properties"]["LogGroupName"] for g in synth.resources("AWS::Logs::LogGroup").values()]
    assert len(functions) == 2
    for fn_id in functions:
        assert {"Fn::Join": ["", ["/aws/lambda/", {"Ref": fn_id}]]} in names
