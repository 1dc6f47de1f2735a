"""localenv's emulator (localenv/emulator.py): the server and the moto it runs.

The server answers each connection in a thread it keeps (PooledWSGIServer): threads are reused, a connection never
waits for another, and the threads stop with the server. Its handler (KeepAliveRequestHandler) answers HTTP/1.1
requests on a connection the client keeps, each answer with its own length, and goes werkzeug's way (one answer,
then close) for anything else. Every assertion observes the server's state or a rendezvous of requests, never a
clock: a busy machine changes how long, not what.

Its moto (configure_moto) makes a symmetric KMS key without moto's RSA key pair (which AWS does not have for it, and
which cost ~0.11 s of CPU per key); the pair is made if something asks for it, and an asymmetric key signs and
verifies as before. Every botocore session of its process shares one loader of service models, moto reads its own
copies through one loader too, and werkzeug compiles a route's URL builders when a URL is first built from it."""

from __future__ import annotations

import contextlib
import http.client
import inspect
import json
import re
import socket
import threading
import time
import urllib.request
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor

import boto3
import pytest
from moto import mock_aws
from moto.core import DEFAULT_ACCOUNT_ID
from moto.kms.models import kms_backends

from localenv.emulator import KeepAliveRequestHandler, PooledWSGIServer, configure_moto
from tests.conftest import FAKE_CREDENTIALS

# --- the server ----------------------------------------------------------------------------------------------

GATHERED = 12
_together = threading.Barrier(GATHERED)


def _app(environ, start_response):
    path = environ["PATH_INFO"]
    if path == "/echo":  # the body the request sent, as the application read it
        body = environ["wsgi.input"].read(int(environ.get("CONTENT_LENGTH") or 0))
        start_response("200 OK", [("Content-Type", "text/plain"), ("Content-Length", "999")])  # a wrong length
        return [body]
    if path == "/ignore":  # reads nothing of the request's body
        start_response("200 OK", [("Content-Type", "text/plain")])
        return [b"ignored"]
    if path == "/head":
        start_response("200 OK", [("Content-Length", "1234"), ("ETag", '"e"')])  # what a HEAD of an object says
        return [b""]
    if path == "/empty":
        start_response("204 No Content", [])
        return [b""]
    if path == "/fails":
        raise RuntimeError("an application bug")
    if path == "/together":
        # Answers only once GATHERED requests are inside the application at the same time: served one after
        # another, the barrier breaks (its timeout is a bound against a hang, not a measure of speed).
        _together.wait(timeout=60)
    start_response("200 OK", [("Content-Type", "text/plain")])
    return [b"ok"]


def _until(condition, what: str, bound: float = 60.0) -> None:
    """Wait for `condition()` to hold (a state of the server, observed); the bound only turns a hang into a
    failure and says nothing about speed."""
    deadline = time.monotonic() + bound
    while not condition():
        assert time.monotonic() < deadline, f"never: {what}"
        time.sleep(0.01)


@pytest.fixture
def server() -> Iterator[PooledWSGIServer]:
    server = PooledWSGIServer("127.0.0.1", 0, _app, KeepAliveRequestHandler)
    serving = threading.Thread(target=server.serve_forever, kwargs={"poll_interval": 0.05}, daemon=True)
    serving.start()
    yield server
    server.shutdown()
    serving.join(5)


def _get(server: PooledWSGIServer, path: str = "/", timeout: float = 30) -> bytes:
    with urllib.request.urlopen(f"http://127.0.0.1:{server.server_port}{path}", timeout=timeout) as answer:
        return answer.read()


def test_one_request_after_another_reuses_the_same_thread(server):
    """Each request is sent once the thread that answered the one before is idle again (observed, not waited
    for by a clock): then every request finds it, and werkzeug's own threaded server would have started thirty."""
    for _ in range(30):
        assert _get(server) == b"ok"
        _until(lambda: server.idle_threads == len(server.threads), "the answering thread is idle again")
    assert len(server.threads) == 1, server.threads


def test_concurrent_requests_each_get_a_thread_and_none_waits_for_another(server):
    _together.reset()
    with ThreadPoolExecutor(max_workers=GATHERED) as pool:
        answers = list(pool.map(lambda _: _get(server, "/together", timeout=90), range(GATHERED)))
    assert answers == [b"ok"] * GATHERED  # all GATHERED were inside the application at once
    assert len(server.threads) >= GATHERED


