"""The data stores' copies (STK-RES-005 to 009) and the database's server certificate (STK-RDS-004), on plain data:
what passes, what fails and what the finding names."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest

from platform_spec.result import Status
from platform_spec.rules import stk_rds
from platform_spec.rules import stk_res_stores as res

HOME = "123456789012"
DB_ARN = f"arn:aws:rds:ap-northeast-1:{HOME}:db:rds-fx"
NOW = datetime(2026, 12, 6, tzinfo=UTC)


# --- RDS ------------------------------------------------------------------------------------------------

@pytest.mark.parametrize("props, named", [
    ({"AutomaticBackupReplicationRegion": "us-east-1"}, "automated backups are replicated to us-east-1"),
    ({"AutomaticBackupReplicationRegion": {"Ref": "Region"}}, "not a fixed region"),
    ({"SourceDBInstanceIdentifier": "arn:aws:rds:eu-west-1:123456789012:db:origin"},
     "a read replica of arn:aws:rds:eu-west-1:123456789012:db:origin, in eu-west-1"),
    ({"SourceDBInstanceIdentifier": "arn:aws:rds:ap-northeast-1:999999999999:db:origin"}, "in account 999999999999"),
    ({"SourceRegion": "us-west-2"}, "a read replica of an instance in us-west-2"),
])
def test_a_declared_copy_of_the_database_outside_fails_named(props, named):
    result = res.check_rds_copies(res.INSTANCE, props, HOME)
    assert result.status is Status.FAIL and named in result.reason, result


@pytest.mark.parametrize("props", [{}, {"AutomaticBackupReplicationRegion": "ap-northeast-1"},
                                   {"SourceDBInstanceIdentifier": "rds-primary"},
                                   {"SourceDBInstanceIdentifier": DB_ARN}])
def test_copies_of_the_database_in_tokyo_in_this_account_pass(props):
    assert res.check_rds_copies(res.INSTANCE, props, HOME).status is Status.PASS


def test_a_read_replica_in_another_region_fails_with_its_arn():
    replica = f"arn:aws:rds:us-east-1:{HOME}:db:copy-in-virginia"
    result = res.rds_replicas_in_japan({}, {"DBInstanceArn": DB_ARN, "ReadReplicas": ["rds-fx-replica", replica]})
    assert result.status is Status.FAIL
    assert result.reason.startswith(f"read replica {replica} in us-east-1") and "rds-fx-replica" not in result.reason
    assert res.rds_replicas_in_japan({}, {"DBInstanceArn": DB_ARN, "ReadReplicas": ["rds-fx-replica"]}).status \
        is Status.PASS
    assert res.rds_replicas_in_japan({}, {"DBInstanceArn": DB_ARN, "ReadReplicas": []}).reason == "no read replica"


@pytest.mark.parametrize("shared, named", [
    (["999999999999"], "manual snapshot s1 may be restored by account 999999999999"),
    (["all"], "may be restored by every AWS account (restore: all)"),
    ([HOME, "111122223333"], "restored by account 111122223333"),
])
def test_a_snapshot_another_account_may_restore_fails_naming_the_account(shared, named):
    facts = {"DBInstanceArn": DB_ARN, "SnapshotShares": [{"Snapshot": "s1", "SharedWith": shared}]}
    result = res.rds_snapshots_kept_in_account({}, facts)
    assert result.status is Status.FAIL and named in result.reason


def test_an_unshared_snapshot_or_one_shared_with_this_account_passes():
    facts = {"DBInstanceArn": DB_ARN, "SnapshotShares": [{"Snapshot": "s1", "SharedWith": []},
                                                         {"Snapshot": "s2", "SharedWith": [HOME]}]}
    assert res.rds_snapshots_kept_in_account({}, facts).status is Status.PASS


# --- EFS ------------------------------------------------------------------------------------------------

@pytest.mark.parametrize("destination, named", [
    ({"Region": "us-east-1"}, "replicated to a new file system in us-east-1"),
    ({"Region": "us-east-1", "FileSystemId": "fs-0123456789abcdef0"},
     "replicated to fs-0123456789abcdef0 in us-east-1"),
    ({"Region": "ap-northeast-1",
      "FileSystemId": "arn:aws:elasticfilesystem:ap-northeast-1:999999999999:file-system/fs-0123456789abcdef0"},
     "in account 999999999999"),
    ({"FileSystemId": "arn:aws:elasticfilesystem:eu-west-1:123456789012:file-system/fs-0123456789abcdef0"},
     "in eu-west-1"),
    ({"Region": {"Ref": "Elsewhere"}}, "not a fixed region"),
])
def test_a_replication_destination_outside_fails_named(destination, named):
    props = {"ReplicationConfiguration": {"Destinations": [destination]}}
    result = res.check_efs_replication(res.FILE_SYSTEM, props, HOME)
    assert result.status is Status.FAIL and named in result.reason, result


@pytest.mark.parametrize("props", [{}, {"ReplicationConfiguration": {"Destinations": [
    {"Region": "ap-northeast-1", "FileSystemId": "fs-0123456789abcdef0"}]}},
    {"ReplicationConfiguration": {"Destinations": [{"FileSystemId": {"Ref": "Other"}}]}}])
def test_replication_within_tokyo_and_this_account_passes(props):
    assert res.check_efs_replication(res.FILE_SYSTEM, props, HOME).status is Status.PASS


# --- KMS ------------------------------------------------------------------------------------------------

def test_a_multi_region_key_fails_and_its_replicas_are_named():
    assert res.check_kms_single_region(res.KEY, {"MultiRegion": True}).status is Status.FAIL
    assert res.check_kms_single_region(res.KEY, {"MultiRegion": "false"}).status is Status.PASS
    key = f"arn:aws:kms:ap-northeast-1:{HOME}:key/mrk-1234"
    replica = f"arn:aws:kms:us-east-1:{HOME}:key/mrk-1234"
    result = res.kms_replicas_in_japan({}, {"KeyArn": key, "MultiRegionKeys": {"Primary": key, "Replicas": [replica]}})
    assert result.status is Status.FAIL and f"replica key {replica} in us-east-1" in result.reason
    as_replica = res.kms_replicas_in_japan({}, {"KeyArn": key, "MultiRegionKeys": {"Primary": replica,
                                                                                   "Replicas": [key]}})
    assert as_replica.status is Status.FAIL and f"a replica of the primary key {replica}" in as_replica.reason
    assert res.kms_replicas_in_japan({}, {"KeyArn": key, "MultiRegionKeys": None}).status is Status.PASS
    assert res.kms_replicas_in_japan({}, {"KeyArn": key, "MultiRegionKeys": {"Primary": key, "Replicas": []}}) \
        .status is Status.PASS


# --- Secrets Manager ------------------------------------------------------------------------------------

SECRET = {"ARN": f"arn:aws:secretsmanager:ap-northeast-1:{HOME}:secret:db-fx-AbCdEf", "Name": "db-fx"}


@pytest.mark.parametrize("extra, named", [
    ({"ReplicationStatus": [{"Region": "us-east-1", "Status": "InSync"}]}, "replicated to us-east-1 (InSync)"),
    ({"PrimaryRegion": "eu-west-1"}, "a replica of the primary secret in eu-west-1"),
    ({"CrossAccountReplicas": [{"ReplicaSecretARN":
                                "arn:aws:secretsmanager:ap-northeast-1:999999999999:secret:copy-XyZ"}]},
     "in account 999999999999"),
    ({"CrossAccountPrimary": {"PrimarySecretARN": "arn:aws:secretsmanager:us-west-2:999999999999:secret:o-XyZ"}},
     "in us-west-2 and in account 999999999999"),
])
def test_a_secret_replica_outside_fails_named(extra, named):
    result = res.secret_replicas_in_japan({**SECRET, **extra})
    assert result.status is Status.FAIL and named in result.reason, result


def test_a_secret_in_tokyo_only_passes_and_a_garbled_replica_list_is_could_not_look():
    from platform_spec.result import CouldNotLook

    assert res.secret_replicas_in_japan({**SECRET, "PrimaryRegion": "ap-northeast-1"}).status is Status.PASS
    with pytest.raises(CouldNotLook):
        res.secret_replicas_in_japan({**SECRET, "ReplicationStatus": [{"Status": "InSync"}]})
    with pytest.raises(CouldNotLook):
        res.secret_replicas_in_japan({"Name": "no-arn"})


# --- the server certificate -----------------------------------------------------------------------------

@pytest.mark.parametrize("days, status, said", [
    (400, Status.PASS, "valid until 2028-01-10"),
    (stk_rds.CA_EXPIRY_DAYS, Status.PASS, "valid until"),
    (stk_rds.CA_EXPIRY_DAYS - 1, Status.FAIL, "in 89 day(s); at least 90 are required"),
    (-1, Status.FAIL, "expired on 2026-12-05"),
])
def test_the_server_certificate_expiring_within_the_policy_fails(days, status, said):
    facts = {"CertificateDetails": {"CAIdentifier": "rds-ca-rsa2048-g1", "ValidTill": NOW + timedelta(days=days)}}
    result = stk_rds.ca_certificate_current({}, facts, NOW)
    assert result.status is status and said in result.reason, result


@pytest.mark.parametrize("details", [None, {"CAIdentifier": "rds-ca-2019"}, {"ValidTill": "2030-01-01"}])
def test_an_answer_that_does_not_say_when_it_expires_is_error(details):
    result = stk_rds.ca_certificate_current({}, {"CertificateDetails": details}, NOW)
    assert result.status is Status.ERROR and "could not look" in result.reason
