"""Every enforcing rule's "fix now" is a complete AWS CLI command that the AWS CLI's argument parsing accepts
(tests/aws_cli.py: botocore's models, the CLI's option names and value syntax), filled with the ids of the local
deployment; or the rule is listed here as one that no single command fixes.

Each case breaks the deployment's live picture as an intruder or a hurried operator would (one rule at a time, in
memory: the deployment itself is not changed) and judges it with opscli's own code (stackcheck.judge_picture, the
live-only predicates, the secrets' collector), so the evidence is what the predicates really give."""

from __future__ import annotations

import copy
import json
import re
from collections.abc import Callable
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest

from opscli import core, livestack, stackcheck, targets
from opscli.checks import Context, collectors
from opscli.explain import choose_fix, explanation, fixed_type
from opscli.model import Finding
from platform_spec import catalog
from platform_spec.registry import LIVE_ONLY_RULES
from platform_spec.result import Status
from tests.aws_cli import CommandError
from tests.aws_cli import parse as parse_traced
from tests.library_tracing import untraced
from tests.opscli.conftest import COMPLIANT_READS, sharing_reads
from tests.policy.fixtures import PICTURE_BREAKS
from tests.policy.mutations import OUTSIDER, outsider

# The AWS CLI's argument parsing (tests/aws_cli.py: botocore's models) is test and library code that calls none of
# ours: outside coverage's tracer (what coverage measures is the same).
parse = untraced(parse_traced)

ENFORCING = [rule for rule in catalog.CATALOG.values() if rule.engines and not rule.accepted_deviation]
# No single AWS CLI command fixes these: a design change, a replacement, a task definition revision, a file of
# ours, or a choice only the owner can make. Their "fix now" says so (kind "manual") and what to do instead.
NOT_A_COMMAND = {"STK-REGION-001", "STK-NAME-001", "STK-ECS-001", "STK-API-003", "STK-SQS-003", "STK-SECRET-001",
                 "STK-SECRET-002", "STK-STACK-001", "STK-DRIFT-001", "STK-STACK-002", "STK-OPS-001", "STK-SECRET-006",
                 "STK-RES-008", "STK-DESTROY-001", "STK-ECS-004", "STK-ECS-005", "STK-WAF-001", "STK-PERIM-002",
                 "STK-PERIM-003", "STK-NET-003", "STK-RES-004"}
PLACEHOLDER = re.compile(r"\b(?:GROUP|KEY|SECRET|FUNCTION|QUEUE|BUCKET|SUFFIX|REGION|ARN|TABLE|API|STAGE|NAME|FS|"
                         r"CLUSTER|SERVICE|VPC|ROLE|SID|GRANT|BUS|SUBSCRIPTION|FILTER|TARGET|RULE|SNAPSHOT|ACCOUNT|"
                         r"VERSION|DAYS|REVISION|DECLARED|NAT|SUBNET|ACL|STAGE_ARN|DB_ARN|REPLICA|DEST)\b")


def test_the_rules_no_command_fixes_are_exactly_those_listed():
    """Every enforcing rule says what fixes it now; a rule whose every fix is manual is listed here on purpose."""
    assert all(rule.fixes for rule in ENFORCING), [rule.id for rule in ENFORCING if not rule.fixes]
    assert {rule.id for rule in ENFORCING if not any(f.commands for f in rule.fixes)} == NOT_A_COMMAND


def test_a_manual_fix_says_so_and_every_rule_can_fall_back_to_words():
    for rule in ENFORCING:
        assert all(bool(f.manual) != bool(f.commands) for f in rule.fixes), rule.id
        assert all(f.manual.strip() and "{" not in f.manual for f in rule.fixes if f.manual), rule.id


# --- the cases: one broken picture per fix that has commands --------------------------------------------------
# The breaks of the live picture are each rule's own (PICTURE_BREAKS in tests/policy/rules/test_<rule module>.py);
# the live-only checks' and the secrets' cases are here.

