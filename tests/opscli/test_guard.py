"""The read-only guard covers every call a run makes, including those botocore makes for itself to obtain
credentials (a profile that assumes a role): they are logged, let through as credential calls, and never leave for
anywhere but the endpoint the run was pointed at."""

from __future__ import annotations

import json

import pytest

from opscli import core, targets
from opscli.aws import CREDENTIAL_OPERATIONS, Aws, EndpointViolation, new_session
from opscli.cli import main
from platform_spec.result import Status

ROLE = "arn:aws:iam::123456789012:role/opscli-auditor"


@pytest.fixture
def role_profile(tmp_path, monkeypatch):
    """A profile `auditor` that assumes a role from a `base` profile's keys, and no credentials anywhere else."""
    config = tmp_path / "config"
    config.write_text(f"[profile auditor]\nrole_arn = {ROLE}\nsource_profile = base\nregion = ap-northeast-1\n\n"
                      "[profile base]\naws_access_key_id = AKIAEXAMPLEBASE\naws_secret_access_key = base-secret\n")
    for key in ("AWS_ACCESS_KEY_ID", "AWS_SECRET_ACCESS_KEY", "AWS_SESSION_TOKEN", "AWS_PROFILE",
                "AWS_ENDPOINT_URL"):
        monkeypatch.delenv(key, raising=False)
    monkeypatch.setenv("AWS_CONFIG_FILE", str(config))
    monkeypatch.setenv("AWS_SHARED_CREDENTIALS_FILE", str(tmp_path / "none"))
    monkeypatch.setenv("AWS_EC2_METADATA_DISABLED", "true")
    return "auditor"


def test_a_role_profile_assumes_its_role_through_the_guard_and_into_the_call_log(role_profile, moto_env):
    aws = Aws(profile=role_profile, max_attempts=1)
    report = core.audit(aws, targets.from_suffix("nostack"))
    # The first read asks for credentials as it is signed: the role is assumed then, through the same guard.
    assert aws.log.calls[:2] == ["cloudformation:GetTemplate", "sts:AssumeRole"]
    assert [f.status for f in report.findings] == [Status.ERROR]  # the stack does not exist: nothing to vouch for
    assert set(aws.log.calls) - core.declared_operations() == {"sts:AssumeRole"}
    assert "sts:AssumeRole" in CREDENTIAL_OPERATIONS


def test_credential_calls_are_the_only_non_reads_let_through(moto_env):
    aws = Aws(session=new_session(region_name="ap-northeast-1"), max_attempts=1)
    answer = aws.client("sts").assume_role(RoleArn=ROLE, RoleSessionName="opscli")
    assert answer["Credentials"]["AccessKeyId"] and aws.log.calls == ["sts:AssumeRole"]


def test_a_role_profile_never_sends_its_sts_call_past_a_given_endpoint(role_profile, moto_env):
    """--endpoint-url reaches the clients opscli makes, not the STS client botocore makes for a role profile
    (which reads only the profile and AWS_ENDPOINT_URL): that request is refused before it is sent."""
    aws = Aws(profile=role_profile, endpoint_url="http://127.0.0.1:9", max_attempts=1)
    with pytest.raises(EndpointViolation, match=r"refused a request to https://sts\.ap-northeast-1\.amazonaws\.com"):
        aws.client("cloudformation").get_template(StackName="TapStackx")
    assert aws.log.calls == ["cloudformation:GetTemplate", "sts:AssumeRole"]


def test_the_cli_with_a_role_profile_against_the_emulator_logs_the_assume_role(role_profile, monkeypatch, capsys):
    from localenv.emulator import moto_server

    with moto_server() as endpoint:
        monkeypatch.setenv("AWS_ENDPOINT_URL", endpoint)
        code = main(["audit", "--suffix", "nostack", "--profile", role_profile, "-v", "-o", "json"])
    captured = capsys.readouterr()
    # The role was assumed at the emulator (else: EndpointViolation, or no credentials), and CloudFormation then
    # answered that there is no such stack: could not look, exit 3.
    assert code == 3 and json.loads(captured.out)["findings"][0]["status"] == "ERROR"
    assert "stack TapStacknostack does not exist" in captured.out


def test_a_session_handed_to_a_second_aws_carries_one_guard(moto_env):
    session = new_session(region_name="ap-northeast-1")
    first = Aws(session=session, max_attempts=1)
    second = Aws(session=session, max_attempts=1)
    second.client("sts").get_caller_identity()
    assert second.log.calls == ["sts:GetCallerIdentity"] and first.log.calls == []


def test_iam_policy_says_what_a_role_profile_needs_on_stderr_only(capsys):
    assert main(["iam-policy"]) == 0
    captured = capsys.readouterr()
    json.loads(captured.out)  # the document alone on stdout
    assert "sts:AssumeRole" in captured.err and "trust policy" in captured.err
