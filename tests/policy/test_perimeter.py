"""The perimeter's predicates on plain data: who a resource policy admits (STK-POLICY-001), which identities beside
the stack reach its data (STK-PERIM-002, over the account's IAM as GetAccountAuthorizationDetails answers it), and
what an access point widens (STK-PERIM-003)."""

from __future__ import annotations

import re

import pytest
from hypothesis import example, given

from platform_spec.result import Status
from platform_spec.rule import AccountFacts
from platform_spec.rules import stk_perim, stk_policy
from tests.property.strategies import secret_reading_resources

ACCOUNT, OTHER = "123456789012", "999999999999"
KEY_ARN = f"arn:aws:kms:ap-northeast-1:{ACCOUNT}:key/1234abcd-12ab-34cd-56ef-1234567890ab"
BUCKET_ARN = "arn:aws:s3:::tapstack-intake-fx"
QUEUE_ARN = f"arn:aws:sqs:ap-northeast-1:{ACCOUNT}:intake-queue-fx"
FS_ARN = f"arn:aws:elasticfilesystem:ap-northeast-1:{ACCOUNT}:file-system/fs-12345678"
ROOT = {"Fn::Join": ["", ["arn:aws:iam::", {"Ref": "AWS::AccountId"}, ":root"]]}


def doc(*statements):
    return {"Version": "2012-10-17", "Statement": list(statements)}


def allow(action, resource="*", **extra):
    return {"Effect": "Allow", "Action": action, "Resource": resource, **extra}


# --- STK-POLICY-001 ----------------------------------------------------------------------------------------------

@pytest.mark.parametrize("statement, named", [
    ({"Sid": "Everyone", "Effect": "Allow", "Principal": "*", "Action": "sqs:*"},
     'statement "Everyone" admits everyone'),
    ({"Effect": "Allow", "NotPrincipal": {"AWS": f"arn:aws:iam::{ACCOUNT}:role/x"}, "Action": "sqs:*"},
     "statement #1 admits everyone but arn:aws:iam::123456789012:role/x (NotPrincipal)"),
    ({"Effect": "Allow", "Principal": {"AWS": OTHER}, "Action": "sqs:*"}, f"admits account {OTHER}"),
    ({"Effect": "Allow", "Principal": {"Federated": "accounts.google.com"}, "Action": "sqs:*"},
     "admits federated identities of accounts.google.com"),
    ({"Effect": "Allow", "Principal": {"Service": "events.amazonaws.com"}, "Action": "sqs:SendMessage",
      "Condition": {"StringEquals": {"aws:SourceAccount": OTHER}}},
     f"admits service events.amazonaws.com for account {OTHER}"),
])
def test_a_resource_policy_names_each_principal_outside_and_its_statement(statement, named):
    result = stk_policy.check("AWS::SQS::QueuePolicy", {"PolicyDocument": doc(statement)}, ACCOUNT)
    assert result.status is Status.FAIL and named in result.reason, result.reason


def test_the_stacks_own_policies_pass():
    for rtype, key, document in [
        ("AWS::EFS::FileSystem", "FileSystemPolicy", doc({"Effect": "Allow", "Principal": {"AWS": "*"},
                                                          "Action": "elasticfilesystem:ClientWrite",
                                                          "Condition": {"Bool": {
                                                              "elasticfilesystem:AccessedViaMountTarget": "true"}}})),
        ("AWS::KMS::Key", "KeyPolicy", doc({"Effect": "Allow", "Principal": {"AWS": ROOT}, "Action": "kms:*"},
                                           {"Effect": "Allow", "Principal": {"Service": "cloudwatch.amazonaws.com"},
                                            "Action": "kms:Decrypt"})),
        ("AWS::ApiGateway::RestApi", "Policy", None)]:
        assert stk_policy.check(rtype, {key: document}, ACCOUNT).status is Status.PASS


def test_a_grant_to_another_account_fails_the_key_and_a_service_grant_passes():
    grants = [{"GrantId": "g1", "GranteePrincipal": "rds.ap-northeast-1.amazonaws.com", "Operations": ["Decrypt"]},
              {"GrantId": "g2", "GranteePrincipal": f"arn:aws:iam::{OTHER}:root", "Operations": ["Decrypt"]}]
    result = stk_policy.grants({}, {"Grants": grants, "Account": ACCOUNT})
    assert result.status is Status.FAIL and f"grant g2 admits account {OTHER}" in result.reason
    assert "g1" not in result.reason
    assert stk_policy.grants({}, {"Grants": grants[:1], "Account": ACCOUNT}).status is Status.PASS