# (rule id, what is broken, the live-only check, the resource type, facts that break it)
LIVE: list[tuple[str, str, str, dict[str, Any]]] = [
    ("STK-RDS-003", "rds.parameters_applied", "AWS::RDS::DBInstance", {"ParameterApplyStatus": "pending-reboot"}),
    ("STK-KMS-003", "kms.key_state", "AWS::KMS::Key", {"KeyState": "PendingDeletion"}),
    ("STK-KMS-003", "kms.key_state", "AWS::KMS::Key", {"KeyState": "Disabled"}),
    ("STK-RDS-004", "rds.server_certificate", "AWS::RDS::DBInstance", {"CertificateDetails": {
        "CAIdentifier": "rds-ca-2019", "ValidTill": datetime.now(UTC) + timedelta(days=10)}}),
    ("STK-RES-005", "rds.replicas_in_japan", "AWS::RDS::DBInstance", {
        "ReadReplicas": ["arn:aws:rds:us-west-2:123456789012:db:copy-in-oregon"]}),
    ("STK-RES-006", "rds.snapshots_kept_in_account", "AWS::RDS::DBInstance", {
        "SnapshotShares": [{"Snapshot": "manual-copy", "SharedWith": ["111122223333", "all"]}]}),
    ("STK-RES-002", "logs.subscription_destinations", "AWS::Logs::LogGroup", {"SubscriptionFilters": [
        {"FilterName": "exfil", "DestinationArn": "arn:aws:kinesis:us-east-1:111122223333:stream/copies"}]}),
    ("STK-POLICY-001", "kms.grants", "AWS::KMS::Key", {"Grants": [
        {"GrantId": "0c4bd8e0grant", "GranteePrincipal": OUTSIDER, "Operations": ["Decrypt"]}]}),
    ("STK-POLICY-001", "events.bus_policy", "AWS::Events::Rule", {"EventBus": "default", "EventBusPolicy": {
        "Version": "2012-10-17", "Statement": [{**outsider("AllowOutsider"), "Action": "events:PutEvents"}]}}),
]

NOW = datetime.now(UTC)
# (rule id, what is broken in DescribeSecret's answer (ListSecretVersionIds: "Versions"))
SECRET: list[tuple[str, dict[str, Any]]] = [
    ("STK-SECRET-003", {"RotationEnabled": False,
                        "RotationLambdaARN": "arn:aws:lambda:ap-northeast-1:123456789012:function:rotate-db"}),
    ("STK-SECRET-004", {"RotationRules": {"AutomaticallyAfterDays": 400}}),
    ("STK-SECRET-004", {"LastRotatedDate": NOW - timedelta(days=400)}),
    ("STK-SECRET-005",
     {"Versions": [{"VersionId": "5e0bd4f2-3c8a-4d51-9a6f-0d7c2b1e9a44", "VersionStages": ["AWSPENDING"],
                                      "CreatedDate": NOW - timedelta(days=3)}]}),
    ("STK-SECRET-007", {"KmsKeyId": None}),
    ("STK-SECRET-008", {"DeletedDate": NOW + timedelta(days=7)}),
    ("STK-RES-009", {"ReplicationStatus": [{"Region": "us-east-1", "Status": "InSync"}]}),
    ("STK-POLICY-001", {"ResourcePolicy": json.dumps({"Version": "2012-10-17", "Statement": [
        outsider(), {"Sid": "Mine", "Effect": "Allow", "Principal": {"AWS": "arn:aws:iam::123456789012:root"},
                     "Action": "secretsmanager:GetSecretValue", "Resource": "*"}]})}),
    ("STK-POLICY-001", {"ResourcePolicy": json.dumps({"Version": "2012-10-17", "Statement": [outsider()]})}),
]


@pytest.fixture(scope="module")
def read(deployment):
    """The local deployment read once (the picture every case breaks a copy of), its target and its ids: locally,
    the compliant shared deployment's read that tests/opscli's `shared_read` serves (the same scope, read once), an
    audit's read with the account's IAM beside the stack: the process's first read of the deployment, which the
    session's baseline judges (tests/conftest.first_read), rather than one more read of it."""
    target = targets.from_outputs(deployment.outputs_file)
    aws = deployment.aws
    with sharing_reads(COMPLIANT_READS if deployment.local else {}):
        live = livestack.read_stack(aws, core.stack_scope(aws, target), account=core.account_id(aws),
                                    account_iam=True)
    ids = {r.declared.physical_id for r in live.resources.values() if r.declared.physical_id}
    ids |= {v for attrs in live.resolver.attrs.values() for v in attrs.values() if isinstance(v, str)}
    return live, target, aws, ids


