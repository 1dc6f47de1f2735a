"""Every command's calls leave from one guarded session: a role profile's STS call goes nowhere but the endpoint
the run was given (for `export security-hub` as for the read-only commands), and the export trusts Security Hub's
answer only when it accounts for every finding sent."""

from __future__ import annotations

import http.server
import json
import socket
import threading
from collections.abc import Callable, Iterator
from datetime import UTC, datetime

import pytest

from opscli import export
from opscli.cli import main
from opscli.fleet import to_asff
from opscli.model import Finding, Report
from platform_spec.result import Status

ROLE = "arn:aws:iam::123456789012:role/opscli-auditor"
# Every AWS-facing command, each ready to run but for its AWS options.
COMMANDS = {"audit": ["audit", "--suffix", "test"], "drift": ["drift", "--suffix", "test"],
            "rotate-check secrets": ["rotate-check", "secrets", "--suffix", "test"],
            "rotate-check keys": ["rotate-check", "keys", "--suffix", "test"],
            "export security-hub": ["export", "security-hub", "--report", "asff={report}"]}


class Listener:
    """An HTTP server on 127.0.0.1 that records every request it receives and answers each with `answer`."""

    def __init__(self, answer: tuple[int, bytes] = (500, b"{}")) -> None:
        self.requests: list[tuple[str, str, bytes]] = []
        self.answer = answer
        listener = self

        class Handler(http.server.BaseHTTPRequestHandler):
            def do_POST(self) -> None:
                body = self.rfile.read(int(self.headers.get("Content-Length") or 0))
                listener.requests.append((self.command, self.path, body))
                status, payload = listener.answer
                self.send_response(status)
                self.send_header("Content-Type", "application/json")
                self.send_header("Content-Length", str(len(payload)))
                self.end_headers()
                self.wfile.write(payload)

            do_GET = do_PUT = do_POST

            def log_message(self, *_: object) -> None:
                pass

        self.server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.server.block_on_close = False  # a client's kept-alive connection does not hold the test's end
        self.url = f"http://127.0.0.1:{self.server.server_port}"
        self.thread = threading.Thread(target=self.server.serve_forever, kwargs={"poll_interval": 0.05},
                                       daemon=True)
        self.thread.start()

    def close(self) -> None:
        self.server.shutdown()
        self.server.server_close()
        self.thread.join(5)


@pytest.fixture
def listeners() -> Iterator[Callable[..., Listener]]:
    started: list[Listener] = []

    def start(**kwargs: object) -> Listener:
        started.append(Listener(**kwargs))
        return started[-1]

    yield start
    for listener in started:
        listener.close()


@pytest.fixture
def no_internet(monkeypatch) -> list[str]:
    """Every host name a test tried to resolve other than the loopback's, refused: what would have left for AWS."""
    resolved: list[str] = []
    real = socket.getaddrinfo

    def getaddrinfo(host, *args, **kwargs):
        if host not in ("127.0.0.1", "localhost"):
            resolved.append(str(host))
            raise socket.gaierror(f"tests resolve no host but the loopback, not {host}")
        return real(host, *args, **kwargs)

    monkeypatch.setattr(socket, "getaddrinfo", getaddrinfo)
    return resolved


@pytest.fixture
def role_profile(tmp_path, monkeypatch) -> str:
    """A profile `auditor` that assumes a role from a `base` profile's static keys; no credentials, endpoint or
    role anywhere else in the environment."""
    config = tmp_path / "config"
    config.write_text(f"[profile auditor]\nrole_arn = {ROLE}\nsource_profile = base\nregion = ap-northeast-1\n\n"
                      "[profile base]\naws_access_key_id = AKIAEXAMPLEBASE\naws_secret_access_key = base-secret\n")
    for key in ("AWS_ACCESS_KEY_ID", "AWS_SECRET_ACCESS_KEY", "AWS_SESSION_TOKEN", "AWS_PROFILE",
                "AWS_DEFAULT_PROFILE", "AWS_ENDPOINT_URL", "AWS_ENDPOINT_URL_STS", "AWS_ENDPOINT_URL_SECURITYHUB",
                "AWS_ROLE_ARN", "AWS_WEB_IDENTITY_TOKEN_FILE"):
        monkeypatch.delenv(key, raising=False)
    monkeypatch.setenv("AWS_CONFIG_FILE", str(config))
    monkeypatch.setenv("AWS_SHARED_CREDENTIALS_FILE", str(tmp_path / "none"))
    monkeypatch.setenv("AWS_EC2_METADATA_DISABLED", "true")
    return "auditor"


