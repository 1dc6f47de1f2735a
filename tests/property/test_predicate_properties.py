"""Properties of the rule predicates (pure functions; no synthesis here)."""

from __future__ import annotations

import copy

from hypothesis import assume, example, given
from hypothesis import strategies as st

from platform_spec.context import Context
from platform_spec.registry import RESOURCE_RULES
from platform_spec.result import Status
from platform_spec.rules import stk_kms, stk_rds, stk_redis
from tests.property.strategies import aws_managed_aliases, json_values, properties, resource_types

CONTEXT = Context(suffix="prod", cmk_ids=frozenset({"Cmk"}))


@given(resource_types, properties)
def test_every_predicate_is_not_applicable_to_types_it_does_not_target(resource_type, props):
    """A rule never passes or fails a resource type outside its declared types."""
    for rule in RESOURCE_RULES:
        if not rule.applies_to(resource_type):
            assert rule.evaluate(resource_type, props, CONTEXT).status is Status.NOT_APPLICABLE


@given(properties)
def test_predicates_never_crash_on_arbitrary_properties(props):
    """Malformed properties get a verdict (usually FAIL), never an exception, and the predicate leaves them as
    they were (opscli's drift evaluates templates that share everything but one property)."""
    before = copy.deepcopy(props)  # what every predicate is handed: each must leave it so
    for rule in RESOURCE_RULES:
        for resource_type in rule.resource_types:
            try:
                rule.evaluate(resource_type, props, CONTEXT)
            except (TypeError, ValueError, AttributeError, KeyError) as exc:  # pragma: no cover - the property
                raise AssertionError(f"{rule.rule_id} crashed on {resource_type} {props!r}: {exc!r}") from exc
            assert props == before, f"{rule.rule_id} changed the properties it judged"


@given(properties, st.one_of(st.just(False), st.just("false"), st.none(), json_values))
@example({}, None)
def test_rds_without_multi_az_true_fails(props, multi_az):
    """Any DB instance whose MultiAZ is not true (or "true") fails STK-RDS-001."""
    assume(multi_az not in (True, "true", "True", "TRUE"))
    props = {k: v for k, v in props.items() if k not in ("MultiAZ", "DBClusterIdentifier")}
    if multi_az is not None:
        props["MultiAZ"] = multi_az
    assert stk_rds.check_multi_az("AWS::RDS::DBInstance", props).status is Status.FAIL


@given(aws_managed_aliases, st.sampled_from(sorted(stk_kms.KEY_PROPERTIES)))
def test_a_reference_to_any_aws_managed_key_fails_the_cmk_rule(alias, resource_type):
    """Pointing any key property at an alias/aws/... key fails STK-KMS-001, in every engine's context."""
    props = {"StorageEncrypted": True, "Encrypted": True, "AtRestEncryptionEnabled": True}
    _flag, key_prop = stk_kms.KEY_PROPERTIES[resource_type][0]
    props[key_prop] = alias
    if resource_type == "AWS::S3::Bucket":  # the key sits in the bucket's default encryption rule
        props["BucketEncryption"] = {"ServerSideEncryptionConfiguration": [{"ServerSideEncryptionByDefault": {
            "SSEAlgorithm": "aws:kms", "KMSMasterKeyID": alias}}]}
    for cmk_ids in (frozenset({"Cmk"}), None):
        result = stk_kms.check(resource_type, props, cmk_ids)
        assert result.status is Status.FAIL and alias in result.reason


@given(st.sampled_from(["preferred", "Required", "", None, "REQUIRED"]))
def test_any_transit_mode_but_required_fails(mode):
    """Only TransitEncryptionMode 'required' passes STK-REDIS-002; 'preferred' still accepts plaintext."""
    props = {"TransitEncryptionEnabled": True, "AuthToken": "x" * 20}
    if mode is not None:
        props["TransitEncryptionMode"] = mode
    assert stk_redis.check_transit(stk_redis.TYPE, props).status is Status.FAIL


