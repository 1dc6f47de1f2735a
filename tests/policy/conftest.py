"""Policy-test fixtures: one Checkov process for the session over every template that needs it (the per-rule
fixtures and the mutated copies of the real template), and the per-rule fixtures through the cdk-nag pack.

The tests that read the Checkov run share one xdist group, so the run happens once per session."""

from __future__ import annotations

import copy
import json
from collections import defaultdict
from dataclasses import dataclass
from pathlib import Path

import pytest

from policies.reports import ReportFinding
from tests.policy.fixtures import CMK_ALIAS, FIXTURES, SUFFIX
from tests.policy.mutations import MUTATIONS

CHECKOV_GROUP = pytest.mark.xdist_group("checkov")


def fixture_file(directory: Path, rule_id: str, kind: str) -> Path:
    return directory / f"{rule_id}--{kind}.template.json"


@pytest.fixture(scope="session")
def fixture_dir(tmp_path_factory) -> Path:
    directory = tmp_path_factory.mktemp("policy-fixtures")
    for rule_id, cases in FIXTURES.items():
        for kind, tpl in cases.items():
            fixture_file(directory, rule_id, kind).write_text(json.dumps(tpl, indent=1))
    return directory


@dataclass
class PolicyScan:
    fixtures: dict[str, list[ReportFinding]]  # fixture file name -> Checkov findings
    mutants: dict[str, list[ReportFinding]]  # mutation name (or "original") -> Checkov + template engine


@pytest.fixture(scope="session")
def policy_scan(fixture_dir, synth, tmp_path_factory) -> PolicyScan:
    """Checkov (built-in + our checks) over every fixture (suffix 'fx') and over the real template and its
    mutated copies (suffix 'test') in one process; the template engine over every copy."""
    from policies import catalog, gate

    directory = tmp_path_factory.mktemp("mutations")
    paths = {"original": directory / "original.template.json"}
    paths["original"].write_text(json.dumps(synth.template))
    for name, (mutate, _) in MUTATIONS.items():
        template = copy.deepcopy(synth.template)
        mutate(template)
        paths[name] = directory / f"{name}.template.json"
        paths[name].write_text(json.dumps(template))
    template_rules = {r.id for r in catalog.rules_for(catalog.Engine.TEMPLATE)}
    needs_checkov = [paths["original"]] + [paths[n] for n, (_, rule) in MUTATIONS.items() if rule not in template_rules]
    suffix = synth.config.environment_suffix
    jobs = [(path, SUFFIX) for path in sorted(fixture_dir.glob("*.template.json"))]
    jobs += [(path, suffix) for path in needs_checkov]
    findings, _, _ = gate.checkov_scan_jobs(jobs)
    engine_findings, _ = gate.template_scan(list(paths.values()))
    fixtures: dict[str, list[ReportFinding]] = defaultdict(list)
    mutants: dict[str, list[ReportFinding]] = defaultdict(list)
    for finding in findings + engine_findings:
        path = Path(finding.location)
        if path.parent.name == fixture_dir.name:
            fixtures[path.name].append(finding)
        else:
            mutants[path.name.removesuffix(".template.json")].append(finding)
    return PolicyScan(fixtures, mutants)


@pytest.fixture(scope="session")
def checkov_by_file(policy_scan) -> dict[str, list[ReportFinding]]:
    """Checkov's findings per fixture file name."""
    return policy_scan.fixtures


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
