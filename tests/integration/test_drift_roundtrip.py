"""The drift round trip: a fresh deployment has no drift over the whole stack, and any single declared property
that differs live is reported, on that resource and that property.

The live stack is read once from the session's deployment; hypothesis then changes one read property at a time
(in the read picture: no writer per property is needed, and nothing on the shared deployment changes)."""

from __future__ import annotations

import copy
import dataclasses
import re

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from opscli import core, livestack, stackcheck, targets
from opscli.readers import READERS
from platform_spec.intrinsics import Unresolvable
from platform_spec.result import Status
from tests.library_tracing import untraced

pytestmark = [pytest.mark.synth, pytest.mark.xdist_group("deployment")]


@pytest.fixture(scope="module")
def fresh(local_deployment):
    """The deployment as declared, read whole: the read the modules that break settings compare their restores with
    (one per test process), taken here if none was yet."""
    from tests.conftest import local_aws
    from tests.integration.changes import deployment_read

    aws = local_aws(local_deployment.endpoint)
    target = targets.from_outputs(local_deployment.outputs_file)
    return deployment_read(aws, core.stack_scope(aws, target), core.account_id(aws))


def comparable(live: livestack.LiveStack) -> list[tuple[str, str]]:
    """(logical id, property) of every declared property the readers read and the answers included."""
    found = []
    for lid, resource in live.resources.items():
        if resource.state != livestack.ReadState.READ:
            continue
        for key, value in resource.declared.properties.items():
            if key in READERS[resource.declared.type].reads and resource.properties.get(key) is not None:
                try:
                    live.resolve(value)
                except Unresolvable:
                    continue
                found.append((lid, key))
    return found


@pytest.fixture(scope="module")
def properties(fresh) -> list[tuple[str, str]]:
    """comparable(fresh), made once: every example below draws from it."""
    return comparable(fresh)


def test_a_fresh_deployment_has_no_drift(fresh, properties):
    findings, unverified = stackcheck.drift(fresh)
    assert [f for f in findings if f.status is not Status.PASS] == []
    assert len(properties) > 400 and len(unverified) < 20  # the comparison really covers the stack


def changed(draw, value):
    """A value of the same shape that differs from `value`."""
    if isinstance(value, bool):
        return not value
    if isinstance(value, (int, float)):
        return value + draw(st.integers(1, 1000))
    if isinstance(value, str):
        return value + draw(st.sampled_from(["-x", "0", " ", "/other"]))
    if isinstance(value, list):
        if value and draw(st.booleans()):
            index = draw(st.integers(0, len(value) - 1))
            return value[:index] + value[index + 1:]
        return [*value, draw(st.sampled_from(["extra", {"Key": "Extra", "Value": "x"}]))]
    if isinstance(value, dict) and value:
        key = draw(st.sampled_from(sorted(value)))
        return {**value, key: changed(draw, value[key])}
    return "changed"


_TRACED: list[bool] = []  # whether an example's drift ran under coverage's tracer (the first one does)


def drift_of_an_example(stack: livestack.LiveStack) -> tuple[list, list]:
    """stackcheck.drift of one example's stack, under coverage's tracer for the first example only. Each example
    runs the same comparison over the same stack but for one property: what it runs of our code is measured by the
    first one, by test_a_fresh_deployment_has_no_drift and by the suite's tests of the drift and of the rules
    (tests/integration/test_drift.py's live cases, test_fix_commands.py, tests/policy), and the examples are drawn
    at random, so what a later one reached alone would not be measured reliably anyway. Traced, every example
    paid the tracer's cost on every line of the comparison of the whole stack."""
    if _TRACED:
        return untraced(stackcheck.drift)(stack)
    _TRACED.append(True)
    return stackcheck.drift(stack)


