"""opscli refuses what it cannot safely read, before it waits on it: special files and oversized files as
inputs, and a declaration that omits what the stack lists (report paths: test_run_files.py). Exit 2 for a path
it will not take, 3 for a run that could judge nothing; never a verdict, never a hang."""

from __future__ import annotations

import json
import os
import subprocess
import sys

import pytest

from opscli.cli import main
from platform_spec import exit_codes
from tests.conftest import ROOT, unmeasured


@pytest.mark.parametrize("option", ["--outputs", "--accepted", "--stack-record"])
@pytest.mark.parametrize("special", ["/dev/zero", "fifo", "dir"])
def test_an_input_that_is_not_a_regular_file_is_refused_at_once(option, special, fifo, tmp_path, capsys,
                                                                 aws_credentials):
    path = {"/dev/zero": "/dev/zero", "fifo": str(fifo), "dir": str(tmp_path)}[special]
    said = {"/dev/zero": "a character device", "fifo": "a FIFO", "dir": "a directory"}[special]
    argv = ["audit", option, path] if option == "--outputs" else ["audit", "--suffix", "x", option, path]
    code = main(argv)
    err = capsys.readouterr().err
    assert code == exit_codes.EXIT_USAGE, err
    assert f"{path} is {said}, not a regular file" in err, err
    assert len(err.strip().splitlines()) == 1 and "Traceback" not in err


def test_an_input_over_16_mib_is_refused(tmp_path, capsys):
    path = tmp_path / "huge.json"
    with path.open("wb") as handle:
        handle.truncate(16 * 2**20 + 1)  # sparse: no disk used
    assert main(["audit", "--outputs", str(path)]) == exit_codes.EXIT_USAGE
    assert f"outputs file {path} is larger than 16 MiB: refused" in capsys.readouterr().err


@pytest.mark.parametrize("option", ["--outputs", "--accepted"])
def test_the_real_process_given_a_fifo_ends_with_exit_2(option, fifo):
    """The process itself, as an operator runs it: a FIFO nobody writes to would block a plain open() forever;
    communicate()'s bound is there only so that a regression fails instead of hanging the suite."""
    argv = ["audit", "--outputs", str(fifo)] if option == "--outputs" else \
        ["audit", "--suffix", "x", "--accepted", str(fifo)]
    # unmeasured: the refusal's lines are measured in process (the test above); this one's claim is the process's
    env = {**unmeasured(os.environ), "AWS_ACCESS_KEY_ID": "x", "AWS_SECRET_ACCESS_KEY": "x", "NO_COLOR": "1"}
    done = subprocess.run([sys.executable, "-m", "opscli", *argv], cwd=ROOT, env=env, capture_output=True,
                          text=True, timeout=60)
    assert done.returncode == exit_codes.EXIT_USAGE and "is a FIFO, not a regular file" in done.stderr
    assert done.stdout == ""


def _record(tmp_path, template: dict, listed: list[tuple[str, str]]):
    path = tmp_path / "stack-resources.json"
    path.write_text(json.dumps({
        "StackName": "TapStackx", "TemplateBody": template,
        "StackResourceSummaries": [{"LogicalResourceId": lid, "ResourceType": rtype, "PhysicalResourceId": f"p-{lid}",
                                    "ResourceStatus": "CREATE_COMPLETE"} for lid, rtype in listed]}))
    return path


@pytest.mark.parametrize("command", [["audit"], ["drift"], ["rotate-check", "keys"]])
def test_a_record_whose_template_omits_listed_resources_is_exit_3_with_the_reason(command, tmp_path, capsys,
                                                                                   aws_credentials):
    listed = [(f"Queue{n}", "AWS::SQS::Queue") for n in range(139)]
    record = _record(tmp_path, {"Resources": {}}, listed)
    assert main([*command, "--suffix", "x", "--stack-record", str(record), "-o", "json"]) == exit_codes.EXIT_INCOMPLETE
    document = json.loads(capsys.readouterr().out)
    [finding] = document["findings"]
    assert finding["status"] == "ERROR" and document["summary"]["exit_code"] == exit_codes.EXIT_INCOMPLETE
    assert "the stack lists 139 resources, but its template declares only 0 of them" in finding["reason"]
    partial = _record(tmp_path, {"Resources": {"Queue0": {"Type": "AWS::SQS::Queue"}}}, listed)
    assert main([*command, "--suffix", "x", "--stack-record", str(partial), "-o", "json"]) == exit_codes.EXIT_INCOMPLETE
    assert "declares only 1 of them (not Queue1, Queue10, Queue100, ...)" in capsys.readouterr().out