def test_a_client_that_never_sends_holds_only_its_own_thread(server):
    silent = socket.create_connection(("127.0.0.1", server.server_port))
    try:
        assert _get(server) == b"ok"
    finally:
        silent.close()


def test_the_threads_stop_with_the_server():
    server = PooledWSGIServer("127.0.0.1", 0, _app)
    serving = threading.Thread(target=server.serve_forever, kwargs={"poll_interval": 0.05}, daemon=True)
    serving.start()
    with ThreadPoolExecutor(max_workers=3) as pool:
        list(pool.map(lambda _: _get(server), range(3)))
    server.shutdown()
    serving.join(5)
    for thread in server.threads:
        thread.join(5)
    assert server.threads and not any(thread.is_alive() for thread in server.threads)


def test_a_response_never_writes_its_member_choices_into_state_shared_between_requests(monkeypatch):
    """moto wrote ECS's include=TAGS choice into a dict its response class shares with every thread, which another
    thread's answer was iterating ("dictionary changed size during iteration", once in ten runs under load). With
    the emulator's configuration the class's dict is never written, whatever a request includes."""
    from moto.ecs.responses import EC2ContainerServiceResponse

    for key in ("AWS_ACCESS_KEY_ID", "AWS_SECRET_ACCESS_KEY"):
        monkeypatch.setenv(key, "testing")
    monkeypatch.delenv("AWS_ENDPOINT_URL", raising=False)
    configure_moto()
    before = dict(EC2ContainerServiceResponse.RESPONSE_KEY_PATH_TO_TRANSFORMER)
    with mock_aws():
        ecs = boto3.client("ecs", region_name="ap-northeast-1")
        ecs.create_cluster(clusterName="c", tags=[{"key": "Project", "value": "p"}])
        tagged = ecs.describe_clusters(clusters=["c"], include=["TAGS"])["clusters"][0]
        untagged = ecs.describe_clusters(clusters=["c"])["clusters"][0]
    assert tagged["tags"] == [{"key": "Project", "value": "p"}]
    assert not untagged.get("tags")  # the choice of one request does not leak into the next
    assert before == EC2ContainerServiceResponse.RESPONSE_KEY_PATH_TO_TRANSFORMER


def test_two_receives_at_once_never_take_the_same_message(monkeypatch):
    """SQS hands a message to one receive until its visibility lapses; moto checked a message's visibility and
    marked it received with no lock between, so two receives at once could both take it (a video processed twice
    by two job loops, under load). Here the first receive's check waits for the second receive to reach the check
    too (as it can, without the queue's lock, and then both take the message); with the lock the second never
    arrives, and the first goes on after its bound: one message, two receives at once, one of them gets it."""
    from moto.sqs.models import Message

    for key in ("AWS_ACCESS_KEY_ID", "AWS_SECRET_ACCESS_KEY"):
        monkeypatch.setenv(key, "testing")
    monkeypatch.delenv("AWS_ENDPOINT_URL", raising=False)
    configure_moto()
    visible = Message.visible
    both_checking = threading.Barrier(2)

    def slowly_visible(message: Message) -> bool:
        answer = visible.fget(message)  # type: ignore[attr-defined]
        with contextlib.suppress(threading.BrokenBarrierError):  # the other receive never came: the bound, once
            both_checking.wait(timeout=1)
        return answer

    with mock_aws():
        sqs = boto3.client("sqs", region_name="ap-northeast-1")
        url = sqs.create_queue(QueueName="q")["QueueUrl"]
        sqs.send_message(QueueUrl=url, MessageBody="one video")
        monkeypatch.setattr(Message, "visible", property(slowly_visible))
        start = threading.Barrier(2)

        def receive() -> list:
            start.wait()
            return sqs.receive_message(QueueUrl=url, VisibilityTimeout=60).get("Messages", [])

        with ThreadPoolExecutor(2) as pool:
            received = [m for found in pool.map(lambda _: receive(), range(2)) for m in found]
        assert [m["Body"] for m in received] == ["one video"]
        monkeypatch.setattr(Message, "visible", visible)
        sqs.delete_message(QueueUrl=url, ReceiptHandle=received[0]["ReceiptHandle"])
        assert int(sqs.get_queue_attributes(QueueUrl=url, AttributeNames=["ApproximateNumberOfMessages"])[
            "Attributes"]["ApproximateNumberOfMessages"]) == 0


