"""The real opscli process against a moto server on 127.0.0.1 holding a deployed environment."""

from __future__ import annotations

import json
import os
import subprocess
import sys

import boto3
import pytest

from localenv.deploy import Deployer, default_secret_values
from localenv.emulator import moto_server

pytestmark = pytest.mark.synth


@pytest.fixture(scope="module")
def server(synth, tmp_path_factory):
    with moto_server() as endpoint:
        config = synth.config
        session = boto3.Session(aws_access_key_id="x", aws_secret_access_key="x", region_name="ap-northeast-1")
        deployer = Deployer(synth.template, config, session=session, endpoint_url=endpoint)
        deployer.seed_secrets(default_secret_values(config))
        outputs = deployer.deploy().outputs
        path = tmp_path_factory.mktemp("srv") / "flat-outputs.json"
        path.write_text(json.dumps(outputs))
        yield endpoint, path, session


def opscli(endpoint: str, *args: str) -> subprocess.CompletedProcess:
    env = {**os.environ, "AWS_ENDPOINT_URL": endpoint, "AWS_ACCESS_KEY_ID": "x", "AWS_SECRET_ACCESS_KEY": "x",
           "AWS_DEFAULT_REGION": "ap-northeast-1", "NO_COLOR": "1"}
    return subprocess.run([sys.executable, "-m", "opscli", *args], env=env, capture_output=True, text=True,
                          timeout=120)


def test_audit_process_passes_from_outputs_file(server):
    endpoint, outputs, _ = server
    proc = opscli(endpoint, "audit", "--outputs", str(outputs), "-o", "json")
    assert proc.returncode == 0, proc.stdout + proc.stderr
    document = json.loads(proc.stdout)
    assert document["summary"]["PASS"] == len(document["findings"]) > 30
    assert proc.stderr == ""


def test_rotate_check_process_sarif(server):
    endpoint, _, _ = server
    proc = opscli(endpoint, "rotate-check", "secrets", "--suffix", "test", "-o", "sarif")
    assert proc.returncode == 0, proc.stderr
    sarif = json.loads(proc.stdout)
    assert sarif["version"] == "2.1.0" and {r["kind"] for r in sarif["runs"][0]["results"]} == {"pass"}


def test_audit_process_reports_drift_with_exit_1(server):
    endpoint, _, session = server
    session.client("kms", endpoint_url=endpoint).disable_key_rotation(
        KeyId=session.client("kms", endpoint_url=endpoint).describe_key(KeyId="alias/kms-key-test")["KeyMetadata"]["KeyId"])
    proc = opscli(endpoint, "audit", "--suffix", "test", "--no-color")
    assert proc.returncode == 1
    assert "FAIL" in proc.stdout and "STK-KMS-002" in proc.stdout and "automatic rotation is off" in proc.stdout
