"""Policy-test fixtures: one Checkov process and one cfn-lint process for the session over every template that
needs them (the per-rule fixtures, the mutated copies of the real template, and the templates the gate tests hand
the gate), and the per-rule fixtures through the cdk-nag pack.

The tests that read these runs share one xdist group (tests/conftest.CDK_AND_CHECKOV), so each runs once per
session."""

from __future__ import annotations

import contextlib
import copy
import hashlib
import json
import os
import re
import subprocess
from collections import defaultdict
from collections.abc import Iterator, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any
from unittest import mock

import pytest

from platform_spec import monitor
from policies.report_formats import ReportFinding
from tests.conftest import ROOT, unmeasured
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


# --- the tools' answers, recorded once and handed back ---------------------------------------------------

def content_key(path: Path | str) -> str:
    """What a tool's answer about a template depends on: the template's bytes (its path is rewritten)."""
    return hashlib.sha256(Path(path).read_bytes()).hexdigest()


def _is_checkov(args: list[str]) -> bool:
    return "policies.checkov_batch" in args[1:3]


def _is_cfn_lint(args: list[str]) -> bool:
    from policies.gate.scanners.cfnlint import CFN_LINT

    return args[1:3] == ["-c", CFN_LINT]


@contextlib.contextmanager
def recorded_runs() -> Iterator[list[tuple[list[str], subprocess.CompletedProcess]]]:
    """subprocess.run as it is, each call recorded (its arguments and what the process answered); cfn-lint
    starts without coverage's subprocess hook (it runs none of our code; traced, it took twice the CPU)."""
    runs: list[tuple[list[str], subprocess.CompletedProcess]] = []
    real = subprocess.run

    def run(args, *rest, **options):
        args = [str(a) for a in args]
        if _is_cfn_lint(args):
            options["env"] = unmeasured(options.get("env") or os.environ)
        proc = real(args, *rest, **options)
        runs.append((args, proc))
        return proc

    with mock.patch.object(subprocess, "run", run):
        yield runs


def checkov_jobs(args: list[str]) -> list[tuple[str | None, str]]:
    """The (suffix, template) pairs of a policies.checkov_batch command line, in its order."""
    rest = args[args.index("--external-checks-dir") + 2:]
    jobs: list[tuple[str | None, str]] = []
    while rest:
        if rest[0] == "--template":
            jobs.append((rest[1], rest[2]))
            rest = rest[3:]
        else:
            jobs.append((None, rest[0]))
            rest = rest[1:]
    return jobs


def cfn_lint_templates(args: list[str]) -> list[str]:
    return args[args.index("--") + 1:]


