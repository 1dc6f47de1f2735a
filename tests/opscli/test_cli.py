"""The CLI: exit codes, stdout and stderr asserted separately (CliRunner for Click, main() for the boundary)."""

from __future__ import annotations

import json
import re

import pytest
from click.testing import CliRunner

from opscli import targets
from opscli.cli import State, cli, main
from opscli.render import findings_from_json, findings_from_sarif
from platform_spec import exit_codes
from platform_spec.rules.stk_secret_live import SECRET_CHECKS
from tests.conftest import ROOT
from tests.opscli.conftest import sharing_reads

# One worker holds the session's local deployment for every test that reads it (tests/conftest.py).
pytestmark = [pytest.mark.synth, pytest.mark.xdist_group("deployment")]


def invoke(*args: str):
    return CliRunner().invoke(cli, list(args), obj=State())


def test_the_exit_code_contract_reads_the_same_in_the_help_the_readme_and_the_code():
    """opscli's exit codes as `opscli --help` states them (the package's docstring), as README's table states them
    and as the programs return them (platform_spec.exit_codes): the same five codes."""
    import opscli

    helped = {int(code) for code in re.findall(r"^  (\d+)  \S", opscli.__doc__ or "", re.MULTILINE)}
    readme = (ROOT / "README.md").read_text()
    table = readme[readme.index("| exit code | meaning |"):].split("\n\n", 1)[0]
    tabled = {int(code) for code in re.findall(r"^\| (\d+) \|", table, re.MULTILINE)}
    assert helped == tabled == {exit_codes.EXIT_OK, exit_codes.EXIT_FINDINGS, exit_codes.EXIT_USAGE,
                                exit_codes.EXIT_INCOMPLETE, exit_codes.EXIT_INTERRUPTED}


def test_audit_compliant_table_json_and_sarif(shared_read, tmp_path):
    # One run prints the table and writes the JSON and the SARIF with its PASS results (the same renderers as
    # `-o json` / `-o sarif`, which the other tests here read on stdout); a second prints SARIF on stdout without.
    as_json, with_pass = tmp_path / "audit.json", tmp_path / "audit.sarif"
    table = invoke("audit", "--suffix", "test", "--no-color", "--sarif-include-pass", "--report", f"json={as_json}",
                   "--report", f"sarif={with_pass}")
    assert table.exit_code == 0, table.output
    assert table.stdout.startswith("opscli audit — TapStacktest · ap-northeast-1") and "exit code 0" in table.stdout
    assert table.stderr == ""
    document = json.loads(as_json.read_text())
    assert document["schema"] == "opscli.report/v1" and document["summary"]["exit_code"] == 0
    assert document["summary"]["FAIL"] == 0 and document["summary"]["PASS"] == len(document["findings"])
    sarif = with_pass.read_text()
    assert {f.check_id for f in findings_from_sarif(sarif)} == {f["check_id"] for f in document["findings"]}
    assert findings_from_sarif(invoke("audit", "--suffix", "test", "-o", "sarif").stdout) == []  # nothing failing


def test_audit_findings_exit_1_and_fail_on_threshold(deployed, restored_deployment, synth):
    import boto3
    logs, name = boto3.client("logs", region_name="ap-northeast-1"), "/ecs/metadata-api-test"
    logs.delete_retention_policy(logGroupName=name)
    try:
        with sharing_reads({}):  # both runs judge the one changed state: read once
            low = invoke("audit", "--suffix", "test", "-o", "json")
            medium = invoke("audit", "--suffix", "test", "--fail-on", "medium", "-o", "json")
    finally:
        logs.put_retention_policy(logGroupName=name, retentionInDays=synth.config.log_retention_days)
    assert low.exit_code == exit_codes.EXIT_FINDINGS
    failed = [f for f in findings_from_json(low.stdout) if f.status.value == "FAIL"]
    assert [(f.rule_id, f.severity) for f in failed] == [("STK-LOG-001", "LOW")]
    # STK-LOG-001 is LOW: with --fail-on medium the same findings exit 0.
    assert medium.exit_code == exit_codes.EXIT_OK


