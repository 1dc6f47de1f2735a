"""opscli.readers.autoscaling on answers stubbed with botocore's Stubber: the scaling policies of one resource are
read in one call, and one the answer leaves out is missing."""

from __future__ import annotations

import pytest
from botocore.stub import Stubber

from tests.opscli.stubs import NOW, reader_context, scope


def test_scaling_policies_of_one_resource_are_read_in_one_call_and_one_left_out_is_missing(stubbed):
    from opscli.readers import NotFound
    from opscli.readers.autoscaling import scaling_policy

    target = ("AWS::ApplicationAutoScaling::ScalableTarget", "service/c/s|ecs:service:DesiredCount|ecs",
              {"ServiceNamespace": "ecs", "ResourceId": "service/c/s", "ScalableDimension": "ecs:service:DesiredCount"})
    policy = {"ScalingTargetId": {"Ref": "Target"}, "PolicyType": "TargetTrackingScaling"}
    declared = scope(Target=target, Cpu=("AWS::ApplicationAutoScaling::ScalingPolicy", "cpu", {**policy,
                                                                                               "PolicyName": "cpu"}),
                     Gone=("AWS::ApplicationAutoScaling::ScalingPolicy", "gone", {**policy, "PolicyName": "gone"}))
    context = reader_context(stubbed, declared, {})
    answer = {"ScalingPolicies": [
        {"PolicyARN": "arn:p", "PolicyName": name, "ServiceNamespace": "ecs", "ResourceId": "service/c/s",
         "ScalableDimension": "ecs:service:DesiredCount", "PolicyType": "TargetTrackingScaling",
         "CreationTime": NOW} for name in ("cpu", "memory")]}
    with Stubber(stubbed.client("application-autoscaling")) as stub:
        stub.add_response("describe_scaling_policies", answer, {"ServiceNamespace": "ecs", "ResourceId": "service/c/s"})
        _, cpu, gone = declared.resources
        assert scaling_policy(context, cpu) == {"PolicyName": "cpu", "PolicyType": "TargetTrackingScaling"}
        with pytest.raises(NotFound, match="scaling policy gone not found"):
            scaling_policy(context, gone)
        stub.assert_no_pending_responses()