def asff(count: int = 5) -> list[dict]:
    """`count` valid ASFF findings with distinct ids."""
    finding = to_asff(Report(command="audit", target={"suffix": "prod", "region": "ap-northeast-1",
                                                      "account": "123456789012"},
                             findings=[Finding("key.rotation", "STK-KMS-002", Status.FAIL,
                                               "AWS::KMS::Key Key (1111-2222)", "off")],
                             created=datetime(2026, 12, 4, 12, 0, tzinfo=UTC)))[0]
    return [{**finding, "Id": f"{finding['Id']}/{n}"} for n in range(count)]


@pytest.fixture
def report_file(tmp_path) -> Callable[[int], str]:
    def write(count: int = 5) -> str:
        path = tmp_path / f"findings-{count}.asff.json"
        path.write_text(json.dumps(asff(count)))
        return str(path)
    return write


def command(name: str, report: str) -> list[str]:
    return [part.format(report=report) for part in COMMANDS[name]]


@pytest.mark.parametrize("variable", ["AWS_ENDPOINT_URL", "AWS_ENDPOINT_URL_STS"])
@pytest.mark.parametrize("name", list(COMMANDS))
def test_a_role_profiles_sts_call_never_leaves_for_another_endpoint(name, variable, role_profile, listeners,
                                                                    report_file, monkeypatch, capsys):
    """--endpoint-url names one listener, the environment gives STS another: botocore's own STS client for the
    role would send the signed AssumeRole there. The session's pin refuses it before it is sent, for every
    command; nothing reaches either listener (no credentials, so nothing to sign the command's call with)."""
    given, other = listeners(), listeners()
    monkeypatch.setenv(variable, other.url)
    code = main([*command(name, report_file()), "--profile", role_profile, "--endpoint-url", given.url])
    captured = capsys.readouterr()
    assert other.requests == [] and given.requests == []
    assert code == 3, captured.err
    assert f"refused a request to {other.url}: this run may reach only {given.url}" in captured.err
    assert "Traceback" not in captured.err and captured.out == ""


@pytest.mark.parametrize("name", list(COMMANDS))
def test_a_role_profile_with_only_endpoint_url_never_reaches_aws(name, role_profile, listeners, report_file,
                                                                 no_internet, capsys):
    """--endpoint-url alone: the role's STS client would resolve AWS's own STS endpoint. The pin refuses it
    before anything is looked up (and the test resolves no host but the loopback in any case)."""
    given = listeners()
    code = main([*command(name, report_file()), "--profile", role_profile, "--endpoint-url", given.url])
    captured = capsys.readouterr()
    assert no_internet == [] and given.requests == []
    assert code == 3, captured.err
    assert "refused a request to https://sts.ap-northeast-1.amazonaws.com" in captured.err
    assert "AWS_ENDPOINT_URL" in captured.err and "Traceback" not in captured.err


def test_the_export_with_a_role_profile_assumes_its_role_at_the_emulator(role_profile, report_file, monkeypatch,
                                                                         capsys):
    from localenv.emulator import moto_server

    with moto_server() as endpoint:
        monkeypatch.setenv("AWS_ENDPOINT_URL", endpoint)
        code = main(["export", "security-hub", "--report", f"asff={report_file(120)}", "--profile", role_profile])
    captured = capsys.readouterr()
    assert code == 0, captured.err
    assert captured.out == "imported 120 of 120 findings into Security Hub (ap-northeast-1)\n"


def test_the_export_session_sends_one_write_and_the_credential_calls_only(role_profile):
    from opscli.errors import ReadOnlyViolation

    client = export.import_client(region="ap-northeast-1", profile=role_profile, endpoint_url="http://127.0.0.1:9")
    calls = (client.get_findings, client.disable_security_hub,
             lambda: client.batch_update_findings(FindingIdentifiers=[{"Id": "f", "ProductArn": "p"}]))
    for call in calls:
        with pytest.raises(ReadOnlyViolation, match=r"this command sends only securityhub:BatchImportFindings$"):
            call()


class FakeHub:
    """A Security Hub client that answers each BatchImportFindings with the next of `answers` (a function of the
    batch) and records the batches it was sent."""

    def __init__(self, *answers: Callable[[list[dict]], dict]) -> None:
        self.answers = list(answers)
        self.batches: list[list[dict]] = []

    def batch_import_findings(self, *, Findings: list[dict]) -> dict:  # noqa: N803 - boto3's keyword
        self.batches.append(Findings)
        return self.answers[len(self.batches) - 1](Findings)


def imported_all(batch: list[dict]) -> dict:
    return {"SuccessCount": len(batch), "FailedCount": 0, "FailedFindings": []}


