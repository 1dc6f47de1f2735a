"""opscli test fixtures: the session's compliant deployment, and fresh in-process moto states for tests that
deploy a broken copy of the real template."""

from __future__ import annotations

import contextlib
import copy
import functools
import os
from collections.abc import Callable, Iterator
from typing import Any

import pytest
from moto import mock_aws

from cdk_app.config import AppConfig
from localenv.deploy import Deployer, default_secret_values
from localenv.emulator import configure_moto
from opscli.aws import Aws, new_session

#: What botocore reads from the environment when it makes a client (its endpoint) or its session first looks for
#: credentials (which the session then keeps for every later client).
_MADE_WITH = ("AWS_ENDPOINT_URL", "AWS_ACCESS_KEY_ID", "AWS_SECRET_ACCESS_KEY", "AWS_SESSION_TOKEN", "AWS_PROFILE",
              "AWS_SHARED_CREDENTIALS_FILE", "AWS_CONFIG_FILE")


class _KeptClients:
    """boto3 sessions whose clients are made once per process: what a Deployer asks of its session. A client
    holds no state of moto's (the mock answers it in its before-send event, whichever mock is active), and making
    one (its class, endpoint and a copy of the session's hundreds of event handlers) is a large part of an
    in-process deployment's CPU. opscli's own access (`aws`) keeps making its own clients: each Aws hooks its
    call log and guard into the clients it makes. One session per environment: a session keeps the credentials
    it found first, so a client made for other credentials comes from a session of its own."""

    def __init__(self) -> None:
        self._sessions: dict[tuple, Any] = {}
        self._clients: dict[tuple, object] = {}

    def client(self, service_name: str, **kwargs) -> object:
        # a client is reused only where it would be made the same
        made_with = tuple(os.environ.get(name) for name in _MADE_WITH)
        key = (service_name, tuple(sorted(kwargs.items())), *made_with)
        if key not in self._clients:
            if made_with not in self._sessions:
                self._sessions[made_with] = new_session(region_name="ap-northeast-1")
            self._clients[key] = self._sessions[made_with].client(service_name, **kwargs)
        return self._clients[key]


@functools.cache
def _deployers_session() -> _KeptClients:
    return _KeptClients()


def deploy_into_moto(template: dict, suffix: str, mutate: Callable[[dict], None] | None = None) -> dict[str, str]:
    """Deploy (a copy of) the synthesized template into the active moto mock; return the stack outputs."""
    template = copy.deepcopy(template)
    if mutate:
        mutate(template)
    config = AppConfig.for_suffix(suffix)
    deployer = Deployer(template, config, session=_deployers_session())
    deployer.seed_secrets(default_secret_values(config))
    return deployer.deploy().outputs


@contextlib.contextmanager
def in_process_moto() -> Iterator[None]:
    """What `moto_env` gives a test (the fake credentials, a fresh in-process mock), for a module's fixture."""
    from tests.conftest import FAKE_CREDENTIALS

    with pytest.MonkeyPatch.context() as patch:
        for key, value in FAKE_CREDENTIALS.items():
            patch.setenv(key, value)
        patch.delenv("AWS_PROFILE", raising=False)
        patch.delenv("AWS_ENDPOINT_URL", raising=False)
        configure_moto()
        with mock_aws():
            yield


def audit_in_process() -> Any:
    """`opscli audit --suffix test`'s core on the active moto mock: its report."""
    from opscli import core, targets

    return core.audit(Aws(session=new_session(region_name="ap-northeast-1"), max_attempts=2),
                      targets.from_suffix("test"))


@pytest.fixture
def stubbed(aws_credentials) -> Aws:
    """A fresh guarded access (its own clients, call log and handlers) on the one session of this process's tests on
    stubbed answers (tests/opscli/stubs.py): a session registers botocore's hundreds of handlers when it is made,
    each Aws takes the previous one's handlers off it, and its clients are its own. Its credentials are the fake
    ones of aws_credentials."""
    from tests.opscli.stubs import session

    return Aws(session=session(), max_attempts=1)


@pytest.fixture
def fifo(tmp_path):
    """A FIFO: a path that names no regular file, and would block a reader that opened it without looking."""
    path = tmp_path / "fifo"
    os.mkfifo(path)
    return path


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