def test_rotate_check_commands(deployed):
    secrets = invoke("rotate-check", "secrets", "--suffix", "test", "--max-age-days", "30", "-o", "json")
    assert secrets.exit_code == 0 and len(json.loads(secrets.stdout)["findings"]) == \
        len(targets.from_suffix("test").secrets) * len(SECRET_CHECKS)
    keys = invoke("rotate-check", "keys", "--suffix", "test", "-o", "json")
    assert keys.exit_code == 0 and json.loads(keys.stdout)["command"] == "rotate-check keys"


def test_usage_errors_are_one_line_exit_2(capsys, aws_credentials, tmp_path):
    cases = [
        (["audit"], "error: missing --suffix (e.g. --suffix prod) or --outputs FILE"),
        (["audit", "--suffix", "Prod!"], "error: environmentSuffix 'Prod!' is not allowed"),
        (["audit", "--suffix", "a", "--outputs", "x.json"], "error: give either --suffix or --outputs, not both"),
        (["audit", "--outputs", str(tmp_path / "missing.json")], "does not exist"),
        (["rules", "show", "STK-NOPE-001"], "error: unknown rule id 'STK-NOPE-001' (see: opscli rules list)"),
        (["audit", "--suffix", "x", "--region", "us-east-1"], "error: region 'us-east-1' is not allowed"),
    ]
    (tmp_path / "bad.json").write_text("{not json")
    (tmp_path / "partial.json").write_text(json.dumps({"EnvironmentSuffix": "x"}))
    cases += [(["audit", "--outputs", str(tmp_path / "bad.json")], "is not JSON"),
              (["audit", "--outputs", str(tmp_path / "partial.json")], "lacks DbInstanceIdentifier")]
    for argv, message in cases:
        assert main(argv) == exit_codes.EXIT_USAGE, argv
        captured = capsys.readouterr()
        assert captured.out == "" and message in captured.err and "Traceback" not in captured.err, argv
        assert len(captured.err.strip().splitlines()) == 1, captured.err


def test_unknown_output_format_is_a_click_usage_error(capsys):
    assert main(["audit", "--suffix", "x", "-o", "yaml"]) == exit_codes.EXIT_USAGE
    assert "Invalid value for '-o' / '--output'" in capsys.readouterr().err


def test_no_credentials_exit_3(monkeypatch, tmp_path, capsys):
    for key in ("AWS_ACCESS_KEY_ID", "AWS_SECRET_ACCESS_KEY", "AWS_SESSION_TOKEN", "AWS_PROFILE"):
        monkeypatch.delenv(key, raising=False)
    monkeypatch.setenv("AWS_SHARED_CREDENTIALS_FILE", str(tmp_path / "none"))
    monkeypatch.setenv("AWS_CONFIG_FILE", str(tmp_path / "none"))
    monkeypatch.setenv("AWS_EC2_METADATA_DISABLED", "true")
    assert main(["audit", "--suffix", "x"]) == exit_codes.EXIT_INCOMPLETE
    assert capsys.readouterr().err.startswith("error: no AWS credentials found")


def test_internal_errors_are_one_line_unless_verbose(monkeypatch, capsys, aws_credentials):
    import opscli.core
    monkeypatch.setattr(opscli.core, "audit", lambda *a, **k: 1 / 0)
    assert main(["audit", "--suffix", "x"]) == exit_codes.EXIT_INCOMPLETE
    err = capsys.readouterr().err
    assert err.strip() == "error: internal error: ZeroDivisionError: division by zero (run with --verbose for details)"
    assert main(["audit", "--suffix", "x", "--verbose"]) == exit_codes.EXIT_INCOMPLETE
    assert "Traceback" in capsys.readouterr().err


