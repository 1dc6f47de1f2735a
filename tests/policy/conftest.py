"""Policy-test fixtures: the per-rule fixtures run once through Checkov and once through the cdk-nag pack."""

from __future__ import annotations

import json
from collections import defaultdict
from pathlib import Path

import pytest

from tests.policy.fixtures import CMK_ALIAS, FIXTURES, SUFFIX


def fixture_file(directory: Path, rule_id: str, kind: str) -> Path:
    return directory / f"{rule_id}--{kind}.template.json"


@pytest.fixture(scope="session")
def fixture_dir(tmp_path_factory) -> Path:
    directory = tmp_path_factory.mktemp("policy-fixtures")
    for rule_id, cases in FIXTURES.items():
        for kind, tpl in cases.items():
            fixture_file(directory, rule_id, kind).write_text(json.dumps(tpl, indent=1))
    return directory


@pytest.fixture(scope="session")
def checkov_by_file(fixture_dir):
    """Checkov (built-in + our checks) over every fixture in one run: file name -> findings."""
    from policies.gate import checkov_scan

    findings, _, _ = checkov_scan(sorted(fixture_dir.glob("*.template.json")), suffix=SUFFIX)
    grouped = defaultdict(list)
    for finding in findings:
        grouped[Path(finding.location).name].append(finding)
    return grouped


@pytest.fixture(scope="session")
def nag_by_stack(fixture_dir):
    """Our cdk-nag pack over every fixture (one stack each, via CfnInclude) in one synth: stack -> errors."""
    from aws_cdk import App, Aspects, Environment, Stack
    from aws_cdk import cloudformation_include as cfn_include
    from aws_cdk import cx_api

    from policies.nag_pack import StreamTechChecks

    app = App(analytics_reporting=False, builtin_cloud_formation_validation=False)
    names = {}
    for index, path in enumerate(sorted(fixture_dir.glob("*.template.json"))):
        stack = Stack(app, f"Fixture{index}", env=Environment(region="ap-northeast-1"))
        cfn_include.CfnInclude(stack, "Template", template_file=str(path))
        names[stack.stack_name] = path.name
    Aspects.of(app).add(StreamTechChecks(suffix=SUFFIX, cmk_alias=CMK_ALIAS, reports=False))
    assembly = app.synth()
    errors = {}
    for artifact in assembly.stacks:
        errors[names[artifact.stack_name]] = [
            m.entry.data for m in artifact.messages if m.level == cx_api.SynthesisMessageLevel.ERROR]
    return errors