def _declaring_the_outputs(resources: dict) -> dict:
    """A template of `resources` that declares the stack's outputs (as literals: they refer to nothing)."""
    from opscli.targets import REQUIRED_OUTPUTS

    return {"Resources": resources, "Outputs": {key: {"Value": "v"} for key in REQUIRED_OUTPUTS}}


@pytest.mark.parametrize("command", [["audit"], ["drift"], ["rotate-check", "keys"]])
def test_a_record_that_lists_fewer_resources_than_its_template_declares_is_exit_3(command, tmp_path, capsys,
                                                                                  aws_credentials):
    """3 of 139 listed: once the other 136 were simply out of scope (or judged only as "not in stack"); a
    record accounts for each declared resource, as deployed or as not emulated with the reason."""
    queues = {f"Queue{n:03}": {"Type": "AWS::SQS::Queue"} for n in range(139)}
    record = _record(tmp_path, _declaring_the_outputs(queues), [(lid, "AWS::SQS::Queue") for lid in list(queues)[:3]])
    assert main([*command, "--suffix", "x", "--stack-record", str(record), "-o", "json"]) == exit_codes.EXIT_INCOMPLETE
    document = json.loads(capsys.readouterr().out)
    [finding] = document["findings"]
    assert finding["status"] == "ERROR" and document["summary"]["exit_code"] == exit_codes.EXIT_INCOMPLETE
    assert "its template declares 139 resources, but the record accounts for only 3 of them (missing: Queue003, " \
           "Queue004, Queue005 and 133 more)" in finding["reason"]


def test_a_record_cut_short_on_both_sides_is_incomplete_not_a_pass(tmp_path):
    """Template and listing cut alike agree with each other: what they refer to and the stack's outputs show
    that they are a part."""
    from opscli import stack

    key = {"Type": "AWS::KMS::Key"}
    queue = {"Type": "AWS::SQS::Queue", "Properties": {"KmsMasterKeyId": {"Fn::GetAtt": ["Key", "Arn"]}},
             "DependsOn": ["Topic"]}
    whole = _declaring_the_outputs({"Key": key, "Topic": {"Type": "AWS::SNS::Topic"}, "Queue": queue})
    listed = [("Key", "AWS::KMS::Key"), ("Topic", "AWS::SNS::Topic"), ("Queue", "AWS::SQS::Queue")]
    assert len(stack.from_record(_record(tmp_path, whole, listed)).resources) == 3
    cut = {**whole, "Resources": {"Queue": queue}}
    with pytest.raises(stack.IncompleteDeclaration, match=r"declares 1 resources and refers to 2 more it does not "
                                                          r"declare \(missing: Key, Topic\)"):
        stack.from_record(_record(tmp_path, cut, [("Queue", "AWS::SQS::Queue")]))
    with pytest.raises(stack.IncompleteDeclaration, match=r"not the stack's outputs \(missing: EnvironmentSuffix, "
                                                          r"DbInstanceIdentifier, DbParameterGroupName and 17 more\)"):
        stack.from_record(_record(tmp_path, {"Resources": {"Key": key}}, [("Key", "AWS::KMS::Key")]))


def test_a_resource_a_record_does_not_emulate_is_accounted_for_only_with_its_reason(tmp_path):
    from opscli import stack
    from platform_spec.contract import LOCAL_NOT_EMULATED

    path = _record(tmp_path, _declaring_the_outputs({"Account": {"Type": "AWS::ApiGateway::Account"}}), [])
    record = json.loads(path.read_text())
    record["StackResourceSummaries"] = [{"LogicalResourceId": "Account", "ResourceType": "AWS::ApiGateway::Account",
                                         "ResourceStatus": LOCAL_NOT_EMULATED, "ResourceStatusReason": "account-wide"}]
    path.write_text(json.dumps(record))
    assert stack.from_record(path).resources[0].not_emulated
    record["StackResourceSummaries"][0].pop("ResourceStatusReason")
    path.write_text(json.dumps(record))
    with pytest.raises(stack.IncompleteDeclaration, match=r"accounts for only 0 of them \(missing: Account\)"):
        stack.from_record(path)


