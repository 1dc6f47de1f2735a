"""A finding explains itself: its rule's words, its evidence and the calls it came from, what to do now and in
code, its controls. (What drift says changed: tests/opscli/test_stackcheck.py.)"""

from __future__ import annotations

from dataclasses import replace

from opscli.cli import main
from opscli.explain import explanation
from opscli.model import Finding
from platform_spec.result import Status


def test_a_finding_on_a_declared_resource_names_the_calls_its_evidence_came_from():
    f = Finding("STK-NET-002", "STK-NET-002", Status.FAIL, "AWS::EC2::SecurityGroup DbSg (sg-1)",
                "admits tcp 22 from 0.0.0.0/0")
    e = explanation(f)
    assert e["evidence"] == {"found": "admits tcp 22 from 0.0.0.0/0",
                             "resource": {"type": "AWS::EC2::SecurityGroup", "logical_id": "DbSg",
                                          "physical_id": "sg-1", "name": "AWS::EC2::SecurityGroup DbSg (sg-1)"},
                             "read_with": ["cloudformation:GetTemplate", "cloudformation:ListStackResources",
                                           "ec2:DescribeSecurityGroups"]}
    assert e["remediation"]["kind"] == "text"  # no facts to fill a command from: the rule's words
    assert "connections.allow_from" in e["remediation"]["in_code"]
    permission = {"IpProtocol": "tcp", "FromPort": 22, "ToPort": 22, "IpRanges": [{"CidrIp": "0.0.0.0/0"}]}
    filled = explanation(replace(f, evidence={"id": "sg-1", "ip_permissions": [permission]}))["remediation"]
    assert filled == {**filled, "kind": "command", "now": (
        "aws ec2 revoke-security-group-ingress --group-id sg-1 --ip-permissions "
        "'[{\"FromPort\":22,\"IpProtocol\":\"tcp\",\"IpRanges\":[{\"CidrIp\":\"0.0.0.0/0\"}],\"ToPort\":22}]'")}
    assert e["controls"]["AWS Security Hub (FSBP)"] == ["EC2.18", "EC2.19"] and e["rationale"].endswith(".")


def test_a_secret_finding_names_the_secrets_calls_and_an_unknown_rule_explains_what_it_can():
    secret = explanation(Finding("secret.rotation_enabled", "STK-SECRET-003", Status.FAIL,
                                 "arn:aws:secretsmanager:ap-northeast-1:1:secret:db-x", "off"))
    assert "secretsmanager:DescribeSecret" in secret["evidence"]["read_with"]
    assert secret["evidence"]["resource"] == {"name": "arn:aws:secretsmanager:ap-northeast-1:1:secret:db-x"}
    foreign = explanation(Finding("x", "E3002", Status.FAIL, "somewhere", "bad"))
    assert foreign["rationale"] == "" and foreign["controls"] == {} and foreign["title"] == "E3002"


def test_an_unreadable_source_map_is_a_usage_error(tmp_path, capsys):
    (tmp_path / "map.json").write_text("[1, 2]")
    assert main(["audit", "--suffix", "test", "-o", "sarif", "--source-map", str(tmp_path / "map.json")]) == 2
    assert "--source-map: source map" in capsys.readouterr().err
    assert main(["audit", "--suffix", "test", "-o", "sarif", "--source-map", "/dev/zero"]) == 2
    assert "is a character device, not a regular file" in capsys.readouterr().err


def test_a_fix_is_filled_from_the_findings_facts_shell_quoted_and_chosen_by_its_evidence():
    """Hostile ids stay one shell word; a fact a command needs and the finding lacks moves to the next fix; a
    manual fix says that no single command fixes it."""
    group = Finding("STK-NET-002", "STK-NET-002", Status.FAIL, "AWS::EC2::SecurityGroup G (sg-1)", "open",
                    evidence={"id": "sg-1; rm -rf ~", "ip_permissions": []})
    assert explanation(group)["remediation"]["now"] == (
        "aws ec2 revoke-security-group-ingress --group-id 'sg-1; rm -rf ~' --ip-permissions '[]'")
    public = Finding("STK-NET-001", "STK-NET-001", Status.FAIL, "AWS::RDS::DBInstance Db (rds-x)", "public subnet",
                     evidence={"id": "rds-x"})
    assert explanation(public)["remediation"] == {**explanation(public)["remediation"], "kind": "manual"}
    assert explanation(public)["remediation"]["now"].startswith("No single command fixes this: ")
    passed = replace(group, status=Status.PASS)
    assert explanation(passed)["remediation"]["kind"] == "text"


