"""cdk_app/app.py, the app's entry point (what cdk.json runs): a bad context value is one line and exit 2,
a guardrail violation one line each and exit 1, the app's own code raising its traceback and the line of cdk_app/
it broke on (exit 3); each error line names the Python line that declares its construct. No full synthesis here:
a one-resource stand-in, or none, is built in its place."""

from __future__ import annotations

import functools
import io
import json
import os
import subprocess
import sys

import pytest

from platform_spec.exit_codes import EXIT_FINDINGS, EXIT_INCOMPLETE, EXIT_OK, EXIT_USAGE
from tests.conftest import CDK_AND_CHECKOV, ROOT, cdk_json_context, unmeasured


@CDK_AND_CHECKOV  # cdk_app.app imports aws_cdk (tests/conftest.py says why the group)
def test_main_returns_exit_code_2_with_one_line_for_bad_context():
    from cdk_app.app import main

    err = io.StringIO()
    assert main({"environmentSuffix": "BAD"}, stderr=err) == EXIT_USAGE
    lines = err.getvalue().splitlines()
    assert len(lines) == 1 and lines[0].startswith("error: environmentSuffix 'BAD' is not allowed")


def test_python_entry_point_refuses_bad_region_without_a_traceback():
    """The command cdk.json runs, given context the way the CDK CLI passes it (CDK_CONTEXT_JSON). The process
    runs without coverage's subprocess hook: every line of ours it runs also runs in this test process (main's
    usage error above, the app's imports and its whole build in test_tap_stack's in-process synthesis), and
    cdk_app/__main__.py is omitted from measurement, so tracing it would only cost its imports' CPU."""
    env = {**unmeasured(os.environ), "CDK_CONTEXT_JSON": json.dumps({"region": "eu-west-1"}),
           "JSII_SILENCE_WARNING_END_OF_LIFE_NODE_VERSION": "20"}
    proc = subprocess.run([sys.executable, "-m", "cdk_app"], cwd=ROOT, env=env, capture_output=True, text=True,
                          timeout=120)
    assert proc.returncode == EXIT_USAGE
    assert proc.stderr.strip() == ("error: region 'eu-west-1' is not allowed: StreamTech data must stay in Japan, "
                                   "so this app deploys to ap-northeast-1 only")
    assert "Traceback" not in proc.stderr


@CDK_AND_CHECKOV
@pytest.mark.parametrize("flags", [True, False], ids=["cdk.json-flags", "no-flags"])
def test_main_exit_codes_follow_the_guardrails(monkeypatch, tmp_path, flags):
    """0 when the app is clean, 1 with one line per violation when an Aspect reports an error.

    With cdk.json's flags the errors arrive through CDK's validation report; without, as annotations.
    """
    from aws_cdk import App, Environment, Stack
    from aws_cdk import aws_kms as kms
    from aws_cdk import aws_logs as logs

    import cdk_app.app as entry

    # The app as the assembly cache's `cdk synth --no-validation` runs it: CDK's built-in template check (its
    # CloudFormation Validate plugin, cfn-lint's schema rules, which the gate's cfn-lint runs) left out. Errors
    # still reach the validation report through the annotations plugin, which that option leaves in place.
    monkeypatch.setattr(entry, "App", functools.partial(App, builtin_cloud_formation_validation=False))
    for encrypted, expected in ((True, EXIT_OK), (False, EXIT_FINDINGS)):
        def build(app, config, encrypted=encrypted):
            # A one-resource stand-in for TapStack, so this test costs no full synthesis.
            stack = Stack(app, config.stack_name, env=Environment(region=config.region))
            key = kms.Key(stack, "Cmk", alias=config.name("kms-alias")) if encrypted else None
            logs.LogGroup(stack, "Logs", log_group_name=f"/ecs/thing-{config.environment_suffix}", encryption_key=key)
            entry.apply_guardrails(app, config)

        monkeypatch.setattr(entry, "build_app", build)
        err = io.StringIO()
        # cdk.json's feature flags make Annotations errors fail synth through the validation report.
        context = {**(cdk_json_context() if flags else {}), "environmentSuffix": "qa"}
        code = entry.main(context, outdir=str(tmp_path / str(encrypted)), stderr=err)
        assert code == expected, err.getvalue()
        if expected == EXIT_FINDINGS:
            lines = err.getvalue().splitlines()
            assert lines[0].startswith("error: /TapStackqa/Logs/Resource: [STK-KMS-001]")
            assert lines[-1] == "error: synthesis found 1 guardrail violation(s); nothing is deployable"
        else:
            assert err.getvalue() == ""


@CDK_AND_CHECKOV
def test_a_synthesis_error_line_names_the_python_line_of_its_construct():
    from cdk_app.app import declared_at

    sites = {"Database/Instance": "cdk_app/constructs/database.py:58"}
    line = "/TapStackx/Database/Instance/Resource: StreamTech-STK-RDS-001: not Multi-AZ"
    assert declared_at(line, sites) == f"{line} (declared at cdk_app/constructs/database.py:58)"
    # cdk-nag ends some messages with a line feed: the error stays one line, the site on it
    assert declared_at(f"{line}.\n", sites) == f"{line}. (declared at cdk_app/constructs/database.py:58)"
    assert declared_at("no construct path here", sites) == "no construct path here"
    assert declared_at("/Elsewhere/X: message", {}) == "/Elsewhere/X: message"


@CDK_AND_CHECKOV
def test_a_synthesis_the_app_s_code_breaks_names_the_line_it_broke_on(tmp_path, monkeypatch):
    """Not a rule's finding but the app's code raising (a construct given a value CDK refuses): the entry point
    prints the traceback, then one line with the line of cdk_app/ it came from, and exits 3."""
    import io

    from cdk_app import app as entry

    where = ROOT / "cdk_app" / "constructs" / "database.py"
    broken = compile("\n\nraise ValueError('engine version\\n  not offered')", str(where), "exec")
    monkeypatch.setattr(entry, "build_app", lambda app, config: exec(broken, {}))
    err = io.StringIO()
    assert entry.main({"environmentSuffix": "x"}, outdir=str(tmp_path), stderr=err) == EXIT_INCOMPLETE
    *trace, last = err.getvalue().splitlines()
    assert trace[0].startswith("Traceback") and last == \
        "error: synthesis failed at cdk_app/constructs/database.py:3: ValueError: engine version not offered"
    assert entry.raised_at(ValueError("no traceback")) is None