def run_export(monkeypatch, capsys, report: str, hub: FakeHub) -> tuple[int, str, str]:
    monkeypatch.setattr(export, "import_client", lambda **_: hub)
    code = main(["export", "security-hub", "--report", f"asff={report}"])
    captured = capsys.readouterr()
    return code, captured.out, captured.err


@pytest.mark.parametrize(("answer", "said"), [
    ({"SuccessCount": 6000, "FailedCount": 0, "FailedFindings": []}, "SuccessCount 6000 + FailedCount 0 for 5"),
    ({"SuccessCount": 5, "FailedCount": 2, "FailedFindings": []}, "SuccessCount 5 + FailedCount 2 for 5"),
    ({"SuccessCount": 3, "FailedCount": 2, "FailedFindings": []}, "FailedCount 2 but 0 FailedFindings named"),
    ({"SuccessCount": 3, "FailedCount": 1}, "SuccessCount 3 + FailedCount 1 for 5"),
    ({"SuccessCount": -1, "FailedCount": 6, "FailedFindings": []}, "SuccessCount -1, not a count"),
    ({"SuccessCount": True, "FailedCount": 4, "FailedFindings": []}, "SuccessCount True, not a count"),
    ({"SuccessCount": "5", "FailedCount": 0}, "SuccessCount '5', not a count"),
    ({"FailedCount": 0, "FailedFindings": []}, "SuccessCount None, not a count"),
    ({"SuccessCount": 4, "FailedCount": 1, "FailedFindings": [{"Id": "not-sent", "ErrorCode": "x",
                                                               "ErrorMessage": "y"}]},
     "FailedFindings naming a finding that was not sent"),
    ({"SuccessCount": 4, "FailedCount": 1, "FailedFindings": ["x"]}, "FailedFindings that are not a list"),
])
def test_an_answer_that_does_not_account_for_the_batch_is_could_not_tell(monkeypatch, capsys, report_file,
                                                                          answer, said):
    code, out, err = run_export(monkeypatch, capsys, report_file(5), FakeHub(lambda _: answer))
    assert code == 3 and out == ""  # never "imported ... of 5"
    assert "BatchImportFindings answered the batch of findings 1-5 of 5 (" in err
    assert said in err and "could not tell which of its findings were imported (0 of 5 imported before it)" in err


def test_an_untrusted_batch_is_named_and_stops_the_export(monkeypatch, capsys, report_file):
    hub = FakeHub(imported_all, lambda batch: {"SuccessCount": 6000, "FailedCount": 0}, imported_all)
    code, out, err = run_export(monkeypatch, capsys, report_file(250), hub)
    first, last = (hub.batches[1][0]["Id"], hub.batches[1][-1]["Id"])
    assert code == 3 and out == ""
    assert f"the batch of findings 101-200 of 250 ({first} ... {last}) with SuccessCount 6000" in err
    assert "(100 of 250 imported before it)" in err
    assert len(hub.batches) == 2  # nothing is sent after an answer that cannot be trusted


def test_a_partial_failure_names_each_finding_that_was_not_imported(monkeypatch, capsys, report_file):
    def two_refused(batch: list[dict]) -> dict:
        return {"SuccessCount": len(batch) - 2, "FailedCount": 2, "FailedFindings": [
            {"Id": batch[1]["Id"], "ErrorCode": "InvalidInput", "ErrorMessage": "Finding is too old"},
            {"Id": batch[3]["Id"], "ErrorCode": "Denied", "ErrorMessage": "\x1b[2Jcleared\u202e"}]}

    findings = asff(5)
    code, out, err = run_export(monkeypatch, capsys, report_file(5), FakeHub(two_refused))
    assert code == 3
    assert out == "imported 3 of 5 findings into Security Hub (ap-northeast-1)\n"
    assert f"not imported: {findings[1]['Id']}: InvalidInput: Finding is too old\n" in err
    assert f"not imported: {findings[3]['Id']}: Denied: \\x1b[2Jcleared\\u202e\n" in err  # shown, not acted on
    assert "error: 2 of 5 finding(s) were not imported" in err


def test_a_batch_sent_without_an_answer_is_could_not_tell(monkeypatch, capsys, report_file):
    """A read timeout comes after the request left: the batch may have been imported."""
    from botocore.exceptions import ReadTimeoutError

    def times_out(_: list[dict]) -> dict:
        raise ReadTimeoutError(endpoint_url="http://127.0.0.1:9/findings/import")

    code, out, err = run_export(monkeypatch, capsys, report_file(150), FakeHub(imported_all, times_out))
    assert code == 3 and out == ""
    assert "the batch of findings 101-150 of 150 (" in err and "sent, but no answer came (Read timeout" in err
    assert "could not tell which of its findings were imported (100 of 150 imported before it)" in err


