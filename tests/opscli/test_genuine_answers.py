"""Genuine AWS answers, recorded on real accounts by another project (Cloud Custodian's placebo recordings,
vendored in tests/data/placebo-custodian with their source in NOTICE), through opscli's answer check: no genuine
answer may be refused as "could not look". Our emulator agrees with our readers by construction; these answers
were never shaped by either.

The recordings hold parsed answers (botocore's dicts), not the bytes on the wire: each goes through the type check
every answer gets, through a real client call answered by botocore's Stubber where the recording still fits
botocore's model, and, for the JSON protocols (whose wire document is the parsed one), through the check that a
document is the operation's own answer."""

from __future__ import annotations

import functools
import json
from datetime import UTC, datetime
from typing import Any

import botocore.exceptions
import botocore.utils
import pytest
from botocore.stub import Stubber

from opscli import core
from opscli.answers import _check_json_members, check_answer
from opscli.aws import Aws, models, new_session
from tests.conftest import ROOT

DATA = ROOT / "tests" / "data" / "placebo-custodian"
SOURCE_COMMIT = "df800e9e94d0860e0d8fbfebd9bc5b9b2d50367d"


def recordings() -> list[tuple[str, str]]:
    """(operation, file) of every vendored recording, from NOTICE."""
    lines = (DATA / "NOTICE").read_text().splitlines()
    rows = lines[lines.index("operation | file here | path in the source repository") + 1:]
    return [tuple(part.strip() for part in row.split("|")[:2]) for row in rows if row.strip()]


# Operations opscli calls with no recording at SOURCE_COMMIT (Cloud Custodian never recorded them): covered by the
# emulator, the Stubber tests and the schema test only.
GAPS = dict.fromkeys((
    "apigateway:GetApiKey", "apigateway:GetDeployments", "apigateway:GetUsagePlan", "apigateway:GetUsagePlanKeys",
    "apigateway:GetVpcLink",
    "application-autoscaling:DescribeScalingPolicies", "cloudformation:ListStackResources", "efs:DescribeAccessPoints",
    "efs:DescribeReplicationConfigurations",
    "iam:GetAccountAuthorizationDetails", "iam:GetRolePolicy", "iam:ListEntitiesForPolicy",
    "lambda:GetEventSourceMapping",
    "wafv2:GetLoggingConfiguration",
    "wafv2:GetWebACLForResource"), f"no Cloud Custodian recording at {SOURCE_COMMIT[:12]}")


def decode(value: Any) -> Any:
    """The recording's JSON back into botocore's values (placebo writes a datetime as its fields)."""
    if isinstance(value, dict):
        if value.get("__class__") == "datetime":
            fields = {k: v for k, v in value.items() if k != "__class__"}
            return datetime(**fields, tzinfo=UTC)
        return {k: decode(v) for k, v in value.items()}
    if isinstance(value, list):
        return [decode(v) for v in value]
    return value


class _Answered200:
    status_code = 200
    raw = None  # parsed in memory: no wire body to check (the JSON check below stands in for it)


def _load(file: str, operation: str) -> dict:
    answer = decode(json.loads((DATA / file).read_text())["data"])
    answer.pop("ResponseMetadata", None)
    return _timestamps(answer, _model(operation).output_shape)


def _timestamps(value: Any, shape: Any) -> Any:
    """Timestamps some recordings keep as the wire's text ("2016-12-21T18:02:34Z"), parsed as botocore parses
    them from the wire: only where the model says timestamp."""
    if shape is None:
        return value
    if shape.type_name == "timestamp" and isinstance(value, str):
        return botocore.utils.parse_timestamp(value)
    if shape.type_name == "structure" and isinstance(value, dict):
        return {k: _timestamps(v, shape.members[k]) if k in shape.members else v for k, v in value.items()}
    if shape.type_name == "list" and isinstance(value, list):
        return [_timestamps(v, shape.member) for v in value]
    if shape.type_name == "map" and isinstance(value, dict):
        return {k: _timestamps(v, shape.value) for k, v in value.items()}
    return value


@functools.cache
def _model(operation: str) -> Any:
    """The operation's model, as botocore ships it (opscli.aws.models: the process's loader)."""
    service, name = operation.split(":")
    return models().get_service_model(service).operation_model(name)


RECORDINGS = recordings()


