"""opscli.readers.rds on answers stubbed with botocore's Stubber (what moto cannot give, or gives otherwise): a
field AWS always sends that is missing or of another type is ERROR, never a verdict; every page of a parameter
group's parameters is read; a status spelled otherwise than AWS spells it is refused; automated backups replicated
to another region (moto has no StartDBInstanceAutomatedBackupsReplication), a read replica there and a server
certificate days from expiry are read for the rules that judge them (the emulator's CAs end in 2024 or after
2061)."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest
from botocore.stub import Stubber

from opscli import livestack, stackcheck
from opscli.stack import build
from platform_spec.result import Status
from platform_spec.rules import stk_rds
from platform_spec.rules import stk_res_stores as residency
from tests.opscli.stubs import ACCOUNT, CMK, DB, TAGS, judged, read, read_one


def db_answer(**overrides) -> dict:
    db = {"DBInstanceIdentifier": "rds-fault", "DBInstanceArn": f"arn:aws:rds:ap-northeast-1:{ACCOUNT}:db:rds-fault",
          "Engine": "postgres", "MultiAZ": True, "BackupRetentionPeriod": 1, "PubliclyAccessible": False,
          "StorageEncrypted": True, "KmsKeyId": CMK, "VpcSecurityGroups": [], "DBInstanceStatus": "available",
          "DBParameterGroups": [{"DBParameterGroupName": "rds-params-fault", "ParameterApplyStatus": "in-sync"}],
          "ReadReplicaDBInstanceIdentifiers": [],
          "CertificateDetails": {"CAIdentifier": "rds-ca-rsa2048-g1",
                                 "ValidTill": datetime(2061, 5, 25, tzinfo=UTC)},
          "TagList": TAGS}
    db.update(overrides)
    return {"DBInstances": [{k: v for k, v in db.items() if v is not None}]}


@pytest.mark.parametrize("field", ["MultiAZ", "DBParameterGroups", "BackupRetentionPeriod"])
def test_an_answer_without_a_judged_field_is_error_not_a_verdict(stubbed, field):
    """An answer without MultiAZ cannot prove Multi-AZ (nor disprove it): ERROR for the resource, no PASS/FAIL."""
    with Stubber(stubbed.client("rds")) as stub:
        stub.add_response("describe_db_instances", db_answer(**{field: None}))
        live = read(stubbed, Db=DB)
    assert live.resources["Db"].state == livestack.ReadState.ERROR
    assert f"DescribeDBInstances answered without '{field}'" in live.resources["Db"].detail
    assert {f.status for f in stackcheck.judge(live)} == {Status.ERROR}


@pytest.mark.parametrize("field, value", [("MultiAZ", "yes"), ("BackupRetentionPeriod", "7"),
                                          ("DBParameterGroups", {"not": "a list"})])
def test_a_wrong_typed_field_is_error(stubbed, field, value):
    """An answer that parses but holds the wrong type (the Stubber refuses to send one, so the parsed answer is
    changed after the call, as a broken endpoint or proxy would): ERROR, no verdict."""
    client = stubbed.client("rds")

    def garble(parsed, **_):
        parsed["DBInstances"][0][field] = value
    client.meta.events.register("after-call.rds.DescribeDBInstances", garble)
    with Stubber(client) as stub:
        stub.add_response("describe_db_instances", db_answer())
        live = read(stubbed, Db=DB)
    assert live.resources["Db"].state == livestack.ReadState.ERROR, live.resources["Db"]
    assert "could not look" in live.resources["Db"].detail
    assert {f.status for f in stackcheck.judge(live)} == {Status.ERROR}


def test_pagination_reads_every_page(stubbed):
    """rds.force_ssl is on the third page of parameters: the reader must read all pages."""
    group = ("AWS::RDS::DBParameterGroup", "rds-params-fault", {})
    with Stubber(stubbed.client("rds")) as stub:
        stub.add_response("describe_db_parameter_groups", {"DBParameterGroups": [
            {"DBParameterGroupName": "rds-params-fault", "DBParameterGroupFamily": "postgres16"}]})
        stub.add_response("describe_db_parameters", {"Parameters": [{"ParameterName": "a", "ParameterValue": "1"}],
                                                     "Marker": "p2"})
        stub.add_response("describe_db_parameters", {"Parameters": [{"ParameterName": "b", "ParameterValue": "1"}],
                                                     "Marker": "p3"})
        stub.add_response("describe_db_parameters", {"Parameters": [
            {"ParameterName": "rds.force_ssl", "ParameterValue": "1"}]})
        live = read(stubbed, Params=group)
        stub.assert_no_pending_responses()
    assert live.resources["Params"].properties["Parameters"] == {"a": "1", "b": "1", "rds.force_ssl": "1"}
    assert stubbed.log.calls.count("rds:DescribeDBParameters") == 3


def test_a_parameter_apply_status_in_another_case_is_error(stubbed):
    with Stubber(stubbed.client("rds")) as stub:
        answer = db_answer()
        answer["DBInstances"][0]["DBParameterGroups"][0]["ParameterApplyStatus"] = "IN-SYNC"
        stub.add_response("describe_db_instances", answer)
        stub.add_response("describe_db_snapshots", {"DBSnapshots": []})
        live = read(stubbed, Db=DB)
    assert live.resources["Db"].state == livestack.ReadState.ERROR
    assert "ParameterApplyStatus 'IN-SYNC', which AWS spells otherwise" in live.resources["Db"].detail


# Residency: what the rules of the data stores' copies and the server certificate read.
NOW = datetime.now(UTC)  # the certificate rule judges the time left from now
DB_ARN = f"arn:aws:rds:ap-northeast-1:{ACCOUNT}:db:rds-res"


def db_answer_res(**extra) -> dict:
    """rds-res as DescribeDBInstances answers it (its certificate valid for 400 days from now), with `extra`."""
    return {"DBInstances": [{
        "DBInstanceIdentifier": "rds-res", "DBInstanceArn": DB_ARN, "Engine": "postgres", "MultiAZ": True,
        "BackupRetentionPeriod": 1, "PubliclyAccessible": False, "StorageEncrypted": True, "VpcSecurityGroups": [],
        "DBParameterGroups": [{"DBParameterGroupName": "rds-params-res", "ParameterApplyStatus": "in-sync"}],
        "DBInstanceStatus": "available", "ReadReplicaDBInstanceIdentifiers": [],
        "CertificateDetails": {"CAIdentifier": "rds-ca-rsa2048-g1", "ValidTill": NOW + timedelta(days=400)},
        **extra}]}


def test_backups_replicated_to_another_region_and_a_replica_there_fail_named(stubbed):
    replica = f"arn:aws:rds:us-east-1:{ACCOUNT}:db:rds-res-virginia"
    backups = f"arn:aws:rds:us-west-2:{ACCOUNT}:auto-backup:ab-0123456789abcdefghijklmnopqrst"
    with Stubber(stubbed.client("rds")) as stub:
        stub.add_response("describe_db_instances", db_answer_res(
            ReadReplicaDBInstanceIdentifiers=[replica],
            DBInstanceAutomatedBackupsReplications=[{"DBInstanceAutomatedBackupsArn": backups}]))
        stub.add_response("describe_db_snapshots", {"DBSnapshots": []})
        live = read_one(stubbed, "Db", "AWS::RDS::DBInstance", "rds-res")
    found = judged(live, residency.RDS_COPIES_ID)
    assert sorted(f.status for f in found) == [Status.FAIL, Status.FAIL]
    reasons = " | ".join(f.reason for f in found)
    assert "automated backups are replicated to us-west-2" in reasons
    assert f"read replica {replica} in us-east-1" in reasons
    # the replica is beside the declaration too
    assert any(f"read replica {replica}" in f.reason for f in judged(live, "STK-STACK-002"))


def test_a_server_certificate_days_from_expiry_fails_and_one_without_details_is_error(stubbed):
    with Stubber(stubbed.client("rds")) as stub:
        stub.add_response("describe_db_instances", db_answer_res(CertificateDetails={
            "CAIdentifier": "rds-ca-rsa2048-g1", "ValidTill": NOW + timedelta(days=30, hours=1)}))
        stub.add_response("describe_db_snapshots", {"DBSnapshots": []})
        live = read_one(stubbed, "Db", "AWS::RDS::DBInstance", "rds-res")
    [finding] = judged(live, stk_rds.CA_EXPIRY_ID)
    assert finding.status is Status.FAIL and "(rds-ca-rsa2048-g1) expires on" in finding.reason
    assert "in 30 day(s); at least 90 are required" in finding.reason
    answer = db_answer_res()
    del answer["DBInstances"][0]["CertificateDetails"]
    with Stubber(stubbed.client("rds")) as stub:
        stub.add_response("describe_db_instances", answer)
        stub.add_response("describe_db_snapshots", {"DBSnapshots": []})
        live = read_one(stubbed, "Db", "AWS::RDS::DBInstance", "rds-res")
    assert [f.status for f in judged(live, stk_rds.CA_EXPIRY_ID)] == [Status.ERROR]
    assert {f.status for f in judged(live, residency.RDS_COPIES_ID)} == {Status.PASS}


def test_an_instance_without_its_replica_list_is_error_not_a_pass(stubbed):
    answer = db_answer_res()
    del answer["DBInstances"][0]["ReadReplicaDBInstanceIdentifiers"]
    with Stubber(stubbed.client("rds")) as stub:
        stub.add_response("describe_db_instances", answer)
        template = {"Resources": {"Db": {"Type": "AWS::RDS::DBInstance", "Properties": {}}}}
        summaries = [{"LogicalResourceId": "Db", "ResourceType": "AWS::RDS::DBInstance",
                      "PhysicalResourceId": "rds-res", "ResourceStatus": "CREATE_COMPLETE"}]
        live = livestack.read_stack(stubbed, build("TapStackres", template, summaries, "res"), account=ACCOUNT,
                                    max_workers=1)
    assert live.resources["Db"].state == livestack.ReadState.ERROR
    assert "without 'ReadReplicaDBInstanceIdentifiers'" in live.resources["Db"].detail