def _ask(connection: http.client.HTTPConnection, method: str, path: str, body: bytes | None = None,
         headers: dict | None = None) -> tuple[int, dict, bytes]:
    connection.request(method, path, body=body, headers=headers or {})
    answer = connection.getresponse()
    return answer.status, {k.lower(): v for k, v in answer.getheaders()}, answer.read()


def test_requests_on_one_kept_connection_are_each_answered_with_their_own_length(server):
    """One connection, one thread, several requests: a body the application left unread never becomes the start
    of the next request, and each answer carries the length of what it holds (not the length the application
    claimed)."""
    connection = http.client.HTTPConnection("127.0.0.1", server.server_port, timeout=30)
    try:
        assert _ask(connection, "POST", "/ignore", b"x" * 5000)[2] == b"ignored"
        status, headers, body = _ask(connection, "POST", "/echo", b"second")
        assert (status, headers["content-length"], body) == (200, "6", b"second")
        assert _ask(connection, "GET", "/")[2] == b"ok"
        assert "close" not in headers.get("connection", "")
    finally:
        connection.close()
    assert len(server.threads) == 1, server.threads


def test_a_head_keeps_the_length_the_application_gave_and_a_204_has_no_body(server):
    connection = http.client.HTTPConnection("127.0.0.1", server.server_port, timeout=30)
    try:
        status, headers, body = _ask(connection, "HEAD", "/head")
        assert (status, headers["content-length"], headers["etag"], body) == (200, "1234", '"e"', b"")
        status, headers, body = _ask(connection, "GET", "/empty")
        assert (status, body) == (204, b"") and "content-length" not in headers
        assert _ask(connection, "GET", "/")[2] == b"ok"  # the connection is still in step
    finally:
        connection.close()


@pytest.mark.parametrize("how", ["chunked", "http/1.0", "connection: close"])
def test_what_it_cannot_keep_is_answered_once_and_closed(server, how):
    """A chunked body or an HTTP/1.0 request goes werkzeug's way; a client saying Connection: close is heard."""
    with socket.create_connection(("127.0.0.1", server.server_port), timeout=30) as sock:
        if how == "chunked":
            sock.sendall(b"POST / HTTP/1.1\r\nHost: x\r\nTransfer-Encoding: chunked\r\n\r\n3\r\nabc\r\n0\r\n\r\n")
        elif how == "http/1.0":
            sock.sendall(b"GET / HTTP/1.0\r\nHost: x\r\n\r\n")
        else:
            sock.sendall(b"GET / HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n")
        answer = b""
        while chunk := sock.recv(65536):  # the server closes: recv returns b"" at the end
            answer += chunk
    head, _, body = answer.partition(b"\r\n\r\n")
    assert head.startswith((b"HTTP/1.1 200", b"HTTP/1.0 200")) and b"connection: close" in head.lower(), head
    assert b"ok" in body  # werkzeug may chunk it


def test_an_application_error_is_a_500_and_the_server_goes_on(server):
    connection = http.client.HTTPConnection("127.0.0.1", server.server_port, timeout=30)
    try:
        status, headers, _ = _ask(connection, "GET", "/fails")
        assert status == 500 and headers.get("connection") == "close"
    finally:
        connection.close()
    assert _get(server) == b"ok"


def test_the_threads_stop_with_the_server_even_on_connections_clients_keep():
    """A kept connection's thread waits for the client's next request: stopping the server ends it, and nothing
    answers on that connection after."""
    server = PooledWSGIServer("127.0.0.1", 0, _app, KeepAliveRequestHandler)
    serving = threading.Thread(target=server.serve_forever, kwargs={"poll_interval": 0.05}, daemon=True)
    serving.start()
    connection = http.client.HTTPConnection("127.0.0.1", server.server_port, timeout=30)
    try:
        assert _ask(connection, "GET", "/")[2] == b"ok"
        server.shutdown()
        serving.join(5)
        for thread in server.threads:
            thread.join(5)
        assert server.threads and not any(thread.is_alive() for thread in server.threads)
        with pytest.raises((http.client.HTTPException, OSError)):
            _ask(connection, "GET", "/")
    finally:
        connection.close()


