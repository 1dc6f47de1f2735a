"""`restored_deployment`'s proof (tests/restored.py) on the session's shared deployment: a change a test leaves
behind fails it, whatever kind it is (each kind the tests that ask for `restored_deployment` make, an IAM write of
the account and of the stack's own role, and a write the posture monitor's planner cannot place on the stack, which
makes it read and judge the whole deployment); a change put back passes, read only where the writes touched.

Each case breaks one setting, proves the check fails with it left behind, puts it back (in a `finally`) and proves
the check passes again, so the deployment leaves this module as it came. The shared deployment's last look at the
session's end (`left_changed_at_the_end`, for a test that did not ask for the check) is proved the same way."""

from __future__ import annotations

import contextlib
import json
from collections.abc import Callable, Iterator
from typing import Any

import pytest

from opscli.aws import new_session
from platform_spec.stacks import ALLOWED_REGION
from tests.restored import Heard, Restore


@pytest.fixture
def clients(local_deployment) -> Callable[[str], Any]:
    session = new_session(aws_access_key_id="local-emulator", aws_secret_access_key="local-emulator",
                          region_name="ap-northeast-1")
    return lambda service: session.client(service, endpoint_url=local_deployment.endpoint)


class WholeRead(Exception):
    """The check asked for the whole read (`whole_read_asked`)."""


@pytest.fixture
def whole_read_asked(monkeypatch) -> None:
    """The check's whole read (tests.conftest.assert_restored, which tests/integration/test_drift.py proves fails a
    deployment left changed) stood in for by WholeRead: the case proves the check takes it, not what it finds."""
    import tests.conftest

    def asked(*_: Any) -> None:
        raise WholeRead
    monkeypatch.setattr(tests.conftest, "assert_restored", asked)


@contextlib.contextmanager
def left_then_put_back(check: Restore, baseline: list, breaks: Callable[[], Any], puts_back: Callable[[], Any],
                       *, fails: type[Exception] = AssertionError) -> Iterator[tuple[Heard, Heard]]:
    """The change made and left: the check must fail (with `fails`); then made and put back: it must pass. Yields
    what was heard each time (the deployment is restored in either case)."""
    with check.hearing() as left:
        breaks()
    try:
        with pytest.raises(fails, match="left the shared deployment changed" if fails is AssertionError else None):
            check.check(left, baseline)
    finally:
        with check.hearing() as restored:
            puts_back()
    check.check(restored, baseline)
    yield left, restored


def test_a_change_no_test_asked_to_check_is_found_at_the_sessions_end(local_deployment, baseline_posture,
                                                                      clients, synth):
    """What `local_deployment` runs last: a change left by a test that did not ask for `restored_deployment`
    (nobody heard its write) fails the session's end, named. Put back, it passes the session's real end (the same
    function, in `local_deployment`'s teardown, after this module's other cases)."""
    from tests.conftest import left_changed_at_the_end

    logs, name = clients("logs"), "/ecs/metadata-api-test"
    logs.delete_retention_policy(logGroupName=name)
    try:
        with pytest.raises(AssertionError, match="left the shared deployment changed") as found:
            left_changed_at_the_end(local_deployment)
        assert "'drift.RetentionInDays', 'AWS::Logs::LogGroup" in str(found.value) and name in str(found.value)
    finally:
        logs.put_retention_policy(logGroupName=name, retentionInDays=synth.config.log_retention_days)


def test_a_forwarding_rule_a_test_changed_in_another_region_is_found_at_the_sessions_end(restore_check):
    """Writes served outside the stack's region reach the check through a rule in each region; a test that
    deleted or changed one (a rule of another target, disabled) made the check deaf there, and `restore_check`'s
    end names the region. Put back, none is deaf."""
    from tests.restored import NAME

    writes = restore_check.writes
    assert writes.deaf() == [] and len(writes.elsewhere) > 30
    oregon, ohio = (new_session(aws_access_key_id="local-emulator", aws_secret_access_key="local-emulator",
                                region_name=region).client("events", endpoint_url=writes.endpoint)
                    for region in ("us-west-2", "us-east-2"))
    try:
        oregon.remove_targets(Rule=NAME, Ids=[NAME])
        oregon.delete_rule(Name=NAME)
        ohio.disable_rule(Name=NAME)
        assert writes.deaf() == ["us-east-2", "us-west-2"]
    finally:
        for region in ("us-west-2", "us-east-2"):
            writes._forward(region)
    assert writes.deaf() == []