@settings(max_examples=40, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(data=st.data())
def test_any_single_declared_property_changed_live_is_reported(fresh, properties, data):
    lid, key = data.draw(st.sampled_from(properties))
    resource = fresh.resources[lid]
    expected = fresh.resolve(resource.declared.properties[key])
    new_value = changed(data.draw, expected)
    if livestack.same(expected, new_value):  # e.g. an id turned into its own ARN: not a change
        return
    mutated = copy.copy(fresh)
    mutated.resources = {**fresh.resources, lid: dataclasses.replace(
        resource, properties={**resource.properties, key: new_value})}
    findings, _ = drift_of_an_example(mutated)
    failed = {(f.resource.split(" ", 2)[1], f.check_id) for f in findings if f.status is Status.FAIL}
    assert failed == {(lid, f"drift.{key}")}, (lid, key, new_value, failed)


# --- the live picture against AWS's resource schemas --------------------------------------------------------------

#: cfn-lint's rules that judge a resource's properties against its CloudFormation resource provider schema (the
#: schemas AWS publishes per region, as cfn-lint ships them): names, types, enums, patterns, lengths, required.
SCHEMA_RULES = ("E3002", "E3003", "E3012", "E3030", "E3031", "E3033", "E3034", "E3017", "E3018", "E3020", "E3032",
                "E3035", "E3036", "E3037")


def schema_violations(live: livestack.LiveStack) -> list[str]:
    """Each read resource's live properties as a template of their own, linted against the schemas only."""
    import json

    from cfnlint.api import lint
    from cfnlint.config import ManualArgs

    resources = {lid: {"Type": r.declared.type, "Properties": r.properties}
                 for lid, r in live.resources.items() if r.state == livestack.ReadState.READ and r.properties}
    template = json.dumps({"AWSTemplateFormatVersion": "2010-09-09", "Resources": resources}, default=str)
    # cfn-lint runs none of our code (it is handed plain JSON): coverage's tracer only slows it down
    matches = untraced(lint)(template, config=ManualArgs(regions=["ap-northeast-1"], include_checks=["I"]))
    return sorted(f"{m.rule.id} {'/'.join(map(str, m.path))}: {m.message}" for m in matches
                  if m.rule.id in SCHEMA_RULES and not _unclaimed_required(m, live))


def _unclaimed_required(match, live: livestack.LiveStack) -> bool:
    """A required property the type's reader does not say it reads (an identifier such as RestApiId, which the
    reader looks up by, or a Lambda's Code, which no read returns): the picture is partial by declaration, and
    only what the reader claims to read is held to the schema."""
    if match.rule.id != "E3003" or len(match.path) < 3:
        return False
    missing = re.search(r"'(\w+)' is a required property", match.message)
    resource = live.resources.get(match.path[1])
    return bool(missing and resource and missing.group(1) not in READERS[resource.declared.type].reads)


def test_every_live_picture_fits_its_cloudformation_resource_schema(fresh):
    """What the readers make of the emulator's answers is valid CloudFormation for its type, as AWS's own schema
    says: a reader that invents a property name, a type or an enum value fails here, not against a real account."""
    violations = schema_violations(fresh)
    assert violations == [], "\n".join(violations[:40])
    assert {r.declared.type for r in fresh.resources.values() if r.state == livestack.ReadState.READ} >= {
        "AWS::RDS::DBInstance", "AWS::ElastiCache::ReplicationGroup", "AWS::EFS::FileSystem", "AWS::ECS::Service",
        "AWS::ApiGateway::Stage", "AWS::KMS::Key", "AWS::EC2::SecurityGroup", "AWS::S3::Bucket"}


def test_the_schema_check_fails_a_picture_a_reader_got_wrong(fresh):
    """The same check on a picture with an invented property, a value of the wrong type and one outside its enum."""
    rds = next(lid for lid, r in fresh.resources.items() if r.declared.type == "AWS::RDS::DBInstance")
    ecs = next(lid for lid, r in fresh.resources.items() if r.declared.type == "AWS::ECS::Service")
    wrong = copy.copy(fresh)
    wrong.resources = {
        rds: dataclasses.replace(fresh.resources[rds], properties={
            **fresh.resources[rds].properties, "MultiAz": True, "BackupRetentionPeriod": {"days": 1}}),
        ecs: dataclasses.replace(fresh.resources[ecs], properties={
            **fresh.resources[ecs].properties, "LaunchType": "MOON"})}
    found = "\n".join(schema_violations(wrong))
    assert "'MultiAz' was unexpected" in found and "{'days': 1} is not of type 'integer'" in found, found
    assert "'MOON' is not one of" in found, found
