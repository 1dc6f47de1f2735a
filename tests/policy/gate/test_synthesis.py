"""policies/gate/synthesis.py: a failed synthesis's error lines as findings, a usage error or a gate that could
not run."""

from __future__ import annotations

import pytest

from platform_spec.exit_codes import EXIT_INCOMPLETE, EXIT_USAGE
from policies.gate import cli, core, synthesis
from tests.conftest import CDK_AND_CHECKOV

pytestmark = [pytest.mark.synth, CDK_AND_CHECKOV]


def test_synth_error_lines_become_findings():
    stderr = "\n".join([
        "error: /TapStackx/Logs/Resource: [STK-KMS-001] Data stores ... : KmsKeyId is not set (at "
        "TapStackx/Logs/Resource)",
        "error: /TapStackx/Role/Resource: AwsSolutions-IAM5[Resource::*]: The IAM entity contains wildcard permissions",
        "error: /TapStackx/Db/Resource: StreamTech-STK-RDS-001: The PostgreSQL instance is Multi-AZ",
        "noise that is not a finding",
    ])
    findings = synthesis.synth_findings(stderr)
    assert [(f.engine, f.rule_id, f.catalog_id) for f in findings] == [
        ("aspect", "STK-KMS-001", "STK-KMS-001"), ("nag", "AwsSolutions-IAM5", "STK-IAM-001"),
        ("nag", "StreamTech-STK-RDS-001", "STK-RDS-001")]


def test_a_failed_synthesis_becomes_findings_usage_or_tool_errors(tmp_path, monkeypatch, capsys):
    """What `cdk synth` says when it fails (through the assembly cache) decides the gate's answer."""
    from cdk_app import assembly_cache
    from cdk_app.assembly_cache import SynthesisFailed

    def failing(output):
        def synthesized(context):
            raise SynthesisFailed("cdk synth exited 1", exit_code=1, output=output)
        return synthesized

    finding = "error: /TapStackx/Logs/Resource: [STK-KMS-001] KmsKeyId is not set (at TapStackx/Logs/Resource)\n"
    monkeypatch.setattr(assembly_cache, "synthesized", failing(finding))
    result = core.run("x", cdk_out=tmp_path / "out")
    assert [(f.engine, f.catalog_id) for f in result.findings] == [("aspect", "STK-KMS-001")]
    monkeypatch.setattr(assembly_cache, "synthesized",
                        failing("error: environmentSuffix 'x' is bad\nSubprocess exited with error 2\n"))
    assert cli.main(["--suffix", "x", "--cdk-out", str(tmp_path / "out")]) == EXIT_USAGE
    assert "environmentSuffix 'x' is bad" in capsys.readouterr().err
    monkeypatch.setattr(assembly_cache, "synthesized", failing("node crashed\n"))
    assert cli.main(["--suffix", "x", "--cdk-out", str(tmp_path / "out")]) == EXIT_INCOMPLETE
    assert "node crashed" in capsys.readouterr().err
    crash = ("Traceback (most recent call last):\n  ...\nValueError: bad\nerror: synthesis failed at "
             "cdk_app/constructs/database.py:58: ValueError: bad\npython3 -m cdk_app: Subprocess exited with error 3\n")
    monkeypatch.setattr(assembly_cache, "synthesized", failing(crash))
    assert cli.main(["--suffix", "x", "--cdk-out", str(tmp_path / "out")]) == EXIT_INCOMPLETE
    assert "\nerror: synthesis failed at cdk_app/constructs/database.py:58: ValueError: bad\nTraceback" in \
        capsys.readouterr().err  # the app's code broke: where first, the traceback after


def test_a_cdk_out_in_the_way_is_a_usage_error_naming_it_not_a_traceback(tmp_path, monkeypatch, capsys):
    """The assembly is copied into --cdk-out; a directory where the assembly has a file (something export would
    have to delete, which it never does) is the gate's exit 2 with the path, before anything is copied."""
    from cdk_app import assembly_cache

    assembly = tmp_path / "assembly"
    assembly.mkdir()
    (assembly / "TapStackx.template.json").write_text("{}")
    (assembly / "manifest.json").write_text("{}")
    monkeypatch.setattr(assembly_cache, "synthesized",
                        lambda context: assembly_cache.Assembly(assembly, "in-the-way", True, 0.0))
    (tmp_path / "out" / "TapStackx.template.json").mkdir(parents=True)
    assert cli.main(["--suffix", "x", "--cdk-out", str(tmp_path / "out")]) == EXIT_USAGE
    err = capsys.readouterr().err
    assert str(tmp_path / "out" / "TapStackx.template.json") in err and "Traceback" not in err, err
    assert not (tmp_path / "out" / "manifest.json").exists()
