"""A run that could not look says why: once on stderr (what could not be looked at, why, what to do) and whole in
every view; -v shows each AWS call. In-process moto and botocore's Stubber: no deployment."""

from __future__ import annotations

import html
import json
import socket

import boto3
import pytest
from botocore.stub import Stubber
from click.testing import CliRunner

from opscli import core, errors, targets
from opscli.aws import Aws, new_session
from opscli.checks import GRANT, LATER, REACH
from opscli.cli import State, cli
from opscli.explain import COULD_NOT_LOOK
from opscli.model import Finding, Report
from platform_spec import exit_codes
from platform_spec.result import Status
from tests.opscli.test_terminal import assert_fits, said

WRONG = "nosuch"


def run(*args: str, columns: int = 80):
    return CliRunner(env={"COLUMNS": str(columns)}).invoke(cli, [*args, "--no-history", "--no-color"], obj=State())


@pytest.mark.parametrize("command", [["audit"], ["drift"], ["rotate-check", "keys"]])
def test_a_wrong_suffix_says_why_once_on_stderr_and_whole_in_every_view(moto_env, command, tmp_path):
    account = boto3.client("sts", region_name="ap-northeast-1").get_caller_identity()["Account"]
    reason = (f"could not look: stack TapStack{WRONG} does not exist in ap-northeast-1 for account {account}: "
              f"check --suffix (or --outputs) or the credentials' account")
    paths = {fmt: tmp_path / f"report.{fmt}" for fmt in ("json", "sarif", "html", "table")}
    reports = [arg for fmt, path in paths.items() for arg in ("--report", f"{fmt}={path}")]
    for columns in (80, 140):
        result = run(*command, "--suffix", WRONG, *reports, columns=columns)
        assert result.exit_code == exit_codes.EXIT_INCOMPLETE
        assert result.stderr == f"opscli: ERROR TapStack{WRONG}: {reason}\n"  # once, one line
        assert reason in said(result.stdout)  # the whole reason, wrapped at spaces
        assert_fits(result.stdout, columns)
    document = json.loads(paths["json"].read_text())
    (finding,) = document["findings"]
    assert finding["reason"] == finding["explanation"]["evidence"]["found"] == reason
    assert finding["explanation"]["remediation"] == {"now": COULD_NOT_LOOK, "in_code": ""}  # not the rule's fix
    notes = json.loads(paths["sarif"].read_text())["runs"][0]["invocations"][0]["toolExecutionNotifications"]
    assert [note["message"]["text"] for note in notes] == [f"STK-STACK-001 could not be judged on "
                                                          f"TapStack{WRONG}: {reason}"]
    assert html.escape(reason) in paths["html"].read_text()
    assert reason in said(paths["table"].read_text())
    # who ran it is named even though the stack was never found: the caller is what tells a wrong account apart
    assert document["provenance"]["caller"] == boto3.client("sts", region_name="ap-northeast-1").get_caller_identity(
    )["Arn"]


def test_another_accounts_credentials_are_told_the_stack_is_not_there(moto_env, monkeypatch):
    """The local emulator answers a deployed stack only in the account (and region) it was deployed to, as
    CloudFormation does: credentials of another account get the reason, never a stack whose every resource
    then looks deleted (one FAIL per resource)."""
    from localenv.emulator import register_stack

    name = f"TapStack{WRONG}acct"
    register_stack({"StackName": name, "TemplateBody": {"Resources": {}}, "StackResourceSummaries": []},
                   account="123456789012", region="ap-northeast-1")
    cfn = boto3.client("cloudformation", region_name="ap-northeast-1")
    assert cfn.list_stack_resources(StackName=name)["StackResourceSummaries"] == []  # its own account: answered
    other = boto3.client("sts", region_name="ap-northeast-1").assume_role(
        RoleArn="arn:aws:iam::111122223333:role/auditor", RoleSessionName="review")["Credentials"]
    for key, field in (("AWS_ACCESS_KEY_ID", "AccessKeyId"), ("AWS_SECRET_ACCESS_KEY", "SecretAccessKey"),
                       ("AWS_SESSION_TOKEN", "SessionToken")):
        monkeypatch.setenv(key, other[field])
    result = run("audit", "--suffix", f"{WRONG}acct", "-o", "json")
    assert result.exit_code == exit_codes.EXIT_INCOMPLETE
    assert result.stderr == (f"opscli: ERROR {name}: could not look: stack {name} does not exist in ap-northeast-1 "
                             f"for account 111122223333: check --suffix (or --outputs) or the credentials' account\n")
    assert json.loads(result.stdout)["provenance"]["caller"] == "arn:aws:sts::111122223333:assumed-role/auditor/review"


