"""cdk_app/monitor.py: TapMonitor<suffix>, the posture monitor's stack of its own, is in the session's assembly
beside TapStack (and the gate judges it too); its StackSet-ready template is the same stack under the organisation's
synthesizer (stackset_synthesizer), synthesized in process once for this module. The monitor's resources:
tests/unit/cdk_app/constructs/test_posture_monitor.py."""

from __future__ import annotations

import json
import re
from typing import Any

import pytest

from platform_spec import monitor
from policies.gate.core import assembly_templates
from tests.conftest import CDK_AND_CHECKOV, SUFFIX

pytestmark = pytest.mark.synth


def test_the_gate_judges_the_monitors_template_too(synth):
    assert synth.outdir / f"TapMonitor{SUFFIX}.template.json" in assembly_templates(synth.outdir)


# --- the StackSet-ready template --------------------------------------------------------------------------

# Twelve digits standing alone: an asset's hash (hex) may hold twelve digits in a row between its letters.
ACCOUNT_ID = re.compile(r"(?<![0-9A-Za-z])\d{12}(?![0-9A-Za-z])")
REGION = re.compile(r"\b(?:af|ap|ca|eu|il|me|mx|sa|us|cn)-[a-z]+-\d\b")
PREFIX = "streamtech-monitor-assets"


@pytest.fixture(scope="module")
def stackset_template(synth, monitor_template, tmp_path_factory) -> dict[str, Any]:
    """The monitor's stack as `cdk synth -c monitorAssetBucketPrefix=...` builds it for a StackSet: in process, the
    monitor alone (its watched sources read from the session's TapStack template), with the guardrails."""
    from aws_cdk import App

    from cdk_app.aspects import apply_guardrails
    from cdk_app.config import AppConfig
    from cdk_app.monitor import MonitorStack, stackset_synthesizer
    from cdk_app.monitor_code import layer_zip, read_policy, staged_code

    config = AppConfig.for_suffix(SUFFIX, monitorAssetBucketPrefix=PREFIX)
    # CDK's built-in template validation is the gate's job (cfn-lint): here it would cost 15 s of a 16 s synthesis.
    app = App(outdir=str(tmp_path_factory.mktemp("stackset")), analytics_reporting=False,
              builtin_cloud_formation_validation=False)
    code = staged_code()
    stack = MonitorStack(app, monitor.stack_name(SUFFIX), config=config, code=code, layer=layer_zip(),
                         read_policies=read_policy(code, SUFFIX), synthesizer=stackset_synthesizer(PREFIX),
                         watched_sources=monitor.watched_sources({r["Type"] for r in
                                                                  synth.template["Resources"].values()}))
    apply_guardrails(app, config)
    return app.synth().get_stack_by_name(stack.stack_name).template


@CDK_AND_CHECKOV
def test_the_stackset_template_names_no_account_and_no_other_region(stackset_template, monitor_template):
    text = json.dumps(stackset_template)
    assert not ACCOUNT_ID.findall(text)
    assert set(REGION.findall(text)) <= {"ap-northeast-1"}
    assert "Parameters" not in stackset_template or "BootstrapVersion" not in stackset_template["Parameters"]
    # The same resources as the one-account stack: only where the assets are differs.
    assert sorted(r["Type"] for r in stackset_template["Resources"].values()) == \
        sorted(r["Type"] for r in monitor_template["Resources"].values())


@CDK_AND_CHECKOV
def test_the_stackset_templates_assets_are_in_the_organisations_bucket_of_each_region(stackset_template):
    """Every asset is read from <prefix>-<the region the stack instance runs in>, never from one account's CDK
    bootstrap bucket; a template whose code sat in one account's bucket fails this (the one-account template)."""
    text = json.dumps(stackset_template)
    assert "cdk-hnb659fds" not in text and "AWS::AccountId}-" not in text
    buckets = [p["Code"]["S3Bucket"] for r in stackset_template["Resources"].values()
               for p in [r.get("Properties", {})] if isinstance(p.get("Code"), dict) and "S3Bucket" in p["Code"]]
    buckets += [r["Properties"]["Content"]["S3Bucket"] for r in stackset_template["Resources"].values()
                if r["Type"] == "AWS::Lambda::LayerVersion"]
    assert len(buckets) >= 3  # the monitor, its layer, CDK's auto-delete handler
    # <prefix>-${AWS::Region}, which CDK writes out for the stack's one region (the allowed one)
    assert all(b == f"{PREFIX}-ap-northeast-1" for b in buckets), buckets


def test_the_one_account_template_keeps_its_assets_in_the_accounts_own_bucket(monitor_template):
    """The failing fixture of the test above: the one-account template is not StackSet-ready."""
    assert "cdk-hnb659fds-assets-${AWS::AccountId}" in json.dumps(monitor_template)
