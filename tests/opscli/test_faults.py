"""Fault injection: every way a run can fail to look ends as ERROR (never PASS or FAIL), and the others go on:
access denied or throttled on one resource, an answer no reader could turn into its template form, a resource a
whole-stack rule depends on unread, an endpoint that refuses, never answers or hangs, no credentials, Ctrl-C.

moto cannot produce these faults, so the answers are stubbed (botocore.stub.Stubber) or the network is real:
a closed port on 127.0.0.1 (connection refused) and a local socket that never answers (read timeout). What each
reader makes of the answers moto cannot give is in tests/opscli/readers/ (the readers' shared helpers:
test_base.py), the secrets' checks' in tests/opscli/checks/test_collectors.py, and every operation answered badly
by a fault endpoint in front of the emulator in test_fault_harness.py.
"""

from __future__ import annotations

import contextlib
import json
import os
import signal
import socket
import threading
from collections.abc import Iterator

import pytest
from botocore.stub import Stubber

from opscli import core, livestack, stackcheck
from opscli.aws import Aws, new_session
from opscli.errors import CredentialsError
from opscli.model import exit_code
from platform_spec.result import Status
from tests.conftest import unmeasured
from tests.opscli.stubs import DB, LOGS, T, log_answers, read, web_acl_answer


def test_access_denied_on_one_resource_is_error_and_the_others_are_judged(stubbed):
    with Stubber(stubbed.client("rds")) as rds, Stubber(stubbed.client("logs")) as logs:
        rds.add_client_error("describe_db_instances", "AccessDenied", "User is not authorized", 403)
        log_answers(logs)
        live = read(stubbed, Db=DB, Logs=LOGS)
    assert live.resources["Db"].state == livestack.ReadState.ERROR
    assert "access denied to DescribeDBInstances" in live.resources["Db"].detail
    findings = stackcheck.judge(live)
    on_db = [f for f in findings if "rds-fault" in f.resource]
    assert [(f.rule_id, f.status) for f in on_db] == [("STK-STACK-001", Status.ERROR)]  # no verdict without evidence
    assert {f.status for f in findings if "/ecs/fault" in f.resource and f.rule_id == "STK-LOG-001"} == {Status.PASS}
    assert exit_code(findings) == 3


def test_throttling_after_retries_is_error(stubbed):
    with Stubber(stubbed.client("elasticache")) as stub:
        stub.add_client_error("describe_replication_groups", "Throttling", "Rate exceeded", 400)
        live = read(stubbed, Redis=("AWS::ElastiCache::ReplicationGroup", "redis-fault", {}))
    assert live.resources["Redis"].state == livestack.ReadState.ERROR
    assert "throttled on DescribeReplicationGroups" in live.resources["Redis"].detail


def test_an_unreadable_key_alias_makes_whole_stack_rules_error_not_fail(stubbed):
    """Without the alias nobody can say which key is the project's: STK-KMS-001 is ERROR, never FAIL or PASS."""
    alias = ("AWS::KMS::Alias", "alias/kms-key-fault", {"AliasName": "alias/kms-key-fault",
                                                        "TargetKeyId": {"Fn::GetAtt": ["Key", "Arn"]}})
    with Stubber(stubbed.client("kms")) as kms, Stubber(stubbed.client("logs")) as logs:
        kms.add_client_error("describe_key", "AccessDeniedException", "no", 403)
        log_answers(logs)
        live = read(stubbed, Alias=alias, Logs=LOGS)
    kms_findings = [f for f in stackcheck.judge(live) if f.rule_id == "STK-KMS-001"]
    assert kms_findings and {f.status for f in kms_findings} == {Status.ERROR}
    assert "could not judge: 1 declared resources it depends on could not be read (Alias)" in kms_findings[0].reason


def test_connection_refused_is_error_for_every_check(aws_credentials):
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port = sock.getsockname()[1]  # closed again when the block ends: nothing listens there
    aws = Aws(session=new_session(region_name="ap-northeast-1"), endpoint_url=f"http://127.0.0.1:{port}",
              max_attempts=1)
    report = core.audit(aws, T)
    assert [f.status for f in report.findings] == [Status.ERROR]
    assert "could not read stack TapStackfault: endpoint unreachable" in report.findings[0].reason
    assert exit_code(report.findings) == 3
    secrets = core.rotate_secrets(aws, T)
    assert secrets.findings and {f.status for f in secrets.findings} == {Status.ERROR}


