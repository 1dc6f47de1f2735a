"""opscli.stackcheck's drift: what changed, said as people read it (and cut when long), and each declared property
it could not compare named with why."""

from __future__ import annotations

import pytest

from opscli.livestack import LiveResource, LiveStack, ReadState
from opscli.model import resource_label
from opscli.stack import Declared, StackScope
from opscli.stackcheck import NOT_IN_ANSWER, Unverified, changes, describe_change, drift
from platform_spec.intrinsics import Resolver


@pytest.mark.parametrize(("declared", "live", "said"), [
    (True, False, ["MultiAZ: declared true, live false"]),
    ([{"CidrIp": "10.0.0.0/16", "IpProtocol": "tcp"}],
     [{"CidrIp": "10.0.0.0/16", "IpProtocol": "tcp"}, {"CidrIp": "0.0.0.0/0", "IpProtocol": "tcp", "FromPort": 22}],
     ["MultiAZ: added {CidrIp: 0.0.0.0/0, FromPort: 22, IpProtocol: tcp}"]),
    ([{"Key": "Owner", "Value": "platform"}], [], ["MultiAZ: removed {Key: Owner, Value: platform}"]),
    ({"A": {"B": 1, "C": 2}}, {"A": {"B": 1, "C": 3}, "Z": "aws default"}, ["MultiAZ.A.C: declared 2, live 3"]),
    ({"A": 1, "Gone": "x"}, {"A": 1}, ["MultiAZ.Gone: removed (declared x)"]),
    (None, "set", ["MultiAZ: declared (not set), live set"]),
])
def test_drift_says_what_changed_as_people_read_it(declared, live, said):
    assert changes(declared, live, "MultiAZ") == said


def test_a_long_change_is_cut():
    text = describe_change("Rules", [], [{"Name": str(n)} for n in range(200)], limit=80)
    assert len(text) == 80 and text.endswith("…")


def _one_queue(live_properties: dict) -> LiveStack:
    declared = Declared("Queue", "AWS::SQS::Queue", "q-1", "CREATE_COMPLETE", properties={
        "QueueName": "q-1", "VisibilityTimeout": 900, "KmsMasterKeyId": {"Fn::GetAtt": ["Gone", "Arn"]}})
    scope = StackScope("TapStackx", {"Resources": {"Queue": {"Type": "AWS::SQS::Queue"}}}, (declared,), "test")
    resolver = Resolver(pseudo={"AWS::Region": "ap-northeast-1", "AWS::AccountId": "123456789012"}, parameters={},
                        azs=[])
    resolver.refs["Queue"] = "q-1"
    return LiveStack(scope, {"Queue": LiveResource(declared, ReadState.READ, live_properties)}, resolver)


def test_drift_names_each_property_it_could_not_compare_and_why():
    """A property the answer left out and one whose declared value does not resolve are each named, with their
    resource; a property that was compared is not among them."""
    findings, unverified = drift(_one_queue({"QueueName": "q-1"}))
    label = resource_label("AWS::SQS::Queue", "Queue", "q-1")
    assert [f.rule_id for f in findings if f.status.value == "FAIL"] == []
    assert unverified[0] == Unverified(label, "VisibilityTimeout", NOT_IN_ANSWER)
    assert unverified[1].property == "KmsMasterKeyId" and "does not resolve" in unverified[1].why
    assert "Gone" in unverified[1].why and len(unverified) == 2
    _, none = drift(_one_queue({"QueueName": "q-1", "VisibilityTimeout": 900, "KmsMasterKeyId": "k"}))
    assert [u.property for u in none] == ["KmsMasterKeyId"]  # still unresolvable; the answered one is compared