def test_cloudformations_own_listing_is_checked_by_the_same_rule_where_it_applies():
    """CloudFormation's word on what the stack has stands (a declared resource it does not list is there to be
    judged missing), but a template that refers to what it does not declare is a part either way. A name that
    Fn::Sub's own variable map defines is not a reference."""
    from opscli import stack

    sub = {"Fn::Sub": ["${Local}-${Key.Arn}-${AWS::Region}", {"Local": "x"}]}
    template = {"Resources": {"Key": {"Type": "AWS::KMS::Key"},
                              "Queue": {"Type": "AWS::SQS::Queue", "Properties": {"QueueName": sub}}}}
    scope = stack.build("TapStackx", template, [{"LogicalResourceId": "Key", "ResourceType": "AWS::KMS::Key",
                                                 "PhysicalResourceId": "k", "ResourceStatus": "CREATE_COMPLETE"}],
                        "cloudformation")
    assert {r.logical_id: r.status for r in scope.resources} == {"Key": "CREATE_COMPLETE", "Queue": "NOT_IN_STACK"}
    template["Resources"].pop("Key")
    with pytest.raises(stack.IncompleteDeclaration, match=r"refers to 1 more it does not declare \(missing: Key\)"):
        stack.build("TapStackx", template, [], "cloudformation")
    for malformed in ({"Fn::GetAtt": []}, {"Fn::Sub": [5]}, {"Ref": "Key", "Extra": 1}):
        template["Resources"]["Queue"]["Properties"]["QueueName"] = malformed
        with pytest.raises(stack.ScopeError, match="the template's references are malformed"):
            stack.build("TapStackx", template, [], "cloudformation")


@pytest.mark.synth
def test_the_stacks_own_record_is_whole_and_any_cut_of_it_is_not(synth, tmp_path):
    """The real template: its whole record is accepted; the first 3 of its 139 resources, listed alone, with or
    without the rest of the template, are not."""
    from opscli import stack

    resources = synth.template["Resources"]
    listed = [(lid, resource["Type"]) for lid, resource in resources.items()]
    assert len(stack.from_record(_record(tmp_path, synth.template, listed)).resources) == len(resources)
    first = dict(list(resources.items())[:3])
    for template in (synth.template, {**synth.template, "Resources": first}, {"Resources": first}):
        with pytest.raises(stack.IncompleteDeclaration, match="missing: "):
            stack.from_record(_record(tmp_path, template, listed[:3]))


def test_a_run_that_judges_nothing_is_exit_3_never_a_pass(tmp_path, capsys, moto_env):
    """rotate-check keys over a stack without a key: nothing reached a verdict, so nothing is vouched for."""
    record = _record(tmp_path, _declaring_the_outputs({"Queue": {"Type": "AWS::SQS::Queue"}}),
                     [("Queue", "AWS::SQS::Queue")])
    assert main(["rotate-check", "keys", "--suffix", "x", "--stack-record", str(record), "-o", "json"]) == 3
    captured = capsys.readouterr()
    [finding] = json.loads(captured.out)["findings"]
    assert finding["status"] == "ERROR" and "a run that judged nothing vouches for nothing" in finding["reason"]


def test_a_compliance_view_that_keeps_no_check_is_exit_3(monkeypatch, capsys, aws_credentials):
    import opscli.core
    from opscli.model import Finding, Report
    from platform_spec.result import Status

    only_unmapped = Report(command="audit", target={"suffix": "x"},
                           findings=[Finding("c", "STK-NOT-A-RULE", Status.PASS, "r", "ok")])
    monkeypatch.setattr(opscli.core, "audit", lambda *a, **k: only_unmapped)
    assert main(["audit", "--suffix", "x", "--compliance", "iso27001", "-o", "json"]) == exit_codes.EXIT_INCOMPLETE
    assert "opscli: no check reached a verdict for --compliance iso27001" in capsys.readouterr().err