def test_every_finding_imported_is_exit_0(monkeypatch, capsys, report_file):
    code, out, err = run_export(monkeypatch, capsys, report_file(150), FakeHub(imported_all, imported_all))
    assert (code, out, err) == (0, "imported 150 of 150 findings into Security Hub (ap-northeast-1)\n", "")


@pytest.mark.parametrize(("body", "said"), [
    (b'{"SuccessCount": 6000, "FailedCount": 0, "FailedFindings": []}', "with SuccessCount 6000 + FailedCount 0"),
    (b'{"SuccessCount": "many", "FailedCount": 0}', "answer could not be read: invalid literal for int()"),
    (b"<html>busy</html>", "answer could not be read: securityhub:BatchImportFindings answered with a body"),
])
def test_an_answer_on_the_wire_that_cannot_be_trusted_is_could_not_tell(listeners, report_file, monkeypatch,
                                                                        capsys, body, said):
    """Through the real client, its session's answer check and botocore's parser: a count that does not add up,
    one that is not a number, a body that is not an answer."""
    hub = listeners(answer=(200, body))
    for key, value in {"AWS_ACCESS_KEY_ID": "k", "AWS_SECRET_ACCESS_KEY": "s"}.items():
        monkeypatch.setenv(key, value)
    monkeypatch.delenv("AWS_PROFILE", raising=False)
    code = main(["export", "security-hub", "--report", f"asff={report_file(5)}", "--endpoint-url", hub.url])
    captured = capsys.readouterr()
    assert code == 3 and captured.out == "" and len(hub.requests) == 1
    assert "the batch of findings 1-5 of 5 (" in captured.err and said in captured.err
    assert "could not tell which of its findings were imported" in captured.err
    assert "internal error" not in captured.err


def test_a_credential_call_refused_is_named_as_such(role_profile, listeners, report_file, monkeypatch, capsys):
    """AccessDenied on the role's AssumeRole is not Security Hub refusing the import."""
    endpoint = listeners(answer=(403, b'<ErrorResponse><Error><Type>Sender</Type><Code>AccessDenied</Code>'
                                      b'<Message>not trusted</Message></Error></ErrorResponse>'))
    monkeypatch.setenv("AWS_ENDPOINT_URL", endpoint.url)
    code = main(["export", "security-hub", "--report", f"asff={report_file(5)}", "--profile", role_profile])
    err = capsys.readouterr().err
    assert code == 3 and "error: AssumeRole refused: AccessDenied: not trusted (0 of 5 imported before it)" in err
    assert [body.split(b"&")[0] for _, _, body in endpoint.requests] == [b"Action=AssumeRole"]


@pytest.mark.parametrize("name", list(COMMANDS))
def test_no_credentials_are_fetched_from_the_network_when_an_endpoint_is_given(name, listeners, report_file,
                                                                                 tmp_path, monkeypatch, capsys):
    """No keys in the environment or a profile: botocore would ask the instance metadata service and a container's
    credentials endpoint, each with an HTTP client of its own that the endpoint pin never sees. With an endpoint
    given, neither is asked: nothing reaches either listener, and the run says there are no credentials."""
    given, metadata, container = listeners(), listeners(), listeners()
    for key in ("AWS_ACCESS_KEY_ID", "AWS_SECRET_ACCESS_KEY", "AWS_SESSION_TOKEN", "AWS_PROFILE", "AWS_DEFAULT_PROFILE",
                "AWS_ENDPOINT_URL", "AWS_EC2_METADATA_DISABLED", "AWS_ROLE_ARN", "AWS_WEB_IDENTITY_TOKEN_FILE",
                "AWS_CONTAINER_CREDENTIALS_RELATIVE_URI", "AWS_CONTAINER_AUTHORIZATION_TOKEN"):
        monkeypatch.delenv(key, raising=False)
    monkeypatch.setenv("AWS_CONFIG_FILE", str(tmp_path / "no-config"))
    monkeypatch.setenv("AWS_SHARED_CREDENTIALS_FILE", str(tmp_path / "no-credentials"))
    monkeypatch.setenv("AWS_EC2_METADATA_SERVICE_ENDPOINT", metadata.url)
    monkeypatch.setenv("AWS_CONTAINER_CREDENTIALS_FULL_URI", f"{container.url}/credentials")
    code = main([*command(name, report_file()), "--endpoint-url", given.url])
    captured = capsys.readouterr()
    assert (metadata.requests, container.requests, given.requests) == ([], [], [])
    assert code == 3 and "no AWS credentials found" in captured.err, captured.err
    assert "Traceback" not in captured.err and "internal error" not in captured.err