def test_the_session_end_looks_are_taken_by_the_fixtures_teardowns(monkeypatch):
    """The two cases above prove what `left_changed_at_the_end` and `Writes.deaf` find, called by hand; this one
    proves `local_deployment`'s and `restore_check`'s teardowns call them (either call dropped left both green)."""
    import types

    import tests.conftest as conftest
    import tests.restored

    deployment, looked = types.SimpleNamespace(), []

    @contextlib.contextmanager
    def deployed(synth: Any, directory: Any, **extra: Any) -> Iterator[Any]:
        yield deployment

    monkeypatch.setattr(conftest, "deployment_process", deployed)
    monkeypatch.setattr(conftest, "left_changed_at_the_end", looked.append)
    shared = conftest.local_deployment.__wrapped__(None, types.SimpleNamespace(mktemp=lambda name: name))
    assert next(shared) is deployment and looked == []
    with pytest.raises(StopIteration):
        next(shared)
    assert looked == [deployment]

    class Deaf:
        def __init__(self, deployment: Any) -> None:
            self.writes = types.SimpleNamespace(deaf=lambda: ["us-west-2"])

    monkeypatch.setattr(tests.restored, "Restore", Deaf)
    check = conftest.restore_check.__wrapped__(deployment, [])
    assert isinstance(next(check), Deaf)
    with pytest.raises(AssertionError, match=r"the writes of \['us-west-2'\]"):
        next(check)


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


def test_a_way_in_left_on_a_security_group_and_tags_left_on_a_bucket_fail(restore_check, baseline_posture, clients,
                                                                         local_deployment):
    """The kinds the drift and perimeter modules make: a rule added to a group of the stack, a bucket's tags."""
    ec2, s3 = clients("ec2"), clients("s3")
    [group] = [r.physical_id for r in restore_check.monitor.scope.resources
               if r.type == "AWS::EC2::SecurityGroup"][:1]
    way_in = {"GroupId": group, "IpPermissions": [{"IpProtocol": "tcp", "FromPort": 22, "ToPort": 22,
                                                   "IpRanges": [{"CidrIp": "0.0.0.0/0"}]}]}
    with left_then_put_back(restore_check, baseline_posture, lambda: ec2.authorize_security_group_ingress(**way_in),
                            lambda: ec2.revoke_security_group_ingress(**way_in)) as (left, _):
        assert restore_check.whole_reasons(left) == []
    bucket = local_deployment.outputs["IngestBucketName"]
    tags = s3.get_bucket_tagging(Bucket=bucket)["TagSet"]
    with left_then_put_back(restore_check, baseline_posture,
                            lambda: s3.put_bucket_tagging(Bucket=bucket, Tagging={"TagSet": [
                                *tags, {"Key": "left-by", "Value": "a-test"}]}),
                            lambda: s3.put_bucket_tagging(Bucket=bucket, Tagging={"TagSet": tags})) as (left, _):
        assert restore_check.whole_reasons(left) == []


def test_a_change_a_process_of_its_own_left_fails(restore_check, baseline_posture, clients, local_deployment):
    """A write from another process (not a client of the test's, nor Python's: curl) is heard as well: the emulator
    records what it serves."""
    import subprocess

    key = _kms_key(clients)

    def breaks() -> None:
        subprocess.run(["curl", "-sf", "-o", "/dev/null", "-X", "POST", local_deployment.endpoint + "/",
                        "-H", "X-Amz-Target: TrentService.DisableKeyRotation",
                        "-H", "Content-Type: application/x-amz-json-1.1",
                        "-H", "Authorization: AWS4-HMAC-SHA256 Credential=local-emulator/20260101/ap-northeast-1/kms/"
                              "aws4_request, SignedHeaders=host, Signature=0",
                        "-d", json.dumps({"KeyId": key})], check=True, timeout=60)

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


def test_an_iam_user_left_through_another_region_fails(restore_check, baseline_posture, local_deployment):
    """IAM is one for the account whatever region a call is signed for: a write signed for a region the stack does not
    live in is heard too."""
    iam = new_session(aws_access_key_id="local-emulator", aws_secret_access_key="local-emulator",
                      region_name="eu-west-2").client("iam", endpoint_url=local_deployment.endpoint)
    with left_then_put_back(restore_check, baseline_posture, lambda: iam.create_user(UserName="left-elsewhere"),
                            lambda: iam.delete_user(UserName="left-elsewhere")) as (left, _):
        assert [c.name for c in left.changes] == ["CreateUser"]


def _s3(local_deployment, region: str, *, key: str = "local-emulator", secret: str = "local-emulator",
        token: str | None = None) -> Any:
    """An S3 client of the deployment's emulator signed for `region` (and, given them, another identity's keys)."""
    return new_session(aws_access_key_id=key, aws_secret_access_key=secret, aws_session_token=token,
                       region_name=region).client("s3", endpoint_url=local_deployment.endpoint)