def test_an_unreadable_secret_policy_is_a_failure_to_show_not_a_pass():
    assert stk_policy.secret_policy("{not json", ACCOUNT).status is Status.FAIL
    assert stk_policy.secret_policy(None, ACCOUNT).status is Status.PASS


# --- STK-PERIM-003 -----------------------------------------------------------------------------------------------

@pytest.mark.parametrize("props, problem", [
    ({"RootDirectory": {"Path": "/x"}}, "enforces no user identity"),
    ({"PosixUser": {"Uid": "0", "Gid": "1000"}, "RootDirectory": {"Path": "/x"}}, "root identity (uid 0)"),
    ({"PosixUser": {"Uid": "1000", "Gid": "1000", "SecondaryGids": ["0"]}, "RootDirectory": {"Path": "/x"}},
     "root group"),
    ({"PosixUser": {"Uid": "1000", "Gid": "1000"}}, "root directory"),
    ({"PosixUser": {"Uid": "1000", "Gid": "1000"}, "RootDirectory": {"Path": "/"}}, "root directory"),
])
def test_an_access_point_that_widens_fails_saying_how(props, problem):
    result = stk_perim.check_access_point(stk_perim.ACCESS_POINT, props)
    assert result.status is Status.FAIL and problem in result.reason


def test_undeclared_access_points_are_judged_by_the_same_predicate():
    points = [{"AccessPointId": "fsap-1", "PosixUser": {"Uid": "1000", "Gid": "1000"}, "RootDirectory": {"Path": "/a"}},
              {"AccessPointId": "fsap-2", "PosixUser": {"Uid": "0", "Gid": "0"}, "RootDirectory": {"Path": "/"}}]
    result = stk_perim.undeclared_access_points({}, {"AccessPoints": points})
    assert result.status is Status.FAIL and "fsap-2" in result.reason and "fsap-1" not in result.reason
    assert stk_perim.undeclared_access_points({}, {"AccessPoints": points[:1]}).status is Status.PASS


# --- STK-PERIM-002 -----------------------------------------------------------------------------------------------

def stack(key_policy=None, bucket_policy=None):
    """The stack's data paths in template shape, as the live picture gives them."""
    return {
        "Key": {"Type": "AWS::KMS::Key", "Properties": {"KeyPolicy": key_policy or doc(
            {"Effect": "Allow", "Principal": {"AWS": ROOT}, "Action": "kms:*", "Resource": "*"})}},
        "Bucket": {"Type": "AWS::S3::Bucket", "Properties": {"BucketName": "tapstack-intake-fx"}},
        "BucketPolicy": {"Type": "AWS::S3::BucketPolicy", "Properties": {
            "Bucket": {"Ref": "Bucket"}, "PolicyDocument": bucket_policy or doc()}},
        "Queue": {"Type": "AWS::SQS::Queue", "Properties": {}},
        "Fs": {"Type": "AWS::EFS::FileSystem", "Properties": {}},
        "Db": {"Type": "AWS::RDS::DBInstance", "Properties": {"EnableIAMDatabaseAuthentication": True}},
        "TaskRole": {"Type": "AWS::IAM::Role", "Properties": {"RoleName": "TapStackfx-TaskRole-ABC"}},
        "Task": {"Type": "AWS::ECS::TaskDefinition", "Properties": {"ContainerDefinitions": [{"Secrets": [
            {"Name": "DB_PASSWORD", "ValueFrom": {"Fn::Join": ["", [
                "arn:aws:secretsmanager:ap-northeast-1:", {"Ref": "AWS::AccountId"},
                ":secret:rds-credentials-fx:password::"]]}}]}]}},
    }


def role(name, trust, *policies, attached=(), boundary=None):
    item = {"RoleName": name, "Arn": f"arn:aws:iam::{ACCOUNT}:role/{name}", "AssumeRolePolicyDocument": trust,
            "RolePolicyList": [{"PolicyName": f"p{n}", "PolicyDocument": p} for n, p in enumerate(policies)],
            "AttachedManagedPolicies": [{"PolicyArn": a} for a in attached]}
    if boundary:
        item["PermissionsBoundary"] = {"PermissionsBoundaryArn": boundary}
    return item


