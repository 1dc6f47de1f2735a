"""Residency of the data stores' copies, live: one copy outside Tokyo (or outside the account) at a time on the shared
local deployment; `opscli audit` (or `opscli rotate-check secrets`) alone fails it with its rule, on the resource
that was changed, naming where the copy went; and every case is put back (`Monitor.restored` and, after the last
case, `all_restored` prove it).

What the emulator cannot do is covered on stubbed answers in tests/opscli/readers/ (test_rds.py, test_kms.py):
automated backups replicated to another region (moto has no StartDBInstanceAutomatedBackupsReplication), a server
certificate days from expiry (the emulator's CAs end in 2024 or after 2061), and a multi-Region project key with a
replica (AWS itself cannot make the declared single-Region key multi-Region: MultiRegion is fixed when a key is
created)."""

from __future__ import annotations

import contextlib

import pytest

from opscli import core, stackcheck, targets
from opscli.model import exit_code, path_status
from platform_spec.rules import stk_rds, stk_secret_live
from platform_spec.rules import stk_res_stores as residency
from tests.integration.changes import Monitor

# They change the deployment one setting at a time and restore it, as tests/integration/test_drift.py does; the
# group keeps them on one worker (and its deployment), beside the drift group on another.
pytestmark = [pytest.mark.synth, pytest.mark.xdist_group("residency")]

ELSEWHERE = "us-east-1"
OUTSIDER = "999999999999"



def audit(deployment) -> tuple[int, list[dict], list[dict] | None]:
    """`opscli audit`'s core in process, on the deployment's shared clients: (its exit code as the CLI decides it,
    its findings and its paths across the perimeter, as its JSON report has them)."""
    report = core.audit(deployment.aws, targets.from_outputs(deployment.outputs_file))
    code, _ = core.conclude(report)
    paths = [{**path.to_dict(), "status": getattr(path_status(path, report.findings), "value", None)}
             for path in report.paths or []]
    return code, [f.to_dict() for f in report.findings], paths


def rotate_check(deployment) -> tuple[int, list[dict], list[dict] | None]:
    """`opscli rotate-check secrets`'s core in process, as `audit` (no paths). The commands themselves are tested in
    tests/opscli."""
    report = core.rotate_secrets(deployment.aws, targets.from_outputs(deployment.outputs_file))
    code, _ = core.conclude(report)
    return code, [f.to_dict() for f in report.findings], None


def judged_as_audited(monitor: Monitor, writes: list, *, whole: bool = False) -> tuple[int, list[dict], list[dict]]:
    """What a monitor run judges for a case's writes (or, `whole`, a read of the whole stack), as `audit` gives the
    audit of the whole deployment: (exit code, findings, paths across the perimeter with their status). The rest of
    the deployment is the session's baseline, every check PASS, and no path there leaves (the first test)."""
    judged = monitor.judge(list(writes), whole=whole)
    paths = [{**path.to_dict(), "status": getattr(path_status(path, judged.audit), "value", None)}
             for path in (stackcheck.perimeter_paths(judged.live) if judged.live else [])]
    return exit_code(judged.audit), [f.to_dict() for f in judged.audit], paths


def elsewhere(deployment, service: str):
    return deployment.session.client(service, region_name=ELSEWHERE, endpoint_url=deployment.endpoint_url)


# --- the cases: each makes one copy outside and yields what the finding must name ---------------------------

@contextlib.contextmanager
def read_replica_in_virginia(d):
    rds, virginia = d.client("rds"), elsewhere(d, "rds")
    source = rds.describe_db_instances(DBInstanceIdentifier=d.outputs["DbInstanceIdentifier"])["DBInstances"][0]
    # A replica in another region takes a parameter group of that region (the declared one is Tokyo's).
    virginia.create_db_parameter_group(DBParameterGroupName="copy-params", DBParameterGroupFamily="postgres17",
                                       Description="the replica's")
    try:
        replica = virginia.create_db_instance_read_replica(
            DBInstanceIdentifier="copy-in-virginia", SourceDBInstanceIdentifier=source["DBInstanceArn"],
            DBInstanceClass=source["DBInstanceClass"], DBParameterGroupName="copy-params")["DBInstance"]
        try:
            yield replica["DBInstanceArn"]
        finally:
            virginia.delete_db_instance(DBInstanceIdentifier="copy-in-virginia", SkipFinalSnapshot=True)
    finally:
        virginia.delete_db_parameter_group(DBParameterGroupName="copy-params")


