"""opscli.aws: the read-only guard covers every call a run makes, including those botocore makes for itself to
obtain credentials (a profile that assumes a role): they are logged, let through as credential calls, and never leave
for anywhere but the endpoint the run was pointed at. Sessions share the parsed service models and nothing else."""

from __future__ import annotations

import json
import os
import sys
from pathlib import Path
from types import SimpleNamespace
from urllib.parse import urlsplit

import botocore.handlers
import botocore.loaders
import pytest

from opscli import core, targets
from opscli.aws import CREDENTIAL_OPERATIONS, Aws, EndpointViolation, endpoint_pin, models, new_session
from opscli.cli import main
from opscli.errors import ReadOnlyViolation, UsageError
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


def test_read_only_guard_refuses_writes(aws):
    with pytest.raises(ReadOnlyViolation, match="refused rds:DeleteDBInstance: opscli only reads"):
        aws.client("rds").delete_db_instance(DBInstanceIdentifier="rds-test")
    assert aws.log.calls == ["rds:DeleteDBInstance"]


@pytest.mark.parametrize("service, call, kwargs", [
    ("secretsmanager", "get_secret_value", {"SecretId": "rds-credentials-test"}),  # reads a secret's value
    ("sts", "get_session_token", {}),  # a "Get" that mints credentials
    ("s3", "get_object", {"Bucket": "b", "Key": "k"}),  # reads data, not posture
    ("kms", "decrypt", {"CiphertextBlob": b"x"}),
])
def test_the_guard_is_an_allowlist_not_a_name_prefix(aws, service, call, kwargs):
    """Only the operations opscli declares (and `opscli iam-policy` grants) leave the client."""
    with pytest.raises(ReadOnlyViolation, match="refused"):
        getattr(aws.client(service), call)(**kwargs)
    assert not hasattr(aws, "session"), "the session is private: every client comes from the guarded factory"
    from opscli.iam_policy import policy_document

    granted = {a for s in policy_document()["Statement"] for a in s["Action"]}
    assert "secretsmanager:GetSecretValue" not in granted and "sts:GetSessionToken" not in granted


def test_a_role_profile_never_sends_its_sts_call_past_a_given_endpoint(role_profile, moto_env):
    """--endpoint-url reaches the clients opscli makes, not the STS client botocore makes for a role profile
    (which reads only the profile and AWS_ENDPOINT_URL): that request is refused before it is sent."""
    aws = Aws(profile=role_profile, endpoint_url="http://127.0.0.1:9", max_attempts=1)
    with pytest.raises(EndpointViolation, match=r"refused a request to https://sts\.ap-northeast-1\.amazonaws\.com"):
        aws.client("cloudformation").get_template(StackName="TapStackx")
    assert aws.log.calls == ["cloudformation:GetTemplate", "sts:AssumeRole"]


def test_the_export_client_may_reach_only_its_endpoint_host_not_even_a_subdomain():
    strict, s3_style = endpoint_pin("http://127.0.0.1:9", subdomains=False), endpoint_pin("http://localhost:9")
    strict(SimpleNamespace(url="http://127.0.0.1:9/"))  # its own endpoint: let through
    for url in ("http://evil.127.0.0.1:9/", "https://127.0.0.1:9/", "http://127.0.0.1:10/",
                "https://securityhub.ap-northeast-1.amazonaws.com/"):
        with pytest.raises(EndpointViolation):
            strict(SimpleNamespace(url=url))
    s3_style(SimpleNamespace(url="http://bucket.localhost:9/"))  # the read-only clients' S3 virtual hosting


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


def _connections_to(port: int) -> int:
    """This process's TCP connections to 127.0.0.1:`port` (Linux: /proc/net/tcp against our own sockets)."""
    ours = {link.removeprefix("socket:[").removesuffix("]") for fd in os.listdir("/proc/self/fd")
            if (link := os.readlink(f"/proc/self/fd/{fd}") if os.path.islink(f"/proc/self/fd/{fd}") else "")
            .startswith("socket:[")}
    rows = Path("/proc/net/tcp").read_text().splitlines()[1:]
    return sum(1 for row in rows if (fields := row.split())[2] == f"0100007F:{port:04X}" and fields[9] in ours
               and fields[3] == "01")  # ESTABLISHED