def picture_findings(live: livestack.LiveStack, rule_id: str, breaks: Callable[[dict], Any]) -> list[Finding]:
    picture = copied(live.live_template())
    breaks(picture)
    return [f for f in stackcheck.judge_picture(live, picture, rule_ids={rule_id})
            if f.rule_id == rule_id and f.status is Status.FAIL]


def copied(picture: dict) -> dict:
    """A deep copy of a picture for a case to break: through JSON (a fifth of copy.deepcopy's CPU) where that gives
    back exactly the picture (plain JSON data, as a template is), else copy.deepcopy."""
    again = json.loads(json.dumps(picture))
    return again if again == picture else copy.deepcopy(picture)


def live_findings(live: livestack.LiveStack, check_id: str, resource_type: str, facts: dict) -> list[Finding]:
    rule = next(r for r in LIVE_ONLY_RULES if r.check_id == check_id and r.resource_type == resource_type)
    lid, resource = next((lid, r) for lid, r in live.resources.items() if r.declared.type == resource_type
                         and r.state == livestack.ReadState.READ)
    result = rule.predicate(resource.properties or {}, {**resource.facts, **facts})
    return [Finding(check_id, rule.rule_id, result.status, stackcheck._label(live, lid), result.reason,
                    evidence=stackcheck.fix_facts(live, live.live_template(), lid, rule.rule_id, result))]


class _Answers:
    """Secrets Manager and KMS as the secrets' collector calls them, answering what the case says (the real
    DescribeSecret of the deployment's secret, with the case's changes)."""

    def __init__(self, described: dict, versions: list, policy: str | None) -> None:
        self.described, self.versions, self.policy = described, versions, policy

    def client(self, _service: str) -> _Answers:
        return self

    def describe_secret(self, SecretId: str) -> dict:  # noqa: N803 - botocore's parameter names
        return self.described

    def list_secret_version_ids(self, SecretId: str) -> dict:  # noqa: N803
        return {"Versions": self.versions}

    def get_resource_policy(self, SecretId: str) -> dict:  # noqa: N803
        return {"ARN": self.described["ARN"], **({"ResourcePolicy": self.policy} if self.policy else {})}

    def describe_key(self, KeyId: str) -> dict:  # noqa: N803
        return {"KeyMetadata": {"KeyManager": "CUSTOMER"}}


def secret_findings(aws: Any, target: Any, rule_id: str, changes: dict) -> list[Finding]:
    name = target.secrets[0]
    described = {k: v for k, v in aws.client("secretsmanager").describe_secret(SecretId=name).items()
                 if k != "ResponseMetadata"}
    described.update(RotationEnabled=True, RotationLambdaARN="arn:aws:lambda:ap-northeast-1:123456789012:function:r",
                     RotationRules={"AutomaticallyAfterDays": 30}, LastRotatedDate=NOW - timedelta(days=1),
                     NextRotationDate=NOW + timedelta(days=29), LastAccessedDate=NOW,
                     KmsKeyId=described.get("KmsKeyId") or "alias/kms-key-test")
    versions = changes.pop("Versions", [{"VersionId": "v1", "VersionStages": ["AWSCURRENT"], "CreatedDate": NOW}])
    policy = changes.pop("ResourcePolicy", None)
    described.update(changes)
    described = {k: v for k, v in described.items() if v is not None}
    context = Context(aws=_Answers(described, versions, policy), targets=target, now=NOW)
    return [f for f in collectors.secret(context, name) if f.rule_id == rule_id and f.status is Status.FAIL]


