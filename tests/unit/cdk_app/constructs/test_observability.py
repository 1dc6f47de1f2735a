"""cdk_app/constructs/observability.py in the session's synthesized TapStack: the alarms an operator is paged for, on
the one alarm topic."""

from __future__ import annotations

import pytest

pytestmark = pytest.mark.synth


def test_operators_are_alerted_on_rejected_videos_a_stuck_intake_and_a_bypassed_cache(synth):
    alarms = {lid: a["Properties"] for lid, a in synth.resources("AWS::CloudWatch::Alarm").items()}
    topic = synth.one("AWS::SNS::Topic")[0]

    def alarm(fragment: str) -> dict:
        [found] = [p for lid, p in alarms.items() if fragment in lid]
        assert found["AlarmActions"] == [{"Ref": topic}]
        return found

    dead = alarm("DeadLetterMessages")
    assert (dead["MetricName"], dead["Threshold"], dead["EvaluationPeriods"], dead["DatapointsToAlarm"]) == (
        "ApproximateNumberOfMessagesVisible", 0, 1, 1)
    assert dead["ComparisonOperator"] == "GreaterThanThreshold"
    age = alarm("IntakeOldestMessageAge")
    assert (age["MetricName"], age["Threshold"], age["Namespace"]) == ("ApproximateAgeOfOldestMessage", 1800, "AWS/SQS")
    bypass = alarm("CacheBypassed")
    # the metric the API emits when Redis is down (services/common/log.py, services/metadata_api/app.py)
    assert (bypass["Namespace"], bypass["MetricName"], bypass["Dimensions"]) == (
        "StreamTech/Workloads", "CacheBypass", [{"Name": "service", "Value": "metadata-api"}])
