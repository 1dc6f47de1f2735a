"""The real opscli process against a moto server on 127.0.0.1 holding a deployed environment: its exit code and
what it prints, piped (and main(), which the process returns, in process)."""

from __future__ import annotations

import json
import os
import subprocess
import sys

import pytest

from opscli.aws import new_session
from opscli.cli import main
from tests.conftest import unmeasured

# One worker holds the session's local deployment for every test that reads it (tests/conftest.py).
pytestmark = [pytest.mark.synth, pytest.mark.xdist_group("deployment")]


@pytest.fixture
def server(local_deployment):
    """The session's local deployment (a moto server process): its endpoint, outputs file and a session."""
    session = new_session(aws_access_key_id="x", aws_secret_access_key="x", region_name="ap-northeast-1")
    return local_deployment.endpoint, local_deployment.outputs_file, session


def opscli(endpoint: str, *args: str) -> subprocess.CompletedProcess:
    """The real process, outside coverage's tracer (which slows every line it runs): every line it runs is
    measured in process (tests/opscli/test_cli.py and test_core.py audit the same deployment)."""
    env = {**unmeasured(os.environ), "AWS_ENDPOINT_URL": endpoint, "AWS_ACCESS_KEY_ID": "x",
           "AWS_SECRET_ACCESS_KEY": "x", "AWS_DEFAULT_REGION": "ap-northeast-1", "NO_COLOR": "1"}
    return subprocess.run([sys.executable, "-m", "opscli", *args], env=env, capture_output=True, text=True,
                          timeout=120)


def test_audit_process_passes_from_outputs_file(shared_read, local_deployment, capsys):
    """The audit of the outputs file, from main() in process (`python -m opscli` is sys.exit(main())): exit 0,
    JSON on stdout and nothing on stderr. What the real process exits with is main()'s return, and that its
    stderr stays empty, test_audit_process_reports_drift_with_exit_1 proves on the real binary."""
    code = main(["audit", "--outputs", str(local_deployment.outputs_file), "-o", "json"])
    captured = capsys.readouterr()
    assert code == 0, captured.out + captured.err
    document = json.loads(captured.out)
    assert document["summary"]["PASS"] == len(document["findings"]) > 30
    assert captured.err == ""


def test_rotate_check_process_sarif(deployed, capsys):
    """rotate-check's SARIF with every result, from main() in process (`python -m opscli` is sys.exit(main())):
    what the real process exits with is main()'s return, which the audit below proves on the real binary, and
    this claim is the SARIF's."""
    code = main(["rotate-check", "secrets", "--suffix", "test", "-o", "sarif", "--sarif-include-pass"])
    captured = capsys.readouterr()
    assert code == 0, captured.err
    sarif = json.loads(captured.out)
    assert sarif["version"] == "2.1.0" and {r["kind"] for r in sarif["runs"][0]["results"]} == {"pass"}


def test_audit_process_reports_drift_with_exit_1(server, restored_deployment):
    endpoint, _, session = server
    kms = session.client("kms", endpoint_url=endpoint)
    key_id = kms.describe_key(KeyId="alias/kms-key-test")["KeyMetadata"]["KeyId"]
    kms.disable_key_rotation(KeyId=key_id)
    try:
        proc = opscli(endpoint, "audit", "--suffix", "test", "--no-color")
    finally:
        kms.enable_key_rotation(KeyId=key_id)
    assert proc.returncode == 1, proc.stderr
    assert proc.stderr == ""  # the real process says nothing beside its report (no warning, no traceback)
    lines = proc.stdout.splitlines()
    assert max(len(line) for line in lines) <= 80  # piped: the view fits 80 columns (rich's default)
    assert lines[1] == f"  {endpoint}"  # the header wraps rather than cut the endpoint
    assert lines[2].startswith("FAIL  ") and " · 1 FAIL" in lines[2]
    entry = lines.index("needs someone:") + 1
    assert lines[entry].split()[:3] == ["FAIL", "MED", "STK-KMS-002"]
    assert lines[entry].split()[3].startswith("EncryptionKey")
    assert "EnableKeyRotation is not true" in " ".join(" ".join(lines[entry:entry + 4]).split())
    assert lines[lines.index("not passing, by service:") + 2].split() == ["KMS", "1"]
    fix = next(i for i, line in enumerate(lines) if line.startswith(" fix now"))
    # the key's id may go to a line of its own, whole, after a backslash that continues the command
    said = " ".join(" ".join(line.removesuffix(" \\") for line in lines[fix:fix + 3]).split())
    assert said.startswith(f"fix now aws kms enable-key-rotation --key-id {key_id} "), said  # the command alone