@contextlib.contextmanager
def snapshot_shared_with_another_account(d):
    rds = d.client("rds")
    rds.create_db_snapshot(DBSnapshotIdentifier="for-a-partner", DBInstanceIdentifier=d.outputs["DbInstanceIdentifier"])
    try:
        rds.modify_db_snapshot_attribute(DBSnapshotIdentifier="for-a-partner", AttributeName="restore",
                                         ValuesToAdd=[OUTSIDER])
        yield f"manual snapshot for-a-partner may be restored by account {OUTSIDER}"
    finally:
        rds.delete_db_snapshot(DBSnapshotIdentifier="for-a-partner")


@contextlib.contextmanager
def file_system_replicated_to_virginia(d):
    efs, fs = d.client("efs"), d.outputs["EfsFileSystemId"]
    destination = efs.create_replication_configuration(SourceFileSystemId=fs, Destinations=[{"Region": ELSEWHERE}])
    try:
        yield f"replicated to {destination['Destinations'][0]['FileSystemId']} in {ELSEWHERE}"
    finally:
        efs.delete_replication_configuration(SourceFileSystemId=fs)


@contextlib.contextmanager
def server_certificate_expired(d):
    """The instance moved back to rds-ca-2019, which ended in August 2024 (a CA near its end cannot be chosen
    here: the emulator knows AWS's CAs, which end in 2024 or after 2061)."""
    rds, name = d.client("rds"), d.outputs["DbInstanceIdentifier"]
    declared = rds.describe_db_instances(DBInstanceIdentifier=name)["DBInstances"][0]["CACertificateIdentifier"]
    rds.modify_db_instance(DBInstanceIdentifier=name, CACertificateIdentifier="rds-ca-2019", ApplyImmediately=True)
    try:
        yield "the server certificate (rds-ca-2019) expired on 2024-08-22"
    finally:
        rds.modify_db_instance(DBInstanceIdentifier=name, CACertificateIdentifier=declared, ApplyImmediately=True)


@contextlib.contextmanager
def secret_replicated_to_virginia(d):
    sm, name = d.client("secretsmanager"), d.outputs["DbSecretName"]
    sm.replicate_secret_to_regions(SecretId=name, AddReplicaRegions=[{"Region": ELSEWHERE}])
    try:
        yield f"replicated to {ELSEWHERE}"
    finally:
        sm.remove_regions_from_replication(SecretId=name, RemoveReplicaRegions=[ELSEWHERE])
        with contextlib.suppress(Exception):  # the replica in Virginia, if the emulator kept it
            elsewhere(d, "secretsmanager").delete_secret(SecretId=name, ForceDeleteWithoutRecovery=True)


@contextlib.contextmanager
def secret_scheduled_for_deletion(d):
    sm, name = d.client("secretsmanager"), d.outputs["DbSecretName"]
    deleted = sm.delete_secret(SecretId=name, RecoveryWindowInDays=7)["DeletionDate"]
    try:
        yield f"scheduled for deletion on {deleted:%Y-%m-%d}"
    finally:
        sm.restore_secret(SecretId=name)


