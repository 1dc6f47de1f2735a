"""cdk_app/constructs/database.py in the session's synthesized TapStack: Multi-AZ, CMK-encrypted, TLS-only, in the
private subnets, its credentials read from the existing secret and never written."""

from __future__ import annotations

import json

import pytest

from platform_spec.intrinsics import ref_target
from tests.unit.cdk_app.constructs.template_reads import key_id, private_subnet_ids

pytestmark = pytest.mark.synth


def test_rds_is_multi_az_encrypted_with_the_cmk_and_tls_only(synth):
    kid = key_id(synth)
    _, db = synth.one("AWS::RDS::DBInstance")
    p = db["Properties"]
    assert p["MultiAZ"] is True and p["StorageEncrypted"] is True
    assert ref_target(p["KmsKeyId"]) == kid
    assert p["EnablePerformanceInsights"] is True and ref_target(p["PerformanceInsightsKMSKeyId"]) == kid
    assert p["BackupRetentionPeriod"] == 1
    assert p["DeletionProtection"] is False and p["PubliclyAccessible"] is False
    assert p["DBInstanceIdentifier"] == "rds-test" and p["Engine"] == "postgres"
    assert set(p["EnableCloudwatchLogsExports"]) == {"postgresql", "upgrade"}
    assert db["DeletionPolicy"] == "Delete" and db["UpdateReplacePolicy"] == "Delete"
    # The parameter group that forces TLS is the one attached to the instance.
    pg_id = ref_target(p["DBParameterGroupName"])
    pg = synth.template["Resources"][pg_id]["Properties"]
    assert pg["Parameters"]["rds.force_ssl"] == "1"
    # Subnets of the DB are the private ones.
    sg_group = synth.template["Resources"][ref_target(p["DBSubnetGroupName"])]["Properties"]
    assert {ref_target(s) for s in sg_group["SubnetIds"]} == private_subnet_ids(synth)


def test_rds_credentials_come_from_the_existing_secret_without_writing_it(synth):
    _, db = synth.one("AWS::RDS::DBInstance")
    text = json.dumps(db["Properties"])
    assert "resolve:secretsmanager" in text and "rds-credentials-test" in text
    assert synth.resources("AWS::SecretsManager::Secret") == {}
    assert synth.resources("AWS::SecretsManager::SecretTargetAttachment") == {}