@dataclass
class ToolAnswers:
    """What the session's one Checkov process and one cfn-lint process answered, per template they read: the
    gate tests get these answers back for the same bytes (`replay`) instead of starting each tool again."""

    checkov_command: list[str] = field(default_factory=list)  # the command line before its templates
    cfn_lint_command: list[str] = field(default_factory=list)
    checkov: dict[tuple[str, str | None], tuple[str, dict]] = field(default_factory=dict)  # (bytes, suffix) ->
    cfn_lint: dict[str, tuple[str, list[dict]]] = field(default_factory=dict)  # bytes -> (path read, matches)

    def record_checkov(self, args: list[str], proc: subprocess.CompletedProcess) -> None:
        reports = json.loads(proc.stdout)
        jobs = checkov_jobs(args)
        assert proc.returncode == 0 and len(reports) == len(jobs), proc.stderr[-2000:]
        self.checkov_command = args[:args.index("--external-checks-dir") + 2]
        for (suffix, path), report in zip(jobs, reports, strict=True):
            self.checkov[(content_key(path), suffix)] = (path, report)

    def record_cfn_lint(self, args: list[str], proc: subprocess.CompletedProcess) -> None:
        matches = json.loads(proc.stdout)
        assert not proc.returncode & 1, proc.stderr[-2000:]
        templates = cfn_lint_templates(args)
        self.cfn_lint_command = args[:args.index("--") + 1]
        assert {m["Filename"] for m in matches} <= set(templates)
        for path in templates:
            self.cfn_lint[content_key(path)] = (path, [m for m in matches if m["Filename"] == path])

    def answer(self, args: list[str]) -> subprocess.CompletedProcess | None:
        """What the recorded process answered for the templates `args` names (their paths in it), or None for a
        command line the session did not run (another interpreter or other options: it runs as it is, and a missing
        interpreter fails as it does)."""
        if self.checkov_command and args[:len(self.checkov_command)] == self.checkov_command:
            reports = [_moved(*self._known(self.checkov, (content_key(path), suffix), path), path)
                       for suffix, path in checkov_jobs(args)]
            return subprocess.CompletedProcess(args, 0, json.dumps(reports), "")
        if self.cfn_lint_command and args[:len(self.cfn_lint_command)] == self.cfn_lint_command:
            matches = [_moved(*self._known(self.cfn_lint, content_key(path), path), path)
                       for path in cfn_lint_templates(args)]
            flat = [match for found in matches for match in found]
            code = 0
            for match in flat:  # cfn-lint's exit code: a bit per level found
                code |= {"Error": 2, "Warning": 4, "Informational": 8}[match["Level"]]
            return subprocess.CompletedProcess(args, code, json.dumps(flat), "")
        return None

    @staticmethod
    def _known(answers: dict, key: Any, path: str) -> tuple[str, Any]:
        if key not in answers:
            raise AssertionError(f"{path}: no tool in this session read these bytes; the gate tests' templates are "
                                 "read once, in the session's runs (tests/policy/conftest.py gate_inputs)")
        return answers[key]


def _moved(recorded_path: str, answer: Any, path: str) -> Any:
    """`answer` about the template at `recorded_path`, as it names the same bytes at `path` (Checkov's file_path is
    '/' + the path relative to its working directory, the repository)."""
    spellings = {recorded_path: path, "/" + os.path.relpath(recorded_path, ROOT): "/" + os.path.relpath(path, ROOT)}

    def move(value: Any) -> Any:
        if isinstance(value, dict):
            return {k: move(v) for k, v in value.items()}
        if isinstance(value, list):
            return [move(v) for v in value]
        if isinstance(value, str):
            if value in spellings:
                return spellings[value]
            assert recorded_path not in value, f"{value!r} names the recorded template in a way not rewritten"
        return value

    return move(answer)


def misspelt_queue_property(template: dict) -> str:
    """A property CloudFormation would reject, put into `template`: the first queue's VisibilityTimeout spelt
    VisibilityTimeoutSeconds. Returns the queue's logical id."""
    queue = next(lid for lid, r in template["Resources"].items() if r["Type"] == "AWS::SQS::Queue")
    template["Resources"][queue]["Properties"]["VisibilityTimeoutSeconds"] = 30
    return queue


def schema_error_template(synth) -> tuple[str, dict, str]:
    """A real template of the session's assembly with misspelt_queue_property put into it: (its file name in the
    assembly, the template, the queue's logical id). The monitor's, TapMonitor<suffix>, the smaller of the two:
    cfn-lint's run over the gate tests' templates reads it whole."""
    path = synth.outdir / f"{monitor.stack_name(synth.config.environment_suffix)}.template.json"
    template = json.loads(path.read_bytes())
    return path.name, template, misspelt_queue_property(template)


def gate_inputs(synth) -> dict[str, tuple[bytes, str | None]]:
    """The templates tests/policy/gate/ hands the gate, as it writes them: file name -> (bytes, the suffix
    Checkov judges them with; None: cfn-lint alone reads them, Checkov being left out or missing there)."""
    suffix = synth.config.environment_suffix
    _, mutated, _ = schema_error_template(synth)
    inputs = {path.name: (path.read_bytes(), suffix)  # the full gate's: the assembly, as the gate copies it
              for path in sorted(synth.outdir.glob("*.template.json"))}
    inputs["findings.template.json"] = (json.dumps(FIXTURES["STK-REDIS-002"]["fail"], indent=1).encode(), SUFFIX)
    inputs["schema-error.template.json"] = (json.dumps(mutated, indent=1).encode(), None)
    inputs["usage.template.json"] = (b"{}", None)
    return inputs