@pytest.mark.skipif(not sys.platform.startswith("linux"), reason="reads this process's sockets from /proc")
def test_closing_an_aws_closes_the_connections_its_clients_keep(monkeypatch):
    """The emulator keeps the connections its clients keep: Aws.close ends them (and the clients stay usable)."""
    from localenv.emulator import LOCAL_CREDENTIALS, moto_server

    for key, value in LOCAL_CREDENTIALS.items():
        monkeypatch.setenv(key, value)
    with moto_server() as endpoint:
        port = urlsplit(endpoint).port
        assert port is not None
        aws = Aws(endpoint_url=endpoint, max_attempts=1)
        aws.client("sts").get_caller_identity()
        aws.client("ec2").describe_vpcs()
        assert _connections_to(port) == 2  # kept: what a run's later calls reuse
        aws.close()
        assert _connections_to(port) == 0
        aws.client("sts").get_caller_identity()
        assert _connections_to(port) == 1
        aws.close()


def test_a_run_in_process_closes_its_aws_when_it_ends(monkeypatch, aws_credentials):
    """A command run in process (as the tests and the monitor's consumer run them) does not leave its connections
    to garbage collection: the run's Aws is closed once the command ends, whatever its outcome."""
    from opscli import aws as aws_module

    closed: list[Aws] = []
    monkeypatch.setattr(aws_module.Aws, "close", lambda self: closed.append(self))
    monkeypatch.setattr(core, "audit", lambda *a, **k: 1 / 0)
    assert main(["audit", "--suffix", "x", "--no-history"]) == 3  # an internal error, after the Aws was made
    assert len(closed) == 1


def test_a_session_handed_to_a_second_aws_carries_one_guard(moto_env):
    session = new_session(region_name="ap-northeast-1")
    first = Aws(session=session, max_attempts=1)
    second = Aws(session=session, max_attempts=1)
    second.client("sts").get_caller_identity()
    assert second.log.calls == ["sts:GetCallerIdentity"] and first.log.calls == []


def test_sessions_share_the_parsed_service_models_and_nothing_else(tmp_path, monkeypatch):
    """Two sessions parse each service model once between them; their credentials, regions and clients stay
    their own; an unknown profile is still a usage error, and a profile's own data path still has its own
    loader (what botocore's per-session loader would have read)."""
    monkeypatch.setenv("AWS_CONFIG_FILE", str(tmp_path / "config"))
    (tmp_path / "config").write_text("[profile models]\ndata_path = " + str(tmp_path / "models") + "\n")
    one = new_session(aws_access_key_id="a", aws_secret_access_key="a", region_name="ap-northeast-1")
    two = new_session(aws_access_key_id="b", aws_secret_access_key="b", region_name="ap-northeast-1")
    loader = one._session.get_component("data_loader")
    assert two._session.get_component("data_loader") is loader
    assert len(loader.search_paths) == len(set(loader.search_paths)), loader.search_paths
    assert botocore.loaders.Loader.BUILTIN_DATA_PATH in loader.search_paths  # botocore's own paths kept
    assert one.get_credentials().access_key == "a" and two.get_credentials().access_key == "b"
    first, second = one.client("sqs"), two.client("sqs")
    assert first is not second and first.meta.service_model.service_name == "sqs"
    assert models().get_component("data_loader") is loader  # a model looked up without a client: the same parse
    assert models().get_service_model("sqs").service_name == "sqs"
    own = new_session(profile_name="models")._session.get_component("data_loader")
    assert own is not loader and str(tmp_path / "models") in own.search_paths
    with pytest.raises(UsageError, match="could not be found"):
        Aws(profile="no-such-profile")


def _events(session):
    return session._session._events  # boto3 offers its botocore session only as _session


def _named(handler) -> object:
    """A handler as itself, but a closure boto3 makes anew for every session (`lazy_call`) as its function and the
    names it closes over, and a method of an object botocore makes for each client as its function and class."""
    if hasattr(handler, "__self__") and hasattr(handler, "__func__"):
        return handler.__func__, type(handler.__self__)
    cells = getattr(handler, "__closure__", None)
    if not cells:
        return handler
    return handler.__module__, handler.__qualname__, tuple(c.cell_contents for c in cells
                                                           if isinstance(c.cell_contents, str))


def _tree(session) -> dict:
    """Every node of a session's handler tree: its dotted name -> its handlers, (first, middle, last) in order."""
    found: dict = {}

    def walk(node: dict, name: tuple[str, ...]) -> None:
        if node["values"] is not None:
            found[".".join(name)] = tuple(tuple(_named(h) for h in section) for section in node["values"])
        for chunk, child in node["children"].items():
            walk(child, (*name, chunk))

    walk(_events(session)._emitter._handlers._root, ())
    return found


def _called(session, event: str) -> list:
    """The handlers an emit of `event` on the session calls, in order (its emitter's lookup, cache included)."""
    return [handler for handler, _ in _events(session).emit(event, service_name="sts")]


