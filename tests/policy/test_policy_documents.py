"""Reading IAM policy documents (platform_spec.rules.policy_documents): where two ARN patterns meet, when a Deny
covers a pattern, and which conditions pin everyone to the account, its organization or its network. The rules
built on it are tested with their own cases (tests/policy/test_perimeter.py, tests/policy/test_paths.py)."""

from __future__ import annotations

import pytest

from platform_spec.rules import policy_documents as pd

ACCOUNT, OTHER = "123456789012", "999999999999"
BUCKET_ARN = "arn:aws:s3:::tapstack-intake-fx"


@pytest.mark.parametrize("one, other, expected", [
    ("arn:aws:s3:::*", f"{BUCKET_ARN}/*", True),
    ("arn:aws:s3:::other-*", f"{BUCKET_ARN}/*", False),
    (f"{BUCKET_ARN}/videos/*", f"{BUCKET_ARN}/*", True),
    ("arn:aws:secretsmanager:*:*:secret:rds-credentials-fx*", "arn:aws:secretsmanager:ap-northeast-1:1:secret:"
                                                              "rds-credentials-fx-??????", True),
    ("arn:aws:secretsmanager:*:*:secret:rds-credentials-fx-abcdef", "arn:aws:secretsmanager:ap-northeast-1:1:"
                                                                    "secret:rds-credentials-fx-??????", True),
    ("arn:aws:secretsmanager:*:*:secret:api-key*", "arn:aws:secretsmanager:ap-northeast-1:1:secret:"
                                                   "rds-credentials-fx-??????", False),
    ("*", "anything", True),
])
def test_two_patterns_meet_when_some_arn_matches_both(one, other, expected):
    """A policy's Resource reaches a path whose ARN holds wildcards itself when one string matches both."""
    assert pd.meet(one, other) is expected and pd.meet(other, one) is expected


def test_a_deny_covers_a_pattern_only_when_it_matches_all_of_it():
    assert pd.covers("arn:aws:s3:::b/*", "arn:aws:s3:::b/*")
    assert not pd.covers("arn:aws:s3:::b/private/*", "arn:aws:s3:::b/*")
    assert not pd.covers("arn:aws:s3:::b/?", "arn:aws:s3:::b/*")  # one character is not any run of them


@pytest.mark.parametrize("condition, pinned", [
    ({"StringEquals": {"aws:PrincipalAccount": ACCOUNT}}, True),
    ({"StringEquals": {"aws:PrincipalAccount": OTHER}}, False),
    ({"StringEqualsIfExists": {"aws:SourceVpc": "vpc-1"}}, False),  # absent for a call from the internet
    ({"StringNotEquals": {"aws:PrincipalOrgID": "o-abc"}}, False),
    ({"StringEquals": {"aws:PrincipalOrgID": "o-abc"}}, True),
    ({"StringLike": {"aws:PrincipalAccount": "*"}}, False),
    ({"StringEquals": {"aws:SourceVpce": "vpce-1"}}, True),
    ({"ArnLike": {"aws:PrincipalArn": f"arn:aws:iam::{ACCOUNT}:role/*"}}, True),
    ({"ArnLike": {"aws:PrincipalArn": f"arn:aws:iam::{OTHER}:role/*"}}, False),
    ({"Bool": {"elasticfilesystem:AccessedViaMountTarget": "true"}}, True),
    ({"ForAllValues:StringEquals": {"aws:PrincipalOrgID": "o-abc"}}, False),
    ({"IpAddress": {"aws:SourceIp": "203.0.113.0/24"}}, False),
    # A wildcard in an organization, VPC or endpoint id matches every one of them (StringLike: any organization's
    # member; StringEquals would read it literally, but an id is never judged pinned by one: conservative).
    ({"StringLike": {"aws:PrincipalOrgID": "o-*"}}, False),
    ({"StringLike": {"aws:PrincipalOrgID": ["o-abc123", "o-*"]}}, False),  # every value must pin
    ({"StringLike": {"aws:SourceVpce": "vpce-*"}}, False),
    ({"StringLike": {"aws:SourceVpc": "vpc-0?"}}, False),
    ({"StringEquals": {"aws:PrincipalOrgID": "o-abc*"}}, False),
    ({"ForAnyValue:StringLike": {"aws:PrincipalOrgPaths": "o-*/*"}}, False),
    ({"ForAnyValue:StringLike": {"aws:PrincipalOrgPaths": "o-abc123*/*"}}, False),  # o-abc1234 too
    ({"ForAnyValue:StringLike": {"aws:PrincipalOrgPaths": "*/r-ab12/ou-*"}}, False),
    # An organization path whose organization is spelled out keeps the caller in it, whatever follows.
    ({"ForAnyValue:StringLike": {"aws:PrincipalOrgPaths": "o-abc123/r-ab12/ou-*"}}, True),
    ({"ForAnyValue:StringEquals": {"aws:PrincipalOrgPaths": "o-abc123/r-ab12/ou-ab12-11111111/"}}, True),
    ({"ForAllValues:StringLike": {"aws:PrincipalOrgPaths": "o-abc123/*"}}, False),  # true when the key is absent
    ({"ForAnyValue:StringNotLike": {"aws:PrincipalOrgID": "o-abc123"}}, False),
    ({"Null": {"aws:PrincipalOrgID": "false"}}, False),  # the key present: a member of any organization
    # IAM's operators are case-sensitive: another spelling is no operator IAM knows, and pins nothing.
    ({"stringnotequals": {"aws:PrincipalAccount": ACCOUNT}}, False),
    ({"stringequalsifexists": {"aws:PrincipalAccount": ACCOUNT}}, False),
    ({"stringequals": {"aws:PrincipalAccount": ACCOUNT}}, False),
    ({"foranyvalue:StringEquals": {"aws:PrincipalOrgID": "o-abc123"}}, False),
    # StringLike's * runs across the colons (a role path may hold ":123456789012:"); ArnLike's stays in its field.
    ({"StringLike": {"aws:PrincipalArn": f"arn:aws:iam:*:{ACCOUNT}:*"}}, False),
    ({"ArnLike": {"aws:PrincipalArn": f"arn:aws:iam:*:{ACCOUNT}:*"}}, True),
    ({"ArnLike": {"aws:PrincipalArn": f"arn:aws-cn:iam::{ACCOUNT}:role/*"}}, False),  # another partition's
])
def test_only_a_positive_condition_on_the_account_organization_or_network_pins_everyone(condition, pinned):
    statement = {"Effect": "Allow", "Principal": "*", "Action": "sqs:SendMessage", "Resource": "*",
                 "Condition": condition}
    assert (pd.outside(statement, ACCOUNT) == []) is pinned