def test_past_its_limit_of_kept_connections_an_answer_says_close(server):
    """With one kept connection allowed, a second connection's answer says Connection: close (its client will not
    send on it again: the server never closes a connection a client may be sending on); once that one is gone,
    the first is still kept."""
    server.kept_connections = 1
    first = http.client.HTTPConnection("127.0.0.1", server.server_port, timeout=30)
    second = http.client.HTTPConnection("127.0.0.1", server.server_port, timeout=30)
    try:
        assert "connection" not in _ask(first, "GET", "/")[1]
        assert _ask(second, "GET", "/")[1].get("connection") == "close"
        second.close()
        _until(lambda: server.keeps(), "the second connection is closed on the server's side")
        assert "connection" not in _ask(first, "GET", "/")[1]
    finally:
        first.close()
        second.close()


# --- the moto it runs ------------------------------------------------------------------------------------------

REGION = "ap-northeast-1"


@pytest.fixture
def kms(monkeypatch):
    for key, value in FAKE_CREDENTIALS.items():
        monkeypatch.setenv(key, value)
    configure_moto()
    with mock_aws():
        yield boto3.client("kms", region_name=REGION)


def _key(key_id: str):
    return kms_backends[DEFAULT_ACCOUNT_ID][REGION].keys[key_id]


def test_a_symmetric_key_encrypts_without_a_key_pair_until_one_is_asked_for(kms):
    key_id = kms.create_key(Description="symmetric")["KeyMetadata"]["KeyId"]
    blob = kms.encrypt(KeyId=key_id, Plaintext=b"secret")["CiphertextBlob"]
    assert kms.decrypt(CiphertextBlob=blob)["Plaintext"] == b"secret"
    assert _key(key_id).private_key._made is None  # no key pair made
    assert _key(key_id).private_key.public_key() is not None  # asked for (as moto answers GetPublicKey): made
    assert _key(key_id).private_key._made is not None


@pytest.mark.parametrize("spec, algorithm", [("RSA_2048", "RSASSA_PSS_SHA_256"),
                                             ("ECC_NIST_P256", "ECDSA_SHA_256")])
def test_an_asymmetric_key_has_its_pair_at_once_and_signs_and_verifies(kms, spec, algorithm):
    key_id = kms.create_key(KeySpec=spec, KeyUsage="SIGN_VERIFY")["KeyMetadata"]["KeyId"]
    assert not hasattr(_key(key_id).private_key, "_made")  # moto's own key pair, made when the key was
    signature = kms.sign(KeyId=key_id, Message=b"m", SigningAlgorithm=algorithm)["Signature"]
    assert kms.verify(KeyId=key_id, Message=b"m", Signature=signature, SigningAlgorithm=algorithm)["SignatureValid"]
    assert kms.get_public_key(KeyId=key_id)["PublicKey"]


@pytest.mark.parametrize("by", ["KeyId", "Arn"])
def test_a_keys_state_is_changed_by_its_id_or_its_arn_as_kms_takes_either(kms, by):
    """DisableKey, EnableKey, ScheduleKeyDeletion and CancelKeyDeletion name the key by its ID or its ARN (AWS's
    API reference of each); moto's backend took only the ID, and an ARN was a server error."""
    metadata = kms.create_key()["KeyMetadata"]
    key = metadata[by]

    def state() -> str:
        return kms.describe_key(KeyId=metadata["KeyId"])["KeyMetadata"]["KeyState"]

    kms.disable_key(KeyId=key)
    assert state() == "Disabled"
    kms.enable_key(KeyId=key)
    assert state() == "Enabled"
    kms.schedule_key_deletion(KeyId=key, PendingWindowInDays=7)
    assert state() == "PendingDeletion"
    kms.cancel_key_deletion(KeyId=key)
    assert state() == "Disabled"


@pytest.mark.parametrize("elsewhere", [("ap-northeast-1", "us-east-1"), ("123456789012", "999999999999")],
                         ids=["another-region", "another-account"])
