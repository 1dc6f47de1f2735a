"""Which resource policies deny every request made without TLS (platform_spec.rules.tls_policy), as the bucket's,
the queues' and the file system's rules read them (their fixtures: tests/policy/rules/test_stk_s3.py,
test_stk_sqs.py, test_stk_efs.py)."""

from __future__ import annotations

import pytest

from platform_spec.rules.tls_policy import denies_insecure_transport

INSECURE = {"Bool": {"aws:SecureTransport": "false"}}


def deny(**changes) -> dict:
    return {"Version": "2012-10-17", "Statement": [
        {"Effect": "Allow", "Principal": {"AWS": "arn:aws:iam::123456789012:root"}, "Action": "sqs:*"},
        {"Effect": "Deny", "Principal": "*", "Action": "sqs:*", "Condition": INSECURE, **changes}]}


@pytest.mark.parametrize("policy, denies", [
    (deny(), True),
    (deny(Principal={"AWS": "*"}, Action=["*"], Condition={"Bool": {"aws:SecureTransport": False}}), True),
    (deny(Effect="Allow"), False),
    (deny(Principal={"AWS": "arn:aws:iam::123456789012:root"}), False),  # one principal, not everyone
    (deny(Action="sqs:SendMessage"), False),  # some actions only
    (deny(Action="s3:*"), False),  # another service's
    (deny(Condition={"Bool": {"aws:SecureTransport": "true"}}), False),
    (deny(Condition={"BoolIfExists": {"aws:SecureTransport": "false"}}), False),
    (deny(Condition=None), False),
    ({"Statement": {"Effect": "Deny", "Principal": "*", "Action": "sqs:*", "Condition": INSECURE}}, True),  # one
    ({"Statement": ["garbage", None]}, False),
    (None, False),
    ("{}", False),
])
def test_only_a_deny_of_every_action_to_everyone_without_tls_counts(policy, denies):
    assert denies_insecure_transport(policy, "sqs") is denies


def test_a_service_whose_clients_use_a_few_actions_may_deny_just_those():
    client_actions = ("elasticfilesystem:ClientMount", "elasticfilesystem:ClientWrite")
    assert denies_insecure_transport(deny(Action=[*client_actions, "elasticfilesystem:ClientRootAccess"]),
                                     "elasticfilesystem", client_actions)
    assert not denies_insecure_transport(deny(Action=client_actions[:1]), "elasticfilesystem", client_actions)
    assert not denies_insecure_transport(deny(Action=list(client_actions)), "elasticfilesystem")