CASES: dict[str, tuple[str, str, Any]] = {  # case id -> (kind, rule id, how it breaks)
    **{f"{rule_id}-{what}": ("picture", rule_id, breaks) for rule_id, what, breaks in PICTURE_BREAKS},
    **{f"{rule_id}-{check}-{n}": ("live", rule_id, (check, rtype, facts))
       for n, (rule_id, check, rtype, facts) in enumerate(LIVE)},
    **{f"{rule_id}-secret-{n}": ("secret", rule_id, changes) for n, (rule_id, changes) in enumerate(SECRET)},
}


def findings_of(kind: str, rule_id: str, how: Any, read: Any) -> list[Finding]:
    live, target, aws, _ = read
    if kind == "picture":
        return picture_findings(live, rule_id, how)
    if kind == "live":
        return live_findings(live, *how)
    return secret_findings(aws, target, rule_id, dict(how))


@pytest.fixture(scope="module")
def outcomes(read) -> dict[str, list[Finding]]:
    """Every case's failures of its rule, judged once."""
    return {case: findings_of(kind, rule_id, how, read) for case, (kind, rule_id, how) in CASES.items()}


@pytest.mark.parametrize("case", CASES)
def test_the_fix_now_of_a_real_failure_is_a_command_the_aws_cli_parses(case, outcomes, read):
    """The failure's "fix now", as every format shows it (explain), is one or more complete AWS CLI commands: each
    parses as the CLI parses it, names no placeholder, and names a real id of the deployment."""
    rule_id, findings = CASES[case][1], outcomes[case]
    assert findings, f"the case breaks nothing that {rule_id} sees"
    rule = catalog.get(rule_id)
    kinds = [explanation(finding)["remediation"]["kind"] for finding in findings]
    # a case may also break what no command fixes (a dead-letter queue that no queue names any more is a work queue
    # without one): that one says so; the case's own failure is a command
    assert "command" in kinds and "text" not in kinds, [(f.reason, f.evidence) for f in findings]
    for finding in findings:
        if rule_id in ("STK-POLICY-001", "STK-IAM-002") and "grant" not in finding.reason:
            # a resource policy's finding names the statement (Sid, or position) and whom it admits
            assert re.search(r'statement (?:"Outsider"|"AllowOutsider"|#\d+) (?:admits|trusts) \S', finding.reason), \
                finding.reason
        explained = explanation(finding)["remediation"]
        if explained["kind"] != "command":
            continue
        _chosen, lines = choose_fix(rule, finding, fixed_type(finding))
        assert explained["now"] == " && ".join(lines)
        for line in lines:
            try:
                parse(line)
            except CommandError as exc:
                pytest.fail(f"{rule_id}: {exc}\n{line}")
            assert not PLACEHOLDER.search(line.replace("aws ", "", 1)), line
            # it acts on the deployment's resource, or on what the finding found beside it (a replica, a snapshot)
            named = read[3] | {finding.resource} | set(strings(finding.evidence))
            assert any(real in line for real in named if len(real) > 3), f"no id of the deployment in: {line}"


def strings(value: Any) -> list[str]:
    if isinstance(value, str):
        return [value]
    if isinstance(value, dict):
        return [s for v in value.values() for s in strings(v)]
    if isinstance(value, list):
        return [s for v in value for s in strings(v)]
    return []


def test_every_command_fix_is_chosen_by_a_case(outcomes):
    """Each fix with commands is filled (and so parsed, above) by at least one case."""
    chosen = set()
    for case, findings in outcomes.items():
        rule = catalog.get(CASES[case][1])
        for finding in findings:
            fix, lines = choose_fix(rule, finding, fixed_type(finding))
            if lines:
                chosen.add((rule.id, rule.fixes.index(fix)))
    wanted = {(rule.id, n) for rule in ENFORCING for n, f in enumerate(rule.fixes) if f.commands}
    assert wanted - chosen == set()


