"""Integration tests read the stack's flat outputs and verify the deployed resources through boto3.

Modes (STREAMTECH_INTEGRATION):
  local (default)  the session's local deployment of the synthesized template (a moto server process on
                   127.0.0.1, tests/conftest.py)
  aws              test a real deployment: needs AWS credentials and the pipeline's outputs file
                   (STREAMTECH_OUTPUTS_FILE, default cfn-outputs/flat-outputs.json); drift tests never run here
"""

from __future__ import annotations

import os
from collections.abc import Iterator
from dataclasses import dataclass
from functools import cached_property
from pathlib import Path

import boto3
import pytest

from opscli.aws import Aws, new_session
from tests.conftest import ROOT, local_aws

MODE = os.environ.get("STREAMTECH_INTEGRATION", "local")
OUTPUTS_FILE = Path(os.environ.get("STREAMTECH_OUTPUTS_FILE", ROOT / "cfn-outputs" / "flat-outputs.json"))


@dataclass
class Deployment:
    outputs: dict[str, str]
    outputs_file: Path
    endpoint_url: str | None
    session: boto3.Session
    local: bool

    def client(self, service: str):
        return self.session.client(service, endpoint_url=self.endpoint_url)

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
        if not OUTPUTS_FILE.exists():
            pytest.skip(f"STREAMTECH_INTEGRATION=aws needs the deployed stack's flat outputs at {OUTPUTS_FILE}; "
                        "it does not exist (write it with: cdk deploy --outputs-file cfn-outputs/flat-outputs.json)")
        from opscli.targets import load_outputs
        outputs = load_outputs(OUTPUTS_FILE)
        yield Deployment(outputs, OUTPUTS_FILE, None, new_session(region_name="ap-northeast-1"), local=False)
        return
    from localenv.emulator import LOCAL_CREDENTIALS

    local = request.getfixturevalue("local_deployment")
    saved = {key: os.environ.get(key) for key in LOCAL_CREDENTIALS}
    os.environ.update(LOCAL_CREDENTIALS)  # what opscli's users would export for the emulator
    request.addfinalizer(lambda: [os.environ.pop(k, None) if v is None else os.environ.__setitem__(k, v)
                                  for k, v in saved.items()])
    session = new_session(aws_access_key_id="local-emulator", aws_secret_access_key="local-emulator",
                          region_name="ap-northeast-1")
    yield Deployment(local.outputs, local.outputs_file, local.endpoint, session, local=True)


@pytest.fixture(scope="module")
def local(deployment) -> Deployment:
    """The deployment, for the tests that change resources (and restore them): the local emulator only."""
    if not deployment.local:
        pytest.skip("this test changes resources: it runs against the local emulator only")
    return deployment