def test_read_timeout_is_error(aws_credentials):
    server = socket.socket()
    server.bind(("127.0.0.1", 0))
    server.listen(8)
    accepted = []
    stop = threading.Event()

    def accept_and_stay_silent():
        server.settimeout(0.2)
        while not stop.is_set():
            try:
                accepted.append(server.accept()[0])
            except OSError:
                continue

    thread = threading.Thread(target=accept_and_stay_silent, daemon=True)
    thread.start()
    try:
        aws = Aws(session=new_session(region_name="ap-northeast-1"),
                  endpoint_url=f"http://127.0.0.1:{server.getsockname()[1]}", max_attempts=1)
        aws._config = aws._config.merge(__import__("botocore.config").config.Config(read_timeout=1))
        live = read(aws, Db=DB)
    finally:
        stop.set()
        thread.join(2)
        for conn in accepted:
            conn.close()
        server.close()
    assert live.resources["Db"].state == livestack.ReadState.ERROR
    assert "timed out" in live.resources["Db"].detail


def test_no_credentials_stops_the_audit(monkeypatch, tmp_path):
    for key in ("AWS_ACCESS_KEY_ID", "AWS_SECRET_ACCESS_KEY", "AWS_SESSION_TOKEN", "AWS_PROFILE"):
        monkeypatch.delenv(key, raising=False)
    monkeypatch.setenv("AWS_SHARED_CREDENTIALS_FILE", str(tmp_path / "none"))
    monkeypatch.setenv("AWS_CONFIG_FILE", str(tmp_path / "none"))
    monkeypatch.setenv("AWS_EC2_METADATA_DISABLED", "true")
    with pytest.raises(CredentialsError, match="no AWS credentials found"):
        core.audit(Aws(region="ap-northeast-1"), T)


def test_failure_classification_covers_every_kind():
    import botocore.exceptions as bex

    from opscli.checks import ANSWERS, GRANT, LATER, REACH, RENEW, describe_failure

    def client_error(code):
        return bex.ClientError({"Error": {"Code": code, "Message": "m"}}, "DescribeThings")
    assert describe_failure(client_error("InternalFailure")) == (Status.ERROR,
                                                                 "DescribeThings failed: InternalFailure m")
    assert describe_failure(client_error("ResourceNotFoundException"))[0] is Status.FAIL
    assert describe_failure(bex.ConnectTimeoutError(endpoint_url="http://x"))[0] is Status.ERROR
    assert describe_failure(bex.PaginationError(message="bad"))[1].startswith("AWS SDK error")
    assert describe_failure(KeyError("MultiAZ")) == (Status.ERROR, f"malformed answer: KeyError 'MultiAZ': {ANSWERS}")
    # Each way of not being able to look ends with what the operator does about it.
    assert describe_failure(client_error("AccessDenied"))[1] == \
        f"access denied to DescribeThings (AccessDenied): m: {GRANT}"
    assert describe_failure(client_error("ExpiredToken"))[1].endswith(f"(ExpiredToken): m: {RENEW}")
    assert describe_failure(client_error("Throttling"))[1] == \
        f"throttled on DescribeThings after retries (Throttling): {LATER}"
    assert describe_failure(bex.EndpointConnectionError(endpoint_url="http://x"))[1].endswith(f"\"http://x\": {REACH}")
    with pytest.raises(ZeroDivisionError):
        describe_failure(ZeroDivisionError())


class SilentServer:
    """A TCP server on 127.0.0.1 that accepts connections and never answers (a hung endpoint)."""

    current: SilentServer | None = None

    def __enter__(self):
        SilentServer.current = self
        self.server = socket.socket()
        self.server.bind(("127.0.0.1", 0))
        self.server.listen(64)
        self.accepted, self.stop = [], threading.Event()
        self.thread = threading.Thread(target=self._accept, daemon=True)
        self.thread.start()
        return f"http://127.0.0.1:{self.server.getsockname()[1]}"

    def _accept(self):
        self.server.settimeout(0.2)
        while not self.stop.is_set():
            try:
                self.accepted.append(self.server.accept()[0])
            except OSError:
                continue

    def __exit__(self, *exc):
        self.stop.set()
        self.thread.join(2)
        for conn in self.accepted:
            conn.close()
        self.server.close()


def _opscli(*args: str, **popen):
    """The real opscli process, for a run that ends without an answer (the --timeout or Ctrl-C). opscli then ends
    by os._exit (cli._run: it does not wait for the threads still on the hung call), and coverage saves nothing
    of a process that ends so (pyproject.toml patches subprocess, not _exit): it runs unmeasured, not traced for
    a record that is never written."""
    import subprocess
    import sys

    env = {**unmeasured(os.environ), "AWS_ACCESS_KEY_ID": "x", "AWS_SECRET_ACCESS_KEY": "x", "NO_COLOR": "1"}
    env.pop("AWS_ENDPOINT_URL", None)
    return subprocess.Popen([sys.executable, "-m", "opscli", *args], env=env, stdout=subprocess.PIPE,
                            stderr=subprocess.PIPE, text=True, **popen)