def _versioning_left_suspended(s3, restore_check, baseline_posture, local_deployment, clients):
    """The stack's bucket's versioning suspended through `s3` and put back through the stack's own client, the
    whole read being what fails the leftover (`left_then_put_back`)."""
    bucket = local_deployment.outputs["IngestBucketName"]
    return left_then_put_back(
        restore_check, baseline_posture,
        lambda: s3.put_bucket_versioning(Bucket=bucket, VersioningConfiguration={"Status": "Suspended"}),
        lambda: clients("s3").put_bucket_versioning(Bucket=bucket, VersioningConfiguration={"Status": "Enabled"}),
        fails=WholeRead)


def test_a_bucket_changed_through_another_region_reads_the_whole_deployment(restore_check, baseline_posture,
                                                                           local_deployment, clients,
                                                                           whole_read_asked):
    """S3's buckets are one for the account as well: a write to the stack's bucket signed for another region is
    heard, and (its record stating a region the stack does not live in) the whole deployment is read for it. Put
    back from the stack's region, what it touched reads as at the session's start."""
    s3 = _s3(local_deployment, "us-west-2")
    with _versioning_left_suspended(s3, restore_check, baseline_posture, local_deployment, clients) as (left, restored):
        assert [c.name for c in left.changes] == ["PutBucketVersioning"]
        assert restore_check.whole_reasons(restored) == []


@pytest.mark.parametrize("how", ["disabled", "deleted", "retargeted"])
def test_a_test_that_turns_off_what_hears_it_is_read_whole(restore_check, baseline_posture, clients,
                                                           whole_read_asked, how):
    """A write made after the rule that hears was turned off (disabled, deleted, sent elsewhere) is not heard: the
    whole deployment is read. The next test's rule is as made again."""
    from tests.restored import NAME

    events, kms, key = clients("events"), clients("kms"), _kms_key(clients)

    def breaks() -> None:
        if how == "disabled":
            events.disable_rule(Name=NAME)
        else:
            events.remove_targets(Rule=NAME, Ids=[NAME])
            if how == "deleted":
                events.delete_rule(Name=NAME)
        kms.disable_key_rotation(KeyId=key)

    with left_then_put_back(restore_check, baseline_posture, breaks, lambda: kms.enable_key_rotation(KeyId=key),
                            fails=WholeRead) as (left, _):
        assert left.lost and left.changes == []  # nothing heard, not even the turning off


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


@pytest.fixture
def asked_for_first(restore_check) -> Iterator[list[bool]]:
    """A fixture a test asks for before `restored_deployment`: set up before it and torn down after it. Whether the
    hearing was on during its setup (and, asserted, its teardown), where a fixture like it makes its writes."""
    seen = [restore_check.writes.hearing_now]
    yield seen
    assert restore_check.writes.hearing_now, "a fixture's teardown ran after the hearing ended: its writes unheard"


def test_the_fixtures_a_test_asks_for_before_it_write_within_the_hearing(asked_for_first, restored_deployment):
    """Begun in `restored_deployment` itself, the hearing missed such a fixture's setup: one that disabled the
    project key's rotation and never put it back passed (the whole read failed it)."""
    assert asked_for_first == [True]


def test_a_bucket_changed_through_a_region_without_a_bus_reads_the_whole_deployment(restore_check, baseline_posture,
                                                                                   local_deployment, clients,
                                                                                   whole_read_asked):
    """The emulator serves a request signed for any region, even one EventBridge has no bus in (none botocore lists),
    and S3's buckets are the account's whatever the region: the stack's bucket is changed, but no rule there can
    receive the record. The emulator logs the record it could not deliver, so the whole deployment is read (before,
    nothing was heard and the check passed a bucket left with its versioning suspended)."""
    s3 = _s3(local_deployment, "xx-nowhere-1")
    with _versioning_left_suspended(s3, restore_check, baseline_posture, local_deployment, clients) as (left, _):
        assert left.lost and left.changes == []


def test_a_bucket_changed_by_another_account_is_heard(restore_check, baseline_posture, local_deployment, clients,
                                                      whole_read_asked):
    """A write made as another account (credentials of a role assumed there, as the perimeter tests make): moto finds
    the stack's bucket by its name whatever account asks, and the record is put on the caller's account's bus."""
    sts = clients("sts")
    creds = sts.assume_role(RoleArn="arn:aws:iam::999999999999:role/outsider",
                            RoleSessionName="outsider")["Credentials"]
    s3 = _s3(local_deployment, ALLOWED_REGION, key=creds["AccessKeyId"], secret=creds["SecretAccessKey"],
             token=creds["SessionToken"])
    with _versioning_left_suspended(s3, restore_check, baseline_posture, local_deployment, clients) as (left, _):
        assert left.lost and left.changes == []  # put on 999999999999's bus, where nothing listens
