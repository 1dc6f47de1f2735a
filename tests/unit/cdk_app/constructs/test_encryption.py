"""cdk_app/constructs/encryption.py in the session's synthesized TapStack: the one CMK, rotated, with a short pending
window, that CloudWatch Logs may use."""

from __future__ import annotations

import pytest

from tests.conftest import CDK_AND_CHECKOV

pytestmark = pytest.mark.synth


@CDK_AND_CHECKOV  # aws_cdk.assertions or a synthesis in process
def test_one_cmk_with_rotation_and_short_pending_window(synth):
    _, key = synth.one("AWS::KMS::Key")
    assert key["Properties"]["EnableKeyRotation"] is True
    assert key["Properties"]["PendingWindowInDays"] == 7
    statements = key["Properties"]["KeyPolicy"]["Statement"]
    logs = [s for s in statements if s.get("Principal", {}).get("Service") == "logs.ap-northeast-1.amazonaws.com"]
    assert logs and "kms:GenerateDataKey*" in logs[0]["Action"]
    synth.assertions.has_resource_properties("AWS::KMS::Alias", {"AliasName": "alias/kms-key-test"})