@pytest.mark.parametrize("command", [["audit"], ["drift"], ["rotate-check", "secrets"]])
def test_a_hung_endpoint_ends_at_the_timeout_with_a_report_and_exit_3(command):
    import json

    with SilentServer() as endpoint:
        proc = _opscli(*command, "--suffix", "hang", "--endpoint-url", endpoint, "--timeout", "1", "-o", "json")
        # The endpoint never answers: only opscli's own --timeout can end the run (communicate's bound turns a
        # regression into a failure instead of a hang; it does not measure opscli).
        out, err = proc.communicate(timeout=120)
    assert proc.returncode == 3, (proc.returncode, err)
    document = json.loads(out)
    assert document["findings"] and {f["status"] for f in document["findings"]} == {"ERROR"}
    assert all("--timeout" in f["reason"] for f in document["findings"])
    assert "timed out" in err


@contextlib.contextmanager
def _ctrl_c_reaches_children() -> Iterator[None]:
    """Children started inside the block get SIGINT at its default, as a command typed at a terminal does, even
    when this test process ignores it. A background job of a non-interactive shell (`... &`, nohup, some CI
    runners) starts with SIGINT ignored; an ignored signal stays ignored across exec, and Python then installs
    no KeyboardInterrupt handler, so opscli rightly keeps ignoring it. A handled signal is reset to its default
    by exec."""
    if signal.getsignal(signal.SIGINT) is not signal.SIG_IGN:
        yield
        return
    signal.signal(signal.SIGINT, signal.default_int_handler)
    try:
        yield
    finally:
        signal.signal(signal.SIGINT, signal.SIG_IGN)


def test_ctrl_c_stops_without_waiting_for_the_call_with_the_partial_report_and_exit_130():
    import time

    with SilentServer() as endpoint:
        with _ctrl_c_reaches_children():
            proc = _opscli("audit", "--suffix", "hang", "--endpoint-url", endpoint, "--timeout", "600", "-o",
                           "json")
        server = SilentServer.current
        waited = time.monotonic()
        while not server.accepted and time.monotonic() - waited < 60:  # started, and waiting on the endpoint
            time.sleep(0.05)
        assert server.accepted, "opscli never reached the endpoint"
        proc.send_signal(signal.SIGINT)
        # The endpoint never answers and --timeout is 600 s: an exit at all means Ctrl-C ended the run without
        # waiting for the call (communicate's bound only turns a regression into a failure).
        out, err = proc.communicate(timeout=120)
    assert proc.returncode == 130, (proc.returncode, err)
    document = json.loads(out)
    assert [f["status"] for f in document["findings"]] == ["ERROR"]
    assert "interrupted" in document["findings"][0]["reason"] and "interrupted" in err


def test_ctrl_c_before_any_check_exits_130_at_once_without_a_traceback():
    """Seen under load: a SIGINT while opscli was still starting became click's Abort, exit 2, and the
    interpreter then waited for a thread stuck on the hung endpoint (30 s and more). Here a thread that never
    ends stands for that call, and Ctrl-C comes while the command sets up its AWS access."""
    import subprocess
    import sys

    harness = (
        "import sys, threading\n"
        "import opscli.cli as cli\n"
        "threading.Thread(target=threading.Event().wait).start()  # a call that never answers\n"
        "def ctrl_c(*a, **k):\n"
        "    raise KeyboardInterrupt\n"
        "cli.Aws = ctrl_c\n"
        "sys.exit(cli.main(['audit', '--suffix', 'dev', '-o', 'json']))\n")
    # It ends by os._exit too (cli.main, Ctrl-C before a check began): unmeasured, as _opscli says.
    proc = subprocess.run([sys.executable, "-c", harness], capture_output=True, text=True, timeout=30,
                          env=unmeasured(os.environ))
    assert proc.returncode == 130, (proc.returncode, proc.stderr)
    assert "interrupted" in proc.stderr and "Traceback" not in proc.stderr and proc.stdout == ""


def test_binary_data_a_reader_leaves_is_error_not_a_crash(stubbed, monkeypatch):
    """A blob no reader turned into its CloudFormation form: ERROR for that resource, never a crash of the run."""
    from opscli.readers import wafv2

    monkeypatch.setattr(wafv2, "_search_strings", lambda rules: [{"Name": "raw", "Blob": b"\x00"}])
    with Stubber(stubbed.client("wafv2")) as stub:
        stub.add_response("get_web_acl", web_acl_answer())
        stub.add_response("list_tags_for_resource", {"TagInfoForResource": {"TagList": [
            {"Key": "Project", "Value": "p"}]}})
        live = read(stubbed, Acl=("AWS::WAFv2::WebACL", "waf-fault|1|REGIONAL", {}))
    assert live.resources["Acl"].state == livestack.ReadState.ERROR
    assert "Rules.0.Blob is binary data" in live.resources["Acl"].detail
