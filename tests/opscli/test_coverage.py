"""Live coverage is enforced, not hoped for: every template-stage rule runs live (or says why it cannot), and
every type the stack declares has a reader (or a written reason why it needs none)."""

from __future__ import annotations

import pytest

from opscli import core
from opscli.iam_policy import iam_actions
from opscli.readers import NO_READER, READERS
from platform_spec import catalog
from platform_spec.catalog import Engine
from platform_spec.registry import LIVE_ONLY_RULES, RESOURCE_RULES

TEMPLATE_STAGE = {Engine.NAG, Engine.CHECKOV, Engine.TEMPLATE}
# The types that carry posture (issue 11's list): each must be read live, whatever else changes.
POSTURE_TYPES = {
    "AWS::EC2::SecurityGroup", "AWS::EC2::SecurityGroupIngress", "AWS::RDS::DBInstance",
    "AWS::RDS::DBParameterGroup", "AWS::RDS::DBSubnetGroup", "AWS::ElastiCache::ReplicationGroup",
    "AWS::EFS::FileSystem", "AWS::EFS::MountTarget", "AWS::EFS::AccessPoint", "AWS::ECS::Cluster",
    "AWS::ECS::Service", "AWS::ECS::TaskDefinition", "AWS::ApplicationAutoScaling::ScalableTarget",
    "AWS::ApplicationAutoScaling::ScalingPolicy", "AWS::ApiGateway::RestApi", "AWS::ApiGateway::Stage",
    "AWS::ApiGateway::Method", "AWS::ApiGateway::UsagePlan", "AWS::KMS::Key", "AWS::KMS::Alias",
    "AWS::Logs::LogGroup", "AWS::S3::Bucket", "AWS::S3::BucketPolicy", "AWS::SQS::Queue", "AWS::SQS::QueuePolicy",
    "AWS::SNS::Topic", "AWS::IAM::Role", "AWS::IAM::Policy", "AWS::EC2::FlowLog", "AWS::Events::Rule",
}


def test_every_template_stage_rule_runs_live_or_says_why_not():
    missing = [r.id for r in catalog.CATALOG.values()
               if set(r.engines) & TEMPLATE_STAGE and Engine.LIVE not in r.engines and not r.template_only]
    assert not missing, f"template-stage rules without a live evaluation or a template_only reason: {missing}"
    assert all(len(r.template_only.split()) >= 8 for r in catalog.CATALOG.values() if r.template_only)


def test_a_rule_marked_template_only_does_not_also_claim_to_run_live():
    assert not [r.id for r in catalog.CATALOG.values() if r.template_only and Engine.LIVE in r.engines]


@pytest.mark.synth
def test_every_declared_type_has_a_reader_or_a_reason(synth):
    declared = {r["Type"] for r in synth.template["Resources"].values()}
    unexplained = sorted(declared - set(READERS) - set(NO_READER))
    assert not unexplained, f"declared types with neither a reader nor a reason: {unexplained}"
    assert not set(READERS) & set(NO_READER), "a type cannot both have a reader and a reason for having none"
    assert all(len(reason.split()) >= 4 for reason in NO_READER.values())


@pytest.mark.synth
def test_every_posture_bearing_type_is_read(synth):
    declared = {r["Type"] for r in synth.template["Resources"].values()}
    assert POSTURE_TYPES - {"AWS::EC2::SecurityGroupIngress"} <= declared | {"AWS::EC2::SecurityGroupIngress"}
    assert not sorted(POSTURE_TYPES - set(READERS))


@pytest.mark.synth
def test_every_live_rule_can_see_every_declared_type_it_judges(synth):
    """A live rule whose predicate targets a declared type with no reader would never run there."""
    declared = {r["Type"] for r in synth.template["Resources"].values()}
    blind = sorted({(rule.rule_id, t) for rule in RESOURCE_RULES
                    if Engine.LIVE in catalog.get(rule.rule_id).engines
                    for t in rule.resource_types & declared if t not in READERS})
    blind += sorted({(rule.rule_id, rule.resource_type) for rule in LIVE_ONLY_RULES
                     if rule.resource_type not in READERS})
    assert not blind, blind


def test_every_reader_operation_is_in_the_iam_policy_and_is_a_read():
    operations = {op for reader in READERS.values() for op in reader.operations}
    assert operations <= core.declared_operations()
    iam_actions(operations)  # raises on anything that is not a read
    assert all(reader.reads for reader in READERS.values())


def test_every_whole_stack_rule_says_what_it_reads():
    """The live stage turns a whole-stack verdict into ERROR when a type the rule reads could not be read."""
    from platform_spec.template_engine import RELATIONSHIP_RULE_IDS, RELATIONSHIP_TYPES

    assert set(RELATIONSHIP_TYPES) == set(RELATIONSHIP_RULE_IDS)