def trust(principal, **extra):
    return doc({"Sid": "Outside", "Effect": "Allow", "Principal": principal, "Action": "sts:AssumeRole", **extra})


FOREIGN = trust({"AWS": f"arn:aws:iam::{OTHER}:root"})


def judge(*roles, users=(), groups=(), policies=None, resources=None):
    facts = AccountFacts(account=ACCOUNT, region="ap-northeast-1",
                         attributes={"Key": {"Arn": KEY_ARN}, "Bucket": {"Arn": BUCKET_ARN},
                                     "Queue": {"Arn": QUEUE_ARN},
                                     "Fs": {"Arn": FS_ARN}, "Db": {"DbiResourceId": "db-ABCDEFGHIJKL"},
                                     "TaskRole": {"Arn": f"arn:aws:iam::{ACCOUNT}:role/TapStackfx-TaskRole-ABC"}},
                         users=tuple(users), groups=tuple(groups), roles=tuple(roles), policies=policies or {})
    return list(stk_perim.check_identities(resources or stack(), facts))


def failures(results):
    return {subject: result.reason for subject, result in results if result.status is Status.FAIL}


# The identity a data path's FAIL names as reaching it: "role partner (arn:aws:iam::...:role/partner), <how>: ..."
REACHER = re.compile(r"\((arn:aws:iam::\d{12}:(?:role|user)/[^)\s]+)\), ")


def reaching(results):
    """Identity ARN -> the reasons of the data paths it reaches, joined (each path's FAIL names every identity)."""
    found: dict[str, list[str]] = {}
    for reason in failures(results).values():
        for part in reason.split(" is reached from outside by ", 1)[1].split("; "):
            for arn in REACHER.findall(part)[:1]:
                found.setdefault(arn, []).append(reason)
    return {arn: " | ".join(reasons) for arn, reasons in found.items()}


def test_a_role_trusted_by_another_account_that_may_decrypt_with_the_project_key_fails_naming_everything():
    results = judge(role("partner", FOREIGN, doc({"Sid": "UseKey", **allow("kms:Decr*", KEY_ARN)})))
    reason = reaching(results)[f"arn:aws:iam::{ACCOUNT}:role/partner"]
    for word in ("role partner", f"account {OTHER} (arn:aws:iam::{OTHER}:root)", 'statement "Outside"',
                 "AWS::KMS::Key Key", "kms:Decrypt", "inline policy 'p0' statement \"UseKey\"",
                 "the key policy's grant to the account"):
        assert word in reason, (word, reason)
    passed = {s for s, r in results if r.status is Status.PASS}
    assert {"Bucket", "Queue", "Fs", "Db"} <= passed and "Key" not in passed
    # without the role, the same finding (the key's) passes: the one a fix turns back to PASS
    assert {s for s, r in judge() if r.status is Status.PASS} >= {"Key", "Bucket", "Queue", "Fs", "Db"}


def test_the_key_is_reached_through_iam_only_where_its_policy_delegates_to_the_account():
    own = doc({"Effect": "Allow", "Principal": {"AWS": f"arn:aws:iam::{ACCOUNT}:role/admin"}, "Action": "kms:*"})
    assert not failures(judge(role("partner", FOREIGN, doc(allow("kms:*"))), resources=stack(key_policy=own)))


@pytest.mark.parametrize("policy", [
    doc(allow("*"), {"Effect": "Deny", "Action": "kms:*", "Resource": "*"}),
    doc({"Effect": "Allow", "Action": "kms:Decrypt", "NotResource": KEY_ARN}),
    doc(allow("kms:Encrypt", KEY_ARN)),
    doc(allow("kms:Decrypt", f"arn:aws:kms:ap-northeast-1:{ACCOUNT}:key/another")),
])
def test_what_does_not_reach_the_key_passes_it(policy):
    results = judge(role("partner", FOREIGN, policy))
    assert "Key" in {s for s, r in results if r.status is Status.PASS}, failures(results)