def test_a_dead_endpoint_says_why_once_for_every_secret(aws_credentials):
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port = sock.getsockname()[1]  # closed when the block ends: nothing listens there
    result = run("rotate-check", "secrets", "--suffix", WRONG, "--endpoint-url", f"http://127.0.0.1:{port}",
                 "-o", "json")
    assert result.exit_code == exit_codes.EXIT_INCOMPLETE
    (line,) = result.stderr.splitlines()
    names = ", ".join(sorted(targets.from_suffix(WRONG).secrets))
    assert line.startswith(f"opscli: ERROR 3 resources ({names}): endpoint unreachable: ")
    assert line.endswith(f"/\": {REACH}") and str(port) in line
    assert {f["reason"] for f in json.loads(result.stdout)["findings"]} == {line.split("): ", 1)[1]}

    aws = Aws(session=new_session(region_name="ap-northeast-1"), endpoint_url=f"http://127.0.0.1:{port}",
              max_attempts=1)
    with pytest.raises(errors.OpsError, match=r"^could not read the account id \(sts:GetCallerIdentity\): "
                                              r"endpoint unreachable: .*: check that the endpoint is up"):
        core.account_id(aws)  # before a stack record's resources are read: the run's one error line


@pytest.mark.parametrize(("code", "todo"), [("AccessDenied", GRANT), ("Throttling", LATER)])
def test_a_refused_declaration_names_the_call_and_what_to_do(aws_credentials, code, todo):
    aws = Aws(session=new_session(region_name="ap-northeast-1"), max_attempts=1)
    with Stubber(aws.client("cloudformation")) as stub:
        stub.add_client_error("get_template", service_error_code=code, service_message="not you", http_status_code=400)
        report = core.audit(aws, targets.from_suffix(WRONG))
    (line,) = core.could_not_look(report)
    assert line.startswith(f"ERROR TapStack{WRONG}: could not look: could not read stack TapStack{WRONG}: ")
    assert "GetTemplate" in line and f"({code})" in line and line.endswith(f": {todo}")


def test_many_reasons_are_stated_causes_first_and_counted_past_the_limit():
    items = [Finding("stack.x", "STK-STACK-001", Status.ERROR, f"AWS::SQS::Queue Q{n} (q-{n})",
                     f"could not look: access denied to GetQueueAttributes (AccessDenied): q-{n}: {GRANT}")
             for n in range(4)]
    items.insert(0, Finding("STK-NET-002/stack", "STK-NET-002", Status.ERROR, "AWS::EC2::SecurityGroup G (sg-1)",
                            "could not judge: 4 declared resources it depends on could not be read (Q0, Q1, Q2, ...)"))
    items += [Finding("stack.y", "STK-STACK-001", Status.ERROR, f"AWS::SQS::Queue R{n}", "could not look: same")
              for n in range(5)]
    lines = core.could_not_look(Report(command="audit", target={}, findings=items), limit=5)
    assert lines[0] == f"ERROR AWS::SQS::Queue Q0 (q-0): {items[1].reason}"
    assert lines[4] == "ERROR 5 resources (R0, R1, R2, …): could not look: same"
    assert lines[5].startswith("ERROR: 1 more reason a check could not look") and len(lines) == 6
    assert core.could_not_look(Report(command="audit", target={}, findings=[])) == []


def test_verbose_prints_each_call_as_it_ends_through_the_sanitizer(moto_env, monkeypatch):
    result = run("audit", "--suffix", WRONG, "-v", "-o", "json")
    calls = [line for line in result.stderr.splitlines() if line.startswith("aws: ")]
    assert calls[0].startswith(f"aws: cloudformation:GetTemplate StackName=TapStack{WRONG} TemplateStage=Processed "
                               f"-> 400 ValidationError (")
    assert len(calls) == json.loads(result.stdout)["summary"]["api_calls"] > 1

    hostile = "x\x1b]52;c;cHduZWQ=\x07\u202e"

    def audit(aws, target, **_):
        with pytest.raises(Exception):  # noqa: B017, PT011 - whatever moto says of such a name
            aws.client("cloudformation").get_template(StackName=hostile)
        return Report(command="audit", target=target.as_dict(),
                      findings=[Finding("c", "STK-KMS-002", Status.PASS, "k", "on")])

    monkeypatch.setattr(core, "audit", audit)
    result = run("audit", "--suffix", WRONG, "-v", "-o", "json")
    (call,) = [line for line in result.stderr.splitlines() if line.startswith("aws: ")]
    assert call.startswith("aws: cloudformation:GetTemplate StackName=x\\x1b]52;c;cHduZWQ=\\x07\\u202e -> ")
    assert "\x1b" not in result.stderr and "\x07" not in result.stderr and "\u202e" not in result.stderr
