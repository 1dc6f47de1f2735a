"""opscli.readers.kms on answers stubbed with botocore's Stubber: a multi-Region project key with a replica outside
Tokyo is read for the rule that judges it (AWS cannot make the declared single-Region key multi-Region: MultiRegion
is fixed when a key is created)."""

from __future__ import annotations

from botocore.stub import Stubber

from platform_spec.result import Status
from platform_spec.rules import stk_res_stores as residency
from tests.opscli.stubs import ACCOUNT, judged, read_one

KEY_ID = "mrk-1234abcd12ab34cd56ef1234567890ab"


KEY_ARN = f"arn:aws:kms:ap-northeast-1:{ACCOUNT}:key/{KEY_ID}"


def test_a_multi_region_key_with_a_replica_outside_fails_twice_naming_the_replica(stubbed):
    replica = f"arn:aws:kms:us-east-1:{ACCOUNT}:key/{KEY_ID}"
    with Stubber(stubbed.client("kms")) as stub:
        stub.add_response("describe_key", {"KeyMetadata": {
            "KeyId": KEY_ID, "Arn": KEY_ARN, "AWSAccountId": ACCOUNT, "Enabled": True, "KeyManager": "CUSTOMER",
            "KeyState": "Enabled", "KeyUsage": "ENCRYPT_DECRYPT", "KeySpec": "SYMMETRIC_DEFAULT", "MultiRegion": True,
            "MultiRegionConfiguration": {"MultiRegionKeyType": "PRIMARY",
                                         "PrimaryKey": {"Arn": KEY_ARN, "Region": "ap-northeast-1"},
                                         "ReplicaKeys": [{"Arn": replica, "Region": "us-east-1"}]}}})
        stub.add_response("get_key_rotation_status", {"KeyRotationEnabled": True})
        stub.add_response("get_key_policy", {"Policy": '{"Version": "2012-10-17", "Statement": []}'})
        stub.add_response("list_resource_tags", {"Tags": [], "Truncated": False})
        stub.add_response("list_grants", {"Grants": [], "Truncated": False})
        live = read_one(stubbed, "Key", "AWS::KMS::Key", KEY_ID)
    found = judged(live, residency.KMS_MULTI_REGION_ID)
    assert [f.status for f in found] == [Status.FAIL, Status.FAIL]
    assert any(f.reason.startswith("MultiRegion is true") for f in found)
    assert any(f"replica key {replica} in us-east-1" in f.reason for f in found)
