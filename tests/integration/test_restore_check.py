"""`restored_deployment`'s proof (tests/restored.py) on the session's shared deployment: a change a test leaves
behind fails it, whatever kind it is (each kind the tests that ask for `restored_deployment` make, an IAM write of
the account and of the stack's own role, and a write the posture monitor's planner cannot place on the stack, which
makes it read and judge the whole deployment); a change put back passes, read only where the writes touched.

Each case breaks one setting, proves the check fails with it left behind, puts it back (in a `finally`) and proves
the check passes again, so the deployment leaves this module as it came."""

from __future__ import annotations

import contextlib
import json
from collections.abc import Callable, Iterator
from typing import Any

import pytest

from opscli.aws import new_session
from tests.restored import Heard, Restore


@pytest.fixture
def clients(local_deployment) -> Callable[[str], Any]:
    session = new_session(aws_access_key_id="local-emulator", aws_secret_access_key="local-emulator",
                          region_name="ap-northeast-1")
    return lambda service: session.client(service, endpoint_url=local_deployment.endpoint)


@contextlib.contextmanager
def left_then_put_back(check: Restore, baseline: list, breaks: Callable[[], Any],
                       puts_back: Callable[[], Any]) -> Iterator[tuple[Heard, Heard]]:
    """The change made and left: the check must fail; then made and put back: it must pass. Yields what was heard
    each time (the deployment is restored in either case)."""
    with check.hearing() as left:
        breaks()
    try:
        with pytest.raises(AssertionError, match="left the shared deployment changed"):
            check.check(left, baseline)
    finally:
        with check.hearing() as restored:
            puts_back()
    check.check(restored, baseline)
    yield left, restored


def _kms_key(clients) -> str:
    return clients("kms").describe_key(KeyId="alias/kms-key-test")["KeyMetadata"]["KeyId"]


def test_a_log_group_left_without_retention_fails_on_what_it_touched(restore_check, baseline_posture, clients,
                                                                      synth):
    logs, name = clients("logs"), "/ecs/metadata-api-test"
    with left_then_put_back(restore_check, baseline_posture, lambda: logs.delete_retention_policy(logGroupName=name),
                            lambda: logs.put_retention_policy(logGroupName=name,
                                                              retentionInDays=synth.config.log_retention_days)) \
            as (left, _):
        assert [c.name for c in left.changes] == ["DeleteRetentionPolicy"]
        assert restore_check.whole_reasons(left) == []  # read only where the write touched


def test_a_key_left_without_rotation_fails(restore_check, baseline_posture, clients):
    kms, key = clients("kms"), _kms_key(clients)
    with left_then_put_back(restore_check, baseline_posture, lambda: kms.disable_key_rotation(KeyId=key),
                            lambda: kms.enable_key_rotation(KeyId=key)) as (left, _):
        assert restore_check.whole_reasons(left) == []


def test_a_database_left_without_its_log_export_fails(restore_check, baseline_posture, clients, local_deployment):
    rds, name = clients("rds"), local_deployment.outputs["DbInstanceIdentifier"]
    declared = rds.describe_db_instances(DBInstanceIdentifier=name)["DBInstances"][0]["EnabledCloudwatchLogsExports"]

    def exported() -> list[str]:
        return rds.describe_db_instances(DBInstanceIdentifier=name)["DBInstances"][0]["EnabledCloudwatchLogsExports"]

    with left_then_put_back(
            restore_check, baseline_posture,
            lambda: rds.modify_db_instance(DBInstanceIdentifier=name,
                                           CloudwatchLogsExportConfiguration={"DisableLogTypes": ["postgresql"]}),
            lambda: rds.modify_db_instance(DBInstanceIdentifier=name, CloudwatchLogsExportConfiguration={
                "DisableLogTypes": exported(), "EnableLogTypes": declared})) as (left, _):
        assert restore_check.whole_reasons(left) == []


def test_a_change_a_process_of_its_own_left_fails(restore_check, baseline_posture, clients, local_deployment):
    """A write from another process (not a client of the test's own) is heard as well: the emulator records it."""
    import subprocess
    import sys

    from tests.conftest import unmeasured

    key = _kms_key(clients)
    script = ("import boto3,sys; boto3.client('kms', endpoint_url=sys.argv[1], region_name='ap-northeast-1', "
              "aws_access_key_id='x', aws_secret_access_key='x').disable_key_rotation(KeyId=sys.argv[2])")

    def breaks() -> None:
        import os
        subprocess.run([sys.executable, "-c", script, local_deployment.endpoint, key], check=True,
                       env=unmeasured(os.environ), timeout=60)

    kms = clients("kms")
    with left_then_put_back(restore_check, baseline_posture, breaks, lambda: kms.enable_key_rotation(KeyId=key)):
        pass


def test_an_iam_user_left_in_the_account_fails(restore_check, baseline_posture, clients):
    iam = clients("iam")
    with left_then_put_back(restore_check, baseline_posture, lambda: iam.create_user(UserName="left-by-a-test"),
                            lambda: (iam.create_user(UserName="made-and-removed"),
                                     iam.delete_user(UserName="made-and-removed"),
                                     iam.delete_user(UserName="left-by-a-test"))) as (left, restored):
        assert {c.source for c in left.changes} == {"iam.amazonaws.com"} and restore_check.whole_reasons(left) == []
        assert [c.name for c in restored.changes] == ["CreateUser", "DeleteUser", "DeleteUser"]


def test_a_policy_left_on_a_role_of_the_stack_fails(restore_check, baseline_posture, clients):
    iam = clients("iam")
    [role] = [r for r in iam.list_roles()["Roles"] if r["RoleName"] in restore_check.monitor.idx.names
              and restore_check.monitor.idx.names[r["RoleName"]] & restore_check.iam_resources][:1]
    document = json.dumps({"Version": "2012-10-17", "Statement": [{"Effect": "Allow", "Action": "s3:GetObject",
                                                                    "Resource": "*"}]})
    with left_then_put_back(restore_check, baseline_posture,
                            lambda: iam.put_role_policy(RoleName=role["RoleName"], PolicyName="left-by-a-test",
                                                        PolicyDocument=document),
                            lambda: iam.delete_role_policy(RoleName=role["RoleName"], PolicyName="left-by-a-test")):
        pass


def test_a_write_the_planner_cannot_place_reads_the_whole_deployment(restore_check, baseline_posture, clients):
    """A secret the stack reads but does not declare, scheduled for deletion: no resource of the stack is named, so
    the whole deployment is read and judged (the rotate-check fails it)."""
    secrets, name = clients("secretsmanager"), "api-key-secret-test"
    with left_then_put_back(restore_check, baseline_posture,
                            lambda: secrets.delete_secret(SecretId=name, RecoveryWindowInDays=7),
                            lambda: secrets.restore_secret(SecretId=name)) as (left, restored):
        assert restore_check.whole_reasons(left) == ["secretsmanager.amazonaws.com DeleteSecret names no resource "
                                                     "of the stack"]
        assert restore_check.whole_reasons(restored)


def test_what_falls_back_to_the_whole_read(restore_check, baseline_posture, clients):
    """An unreadable record and a write the emulator could not record are never taken as nothing changed."""
    assert restore_check.whole_reasons(Heard(unreadable=["an empty body"])) == \
        ["a record the monitor could not read (an empty body)"]
    assert restore_check.whole_reasons(Heard(lost=True))
    # nothing heard: nothing to read again
    with restore_check.hearing() as heard:
        clients("kms").list_keys()
    assert heard.changes == [] and restore_check.check(heard, baseline_posture) == []