def test_a_conditional_deny_does_not_subtract_and_a_not_action_allow_reaches():
    conditional = doc(allow("kms:Decrypt"), {"Effect": "Deny", "Action": "kms:*", "Resource": "*",
                                             "Condition": {"Bool": {"aws:MultiFactorAuthPresent": "false"}}})
    assert failures(judge(role("partner", FOREIGN, conditional)))
    broad = reaching(judge(role("partner", FOREIGN, doc({"Effect": "Allow", "NotAction": "iam:*", "Resource": "*"}))))
    reason = broad[f"arn:aws:iam::{ACCOUNT}:role/partner"]
    for path in ("AWS::S3::Bucket", "AWS::SQS::Queue", "AWS::EFS::FileSystem", "rds-db:connect",
                 "secret rds-credentials-fx is reached", "secretsmanager:GetSecretValue"):
        assert path in reason, (path, reason)


def test_trusts_that_admit_outside_and_those_that_do_not():
    decrypt = doc(allow("kms:Decrypt"))
    outside = [trust("*"), trust({"Federated": "accounts.google.com"}, Action="sts:AssumeRoleWithWebIdentity"),
               doc({"Effect": "Allow", "NotPrincipal": {"AWS": f"arn:aws:iam::{ACCOUNT}:root"},
                    "Action": "sts:AssumeRole"})]
    inside = [trust({"Service": "ec2.amazonaws.com"}), trust({"AWS": ROOT}),
              trust("*", Condition={"StringEquals": {"aws:PrincipalOrgID": "o-abc123"}}),
              doc({"Effect": "Allow", "Principal": {"AWS": f"arn:aws:iam::{OTHER}:root"}, "Action": "sts:TagSession"})]
    outside += [
        trust({"AWS": "*"}, Condition={"StringLike": {"aws:PrincipalOrgID": "o-*"}}),  # any organization's member
        trust({"AWS": 111122223333}),  # an account id written as a number
        trust({"AWS": f"arn:aws-cn:iam::{ACCOUNT}:root"}),  # the same digits in another partition: another account
        doc({"Effect": "allow", "Principal": {"AWS": f"arn:aws:iam::{OTHER}:root"}, "Action": "sts:AssumeRole"}),
        doc({"effect": "Allow", "principal": {"AWS": f"arn:aws:iam::{OTHER}:root"}, "action": "sts:AssumeRole"}),
        trust("*", condition={"StringEquals": {"aws:PrincipalOrgID": "o-abc123"}}),  # not IAM's Condition
    ]
    inside += [trust("*", Condition={"ForAnyValue:StringLike": {"aws:PrincipalOrgPaths": "o-abc123/r-ab12/ou-*"}}),
               trust({"AWS": int(ACCOUNT)})]
    for document in outside:
        assert failures(judge(role("r", document, doc(allow("kms:*"))))), document
    for document in inside:
        assert not failures(judge(role("r", document, decrypt))), document


@pytest.mark.parametrize("policy", [
    doc({"Effect": "allow", "Action": "kms:Decrypt", "Resource": "*"}),  # not exactly Deny: an Allow
    doc({"effect": "Allow", "action": "kms:Decrypt", "resource": "*"}),  # unreadable: taken to allow everything
    doc(allow("kms:Decrypt"), {"Effect": "deny", "Action": "kms:*", "Resource": "*"}),  # not a Deny: subtracts nothing
])
def test_an_identity_policy_iam_would_not_read_as_written_grants_rather_than_hides(policy):
    reason = reaching(judge(role("partner", FOREIGN, policy)))[f"arn:aws:iam::{ACCOUNT}:role/partner"]
    assert "AWS::KMS::Key Key" in reason, reason


def test_an_unreadable_permissions_boundary_limits_nothing():
    boundary = "arn:aws:iam::123456789012:policy/only-logs"
    limited = role("partner", FOREIGN, doc(allow("kms:Decrypt")), boundary=boundary)
    assert failures(judge(limited, policies={boundary: doc({"effect": "Allow", "action": "logs:*", "resource": "*"})}))


def test_the_stacks_own_roles_are_left_to_the_iam_rules():
    assert not failures(judge(role("TapStackfx-TaskRole-ABC", FOREIGN, doc(allow("*")))))


def test_a_role_reached_through_another_is_reported_with_the_chain():
    hop = role("hop", FOREIGN, doc(allow("sts:AssumeRole", f"arn:aws:iam::{ACCOUNT}:role/reader")))
    reader = role("reader", trust({"AWS": ROOT}), doc(allow("s3:GetObject", f"{BUCKET_ARN}/*")))
    found = reaching(judge(hop, reader))
    reason = found[f"arn:aws:iam::{ACCOUNT}:role/reader"]
    assert "assumable by role hop" in reason and f"account {OTHER}" in reason and "s3:GetObject" in reason
    assert f"arn:aws:iam::{ACCOUNT}:role/hop" not in found  # hop itself reaches no data


