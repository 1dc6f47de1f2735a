"""Integration tests read the stack's flat outputs and verify the deployed resources through boto3.

Modes (STREAMTECH_INTEGRATION):
  local (default)  the session's local deployment of the synthesized template (a moto server process on
                   127.0.0.1, tests/conftest.py)
  aws              test a real deployment: needs AWS credentials and the pipeline's outputs file
                   (STREAMTECH_OUTPUTS_FILE; by default the one cfn-outputs/<suffix>/flat-outputs.json that
                   `python -m localenv` did not write); drift tests never run here
"""

from __future__ import annotations

import os
from collections.abc import Iterator
from dataclasses import dataclass, field
from functools import cached_property
from pathlib import Path
from typing import Any

import boto3
import pytest

from opscli.aws import Aws, new_session
from tests.conftest import local_aws

MODE = os.environ.get("STREAMTECH_INTEGRATION", "local")


def deployed_outputs_file() -> tuple[Path | None, str]:
    """The real deployment's outputs file for STREAMTECH_INTEGRATION=aws, or None and why there is none."""
    if os.environ.get("STREAMTECH_OUTPUTS_FILE"):
        named = Path(os.environ["STREAMTECH_OUTPUTS_FILE"])
        return (named, "") if named.exists() else (None, f"STREAMTECH_OUTPUTS_FILE={named} does not exist")
    from localenv.outputs import DIRECTORY, OUTPUTS, written_by_localenv

    found = [p for p in sorted(DIRECTORY.glob(f"*/{OUTPUTS}")) if not written_by_localenv(p)]
    if len(found) == 1:
        return found[0], ""
    return None, (f"{len(found)} outputs files in {DIRECTORY}/*/{OUTPUTS} other than local deployments' "
                  f"({', '.join(p.parent.name for p in found) or 'none'}): name one with "
                  "STREAMTECH_OUTPUTS_FILE (write it with: cdk deploy -c environmentSuffix=prod "
                  "--outputs-file cfn-outputs/prod/flat-outputs.json)")


@dataclass
class Deployment:
    outputs: dict[str, str]
    outputs_file: Path
    endpoint_url: str | None
    session: boto3.Session
    local: bool
    clients: dict[str, Any] = field(default_factory=dict, repr=False)

    def client(self, service: str):
        """The session's client of `service` on the deployment, made once (a client costs its model, class and
        endpoint again each time): the tests' own calls (tests/integration/changes.py records their writes)."""
        if service not in self.clients:
            self.clients[service] = self.session.client(service, endpoint_url=self.endpoint_url)
        return self.clients[service]

    @cached_property
    def aws(self) -> Aws:
        """opscli's guarded access to the deployment, made once: its clients are made once per session, not
        once per read (21 services, about 0.1 s of CPU each time). Locally, the same one the shared deployment's
        restore check (tests/conftest.posture) reads with."""
        if self.local and self.endpoint_url:
            return local_aws(self.endpoint_url)
        return Aws(session=self.session, endpoint_url=self.endpoint_url, max_attempts=2)

    @property
    def suffix(self) -> str:
        return self.outputs["EnvironmentSuffix"]


@pytest.fixture(scope="session")
def deployment(request) -> Iterator[Deployment]:
    if MODE == "aws":
        outputs_file, why = deployed_outputs_file()
        if outputs_file is None:
            pytest.skip(f"STREAMTECH_INTEGRATION=aws needs the deployed stack's flat outputs: {why}")
        from opscli.targets import load_outputs
        outputs = load_outputs(outputs_file)
        yield Deployment(outputs, outputs_file, None, new_session(region_name="ap-northeast-1"), local=False)
        return
    from localenv.emulator import LOCAL_CREDENTIALS

    local = request.getfixturevalue("local_deployment")
    saved = {key: os.environ.get(key) for key in LOCAL_CREDENTIALS}
    os.environ.update(LOCAL_CREDENTIALS)  # what opscli's users would export for the emulator
    try:
        session = new_session(aws_access_key_id="local-emulator", aws_secret_access_key="local-emulator",
                              region_name="ap-northeast-1")
        from tests.integration.changes import record_writes_of

        record_writes_of(session)  # before its first client: the cases' writes are judged as the monitor sees them
        yield Deployment(local.outputs, local.outputs_file, local.endpoint, session, local=True)
    finally:
        for key, value in saved.items():
            if value is None:
                os.environ.pop(key, None)
            else:
                os.environ[key] = value


@pytest.fixture(scope="module")
def local(deployment) -> Deployment:
    """The deployment, for the tests that change resources (and restore them): the local emulator only."""
    if not deployment.local:
        pytest.skip("this test changes resources: it runs against the local emulator only")
    return deployment


@pytest.fixture(scope="module")
def monitor(local):
    """The posture monitor's view of the deployment for the tests that break one setting at a time: a case's
    writes become the CloudTrail records the monitor receives, and what its planner reads is judged
    (tests/integration/changes.py)."""
    from tests.integration.changes import Monitor

    return Monitor(local.aws, local.outputs_file)


@pytest.fixture(scope="module")
def all_restored(local_deployment, baseline_posture):
    """After the module's last case: every check of the audit, the drift and the rotate-check on the whole
    deployment is as at the session's start, when every one passed (each case proves on what it touched that it
    put it back: `Monitor.restoring`, `Monitor.rotation_restored`)."""
    from tests.conftest import assert_restored

    yield
    assert_restored(local_deployment, baseline_posture)