def test_a_key_arn_of_another_region_or_account_names_no_key_here(kms, elsewhere):
    """The same key ID under another region's or account's ARN is another key, which this region does not hold:
    NotFoundException, and this key's state is not touched."""
    from botocore.exceptions import ClientError

    metadata = kms.create_key()["KeyMetadata"]
    foreign = metadata["Arn"].replace(*elsewhere)
    for call in (lambda: kms.disable_key(KeyId=foreign), lambda: kms.enable_key(KeyId=foreign),
                 lambda: kms.schedule_key_deletion(KeyId=foreign, PendingWindowInDays=7),
                 lambda: kms.cancel_key_deletion(KeyId=foreign)):
        with pytest.raises(ClientError) as refused:
            call()
        assert refused.value.response["Error"]["Code"] == "NotFoundException"
        assert kms.describe_key(KeyId=metadata["KeyId"])["KeyMetadata"]["KeyState"] == "Enabled"


def test_every_botocore_session_of_an_emulator_process_shares_one_model_loader(monkeypatch):
    """moto makes botocore sessions of its own (three at import, to list EC2's regions): in the emulator's
    process they share one loader of service models, so each model is parsed once."""
    import botocore.loaders
    import botocore.session

    monkeypatch.setattr(botocore.session, "create_loader", botocore.loaders.create_loader)  # a fresh process's
    assert botocore.session.Session().get_component("data_loader") is not \
        botocore.session.Session().get_component("data_loader")
    configure_moto()
    one, two = botocore.session.Session(), botocore.session.Session()
    assert one.get_component("data_loader") is two.get_component("data_loader")
    own = botocore.session.Session()
    own.set_config_variable("data_path", "/elsewhere")
    assert own.get_component("data_loader") is not one.get_component("data_loader")  # another data path


def test_an_emulator_process_keeps_a_model_loader_it_already_shares(monkeypatch):
    """A process that put its own shared loader in botocore's place (the tests put opscli's) keeps it: the
    emulator's configuration neither wraps nor replaces it."""
    import botocore.session

    def own_loader(data_path=None):
        return shared

    shared = botocore.session.create_loader(None)
    monkeypatch.setattr(botocore.session, "create_loader", own_loader)
    configure_moto()
    assert botocore.session.create_loader is own_loader
    assert botocore.session.Session().get_component("data_loader") is shared


def test_moto_reads_every_model_of_an_emulator_process_through_one_loader(monkeypatch):
    """moto loads its own copy of each service model with a loader it makes for that model, and a new loader lists
    every service directory of botocore's data before it loads one: in the emulator's process one loader reads them
    all, so the services are listed once, and a model is the one a loader of moto's own makes."""
    from moto.core import loaders as moto_loaders
    from moto.core import utils as moto_utils

    monkeypatch.setattr(moto_utils, "create_loader", moto_loaders.create_loader)  # a fresh process's
    assert moto_utils.create_loader() is not moto_utils.create_loader()
    configure_moto()
    shared = moto_utils.create_loader()
    assert type(shared) is moto_loaders.Loader and moto_utils.create_loader() is shared
    assert shared.search_paths == moto_loaders.create_loader().search_paths
    for service in ("efs", "sqs"):
        assert moto_utils._load_service_model(service, "service-2") == \
            moto_loaders.Loader(extra_search_paths=[moto_loaders.moto_root]).load_service_model(service, "service-2")
    # botocore's loader keeps what it worked out: the services were listed once, by the loader that read both
    assert {key for key in shared._cache if key[0] in ("list_available_services", "load_service_model")} == {
        ("list_available_services", "service-2"), ("load_service_model", "efs", "service-2"),
        ("load_service_model", "sqs", "service-2")}


def test_an_emulator_process_keeps_a_moto_model_loader_it_already_shares(monkeypatch):
    """A process that put a loader of its own in moto's place keeps it."""
    from moto.core import utils as moto_utils

    def own_loader():
        return None

    monkeypatch.setattr(moto_utils, "create_loader", own_loader)
    configure_moto()
    assert moto_utils.create_loader is own_loader