def test_a_user_is_an_identity_usable_from_outside_through_its_groups_and_managed_policies():
    admin = "arn:aws:iam::aws:policy/AdministratorAccess"
    user = {"UserName": "ops", "Arn": f"arn:aws:iam::{ACCOUNT}:user/ops", "UserPolicyList": [],
            "AttachedManagedPolicies": [], "GroupList": ["admins"]}
    group = {"GroupName": "admins", "GroupPolicyList": [], "AttachedManagedPolicies": [{"PolicyArn": admin}]}
    found = reaching(judge(users=[user], groups=[group], policies={admin: doc(allow("*"))}))
    assert "an IAM user" in found[f"arn:aws:iam::{ACCOUNT}:user/ops"]
    assert "managed policy AdministratorAccess" in found[f"arn:aws:iam::{ACCOUNT}:user/ops"]


def test_a_known_permissions_boundary_limits_and_an_unknown_one_does_not():
    boundary = "arn:aws:iam::123456789012:policy/only-logs"
    limited = role("partner", FOREIGN, doc(allow("kms:Decrypt")), boundary=boundary)
    assert not failures(judge(limited, policies={boundary: doc(allow("logs:*"))}))
    assert failures(judge(limited, policies={}))  # a boundary whose document is not known is not applied


def test_a_resource_policy_that_names_the_role_is_a_path_of_its_own():
    partner = role("partner", FOREIGN)
    named = doc({"Sid": "Partner", "Effect": "Allow", "Principal": {"AWS": f"arn:aws:iam::{ACCOUNT}:role/partner"},
                 "Action": "s3:GetObject", "Resource": f"{BUCKET_ARN}/*"})
    reason = reaching(judge(partner, resources=stack(bucket_policy=named)))[f"arn:aws:iam::{ACCOUNT}:role/partner"]
    assert "the resource policy's statement \"Partner\"" in reason


def test_secrets_are_named_by_what_the_declaration_reads():
    other = role("partner", FOREIGN, doc(allow("secretsmanager:GetSecretValue",
                                               "arn:aws:secretsmanager:*:*:secret:api-key*")))
    assert not failures(judge(other))
    mine = role("partner", FOREIGN, doc(allow("secretsmanager:GetSecretValue",
                                              "arn:aws:secretsmanager:ap-northeast-1:123456789012:secret:"
                                              "rds-credentials-fx-a1B2c3")))
    assert failures(judge(mine))


def _every_string_read(resources, account, region):
    """The secrets a walk of every string of every resource finds (no resource skipped): the oracle."""
    found = set()
    for resource in resources.values():
        for text in stk_perim._strings(resource.get("Properties")):
            for match in stk_perim._SECRET_ARN.finditer(text):
                if match.group("account") in (stk_perim.TOKEN, account):
                    found.add(f"arn:aws:secretsmanager:{match.group('region').replace(stk_perim.TOKEN, region)}:"
                              f"{account}:secret:{match.group('name')}")
    return sorted(found)


@given(secret_reading_resources)
@example({"Task": {"Type": "AWS::ECS::TaskDefinition", "Properties": {"ValueFrom": {"Fn::Join": ["", [
    "arn:aws:secrets", "manager:ap-northeast-1:", {"Ref": "AWS::AccountId"}, ":secret:db-fx"]]}}}})
@example({"Task": {"Type": "AWS::ECS::TaskDefinition", "Properties": {"ValueFrom": {"Fn::Join": ["secretsmanager", [
    "arn:aws:", ":ap-northeast-1:123456789012:secret:db-fx"]]}}}})
def test_the_secrets_read_are_those_a_walk_of_every_string_finds(resources):
    """The resources secrets_read skips (their properties may not name a secret) hold none: the secrets it finds
    are exactly those a walk of every string finds, "secretsmanager" cut into an Fn::Join's pieces included."""
    assert stk_perim.secrets_read(resources, ACCOUNT, "ap-northeast-1") == \
        _every_string_read(resources, ACCOUNT, "ap-northeast-1")