@pytest.mark.parametrize(("line", "why"), [
    ("aws ec2 revoke-security-group-ingress --group-ids sg-1", "unknown option --group-ids"),
    ("aws ec2 revoke-security-group-ingress --group-id sg-1 --ip-permissions '[{\"IpProtocol\":\"tcp\",\"FromPort\":"
     "\"twenty-two\"}]'", "Invalid type for parameter IpPermissions[0].FromPort"),
    ("aws rds modify-db-instance --multi-az --apply-immediately", "required: --db-instance-identifier"),
    ("aws rds modify-db-instance --db-instance-identifier rds-x --multi-az true", "takes no value"),
    ("aws kms enable-key-rotations --key-id k", "no such operation"),
    ("aws s3 put-bucket-policy --bucket b --policy '{}'", "no such service command"),
    ("aws logs put-retention-policy --log-group-name g --retention-in-days thirty", "invalid int value"),
    ("aws ecs update-cluster-settings --cluster c --settings containerInsights", "expected '='"),
    ("aws ecs update-cluster-settings --cluster c --settings name=containerInsights,value", "expected a string"),
    ("aws ec2 create-flow-logs --resource-type Vpc --resource-ids vpc-1 --traffic-type ALL", "is not one of"),
    ("aws kms enable-key-rotation --key-id 'k", "not one shell command line"),
    ("aws sqs set-queue-attributes --queue-url u --attributes '{\"Policy\": }'", "invalid JSON"),
])
def test_a_broken_command_fails_to_parse(line, why):
    """The parser really refuses what the AWS CLI refuses: each mutated command fails, saying why."""
    with pytest.raises(CommandError, match=re.escape(why)):
        parse(line)


def test_a_broken_fix_in_the_catalog_fails_the_case(read, monkeypatch):
    """A catalog fix mutated to a wrong option name makes the case above fail, not pass."""
    rule = catalog.get("STK-KMS-002")
    broken = catalog.Fix(rule.fixes[0].types, (catalog.aws("kms enable-key-rotation", ("--key", "{id}")),))
    monkeypatch.setitem(catalog.CATALOG, rule.id, catalog.replace(rule, fixes=(broken,)))
    finding, = findings_of(*CASES["STK-KMS-002-rotation off"], read)
    line = explanation(finding)["remediation"]["now"]
    assert line.startswith("aws kms enable-key-rotation --key ")
    with pytest.raises(CommandError, match="unknown option --key"):
        parse(line)


def test_evidence_that_cannot_be_resolved_to_real_values_is_left_out(read):
    """A reference to nothing deployed, or an intrinsic the resolver does not know (Fn::If), never reaches a
    command: the fact is left out, so a fix that needs it does not apply."""
    from platform_spec.result import Result

    live = read[0]
    key = next(lid for lid, r in live.resources.items() if r.declared.type == "AWS::KMS::Key")
    facts = stackcheck.fix_facts(live, live.live_template(), key, "STK-KMS-002", Result.fail(
        "x", kept={"Ref": key}, gone={"Ref": "NotDeclared"}, branch={"Fn::If": ["Prod", "a", "b"]},
        when=datetime(2026, 1, 2, tzinfo=UTC)))
    assert facts["kept"] == live.resources[key].declared.physical_id and facts["id"] == facts["kept"]
    assert "gone" not in facts and "branch" not in facts and facts["when"] == "2026-01-02 00:00:00+00:00"


def test_a_read_is_pictured_once_and_no_judgement_changes_the_picture(read):
    """The rules, the drift, the account rules and the perimeter's paths all judge one picture of a read, made once
    (livestack.LiveStack.live_template): none of them may change it, or the next would judge something else."""
    live = read[0]
    picture = live.live_template()
    made_again = live._live_template()
    assert made_again == picture and made_again is not picture
    stackcheck.judge(live, expected_tags={"Environment": read[1].suffix})
    stackcheck.drift(live, expected_tags={"Environment": read[1].suffix})
    stackcheck.perimeter_paths(live)
    assert live.live_template() is picture and picture == made_again
    # a copy given other resources (as a test breaks one resource of a read) is pictured from them
    lid = next(lid for lid, r in live.resources.items() if r.state == livestack.ReadState.READ and r.properties)
    other = copy.copy(live)
    other.resources = {**live.resources, lid: livestack.LiveResource(live.resources[lid].declared,
                                                                     livestack.ReadState.MISSING)}
    assert lid not in other.live_template()["Resources"] and lid in live.live_template()["Resources"]
