"""The drift round trip: a fresh deployment has no drift over the whole stack, and any single declared property
that differs live is reported, on that resource and that property.

The live stack is read once from the session's deployment; hypothesis then changes one read property at a time
(in the read picture: no writer per property is needed, and nothing on the shared deployment changes)."""

from __future__ import annotations

import copy
import dataclasses

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from opscli import core, livestack, stackcheck, targets
from opscli.aws import Aws, new_session
from opscli.readers import READERS
from platform_spec.intrinsics import Unresolvable
from platform_spec.result import Status

pytestmark = [pytest.mark.synth, pytest.mark.xdist_group("deployment")]


@pytest.fixture(scope="module")
def fresh(local_deployment):
    session = new_session(aws_access_key_id="local-emulator", aws_secret_access_key="local-emulator",
                          region_name="ap-northeast-1")
    aws = Aws(session=session, endpoint_url=local_deployment.endpoint, max_attempts=2)
    target = targets.from_outputs(local_deployment.outputs_file)
    return livestack.read_stack(aws, core.stack_scope(aws, target), account=core.account_id(aws))


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


def test_a_fresh_deployment_has_no_drift(fresh):
    findings, unverifiable = stackcheck.drift(fresh)
    assert [f for f in findings if f.status is not Status.PASS] == []
    assert len(comparable(fresh)) > 400 and unverifiable < 20  # the comparison really covers the stack


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
        return value + [draw(st.sampled_from(["extra", {"Key": "Extra", "Value": "x"}]))]
    if isinstance(value, dict) and value:
        key = draw(st.sampled_from(sorted(value)))
        return {**value, key: changed(draw, value[key])}
    return "changed"


@settings(max_examples=40, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(data=st.data())
def test_any_single_declared_property_changed_live_is_reported(fresh, data):
    lid, key = data.draw(st.sampled_from(comparable(fresh)))
    resource = fresh.resources[lid]
    expected = fresh.resolve(resource.declared.properties[key])
    new_value = changed(data.draw, expected)
    if livestack.same(expected, new_value):  # e.g. an id turned into its own ARN: not a change
        return
    mutated = copy.copy(fresh)
    mutated.resources = {**fresh.resources, lid: dataclasses.replace(
        resource, properties={**resource.properties, key: new_value})}
    findings, _ = stackcheck.drift(mutated)
    failed = {(f.resource.split(" ", 2)[1], f.check_id) for f in findings if f.status is Status.FAIL}
    assert failed == {(lid, f"drift.{key}")}, (lid, key, new_value, failed)