def test_an_emulator_process_builds_urls_from_its_routes_as_werkzeug_does(monkeypatch):
    """werkzeug compiles two URL builders for every route it binds, and moto binds hundreds without building a URL:
    in the emulator's process a route's builder is compiled when a URL is first built from it, and builds the URL
    werkzeug's own builder builds."""
    from werkzeug.routing import Map, Rule
    from werkzeug.routing.exceptions import BuildError

    own = Rule._compile_builder
    monkeypatch.setattr(Rule, "_compile_builder", own)  # a fresh process's
    compiled = []
    monkeypatch.setattr(Rule, "_get_func_code", staticmethod(
        lambda code, name, get=Rule._get_func_code: compiled.append(name) or get(code, name)))
    rules = [Rule("/2015-03-31/functions/<path:name>/code", endpoint="code"),
             Rule("/restapis/<api>/resources/<resource>", endpoint="resource", defaults={"api": "a1"}),
             Rule("/<regex('[a-z]+'):bucket>/", endpoint="bucket")]

    def urls(mapping: Map) -> list:
        adapter = mapping.bind("example.com")
        built = []
        for endpoint, values in (("code", {"name": "fn:1"}), ("code", {"name": "fn", "Qualifier": "v 2"}),
                                 ("resource", {"resource": "r/1"}), ("resource", {"api": "a1", "resource": "r"}),
                                 ("bucket", {"bucket": "logs"}), ("code", {})):
            for append_unknown in (True, False):
                try:
                    built.append(adapter.build(endpoint, values, append_unknown=append_unknown))
                except BuildError as exc:
                    built.append(type(exc))
        return built

    class Regex:
        def __init__(self, url_map, pattern):
            self.regex, self.weight, self.part_isolating = pattern, 100, True

        def to_python(self, value):
            return value

        def to_url(self, value):
            return value

    def mapping() -> Map:
        return Map([rule.empty() for rule in rules], converters={"regex": Regex})

    expected = urls(mapping())
    configure_moto()
    compiled.clear()
    lazy = mapping()
    assert compiled == []  # nothing compiled when the routes were bound
    assert urls(lazy) == expected
    assert len(compiled) == 6  # each route's two builders, each when it was first used
    assert urls(lazy) == expected and len(compiled) == 6  # and only once


# --- the entry points' faster serving: the same answers -----------------------------------------------------------

# A parameter and a topic: DescribeStacks answers the stack's Parameters through moto's explicit alias.
_STACK = json.dumps({"Parameters": {"Tier": {"Type": "String", "Default": "gold"}},
                     "Resources": {"Topic": {"Type": "AWS::SNS::Topic"}}})
_DOCUMENT = json.dumps({"Version": "2012-10-17", "Statement": [
    {"Effect": "Allow", "Principal": {"Service": "lambda.amazonaws.com"}, "Action": "sts:AssumeRole"}]})


SERVICES = ("ec2", "iam", "rds", "cloudformation", "ecs", "cloudwatch", "s3")


def _reads(clients: dict) -> None:
    """Answers of each protocol moto's serializer writes, and of each kind of name it looks for: EC2 (its response
    transformers, tags), IAM (a transformer that URL-encodes, ones that leave a member out), RDS (a name without its
    class's prefix), CloudFormation (an object's explicit alias), ECS (JSON; a member a request includes), CloudWatch
    and S3 (REST-XML)."""
    clients["ec2"].describe_vpcs()
    clients["ec2"].describe_subnets()
    clients["ec2"].describe_route_tables()
    clients["ec2"].describe_security_groups()
    clients["iam"].get_role(RoleName="answered")
    clients["iam"].list_roles()
    clients["rds"].describe_db_subnet_groups()
    clients["cloudformation"].describe_stacks(StackName="answered")
    clients["ecs"].describe_clusters(clusters=["answered"], include=["TAGS"])
    clients["cloudwatch"].describe_alarms()
    clients["s3"].list_buckets()


def _answers(clients: dict) -> dict[str, bytes]:
    """Each answer of `_reads` as moto sent it, by operation (its request ID left out: new for every answer)."""
    answers: dict[str, bytes] = {}

    def keep(operation_model, response_dict, **_):
        answers[operation_model.name] = re.sub(rb"<(RequestId|requestId)>[^<]*</\1>", b"", response_dict["body"])

    for client in clients.values():
        client.meta.events.register("before-parse", keep)
    try:
        _reads(clients)
    finally:
        for client in clients.values():
            client.meta.events.unregister("before-parse", keep)
    return answers