def test_a_failure_without_facts_gets_the_rules_words_unless_no_command_could_fix_it():
    """A finding kept no facts (an older report, a declared resource gone): a rule with commands shows its words
    (nothing to fill them from), a rule no command fixes says so."""
    gone = Finding("stack.AWS::SQS::Queue", "STK-STACK-001", Status.FAIL, "AWS::SQS::Queue Q (q)", "not there")
    assert explanation(gone)["remediation"]["kind"] == "manual"
    old = Finding("STK-KMS-002", "STK-KMS-002", Status.FAIL, "AWS::KMS::Key K (k-1)", "rotation off")
    assert explanation(old)["remediation"] == {**explanation(old)["remediation"], "kind": "text",
                                               "now": "aws kms enable-key-rotation, with the ids and values each "
                                                      "failure names."}


HOSTILE = "x'; touch {tmp}/ran #\n$(touch {tmp}/ran)`touch {tmp}/ran`\x1b]52;c;cm0=\x07\t\u202egnp.exe\U0001f600\\"


def test_a_fix_with_hostile_ids_is_printable_and_pasted_into_bash_passes_exactly_them(tmp_path):
    """A name an intruder chose (a line feed, a terminal escape, a bidi override, a tab, command substitutions)
    is written so that the command holds only characters every view shows as they are (the terminal's sanitizer
    changes nothing, so every format has the same text), and bash, given the text, runs nothing but the command
    and passes exactly the names: a plain word in $'...' quotes, a JSON word with JSON's own escapes."""
    import json
    import subprocess

    from opscli.sanitize import is_visible

    hostile = HOSTILE.format(tmp=tmp_path)
    inventory = Finding("STK-RES-001", "STK-RES-001", Status.FAIL, "AWS::S3::Bucket B (b-1)", "exports",
                        evidence={"id": "b-1", "inventories": ["plain", hostile]})
    rule = Finding("STK-RES-003", "STK-RES-003", Status.FAIL, "AWS::Events::Rule R (r-1)", "targets",
                   evidence={"id": "r-1", "targets": [hostile]})
    for finding, last in ((inventory, [hostile]), (rule, [json.dumps([hostile])])):
        now = explanation(finding)["remediation"]["now"]
        assert is_visible(now) and "\t" not in now, now
        # `aws` here only writes each of its words, NUL-terminated, and each command's end
        shown = subprocess.run(["bash", "--norc", "--noprofile", "-c", 'aws() { printf "%s\\0" "$@"; printf "\\1"; }\n'
                                + now], capture_output=True, check=True, env={"LC_ALL": "C.UTF-8"}).stdout
        calls = [call.split(b"\0")[:-1] for call in shown.split(b"\1")[:-1]]
        assert [json.loads(c[-1]) if c[-1].startswith(b"[") else c[-1].decode() for c in calls][-1:] == [
            json.loads(v) if v.startswith("[") else v for v in last]
        assert not (tmp_path / "ran").exists()
    assert explanation(inventory)["remediation"]["now"].startswith(
        "aws s3api delete-bucket-inventory-configuration --bucket b-1 --id plain && ")


def test_a_rules_controls_and_words_are_read_once_and_each_finding_gets_its_own_copy():
    """controls() and Rule.now are computed once per rule (both frozen); what a finding's explanation holds is its
    own: changing one finding's controls changes no other finding's."""
    from opscli.explain import CONTROL_NAMES, controls
    from platform_spec import catalog

    rule = catalog.CATALOG["STK-KMS-001"]
    expected = {name: rule.references.ids(kind) for kind, name in CONTROL_NAMES.items() if rule.references.ids(kind)}
    first = controls(rule)
    assert first == expected != {}
    next(iter(first.values())).append("changed")
    first.clear()
    assert controls(rule) == expected
    assert rule.now is rule.now and rule.now.startswith("aws ")