@contextlib.contextmanager
def sharing_reads(reads: dict) -> Iterator[None]:
    """For the block, the runs of one scope (stack, resources, endpoint, account, what is read) are judged on one
    read: the first reads for real (opscli.livestack.read_stack) and is kept in `reads`, the later ones are served
    it. Every other step of a run stays its own (the stack's declaration from CloudFormation, the caller, judging,
    rendering), and a read served still reports each resource to the run's progress (only the run's count of API
    calls is smaller). A read that could not look at everything (an ERROR, a timeout) is never served again. Only for
    runs that judge one state: nothing may change the deployment between them.

    The reads of the compliant shared deployment (COMPLIANT_READS) begin from the process's first read of it
    (tests/conftest.py's `first_read`, which the session's baseline judges: every check PASS) when it is of the
    same scope, rather than read it once more (an audit's read: the whole stack with the account's IAM); and a
    whole read without the account's IAM (`opscli drift`) is served an audit's read's resources without it."""
    from opscli import livestack

    real = livestack.read_stack

    def complete(live) -> bool:
        return live.incomplete is None and live.account_iam_error is None and \
            all(r.state != livestack.ReadState.ERROR for r in live.resources.values())

    taking_first = []  # while first_read reads (through this very function): read for real

    def read_stack(aws, scope, *, account, progress=None, account_iam=False, only=None, **kwargs):
        if taking_first:
            return real(aws, scope, account=account, progress=progress, account_iam=account_iam, only=only, **kwargs)
        endpoint = getattr(aws, "endpoint_url", None) or os.environ.get("AWS_ENDPOINT_URL")
        declared = (scope.stack_name, scope.digest.sha256 if scope.digest else None,
                    tuple((r.logical_id, r.type, r.physical_id, r.status) for r in scope.resources))
        key = (endpoint, str(aws.region), account, *declared, account_iam,
               frozenset(only) if only is not None else None)
        whole = (endpoint, str(aws.region), account, *declared, True, None)
        # Only an audit's read (the whole stack, with the account's IAM) is what first_read takes: never a
        # rotate-check's scope of a few resources, which would become the process's first read of the deployment.
        if key == whole and whole not in reads and reads is COMPLIANT_READS and endpoint:
            from tests.conftest import first_read, local_aws

            taking_first.append(True)
            try:
                first = first_read(local_aws(endpoint), scope, account)
            finally:
                taking_first.clear()
            if complete(first) and first.account == account and (
                    first.scope.stack_name, first.scope.digest.sha256 if first.scope.digest else None,
                    tuple((r.logical_id, r.type, r.physical_id, r.status) for r in first.scope.resources)) == declared:
                reads[whole] = first
        if key not in reads and not account_iam and only is None and whole in reads:
            without = copy.copy(reads[whole])  # the same resources, as a read that did not ask for the account's IAM
            without.account_iam = None
            reads[key] = without
        if key not in reads:
            live = real(aws, scope, account=account, progress=progress, account_iam=account_iam, only=only, **kwargs)
            if complete(live):
                reads[key] = live
            return live
        if progress:
            for resource in scope.resources:
                if only is None or resource.logical_id in only:
                    progress(f"read {resource.type} {resource.logical_id}")
        return reads[key]

    with pytest.MonkeyPatch.context() as patch:
        patch.setattr(livestack, "read_stack", read_stack)
        yield


#: The reads of the compliant shared deployment that `shared_read` serves, in this test process.
COMPLIANT_READS: dict = {}


@pytest.fixture(scope="session")
def _reads_of_the_compliant_deployment() -> dict:
    return COMPLIANT_READS


@pytest.fixture
def shared_read(request, deployed, _reads_of_the_compliant_deployment) -> Iterator[dict[str, str]]:
    """`deployed`, for a test that judges the compliant deployment as it is, through however many runs (formats,
    reports, views): the runs of every test that asks for it share one read of each scope (sharing_reads), in this
    test process. That read stays true for them: a test that changes the shared deployment asks for
    `restored_deployment`, which fails it unless every check is as at the start of the session, and a scope whose
    declaration CloudFormation now answers differently (a resource replaced, gone, in another state) is read anew.
    Not for a test whose point is the read itself (its calls, its progress as it happens, a changed deployment):
    a test that changes the deployment (it asks for `restored_deployment`) may not ask for it."""
    if "restored_deployment" in request.fixturenames:
        pytest.fail(f"{request.node.nodeid} changes the shared deployment (restored_deployment) and asks for "
                    "shared_read, which would serve it a read of the deployment as it was: read it itself",
                    pytrace=False)
    with sharing_reads(_reads_of_the_compliant_deployment):
        yield deployed


@pytest.fixture(autouse=True)
def _isolate_env(monkeypatch):
    monkeypatch.delenv("NO_COLOR", raising=False)
    yield
    os.environ.pop("MOTO_ECS_SERVICE_RUNNING", None)