@pytest.mark.parametrize("operation, file", RECORDINGS, ids=[f for _, f in RECORDINGS])
def test_a_genuine_answer_is_never_could_not_look(operation, file):
    answer, model = _load(file, operation), _model(operation)
    assert not answer or set(answer) & set(model.output_shape.members), \
        f"{file} is not an answer of {operation} (another API's recording?): {sorted(answer)[:4]}"
    check_answer(http_response=_Answered200(), parsed=answer, model=model)  # raises CouldNotLook on a refusal
    if model.service_model.protocol in ("json", "rest-json") and model.output_shape is not None:
        body = {k: v for k, v in json.loads((DATA / file).read_text())["data"].items() if k != "ResponseMetadata"}
        # The recording holds botocore's parsed names; the wire document names a member by its locationName
        # (API Gateway's GetResources: parsed "items", on the wire "item").
        members = model.output_shape.members
        wire = {members[k].serialization.get("name", k) if k in members else k: v for k, v in body.items()}
        _check_json_members(wire, model.output_shape, operation)


@pytest.mark.parametrize("operation, file", RECORDINGS, ids=[f for _, f in RECORDINGS])
def test_a_genuine_answer_through_a_guarded_client_call(operation, file):
    """The answer as a guarded client receives it (before-call guard, Stubber, after-call check)."""
    service, name = operation.split(":")
    aws = _guarded()
    calls = len(aws.log.calls)
    client = aws.client(service)
    method = botocore.xform_name(name)
    with Stubber(client) as stub:
        try:
            stub.add_response(method, _load(file, operation))
        except botocore.exceptions.ParamValidationError as exc:
            pytest.skip(f"the recording no longer fits botocore's model of {operation}: {str(exc)[:160]}")
        # The stub does not check the request against expected parameters: any valid call will do.
        inputs = _model(operation).input_shape
        required = {k: _dummy(inputs.members[k]) for k in inputs.required_members} if inputs else {}
        getattr(client, method)(**required)
    assert aws.log.calls[calls:] == [operation]


@functools.cache
def _guarded() -> Aws:
    """One guarded access for the module (clients made once); nothing is sent: the Stubber answers."""
    return Aws(session=new_session(aws_access_key_id="k", aws_secret_access_key="s", region_name="ap-northeast-1"),
               max_attempts=1)


def _dummy(shape: Any) -> Any:
    """A value of the shape's type that passes botocore's request validation (lengths between 13 and 20)."""
    text = "x" * 20
    return {"string": text, "list": [text], "integer": 1, "boolean": True, "structure": {}, "map": {}}.get(
        shape.type_name, text)


def test_the_recordings_cover_every_operation_opscli_calls_but_the_listed_gaps():
    covered = {op for op, _ in RECORDINGS}
    declared = core.declared_operations()
    assert covered <= declared
    assert covered | set(GAPS) == declared and not covered & set(GAPS)
    assert len(covered) >= 65, f"{len(covered)} of {len(declared)} operations have a genuine answer"


def test_the_vendored_files_are_the_ones_notice_names():
    named = {file for _, file in RECORDINGS}
    present = {str(p.relative_to(DATA)) for p in DATA.rglob("*.json")}
    assert named == present


# --- a recording's own verdict, reached by our reader and predicate -------------------------------------------

def test_our_rds_reader_and_predicates_reach_custodians_verdict_on_its_recordings():
    """Cloud Custodian's test_rds_public_accessible_disable asserts that c7n-test-pa is publicly accessible in its
    first recording (its policy's filter matches it) and no longer in the second (after its action). The same
    genuine answers, read by opscli's RDS reader into CloudFormation shape and judged by the catalog's
    predicates: STK-RDS public access FAILs on the first and PASSes on the second, with no ERROR on either."""
    from opscli import livestack, stackcheck
    from opscli.stack import build
    from platform_spec.result import Status
    from platform_spec.rules import stk_net_public, stk_rds

    verdicts = []
    for n in (1, 2):
        answer = _load(f"test_rds_public_accessible_disable/rds.DescribeDBInstances_{n}.json",
                       "rds:DescribeDBInstances")
        answer["DBInstances"] = [i for i in answer["DBInstances"] if i["DBInstanceIdentifier"] == "c7n-test-pa"]
        template = {"Resources": {"Db": {"Type": stk_rds.INSTANCE, "Properties": {"Engine": "mysql"}}}}
        summaries = [{"LogicalResourceId": "Db", "ResourceType": stk_rds.INSTANCE,
                      "PhysicalResourceId": "c7n-test-pa", "ResourceStatus": "CREATE_COMPLETE"}]
        scope = build("TapStackreplay", template, summaries, "replay")
        aws = _guarded()
        with Stubber(aws.client("rds")) as stub:
            stub.add_response("describe_db_instances", answer)
            stub.add_response("describe_db_snapshots", {"DBSnapshots": []})  # it has no manual snapshot
            live = livestack.read_stack(aws, scope, account="644160558196", max_workers=1)
        assert live.resources["Db"].state == livestack.ReadState.READ, live.resources["Db"].detail
        judged = [f for f in stackcheck.judge(live) if f.resource.startswith(stk_rds.INSTANCE)]
        # An answer of 2019 carries no CertificateDetails (RDS added it in 2023): when the server certificate
        # expires is not in it, and that one check says so; every other is a verdict.
        assert [f.status for f in judged if f.rule_id == stk_rds.CA_EXPIRY_ID] == [Status.ERROR]
        findings = {f.rule_id: f for f in judged if f.rule_id != stk_rds.CA_EXPIRY_ID}
        assert not [f for f in findings.values() if f.status is Status.ERROR], findings
        verdicts.append(findings[stk_net_public.PUBLIC_ID].status)
        assert findings[stk_rds.MULTI_AZ_ID].status is Status.FAIL  # the recording's MultiAZ: false
    assert verdicts == [Status.FAIL, Status.PASS]