def test_a_new_session_holds_exactly_the_handlers_of_a_session_boto3_makes_itself():
    """new_session copies a process-wide emitter of botocore's builtin handlers instead of registering them again:
    its whole handler tree (every node, its first, middle and last handlers in order) is the one boto3.Session()
    makes, and every client it makes calls what that session's client would."""
    import boto3

    ours, theirs = new_session(region_name="ap-northeast-1"), boto3.Session(region_name="ap-northeast-1")
    assert _tree(ours) == _tree(theirs) and len(_tree(ours)) > 50
    ours_client, their_client = ours.client("sts"), theirs.client("sts")
    assert [_named(h) for h in _called(ours, "choose-service-name")] == \
        [_named(h) for h in _called(theirs, "choose-service-name")] == [botocore.handlers.handle_service_name_alias]
    for event in ("before-parameter-build.sts.GetCallerIdentity", "after-call.sts.GetCallerIdentity",
                  "choose-signer.sts.GetCallerIdentity", "before-sign.sts.GetCallerIdentity"):
        assert [_named(h) for h in ours_client.meta.events._emitter._handlers.prefix_search(event)] == \
            [_named(h) for h in their_client.meta.events._emitter._handlers.prefix_search(event)], event


def _added(**_):
    return None


def test_what_one_session_registers_or_removes_reaches_no_other():
    """Sessions stay their own although their builtin handlers come from one copy: a builtin handler one session
    removes (as Aws._own_session removes botocore's IAM policy decoding) or a handler it adds to an event that
    already has handlers is seen by no sibling, made before or after, by emitting (lookup cache and all)."""
    alias, decode = botocore.handlers.handle_service_name_alias, botocore.handlers.json_decode_policies
    one, sibling = new_session(region_name="ap-northeast-1"), new_session(region_name="ap-northeast-1")
    assert _called(one, "choose-service-name") == _called(sibling, "choose-service-name") == [alias]
    one.events.unregister("choose-service-name", alias)
    one.events.unregister("after-call.iam", decode)
    one.events.register("choose-service-name", _added)
    later = new_session(region_name="ap-northeast-1")
    assert _called(one, "choose-service-name") == [_added]
    for other in (sibling, later):
        assert _called(other, "choose-service-name") == [alias]
        assert decode in _events(other)._emitter._handlers.prefix_search("after-call.iam.GetRolePolicy")
    assert decode not in _events(one)._emitter._handlers.prefix_search("after-call.iam.GetRolePolicy")
    assert _tree(sibling) == _tree(later)


@pytest.mark.parametrize("change", ["appended", "replaced", "removed"])
def test_a_change_to_botocores_builtin_handlers_reaches_every_later_session(change, monkeypatch):
    """moto appends its stubber to botocore's list of builtin handlers (the same list object) when it is imported,
    after a session may have been made: a session made after a change to the list, in place, registers the list as
    it is now, not the copy made before it."""
    handlers = botocore.handlers.BUILTIN_HANDLERS
    new_session()
    kept = list(handlers)
    index = next(i for i, spec in enumerate(handlers) if spec[0] == "choose-service-name")
    try:
        if change == "appended":
            handlers.append(("choose-service-name", _added))
            expected = [botocore.handlers.handle_service_name_alias, _added]
        elif change == "replaced":
            handlers[index] = ("choose-service-name", _added)
            expected = [_added]
        else:
            del handlers[index]
            expected = []
        assert _called(new_session(), "choose-service-name") == expected
    finally:
        handlers[:] = kept
    assert _called(new_session(), "choose-service-name") == [botocore.handlers.handle_service_name_alias]


def test_a_model_lookup_reads_no_profile(monkeypatch, tmp_path):
    """opscli.aws.models looks up botocore's models whatever profile the environment names: `opscli export
    security-hub --profile good` with AWS_PROFILE naming a missing profile checks its findings against Security
    Hub's model instead of ending in an internal error. AWS_DATA_PATH still adds its directory, as botocore's own."""
    from opscli.fleet import securityhub_model

    monkeypatch.setenv("AWS_CONFIG_FILE", str(tmp_path / "config"))
    monkeypatch.setenv("AWS_PROFILE", "no-such-profile")
    securityhub_model.cache_clear()
    try:
        assert securityhub_model().service_name == "securityhub"
    finally:
        securityhub_model.cache_clear()
    with pytest.raises(UsageError, match="could not be found"):
        Aws(region="ap-northeast-1")
    monkeypatch.setenv("AWS_DATA_PATH", str(tmp_path / "models"))
    assert str(tmp_path / "models") in models().get_component("data_loader").search_paths
