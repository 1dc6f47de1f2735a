"""cdk_app/constructs/storage.py in the session's synthesized TapStack: EFS with the CMK, a TLS-only policy and a mount
target in every private subnet."""

from __future__ import annotations

import pytest

from platform_spec.intrinsics import ref_target
from tests.unit.cdk_app.constructs.template_reads import key_id, private_subnet_ids

pytestmark = pytest.mark.synth


def test_efs_is_cmk_encrypted_tls_only_with_a_mount_target_per_private_subnet(synth):
    kid = key_id(synth)
    fs_id, fs = synth.one("AWS::EFS::FileSystem")
    assert fs["Properties"]["Encrypted"] is True and ref_target(fs["Properties"]["KmsKeyId"]) == kid
    statements = fs["Properties"]["FileSystemPolicy"]["Statement"]
    assert any(s["Effect"] == "Deny" and s["Principal"] == {"AWS": "*"}
               and s["Condition"] == {"Bool": {"aws:SecureTransport": "false"}} for s in statements)
    targets = synth.resources("AWS::EFS::MountTarget").values()
    assert {ref_target(t["Properties"]["FileSystemId"]) for t in targets} == {fs_id}
    assert {ref_target(t["Properties"]["SubnetId"]) for t in targets} == private_subnet_ids(synth)
