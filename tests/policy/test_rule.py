"""The rule types and their registration (platform_spec.rule): a rule module registers each rule once, with itself as
the rule's home; a per-resource rule judges only the types it names. Each registry list is replaced for the test, so
the real rules stay as the registry read them. That every registered rule has one home the registry found:
tests/policy/test_registry.py; that a whole-stack rule reads every type it depends on:
tests/policy/test_rule_reads.py."""

from __future__ import annotations

import pytest

from platform_spec import rule
from platform_spec.context import Context
from platform_spec.result import Result, Status


def check(resource_type, properties):
    return Result.ok("fine") if properties.get("Fine") else Result.fail("not fine")


def test_a_plain_rule_judges_its_types_only_and_its_home_is_the_module_registering_it(monkeypatch):
    monkeypatch.setattr(rule, "REGISTERED", [])
    registered = rule.plain_rule("STK-TEST-001", ["AWS::SNS::Topic"], check)
    assert [registered] == rule.REGISTERED and registered.module == __name__
    assert registered.evaluate("AWS::SNS::Topic", {"Fine": True}, Context()).status is Status.PASS
    assert registered.evaluate("AWS::SNS::Topic", None, Context()).status is Status.FAIL  # no properties: judged
    assert registered.evaluate("AWS::SQS::Queue", {"Fine": True}, Context()).status is Status.NOT_APPLICABLE


def test_a_rule_id_registered_twice_is_refused_and_the_first_kept(monkeypatch):
    for name in ("REGISTERED", "STACK_RULES", "ACCOUNT_RULES"):
        monkeypatch.setattr(rule, name, [])
    first = rule.plain_rule("STK-TEST-001", ["AWS::SNS::Topic"], check)
    with pytest.raises(ValueError, match="rule STK-TEST-001 is registered twice"):
        rule.plain_rule("STK-TEST-001", ["AWS::SQS::Queue"], check)
    stack = rule.stack_rule("STK-TEST-002", ["AWS::SNS::Topic"], lambda resources: [])
    with pytest.raises(ValueError, match="stack rule STK-TEST-002 is registered twice"):
        rule.stack_rule("STK-TEST-002", ["AWS::SNS::Topic"], lambda resources: [])
    account = rule.account_rule("STK-TEST-003", ["AWS::IAM::Role"], lambda resources, facts: [])
    with pytest.raises(ValueError, match="account rule STK-TEST-003 is registered twice"):
        rule.account_rule("STK-TEST-003", ["AWS::IAM::Role"], lambda resources, facts: [])
    assert ([first], [stack], [account]) == (rule.REGISTERED, rule.STACK_RULES, rule.ACCOUNT_RULES)


def test_an_account_rule_names_only_what_it_reads(monkeypatch):
    monkeypatch.setattr(rule, "ACCOUNT_RULES", [])
    with pytest.raises(ValueError, match="account rule STK-TEST-003 judges types it does not read"):
        rule.account_rule("STK-TEST-003", ["AWS::IAM::Role"], lambda resources, facts: [], judges=["AWS::S3::Bucket"])
    narrow = rule.account_rule("STK-TEST-004", ["AWS::IAM::Role", "AWS::S3::Bucket"], lambda resources, facts: [],
                               judges=["AWS::S3::Bucket"])
    wide = rule.account_rule("STK-TEST-005", ["AWS::IAM::Role"], lambda resources, facts: [])
    assert (narrow.subjects, wide.subjects) == (frozenset({"AWS::S3::Bucket"}), frozenset({"AWS::IAM::Role"}))
    assert [narrow, wide] == rule.ACCOUNT_RULES


def live_check(properties, facts):
    return Result.ok("enabled") if facts["State"] == "Enabled" else Result.fail(f"the key is {facts['State']}")


def test_a_live_half_is_registered_once_per_check_and_type_with_its_home_and_facts(monkeypatch):
    """A live-only half (live_rule) is one per (check id, type): the same check on another type is another half
    of the same rule (STK-STACK-002's, on every child-bearing type), the same check on the same type is refused."""
    monkeypatch.setattr(rule, "LIVE_RULES", [])
    key = rule.live_rule("STK-TEST-004", "test.state", "AWS::KMS::Key", iter(["State"]), live_check)
    topic = rule.live_rule("STK-TEST-004", "test.state", "AWS::SNS::Topic", ("State",), live_check)
    with pytest.raises(ValueError, match=r"live check test\.state on AWS::KMS::Key is registered twice"):
        rule.live_rule("STK-TEST-005", "test.state", "AWS::KMS::Key", ("State",), live_check)
    assert [key, topic] == rule.LIVE_RULES and key.module == __name__ and key.facts == ("State",)
    assert key.paths is None and key.predicate({}, {"State": "Disabled"}).status is Status.FAIL


def test_a_rules_home_is_the_module_that_registers_it_not_the_one_its_function_is_written_in(monkeypatch):
    """A registration's home is where the registration is made: a rule module registering a function written in
    another rule module (STK-NET-001's check registered again by stk_rds) is that registering module's, so the
    architecture test sees the registration where it is (tests/unit/test_architecture.py)."""
    from platform_spec.rules import stk_kms, stk_net_public, stk_perim

    for name in ("REGISTERED", "STACK_RULES", "ACCOUNT_RULES", "LIVE_RULES"):
        monkeypatch.setattr(rule, name, [])
    registered = [
        rule.plain_rule("STK-TEST-001", ["AWS::RDS::DBInstance"], stk_net_public.check_not_public),
        rule.resource_rule("STK-TEST-002", ["AWS::RDS::DBInstance"],
                           rule.REGISTERED[0].predicate),  # a closure written in platform_spec.rule
        rule.stack_rule("STK-TEST-003", ["AWS::RDS::DBSubnetGroup"], stk_net_public.check_private_placement),
        rule.account_rule("STK-TEST-004", ["AWS::IAM::Role"], stk_perim.check_identities),
        rule.live_rule("STK-TEST-005", "test.key_state", "AWS::KMS::Key", ("KeyManager", "KeyState"),
                       stk_kms.key_state)]
    assert {half.rule_id: half.module for half in registered} == dict.fromkeys(
        ("STK-TEST-001", "STK-TEST-002", "STK-TEST-003", "STK-TEST-004", "STK-TEST-005"), __name__)