def test_rules_and_iam_policy(capsys):
    listed = invoke("rules", "list", "-o", "json")
    rules = json.loads(listed.stdout)
    assert {"STK-RDS-001", "STK-SECRET-003", "STK-DEV-001"} <= {r["id"] for r in rules}
    assert "STK-RDS-001" in invoke("rules", "list", "--no-color").stdout
    shown = invoke("rules", "show", "stk-redis-002")
    assert shown.exit_code == 0 and "TransitEncryptionMode 'preferred'" in shown.stdout
    documents = json.loads(invoke("iam-policy").stdout)
    actions = {a for d in documents for s in d["Statement"] for a in s["Action"]}
    assert "rds:DescribeDBInstances" in actions and "apigateway:GET" in actions
    assert all(a.split(":")[1].startswith(("Describe", "Get", "List", "GET")) for a in actions)
    assert main(["--version"]) == 0 and "opscli, version" in capsys.readouterr().out


def test_help_documents_the_exit_codes():
    text = invoke("audit", "--help").stdout
    assert "0  compliant" in text and "3  incomplete" in text


def test_verbose_progress_goes_to_stderr_only(deployed, capsys):
    assert main(["audit", "--suffix", "test", "-o", "json", "--verbose"]) == 0
    captured = capsys.readouterr()
    assert json.loads(captured.out)["summary"]["exit_code"] == 0
    document = json.loads(captured.out)
    declared = document["coverage"]["declared"]
    lines = [line for line in captured.err.strip().splitlines() if not line.startswith("aws: ")]
    assert lines[0].startswith("checked read AWS::") and lines[0].endswith(f"(1/{declared})")
    assert lines[-1].endswith(f"({declared}/{declared})") and len(lines) == declared
    calls = [line for line in captured.err.splitlines() if line.startswith("aws: ")]  # each call, as it ended
    assert len(calls) == document["summary"]["api_calls"] and calls[0].startswith("aws: cloudformation:GetTemplate ")


def test_progress_bar_on_a_terminal(shared_read, monkeypatch):
    """On a terminal the progress bar is drawn on stderr and the results still go to stdout alone."""
    import io

    from rich.console import Console

    import opscli.cli as cli_module
    stderr = io.StringIO()
    monkeypatch.setattr(cli_module, "_console", lambda no_color, stderr_=None, **kw: Console(
        file=stderr, force_terminal=True, width=100) if kw.get("stderr") else Console(file=io.StringIO()))
    result = CliRunner().invoke(cli, ["audit", "--suffix", "test", "-o", "json"], obj=State())
    assert result.exit_code == 0 and json.loads(result.stdout)["schema"] == "opscli.report/v1"
    drawn = stderr.getvalue()
    assert "opscli" in drawn and "\x1b[" in drawn  # the bar, with terminal control codes, on stderr only


@pytest.mark.parametrize("url", ["not a url", "ftp://127.0.0.1:5000", "http://", "http://127.0.0.1:port"])
def test_a_malformed_endpoint_url_is_a_usage_error(capsys, url):
    assert main(["audit", "--suffix", "test", "--endpoint-url", url]) == exit_codes.EXIT_USAGE
    assert "--endpoint-url" in capsys.readouterr().err


def test_a_deeply_nested_outputs_file_is_a_usage_error(tmp_path, capsys):
    path = tmp_path / "deep.json"
    path.write_text("[" * 100_000 + "]" * 100_000)
    assert main(["audit", "--outputs", str(path)]) == exit_codes.EXIT_USAGE
    assert "nested too deeply" in capsys.readouterr().err


def test_help_stands_without_the_repository():
    """Installed alone (pip install dist/streamtech-opscli), opscli's help must not send anyone to files of this
    repository (issue 26: it named tests/, cfn-outputs/ and python -m commands of other packages)."""
    import re

    from click.testing import CliRunner

    from opscli.cli import cli

    commands = [[], ["audit"], ["drift"], ["rotate-check", "secrets"], ["rotate-check", "keys"], ["rules", "list"],
                ["rules", "show"], ["iam-policy"], ["export", "security-hub"]]
    for command in commands:
        text = CliRunner().invoke(cli, [*command, "--help"], terminal_width=200).output
        assert text.startswith("Usage:"), (command, text)
        found = re.findall(r"tests/|cfn-outputs/|scripts/|cdk_app|platform_spec/|localenv|python -m \w+", text)
        assert found == [], (command, found)