@pytest.fixture(scope="session")
def gate_input_dir(synth, tmp_path_factory) -> Path:
    directory = tmp_path_factory.mktemp("gate-inputs")
    for name, (data, _) in gate_inputs(synth).items():
        (directory / name).write_bytes(data)
    return directory


@pytest.fixture(scope="session")
def tool_answers(policy_scan, gate_input_dir) -> ToolAnswers:
    """The session's Checkov answers (policy_scan's run) and one cfn-lint process, run by the gate's own
    cfnlint_scan, over the gate tests' templates."""
    from policies.gate.scanners.cfnlint import cfnlint_scan

    with recorded_runs() as runs:
        cfnlint_scan(sorted(gate_input_dir.glob("*.template.json")))
    [(args, proc)] = runs
    policy_scan.answers.record_cfn_lint(args, proc)
    return policy_scan.answers


@pytest.fixture
def replayed_tools(tool_answers, monkeypatch) -> ToolAnswers:
    """Checkov and cfn-lint as the gate starts them, answered from the session's runs for the same bytes (the
    gate parses them as it parses its own processes' output); any other process runs as it is."""
    run = subprocess.run

    def replay(args, *rest, **options):
        answer = tool_answers.answer([str(a) for a in args]) if isinstance(args, list | tuple) else None
        return answer if answer is not None else run(args, *rest, **options)

    monkeypatch.setattr(subprocess, "run", replay)
    return tool_answers


@dataclass
class PolicyScan:
    fixtures: dict[str, list[ReportFinding]]  # fixture file name -> Checkov findings
    mutants: dict[str, list[ReportFinding]]  # mutation name (or "original") -> Checkov + template engine
    answers: ToolAnswers = field(default_factory=ToolAnswers)  # what Checkov answered, per template


def mutant_resources(original: dict, mutant: dict) -> dict[str, dict]:
    """The resources a mutation changed or added (logical id -> resource)."""
    return {lid: r for lid, r in mutant["Resources"].items() if original["Resources"].get(lid) != r}


_SUBSTITUTED = re.compile(r"\$\{([A-Za-z0-9]+)")


def reached(value: Any, resources: Mapping[str, Any]) -> set[str]:
    """The logical ids of `resources` that `value` names anywhere: Ref, Fn::GetAtt (either form), DependsOn and
    Fn::Sub's ${Lid} / ${Lid.Attr}. A string that happens to equal a logical id counts too (more is harmless)."""
    found: set[str] = set()
    if isinstance(value, str):
        for name in (value, value.split(".", 1)[0], *_SUBSTITUTED.findall(value)):
            if name in resources:
                found.add(name)
    elif isinstance(value, Mapping):
        for item in value.values():
            found |= reached(item, resources)
    elif isinstance(value, list):
        for item in value:
            found |= reached(item, resources)
    return found


def checkov_mutants_template(original: dict, mutants: dict[str, dict]) -> tuple[dict, dict[str, str]]:
    """One template for Checkov: for each mutant, the resources it changed or added under a new logical id (their
    references still point at the real template's resources), and every resource of the real template they reach,
    transitively. Checkov judges a resource by its own properties and what they reference, so each mutant's
    resources get the verdict they would get in a whole mutated copy, for a fraction of one template's cost
    instead of one whole template per mutant. The real template's own verdicts are its run alone (the gate's).
    Returns the template and new logical id -> mutant name."""
    resources = original["Resources"]
    template = {k: copy.deepcopy(v) for k, v in original.items() if k not in ("Resources", "Outputs")}
    template["Resources"] = {}
    owner: dict[str, str] = {}
    wanted: set[str] = set()
    for index, (name, mutated) in enumerate(sorted(mutants.items())):
        changed = mutant_resources(original, mutated)
        if not changed:
            raise AssertionError(f"mutation {name!r} changes no resource Checkov could judge")
        for lid, resource in changed.items():
            new_id = f"{lid}Mutant{index}"
            assert new_id not in resources
            template["Resources"][new_id] = copy.deepcopy(resource)
            owner[new_id] = name
            wanted |= reached(resource, resources)
    while wanted:
        lid = wanted.pop()
        if lid not in template["Resources"]:
            template["Resources"][lid] = copy.deepcopy(resources[lid])
            wanted |= reached(resources[lid], resources) - set(template["Resources"])
    return template, owner


