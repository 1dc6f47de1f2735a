"""Policy-test fixtures: one Checkov process for the session over every template that needs it (the per-rule
fixtures and the mutated copies of the real template), and the per-rule fixtures through the cdk-nag pack.

The tests that read the Checkov run share one xdist group (tests/conftest.CDK_AND_CHECKOV), so the run happens once
per session."""

from __future__ import annotations

import copy
import json
from collections import defaultdict
from dataclasses import dataclass
from pathlib import Path

import pytest

from policies.reports import ReportFinding
from tests.policy.fixtures import FIXTURES, MUTATIONS
from tests.policy.templates import CMK_ALIAS, SUFFIX


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


def mutant_resources(original: dict, mutant: dict) -> dict[str, dict]:
    """The resources a mutation changed or added (logical id -> resource)."""
    return {lid: r for lid, r in mutant["Resources"].items() if original["Resources"].get(lid) != r}


def checkov_union_template(original: dict, mutants: dict[str, dict]) -> tuple[dict, dict[str, str]]:
    """One template for Checkov: the real template plus, for each mutant, the resources it changed or added under
    a new logical id (their references still point at the real template's resources). Checkov judges a resource
    by its own properties and what they reference, so each mutant's resources get the verdict they would get in
    a whole mutated copy, for one template's cost instead of one per mutant (~1 s each).
    Returns the template and new logical id -> mutant name."""
    union = copy.deepcopy(original)
    owner: dict[str, str] = {}
    for index, (name, template) in enumerate(sorted(mutants.items())):
        changed = mutant_resources(original, template)
        if not changed:
            raise AssertionError(f"mutation {name!r} changes no resource Checkov could judge")
        for lid, resource in changed.items():
            new_id = f"{lid}Mutant{index}"
            assert new_id not in union["Resources"]
            union["Resources"][new_id] = copy.deepcopy(resource)
            owner[new_id] = name
    return union, owner


@pytest.fixture(scope="session")
def policy_scan(fixture_dir, synth, tmp_path_factory) -> PolicyScan:
    """Checkov (built-in + our checks) over every fixture (suffix 'fx') and over the real template with the
    resources of every mutated copy (suffix 'test') in one process; the template engine over every whole copy."""
    from platform_spec import catalog
    from policies import gate

    directory = tmp_path_factory.mktemp("mutations")
    paths = {"original": directory / "original.template.json"}
    paths["original"].write_text(json.dumps(synth.template))
    template_rules = {r.id for r in catalog.rules_for(catalog.Engine.TEMPLATE)}
    for_checkov = {}
    for name, (mutate, rule) in MUTATIONS.items():
        template = copy.deepcopy(synth.template)
        mutate(template)
        paths[name] = directory / f"{name}.template.json"
        paths[name].write_text(json.dumps(template))
        if rule not in template_rules:
            for_checkov[name] = template
    union, owner = checkov_union_template(synth.template, for_checkov)
    union_path = directory / "checkov-union.template.json"
    union_path.write_text(json.dumps(union))
    suffix = synth.config.environment_suffix
    jobs = [(path, SUFFIX) for path in sorted(fixture_dir.glob("*.template.json"))]
    jobs.append((union_path, suffix))
    findings, _, _ = gate.checkov_scan_jobs(jobs)
    engine_findings, _ = gate.template_scan(list(paths.values()))
    fixtures: dict[str, list[ReportFinding]] = defaultdict(list)
    mutants: dict[str, list[ReportFinding]] = defaultdict(list)
    for finding in findings + engine_findings:
        path = Path(finding.location)
        if path.parent.name == fixture_dir.name:
            fixtures[path.name].append(finding)
        elif path == union_path or path.name == union_path.name:
            mutants[owner.get(finding.resource.split(".", 1)[-1], "original")].append(finding)
        else:
            mutants[path.name.removesuffix(".template.json")].append(finding)
    return PolicyScan(fixtures, mutants)


@pytest.fixture(scope="session")
def checkov_by_file(policy_scan) -> dict[str, list[ReportFinding]]:
    """Checkov's findings per fixture file name."""
    return policy_scan.fixtures


def rule_of(fixture_name: str) -> str:
    """The rule a fixture file is for: 'STK-RDS-001--fail.template.json' -> 'STK-RDS-001'."""
    return fixture_name.split("--", 1)[0]


@pytest.fixture(scope="session")
def nag_by_stack(fixture_dir, tmp_path_factory):
    """Our cdk-nag pack over the fixtures of every rule it implements (one stack each, via CfnInclude) in one
    synth: fixture file name -> errors.

    Each stack gets its own instance of the pack with the pack's rule list cut to the fixture's rule (a pack that
    lost the rule has none left, and its failing fixture passes: test_engine says so). A rule's verdict on a
    resource is its own predicate's (cdk_app/nag_pack.py's _Application), whatever other rules run beside it; the
    whole pack over the real stack is the synthesis's (the session's assembly, tests/policy/test_gate.py). Every
    rule over every fixture was most of this group's jsii work (bench/README.md)."""
    from aws_cdk import App, Aspects, Environment, Stack, cx_api
    from aws_cdk import cloudformation_include as cfn_include

    from cdk_app.nag_pack import StreamTechChecks
    from platform_spec import catalog

    implemented = {rule.id for rule in catalog.rules_for(catalog.Engine.NAG)}
    app = App(analytics_reporting=False, builtin_cloud_formation_validation=False,
              outdir=str(tmp_path_factory.mktemp("nag-fixtures")))
    names = {}
    for index, path in enumerate(sorted(fixture_dir.glob("*.template.json"))):
        rule_id = rule_of(path.name)
        if rule_id not in implemented:
            continue
        stack = Stack(app, f"Fixture{index}", env=Environment(region="ap-northeast-1"))
        cfn_include.CfnInclude(stack, "Template", template_file=str(path))
        names[stack.stack_name] = path.name
        pack = StreamTechChecks(suffix=SUFFIX, cmk_alias=CMK_ALIAS, reports=False)
        pack._rules = [rule for rule in pack._rules if rule.rule_id == rule_id]  # noqa: SLF001 - the pack's own list, cut
        Aspects.of(stack).add(pack)
    assembly = app.synth()
    errors = {}
    for artifact in assembly.stacks:
        errors[names[artifact.stack_name]] = [
            m.entry.data for m in artifact.messages if m.level == cx_api.SynthesisMessageLevel.ERROR]
    return errors