# name -> (the change, the command that fails it, the rule, the changed resource as the finding names it)
CASES = {
    "read-replica-in-virginia": (read_replica_in_virginia, audit, residency.RDS_COPIES_ID, "DbInstanceIdentifier"),
    "snapshot-shared-with-another-account": (snapshot_shared_with_another_account, audit,
                                             residency.RDS_SNAPSHOTS_ID, "DbInstanceIdentifier"),
    "file-system-replicated-to-virginia": (file_system_replicated_to_virginia, audit, residency.EFS_REPLICATION_ID,
                                           "EfsFileSystemId"),
    "server-certificate-expired": (server_certificate_expired, audit, stk_rds.CA_EXPIRY_ID, "DbInstanceIdentifier"),
    "secret-replicated-to-virginia": (secret_replicated_to_virginia, rotate_check, residency.SECRET_REPLICAS_ID,
                                      "DbSecretName"),
    "secret-scheduled-for-deletion": (secret_scheduled_for_deletion, rotate_check, stk_secret_live.DELETION_ID,
                                      "DbSecretName"),
}
# Made by a call in another region (the copy is created where it goes): no CloudTrail record of it reaches the
# monitor in the stack's region.
MADE_ELSEWHERE = {"read-replica-in-virginia"}
AUDITED = {residency.RDS_COPIES_ID, residency.RDS_SNAPSHOTS_ID, residency.EFS_REPLICATION_ID,
           residency.KMS_MULTI_REGION_ID, stk_rds.CA_EXPIRY_ID}
SECRETS = {residency.SECRET_REPLICAS_ID, stk_secret_live.DELETION_ID}


def test_the_deployment_as_declared_passes_every_rule_of_the_data_stores_copies(local, monitor, all_restored):
    """As deployed from the template, every new rule has a verdict on every resource it judges, and it is PASS (the
    audit's judgement of the read the restores are compared with, as its JSON report has it)."""
    findings = stackcheck.judge(monitor.before, expected_tags=monitor.tags)
    code, found = exit_code(findings), [f.to_dict() for f in findings]
    paths = [{**path.to_dict(), "status": getattr(path_status(path, findings), "value", None)}
             for path in stackcheck.perimeter_paths(monitor.before)]
    assert code == 0 and not [p for p in paths if p["outside"]]
    mine = [f for f in found if f["rule_id"] in AUDITED]
    assert {f["rule_id"] for f in mine} == AUDITED and {f["status"] for f in mine} == {"PASS"}, mine
    code, found, _paths = rotate_check(local)
    mine = [f for f in found if f["rule_id"] in SECRETS]
    assert code == 0 and {f["rule_id"] for f in mine} == SECRETS and {f["status"] for f in mine} == {"PASS"}, mine


@pytest.mark.parametrize("name", sorted(CASES))
def test_a_copy_outside_fails_with_its_rule_naming_the_resource_and_where_it_went(local, local_deployment, monitor,
                                                                                 all_restored, baseline_posture, name):
    """An audit's case is judged on what the posture monitor reads for its writes (so it also proves the monitor
    catches it), but for a copy made from another region: the monitor of Tokyo never receives that call, and the
    whole stack is read, as the audit reads it. A rotate-check's case runs `opscli rotate-check secrets`."""
    from tests.conftest import assert_restored

    change, command, rule_id, output = CASES[name]
    from_elsewhere = name in MADE_ELSEWHERE
    with monitor.recording(local.session) as writes:
        with change(local) as destination:
            if command is audit:
                code, found, paths = judged_as_audited(monitor, writes, whole=from_elsewhere)
            else:
                code, found, paths = command(local)
    if from_elsewhere:
        assert_restored(local_deployment, baseline_posture)
    elif command is audit:
        monitor.restored(writes, baseline_posture)
    else:
        monitor.rotation_restored(baseline_posture)
    failed = [f for f in found if f["status"] == "FAIL"]
    if rule_id in (residency.RDS_COPIES_ID, residency.RDS_SNAPSHOTS_ID, residency.EFS_REPLICATION_ID):
        # the copy is a path out of the resource in the audit's report too, red (FAIL), to where it went
        crossing = [p for p in paths if p["outside"]]
        assert crossing and {(p["direction"], p["rule_id"], p["status"]) for p in crossing} == \
            {("out", rule_id, "FAIL")}, crossing
    assert code == 1, found
    mine = [f for f in failed if f["rule_id"] == rule_id]
    assert mine, f"{rule_id} did not fail: {[(f['rule_id'], f['reason']) for f in failed]}"
    assert all(local.outputs[output] in f["resource"] for f in mine), mine
    assert any(destination in f["reason"] for f in mine), [f["reason"] for f in mine]
    # nothing else of these rules fails, and nothing unrelated: a copy beside the declaration is also STK-STACK-002
    assert {f["rule_id"] for f in failed} <= {rule_id, "STK-STACK-002"}, failed