def test_our_rds_reader_reaches_custodians_verdict_on_shared_snapshots():
    """Cloud Custodian's test_rds_snapshot_access asserts, on its recordings, that of instance tidx's snapshots
    tidx-pub is shared with everyone ("all") and tidx-rdx with account 619193117841. The same genuine answers, read
    by opscli's RDS reader (its manual snapshots, as DescribeDBSnapshots with SnapshotType=manual answers) and
    judged: STK-STACK-002 FAILs on the instance, naming both snapshots with exactly that sharing, and so does the
    residency of its copies (STK-RES-006), naming the account and everyone."""
    from opscli import livestack, stackcheck
    from opscli.stack import build
    from platform_spec.result import Status
    from platform_spec.rules import stk_rds
    from platform_spec.rules import stk_res_stores as residency

    snapshots = _load("test_rds_snapshot_access/rds.DescribeDBSnapshots_1.json", "rds:DescribeDBSnapshots")
    snapshots["DBSnapshots"] = [x for x in snapshots["DBSnapshots"] if x["SnapshotType"] == "manual"]
    instance = {"DBInstances": [{"DBInstanceIdentifier": "tidx", "MultiAZ": True, "StorageEncrypted": True,
                                 "DBInstanceArn": "arn:aws:rds:us-east-1:644160558196:db:tidx",
                                 "ReadReplicaDBInstanceIdentifiers": [],
                                 "PubliclyAccessible": False, "BackupRetentionPeriod": 1, "VpcSecurityGroups": [],
                                 "DBParameterGroups": [{"DBParameterGroupName": "default.postgres16",
                                                        "ParameterApplyStatus": "in-sync"}]}]}
    template = {"Resources": {"Db": {"Type": stk_rds.INSTANCE, "Properties": {"Engine": "postgres"}}}}
    summaries = [{"LogicalResourceId": "Db", "ResourceType": stk_rds.INSTANCE, "PhysicalResourceId": "tidx",
                  "ResourceStatus": "CREATE_COMPLETE"}]
    aws = _guarded()
    with Stubber(aws.client("rds")) as stub:
        stub.add_response("describe_db_instances", instance)
        stub.add_response("describe_db_snapshots", snapshots)
        for n in (3, 4):
            stub.add_response("describe_db_snapshot_attributes", _load(
                f"test_rds_snapshot_access/rds.DescribeDBSnapshotAttributes_{n}.json",
                "rds:DescribeDBSnapshotAttributes"))
        live = livestack.read_stack(aws, build("TapStackreplay", template, summaries, "replay"), account="1",
                                    max_workers=1)
    assert live.resources["Db"].state == livestack.ReadState.READ, live.resources["Db"].detail
    found = [f for f in stackcheck.judge(live) if f.rule_id == "STK-STACK-002"]
    assert [f.status for f in found] == [Status.FAIL]
    assert "manual snapshot tidx-pub shared with everyone (restore: all)" in found[0].reason
    assert "manual snapshot tidx-rdx shared with account 619193117841" in found[0].reason
    # and the residency rule names who may restore them, outside the instance's account
    shared = [f for f in stackcheck.judge(live) if f.rule_id == residency.RDS_SNAPSHOTS_ID]
    assert [f.status for f in shared] == [Status.FAIL]
    assert "manual snapshot tidx-pub may be restored by every AWS account (restore: all)" in shared[0].reason
    assert "manual snapshot tidx-rdx may be restored by account 619193117841" in shared[0].reason


