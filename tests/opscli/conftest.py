"""opscli test fixtures: the session's compliant deployment, and fresh in-process moto states for tests that
deploy a broken copy of the real template."""

from __future__ import annotations

import copy
import os
from collections.abc import Callable, Iterator

import pytest
from moto import mock_aws

from cdk_app.config import AppConfig
from localenv.deploy import Deployer, default_secret_values
from localenv.emulator import configure_moto
from opscli.aws import Aws, new_session

FAKE_CREDENTIALS = {"AWS_ACCESS_KEY_ID": "testing", "AWS_SECRET_ACCESS_KEY": "testing",
                    "AWS_DEFAULT_REGION": "ap-northeast-1"}


@pytest.fixture
def aws_credentials(monkeypatch) -> None:
    for key, value in FAKE_CREDENTIALS.items():
        monkeypatch.setenv(key, value)
    monkeypatch.delenv("AWS_PROFILE", raising=False)
    monkeypatch.delenv("AWS_ENDPOINT_URL", raising=False)


def deploy_into_moto(template: dict, suffix: str, mutate: Callable[[dict], None] | None = None) -> dict[str, str]:
    """Deploy (a copy of) the synthesized template into the active moto mock; return the stack outputs."""
    template = copy.deepcopy(template)
    if mutate:
        mutate(template)
    config = AppConfig.for_suffix(suffix)
    deployer = Deployer(template, config, session=new_session(region_name="ap-northeast-1"))
    deployer.seed_secrets(default_secret_values(config))
    return deployer.deploy().outputs


@pytest.fixture
def moto_env(aws_credentials) -> Iterator[None]:
    configure_moto()
    with mock_aws():
        yield


@pytest.fixture
def deployed(local_deployment, monkeypatch) -> dict[str, str]:
    """The compliant environment for suffix 'test': the session's local deployment (a moto server process),
    with this test's AWS environment pointed at it. Read-only: a test that changes it asks for
    `restored_deployment` too and restores what it changed."""
    for key, value in local_deployment.environment.items():
        monkeypatch.setenv(key, value)
    monkeypatch.delenv("AWS_PROFILE", raising=False)
    return local_deployment.outputs


@pytest.fixture
def aws() -> Aws:
    """opscli's AWS access for this test: the in-process moto mock when the test asks for `moto_env`, the
    shared deployment when it asks for `deployed` (through AWS_ENDPOINT_URL)."""
    return Aws(session=new_session(region_name="ap-northeast-1"), max_attempts=2)


@pytest.fixture(autouse=True)
def _isolate_env(monkeypatch):
    monkeypatch.delenv("NO_COLOR", raising=False)
    yield
    os.environ.pop("MOTO_ECS_SERVICE_RUNNING", None)
