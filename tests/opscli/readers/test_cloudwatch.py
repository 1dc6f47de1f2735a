"""opscli.readers.cloudwatch on answers stubbed with botocore's Stubber: the declared alarms are asked together,
an alarm outside them on its own."""

from __future__ import annotations

from botocore.stub import Stubber

from tests.opscli.stubs import ACCOUNT, TAGS, reader_context, scope


def test_an_alarm_outside_the_declared_ones_is_asked_on_its_own(stubbed):
    """Batched reads ask for the declared alarms together; a name that is not among them goes alone."""
    from opscli.readers.cloudwatch import alarm
    from opscli.stack import Declared

    declared = scope(A=("AWS::CloudWatch::Alarm", "alarm-a", {}), B=("AWS::CloudWatch::Alarm", "alarm-b", {}))
    context = reader_context(stubbed, declared, {})
    arn = f"arn:aws:cloudwatch:ap-northeast-1:{ACCOUNT}:alarm:"
    with Stubber(stubbed.client("cloudwatch")) as stub:
        stub.add_response("describe_alarms", {"MetricAlarms": [{"AlarmName": "alarm-x", "AlarmArn": arn + "x"}]},
                          {"AlarmNames": ["alarm-x"], "AlarmTypes": ["MetricAlarm"]})
        stub.add_response("list_tags_for_resource", {"Tags": TAGS})
        stub.add_response("describe_alarms", {"MetricAlarms": [{"AlarmName": "alarm-a", "AlarmArn": arn + "a"},
                                                               {"AlarmName": "alarm-b", "AlarmArn": arn + "b"}]},
                          {"AlarmNames": ["alarm-a", "alarm-b"], "AlarmTypes": ["MetricAlarm"]})
        stub.add_response("list_tags_for_resource", {"Tags": TAGS})
        stub.add_response("list_tags_for_resource", {"Tags": TAGS})
        alarm(context, Declared("X", "AWS::CloudWatch::Alarm", "alarm-x", "CREATE_COMPLETE"))
        for resource in declared.resources:
            alarm(context, resource)
        stub.assert_no_pending_responses()
    assert stubbed.log.calls.count("cloudwatch:DescribeAlarms") == 2