def _resources(clients: dict) -> None:
    """What `_reads` reads: a tagged VPC with subnets and a security group with a rule, a tagged role, a subnet
    group, a stack with a parameter, a tagged cluster, an alarm and a bucket."""
    ec2 = clients["ec2"]
    vpc = ec2.create_vpc(CidrBlock="10.0.0.0/16")["Vpc"]["VpcId"]
    ec2.create_tags(Resources=[vpc], Tags=[{"Key": "k", "Value": "v"}])
    subnets = [ec2.create_subnet(VpcId=vpc, CidrBlock=f"10.0.{n}.0/24", AvailabilityZone=f"{REGION}{zone}")[
        "Subnet"]["SubnetId"] for n, zone in enumerate("ac")]
    group = ec2.create_security_group(GroupName="g", Description="d", VpcId=vpc)["GroupId"]
    ec2.authorize_security_group_ingress(GroupId=group, IpPermissions=[
        {"IpProtocol": "tcp", "FromPort": 443, "ToPort": 443, "IpRanges": [{"CidrIp": "10.0.0.0/16"}]}])
    clients["iam"].create_role(RoleName="answered", AssumeRolePolicyDocument=_DOCUMENT,
                               Tags=[{"Key": "k", "Value": "v"}])
    clients["rds"].create_db_subnet_group(DBSubnetGroupName="answered", DBSubnetGroupDescription="d",
                                          SubnetIds=subnets)
    clients["cloudformation"].create_stack(StackName="answered", TemplateBody=_STACK)
    clients["ecs"].create_cluster(clusterName="answered", tags=[{"key": "k", "value": "v"}])
    clients["cloudwatch"].put_metric_alarm(
        AlarmName="answered", MetricName="m", Namespace="n", Statistic="Sum", Period=60, EvaluationPeriods=1,
        Threshold=1, ComparisonOperator="GreaterThanThreshold")
    clients["s3"].create_bucket(Bucket="answered", CreateBucketConfiguration={"LocationConstraint": REGION})


def test_the_entry_points_serializer_answers_byte_for_byte_as_motos(monkeypatch):
    """`serve_answers_faster` (what `up` and the deploy-audit-stop run serve with) picks each member of an answer
    by the names moto's picker tries, worked out once: every answer is moto's own, byte for byte, the first time
    (names worked out) and the next (names remembered). The serializer runs traced here, as our code runs inside
    it (tests/library_tracing.py pauses the tracer inside it for in-process moto)."""
    from moto.core.serialize import ResponseSerializer

    from localenv import emulator

    for key, value in FAKE_CREDENTIALS.items():
        monkeypatch.setenv(key, value)
    monkeypatch.setattr(ResponseSerializer, "serialize", inspect.unwrap(ResponseSerializer.serialize))
    configure_moto()
    with mock_aws():
        session = boto3.Session(region_name=REGION)
        clients = {name: session.client(name, region_name=REGION) for name in SERVICES}
        _resources(clients)
        motos = _answers(clients)
        monkeypatch.setattr(emulator, "_MEMBER_NAMES", {})
        emulator.serve_answers_faster()
        try:
            assert ResponseSerializer.get_value is emulator._picked_value
            first, again = _answers(clients), _answers(clients)
        finally:
            ResponseSerializer.get_value = emulator._moto_get_value  # type: ignore[method-assign]
    assert len(motos) == 11 and all(motos.values())
    assert b"<key>k</key>" in motos["DescribeVpcs"] and b"<Key>k</Key>" in motos["GetRole"]
    assert b"%22sts%3AAssumeRole%22" in motos["GetRole"]  # its transformer: the document URL-encoded
    assert b"<ParameterValue>gold</ParameterValue>" in motos["DescribeStacks"]  # the stack's explicit alias
    assert b'"tags": [{"key": "k", "value": "v"}]' in motos["DescribeClusters"]  # included on request
    assert first == motos and again == motos
    assert emulator._MEMBER_NAMES  # worked out once, then remembered