@given(st.lists(json_values, max_size=4), st.lists(json_values, max_size=4))
@example([{"Effect": "Deny", "Principal": "*", "Action": [{"x": 1}]}], [{"Key": ["a"], "Value": 1}])
def test_policy_and_tag_readers_survive_malformed_shapes(statements, tags):
    """Statement lists and tag lists of any shape are judged without an exception."""
    from platform_spec.intrinsics import tag_map
    from platform_spec.rules import stk_efs

    stk_efs.check(stk_efs.TYPE, {"FileSystemPolicy": {"Statement": statements}})
    assert all(isinstance(k, str) for k in tag_map(tags))


_leaf = st.one_of(json_values, st.sampled_from(["AWS/SQS", "ApproximateNumberOfMessagesVisible", "RunningTaskCount",
                                               "QueueName", "intake-queue-prod", "visible", "tasks"]))
_query = st.fixed_dictionaries({}, optional={
    "Id": _leaf, "ReturnData": st.one_of(st.booleans(), _leaf), "Expression": _leaf,
    "MetricStat": st.one_of(_leaf, st.fixed_dictionaries({}, optional={"Metric": st.one_of(_leaf, st.fixed_dictionaries(
        {}, optional={"Namespace": _leaf, "MetricName": _leaf,
                      "Dimensions": st.one_of(_leaf, st.lists(st.one_of(_leaf, st.fixed_dictionaries(
                          {"Name": _leaf, "Value": _leaf})), max_size=3))}))}))})


@given(st.one_of(st.just("TargetTrackingScaling"), json_values), json_values, st.lists(st.one_of(_query, json_values),
                                                                                        max_size=4))
@example("TargetTrackingScaling", {}, [{"MetricStat": {"Metric": {  # found by hand: Dimensions not a list
    "Namespace": "AWS/SQS", "MetricName": "ApproximateNumberOfMessagesVisible", "Dimensions": 5}}}])
def test_backlog_scaling_judges_any_policy_shape_without_crashing(policy_type, configuration, metrics):
    """STK-SQS-003 reads template properties and live answers alike: whatever their shape, a verdict."""
    from platform_spec.rules.stk_sqs import any_backlog_scaling, backlog_scaling

    shaped = {"TargetValue": 10, "CustomizedMetricSpecification": {"Metrics": metrics}}
    for config in (configuration, shaped):
        result = backlog_scaling(policy_type, config, "intake-queue-prod")
        assert result.status in (Status.PASS, Status.FAIL)
        if policy_type != "TargetTrackingScaling":
            assert result.status is Status.FAIL
    assert any_backlog_scaling([], "intake-queue-prod").status is Status.FAIL


@given(st.one_of(json_values, st.text(st.characters(categories=["Nd", "No"]), min_size=1),
                 st.just("0" * 5000 + "3"), st.just("9" * 5000)))
@example("\u00b2")  # a superscript two: isdigit() admits it, int() refuses it
def test_the_whole_template_is_judged_whatever_number_a_count_holds(count):
    """The whole-template rules read counts too (a queue's maxReceiveCount): a count that is no whole number gets a
    verdict on every rule, never int()'s exception, and one that is reads as that number."""
    from platform_spec.intrinsics import as_int
    from platform_spec.template_engine import evaluate

    template = {"Resources": {
        "Queue": {"Type": "AWS::SQS::Queue", "Properties": {"RedrivePolicy": {
            "deadLetterTargetArn": {"Fn::GetAtt": ["Dlq", "Arn"]}, "maxReceiveCount": count}}},
        "Dlq": {"Type": "AWS::SQS::Queue", "Properties": {}},
        "Redis": {"Type": "AWS::ElastiCache::ReplicationGroup", "Properties": {"NumCacheClusters": count}},
        "Db": {"Type": "AWS::RDS::DBInstance", "Properties": {"BackupRetentionPeriod": count}},
        "Sg": {"Type": "AWS::EC2::SecurityGroup", "Properties": {"SecurityGroupIngress": [
            {"IpProtocol": "tcp", "FromPort": count, "ToPort": count, "CidrIp": "0.0.0.0/0"}]}}}}
    findings = {(f.rule_id, f.logical_id): f for f in evaluate(template)}
    number = as_int(count)
    dead_letter = findings[("STK-SQS-001", "Queue")]
    assert (dead_letter.status is Status.PASS) is (number is not None and number >= 1)
    assert (findings[("STK-RDS-002", "Db")].status is Status.PASS) is (number is not None and number >= 1)