def test_our_log_group_reader_reaches_custodians_cross_account_verdict():
    """Cloud Custodian's LogGroupTest.test_cross_account asserts, on its recordings, that log group
    /aws/codebuild/custodian is delivered to account 1111111111111 (its subscription filter's function). The same
    genuine answers, read by opscli's log-group reader and judged by the residency rule's live half: STK-RES-002
    FAILs on the group, naming that function, its account and its region; nothing is ERROR."""
    from opscli import livestack, stackcheck
    from opscli.stack import build
    from platform_spec.result import Status
    from platform_spec.rules import stk_res

    name = "/aws/codebuild/custodian"
    template = {"Resources": {"Logs": {"Type": stk_res.LOG_GROUP, "Properties": {"LogGroupName": name}}}}
    summaries = [{"LogicalResourceId": "Logs", "ResourceType": stk_res.LOG_GROUP, "PhysicalResourceId": name,
                  "ResourceStatus": "CREATE_COMPLETE"}]
    aws = _guarded()
    with Stubber(aws.client("logs")) as stub:
        stub.add_response("describe_log_groups", _load("test_log_group_cross_account/logs.DescribeLogGroups_1.json",
                                                       "logs:DescribeLogGroups"))
        stub.add_response("list_tags_for_resource", {"tags": {}})  # the recording has none of these
        stub.add_response("describe_subscription_filters", _load(
            "test_log_group_cross_account/logs.DescribeSubscriptionFilters_1.json", "logs:DescribeSubscriptionFilters"))
        live = livestack.read_stack(aws, build("TapStackreplay", template, summaries, "replay"),
                                    account="644160558196", max_workers=1)
    assert live.resources["Logs"].state == livestack.ReadState.READ, live.resources["Logs"].detail
    found = [f for f in stackcheck.judge(live) if f.rule_id == stk_res.LOGS_ID]
    assert [f.status for f in found] == [Status.FAIL], found
    assert "arn:aws:lambda:us-east-2:1111111111111:function:CloudCustodian" in found[0].reason
    assert "in account 1111111111111, not this stack's 644160558196" in found[0].reason
    assert "in us-east-2, not ap-northeast-1" in found[0].reason


# --- the perimeter's verdicts on genuine answers ------------------------------------------------------------------

def test_our_secret_policy_check_reaches_custodians_cross_account_verdict():
    """Cloud Custodian's test_secrets_manager_cross_account asserts that of its two secrets c7n-test-key is shared
    with account 123456789012 and foo is not. The same genuine GetResourcePolicy answers, judged as rotate-check
    judges each secret's resource policy (STK-POLICY-001): FAIL naming the account, and PASS."""
    from platform_spec.result import Status
    from platform_spec.rules import stk_policy

    verdicts = {}
    for n in (1, 2):
        answer = _load(f"test_secrets_manager_cross_account/secretsmanager.GetResourcePolicy_{n}.json",
                       "secretsmanager:GetResourcePolicy")
        verdicts[answer["Name"]] = stk_policy.secret_policy(answer.get("ResourcePolicy"), answer["ARN"].split(":")[4])
    assert verdicts["c7n-test-key"].status is Status.FAIL
    assert "admits account 123456789012 (arn:aws:iam::123456789012:root)" in verdicts["c7n-test-key"].reason
    assert verdicts["foo"].status is Status.PASS


def test_our_bus_policy_check_reaches_custodians_verdict_on_its_buses():
    """Cloud Custodian's test_cwe_bus_xaccount finds no cross-account bus among default (no policy) and my-event-bus
    (a policy for its own account only). The same genuine DescribeEventBus answers, judged as the audit judges the
    bus a rule listens on (STK-POLICY-001): both PASS."""
    from platform_spec.result import Status
    from platform_spec.rules import stk_policy

    for n in (1, 2):
        answer = _load(f"test_cwe_bus_xaccount/events.DescribeEventBus_{n}.json", "events:DescribeEventBus")
        policy = json.loads(answer["Policy"]) if "Policy" in answer else None
        facts = {"EventBus": answer["Name"], "EventBusPolicy": policy, "Account": answer["Arn"].split(":")[4]}
        assert stk_policy.bus_policy({}, facts).status is Status.PASS, answer["Name"]


@pytest.mark.parametrize("file", [f for op, f in RECORDINGS if op == "secretsmanager:DescribeSecret"])
def test_a_genuine_secret_answer_reaches_a_verdict_on_its_deletion_and_replicas(file):
    """Genuine DescribeSecret answers (a secret neither deleted nor replicated: the fields are left out, as AWS's
    documentation says) are judged, never could-not-look: STK-SECRET-008 and STK-RES-009 PASS."""
    from platform_spec.result import Status
    from platform_spec.rules import stk_res_stores as residency
    from platform_spec.rules import stk_secret_live

    answer = _load(file, "secretsmanager:DescribeSecret")
    now = datetime.now(UTC)
    assert stk_secret_live.secret_not_scheduled_for_deletion(answer, now).status is Status.PASS
    assert residency.secret_replicas_in_japan(answer).status is Status.PASS