@pytest.fixture(scope="session")
def policy_scan(fixture_dir, gate_input_dir, synth, tmp_path_factory) -> PolicyScan:
    """Checkov (built-in + our checks), in one process, over the fixtures of every rule it implements (suffix
    'fx'), over the resources of every mutated copy of the real template (suffix 'test') and over the templates
    the gate tests hand the gate (the real template among them: its verdicts are the original's); the template
    engine over every whole copy."""
    from platform_spec import catalog
    from policies.gate.scanners.checkov import checkov_scan_jobs
    from policies.gate.scanners.template import template_scan

    directory = tmp_path_factory.mktemp("mutations")
    text = json.dumps(synth.template)
    paths = {"original": directory / "original.template.json"}
    paths["original"].write_text(text)
    template_rules = {r.id for r in catalog.rules_for(catalog.Engine.TEMPLATE)}
    for_checkov = {}
    for name, (mutate, rule) in MUTATIONS.items():
        template = json.loads(text)
        mutate(template)
        paths[name] = directory / f"{name}.template.json"
        paths[name].write_text(json.dumps(template))
        if rule not in template_rules:
            for_checkov[name] = template
    combined, owner = checkov_mutants_template(synth.template, for_checkov)
    combined_path = directory / "checkov-mutants.template.json"
    combined_path.write_text(json.dumps(combined))
    suffix = synth.config.environment_suffix
    implemented = {rule.id for rule in catalog.rules_for(catalog.Engine.CHECKOV)}
    fixture_paths = [path for path in sorted(fixture_dir.glob("*.template.json")) if rule_of(path.name) in implemented]
    jobs = [(path, SUFFIX) for path in fixture_paths]
    jobs.append((combined_path, suffix))
    jobs += [(gate_input_dir / name, judged_with) for name, (_, judged_with) in gate_inputs(synth).items()
             if judged_with]
    answers = ToolAnswers()
    with recorded_runs() as runs:
        findings, _, _ = checkov_scan_jobs(jobs)
    [(args, proc)] = runs
    answers.record_checkov(args, proc)
    engine_findings, _ = template_scan(list(paths.values()))
    fixtures: dict[str, list[ReportFinding]] = {path.name: [] for path in fixture_paths}
    mutants: dict[str, list[ReportFinding]] = defaultdict(list)
    for finding in findings + engine_findings:
        path = Path(finding.location)
        if path.parent.name == fixture_dir.name:
            fixtures[path.name].append(finding)
        elif path.parent.name == gate_input_dir.name:
            if path.name == synth.template_path.name:  # the real template, alone
                mutants["original"].append(finding)
        elif path.name == combined_path.name:
            if finding.resource.split(".", 1)[-1] in owner:  # what reaches it is judged in the real template
                mutants[owner[finding.resource.split(".", 1)[-1]]].append(finding)
        else:
            mutants[path.name.removesuffix(".template.json")].append(finding)
    return PolicyScan(fixtures, mutants, answers)


@pytest.fixture(scope="session")
def checkov_by_file(policy_scan) -> dict[str, list[ReportFinding]]:
    """Checkov's findings per fixture file name, for the fixtures of every rule Checkov implements (another
    fixture's name is a KeyError, never an empty list that would pass)."""
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
    whole pack over the real stack is the synthesis's (the session's assembly, tests/policy/gate/test_cli.py). Every
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
        pack._rules = [rule for rule in pack._rules if rule.rule_id == rule_id]
        Aspects.of(stack).add(pack)
    assembly = app.synth()
    errors = {}
    for artifact in assembly.stacks:
        errors[names[artifact.stack_name]] = [
            m.entry.data for m in artifact.messages if m.level == cx_api.SynthesisMessageLevel.ERROR]
    return errors