def test_the_entry_points_serializer_is_moto_s_where_moto_is_not_the_one_it_stands_in_for(monkeypatch):
    """Another moto (alias providers of its own), or a serializer already changed by someone else: left as it is."""
    from moto.core import serialize
    from moto.core.utils import get_service_model

    from localenv import emulator

    monkeypatch.setattr(emulator, "_DEFAULT_ALIAS_PROVIDERS", [serialize.NoAlias])
    emulator.serve_answers_faster()
    assert serialize.ResponseSerializer.get_value is emulator._moto_get_value
    monkeypatch.undo()

    def someone_elses(*args):
        return None

    monkeypatch.setattr(serialize.ResponseSerializer, "get_value", someone_elses)
    emulator.serve_answers_faster()
    assert serialize.ResponseSerializer.get_value is someone_elses
    monkeypatch.undo()
    other = serialize.ResponseSerializer(get_service_model("sts").operation_model("GetCallerIdentity"),
                                         value_picker=serialize.DefaultAttributePicker())
    assert emulator._picked_value(other, {"Account": "1"}, "Account", None) == "1"  # not XFormed: moto's picker


@pytest.mark.parametrize("body", [
    "", "{}", '{"RequestId": "x"}', "<A><B>1</B></A>",
    "<RequestId>x</RequestId>", "<A><ResponseMetadata><RequestId>old</RequestId></ResponseMetadata></A>",
    "<A>" + "b" * 5000 + "<RequestId>1</RequestId>\n<RequestId>2</RequestId> <RequestId>3</RequestId></A>",
    b"<RequestId>bytes are not searched</RequestId>", None],
    ids=["empty", "json", "json-naming-it", "xml-without", "only-the-id", "at-the-end", "several-lines", "bytes",
         "none"])
def test_a_request_id_is_put_into_an_answer_as_moto_puts_it(body):
    """moto's regular expression runs only from the first <RequestId> on: the same headers (the same request ID
    drawn) and the same body as moto's own, whatever the answer."""
    from moto.core.responses import BaseResponse
    from moto.moto_api._internal import mock_random

    configure_moto()
    ours = BaseResponse._enrich_response
    motos = inspect.unwrap(ours)
    assert motos is not ours
    mock_random.seed(7)
    expected = motos({"status": 200}, body)
    mock_random.seed(7)
    assert ours({"status": 200}, body) == expected
    assert expected[0]["status"] == "200" and len(expected[0]["x-amzn-requestid"]) == 52


def test_get_template_answers_each_stack_s_template_as_registered(monkeypatch):
    """The template's text is written out once per registered stack and served as it was: a stack registered again
    under the same name is answered with its new template."""
    from localenv.emulator import register_stack

    for key, value in FAKE_CREDENTIALS.items():
        monkeypatch.setenv(key, value)
    configure_moto()
    with mock_aws():
        cfn = boto3.client("cloudformation", region_name=REGION)
        for template in ({"Resources": {"A": {"Type": "AWS::SNS::Topic"}}}, {"Resources": {}, "Outputs": {}}):
            register_stack({"StackName": "declared", "TemplateBody": template, "StackResourceSummaries": []},
                           account=DEFAULT_ACCOUNT_ID, region=REGION)
            for _ in range(2):
                assert cfn.get_template(StackName="declared")["TemplateBody"] == template


def test_get_template_answers_the_template_as_registered_not_as_changed_in_place_after(monkeypatch):
    """The record's template changed in place after it was registered (the caller's dict: register_stack copies
    the record, not its template) is not what was deployed: GetTemplate answers the registered one, whether or not
    it was asked before the change."""
    from localenv.emulator import register_stack

    for key, value in FAKE_CREDENTIALS.items():
        monkeypatch.setenv(key, value)
    configure_moto()
    with mock_aws():
        cfn = boto3.client("cloudformation", region_name=REGION)
        for asked_before in (True, False):
            template = {"Resources": {"A": {"Type": "AWS::SNS::Topic"}}}
            register_stack({"StackName": "inplace", "TemplateBody": template, "StackResourceSummaries": []},
                           account=DEFAULT_ACCOUNT_ID, region=REGION)
            if asked_before:
                assert cfn.get_template(StackName="inplace")["TemplateBody"] == template
            template["Resources"]["B"] = {"Type": "AWS::SQS::Queue"}
            assert cfn.get_template(StackName="inplace")["TemplateBody"] == {
                "Resources": {"A": {"Type": "AWS::SNS::Topic"}}}, asked_before
