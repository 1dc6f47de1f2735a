"""cdk_app/constructs/posture_monitor.py in TapMonitor<suffix>, the posture monitor's stack, read from the session's
one synthesis (the app builds it beside TapStack): its queues, rule and schedule, its function, role and alarms. The
stack itself (cdk_app/monitor.py) and its StackSet-ready template: tests/unit/cdk_app/test_monitor.py."""

from __future__ import annotations

import functools
import json
from typing import Any

import botocore.session
import pytest

from opscli.iam_policy import managed_documents, policy_document
from opscli.monitor import publish
from opscli.monitor.__main__ import QUEUE_CALLS, QUEUE_WRITES
from opscli.targets import from_suffix
from platform_spec import monitor
from platform_spec.naming import physical_name
from tests.conftest import SUFFIX

pytestmark = pytest.mark.synth


def resources(template: dict[str, Any], rtype: str) -> dict[str, dict[str, Any]]:
    return {lid: r for lid, r in template["Resources"].items() if r["Type"] == rtype}


def one(template: dict[str, Any], rtype: str) -> tuple[str, dict[str, Any]]:
    found = resources(template, rtype)
    assert len(found) == 1, f"expected one {rtype}, found {sorted(found)}"
    return next(iter(found.items()))


def ref(value: Any) -> str | None:
    """The logical id a Ref or Fn::GetAtt names."""
    if isinstance(value, dict):
        if "Ref" in value:
            return value["Ref"]
        if "Fn::GetAtt" in value:
            return value["Fn::GetAtt"][0]
    return None


def the_function(template: dict[str, Any]) -> tuple[str, dict[str, Any]]:
    """The monitor's function (the stack also holds CDK's auto-delete handler)."""
    return next((lid, r) for lid, r in resources(template, "AWS::Lambda::Function").items()
                if r["Properties"].get("FunctionName") == physical_name("monitor", SUFFIX))


def test_the_queues_the_rule_and_the_schedule_are_the_contracts(synth, monitor_template):
    queues = {r["Properties"]["QueueName"]: (lid, r["Properties"]) for lid, r in
              resources(monitor_template, "AWS::SQS::Queue").items()}
    assert set(queues) == {physical_name("monitor-events", SUFFIX), physical_name("monitor-dead-letter", SUFFIX)}
    events_lid, events = queues[physical_name("monitor-events", SUFFIX)]
    dead_lid, _ = queues[physical_name("monitor-dead-letter", SUFFIX)]
    # five receives at least before SQS sets a change aside (AWS's advice for a queue Lambda reads)
    assert events["RedrivePolicy"]["maxReceiveCount"] == monitor.MAX_RECEIVES == 5
    assert ref(events["RedrivePolicy"]["deadLetterTargetArn"]) == dead_lid
    # The rule: CloudTrail's management events of every service of TapStack's declared types, to the queue.
    _, rule = one(monitor_template, "AWS::Events::Rule")
    declared = {r["Type"] for r in synth.template["Resources"].values()}
    assert rule["Properties"]["Name"] == physical_name("monitor-changes", SUFFIX)
    assert rule["Properties"]["EventPattern"] == {"detail-type": [monitor.CLOUDTRAIL_DETAIL_TYPE],
                                                  "source": monitor.watched_sources(declared)}
    assert [ref(t["Arn"]) for t in rule["Properties"]["Targets"]] == [events_lid]
    # The schedule: hourly, the whole-stack audit's message to the same queue.
    _, schedule = one(monitor_template, "AWS::Scheduler::Schedule")
    props = schedule["Properties"]
    assert props["Name"] == physical_name("monitor-schedule", SUFFIX)
    assert props["ScheduleExpression"] == "rate(1 hour)"
    assert ref(props["Target"]["Arn"]) == events_lid
    assert json.loads(props["Target"]["Input"]) == monitor.schedule_input(SUFFIX)
    assert ref(props["Target"]["DeadLetterConfig"]["Arn"]) == dead_lid


def text(value: Any) -> str:
    """A template value as text: Fn::Join joined, a Ref as ${Name}."""
    if isinstance(value, dict) and "Fn::Join" in value:
        separator, parts = value["Fn::Join"]
        return separator.join(text(part) for part in parts)
    if isinstance(value, dict) and "Ref" in value:
        return f"${{{value['Ref']}}}"
    assert isinstance(value, str), value
    return value


def test_eventbridge_may_send_to_the_queues_for_the_monitors_rule_only(monitor_template):
    """Each queue's policy admits events.amazonaws.com to SendMessage only with aws:SourceArn the monitor's rule
    (by its name: the rule's ARN on the default bus), nothing for the account as a whole; the key lets
    EventBridge (through SQS) encrypt for this account, the one condition that call is documented to allow."""
    _, rule = one(monitor_template, "AWS::Events::Rule")
    rule_arn = f"arn:aws:events:ap-northeast-1:${{AWS::AccountId}}:rule/{rule['Properties']['Name']}"
    queues = set(resources(monitor_template, "AWS::SQS::Queue"))
    admitted = {}
    for policy in resources(monitor_template, "AWS::SQS::QueuePolicy").values():
        [queue] = [ref(q) for q in policy["Properties"]["Queues"]]
        allows = [s for s in policy["Properties"]["PolicyDocument"]["Statement"] if s["Effect"] == "Allow"]
        assert [s["Principal"] for s in allows] == [{"Service": "events.amazonaws.com"}], allows
        [statement] = allows
        assert statement["Action"] == "sqs:SendMessage" and ref(statement["Resource"]) == queue
        assert list(statement["Condition"]) == ["ArnEquals"]
        admitted[queue] = text(statement["Condition"]["ArnEquals"]["aws:SourceArn"])
    assert admitted == dict.fromkeys(queues, rule_arn)
    _, key = one(monitor_template, "AWS::KMS::Key")
    events = [s for s in key["Properties"]["KeyPolicy"]["Statement"]
              if s["Principal"] == {"Service": "events.amazonaws.com"}]
    assert len(events) == 1 and sorted(events[0]["Action"]) == ["kms:Decrypt", "kms:GenerateDataKey*"]
    assert events[0]["Condition"] == {"StringEquals": {"aws:SourceAccount": {"Ref": "AWS::AccountId"}}}


def test_the_schedules_role_is_assumed_for_the_schedule_only(monitor_template):
    """Scheduler assumes the role as the schedule's group (aws:SourceArn; or as the schedule, the older form), of
    this account; the group is the one the schedule is in (the default: it names none)."""
    _, schedule = one(monitor_template, "AWS::Scheduler::Schedule")
    role_lid = ref(schedule["Properties"]["Target"]["RoleArn"])
    [trust] = monitor_template["Resources"][role_lid]["Properties"]["AssumeRolePolicyDocument"]["Statement"]
    assert trust["Principal"] == {"Service": "scheduler.amazonaws.com"}
    assert trust["Condition"]["StringEquals"] == {"aws:SourceAccount": {"Ref": "AWS::AccountId"}}
    group = schedule["Properties"].get("GroupName", "default")
    where = "arn:aws:scheduler:ap-northeast-1:${AWS::AccountId}"
    assert [text(v) for v in trust["Condition"]["ArnEquals"]["aws:SourceArn"]] == [
        f"{where}:schedule-group/{group}", f"{where}:schedule/{group}/{schedule['Properties']['Name']}"]


def test_the_rule_matches_the_source_cloudtrail_gives_every_service_tapstack_declares(synth, monitor_template):
    """For each type TapStack declares, the API opscli reads it with (its reader's clients) is the API that changes
    it; CloudTrail names that API's events aws.<its endpoint prefix> (botocore's service model), as the emulator
    does. The rule matches every one of them, and the stack's own (CloudFormation), nothing else."""
    _, rule = one(monitor_template, "AWS::Events::Rule")
    declared = {r["Type"] for r in synth.template["Resources"].values()}
    expected = {f"aws.{endpoint_prefix(client)}" for rtype in declared for client in _clients_of(rtype)}
    assert set(rule["Properties"]["EventPattern"]["source"]) == expected | {"aws.cloudformation"}
    assert {"aws.monitoring", "aws.elasticloadbalancing", "aws.elasticfilesystem", "aws.application-autoscaling",
            "aws.ec2", "aws.iam"} <= expected
    assert "aws.cloudwatch" not in expected  # CloudWatch's API is "monitoring": a rule on aws.cloudwatch sees none


def _clients_of(rtype: str) -> set[str]:
    """The boto3 clients the readers of `rtype`'s service use (a type without a reader of its own, such as
    AWS::ApiGateway::Account, is changed through its service's API all the same)."""
    from opscli.readers import READERS

    namespace = rtype.split("::")[:2]
    return {op.split(":")[0] for t, reader in READERS.items() if t.split("::")[:2] == namespace
            for op in reader.operations}


@functools.cache
def endpoint_prefix(client: str) -> str:
    """botocore's endpoint prefix of `client` (one session's service model for each client, read once)."""
    return _models().get_service_model(client).endpoint_prefix


@functools.cache
def _models() -> botocore.session.Session:
    return botocore.session.get_session()


def test_every_service_opscli_reads_has_its_event_source_and_the_emulator_names_it_so():
    """platform_spec.monitor.event_source agrees with botocore for every namespace opscli has a reader for (a new
    namespace whose endpoint prefix is not its name in lower case fails here until it is listed); the emulator's
    quick check by the signing name (localenv.cloudtrail.record) names the same service for each."""
    from opscli.readers import READERS

    models = botocore.session.get_session()
    for rtype, reader in READERS.items():
        for client in {op.split(":")[0] for op in reader.operations}:
            model = models.get_service_model(client)
            assert monitor.event_source(rtype) == f"aws.{model.endpoint_prefix}", rtype
            assert model.signing_name == model.endpoint_prefix, client
    assert monitor.event_source("AWS::CDK::Metadata") is None and monitor.event_source("Custom::X") is None


def test_the_function_consumes_the_queue_with_the_contracts_environment(monitor_template):
    function_lid, function = the_function(monitor_template)
    props = function["Properties"]
    assert props["Handler"] == monitor.HANDLER == "opscli.monitor.lambda_handler"
    env = props["Environment"]["Variables"]
    assert set(env) == {monitor.ENV_SUFFIX, monitor.ENV_BUCKET, monitor.ENV_NAMESPACE, monitor.ENV_DEAD_LETTER_QUEUE,
                        monitor.ENV_MAX_RECEIVES}
    assert env[monitor.ENV_SUFFIX] == SUFFIX and env[monitor.ENV_NAMESPACE] == monitor.METRIC_NAMESPACE
    dead_lid = next(lid for lid, r in resources(monitor_template, "AWS::SQS::Queue").items()
                    if r["Properties"]["QueueName"] == physical_name("monitor-dead-letter", SUFFIX))
    # the function dead-letters a message itself, to its own dead-letter queue, on the receive SQS would
    assert ref(env[monitor.ENV_DEAD_LETTER_QUEUE]) == dead_lid
    [redrive] = [r["Properties"]["RedrivePolicy"] for r in resources(monitor_template, "AWS::SQS::Queue").values()
                 if "RedrivePolicy" in r["Properties"]]
    assert env[monitor.ENV_MAX_RECEIVES] == str(redrive["maxReceiveCount"]) == str(monitor.MAX_RECEIVES)
    bucket_lid, bucket = one(monitor_template, "AWS::S3::Bucket")
    assert ref(env[monitor.ENV_BUCKET]) == bucket_lid
    assert {"Key": "Name", "Value": physical_name("monitor-reports", SUFFIX)} in bucket["Properties"]["Tags"]
    _, mapping = one(monitor_template, "AWS::Lambda::EventSourceMapping")
    queue = next(lid for lid, r in resources(monitor_template, "AWS::SQS::Queue").items()
                 if r["Properties"]["QueueName"] == physical_name("monitor-events", SUFFIX))
    assert ref(mapping["Properties"]["EventSourceArn"]) == queue
    assert ref(mapping["Properties"]["FunctionName"]) == function_lid
    assert mapping["Properties"]["FunctionResponseTypes"] == ["ReportBatchItemFailures"]
    # Lambda refuses a mapping whose function may run longer than the queue hides a message, and advises six times;
    # a batch's first messages are held through the window too
    visibility = monitor_template["Resources"][queue]["Properties"]["VisibilityTimeout"]
    assert visibility >= 6 * props["Timeout"] and \
        visibility >= props["Timeout"] + mapping["Properties"]["MaximumBatchingWindowInSeconds"]


def test_the_mapping_gathers_batches_as_the_local_consumer_does_and_is_never_throttled(monitor_template):
    """The mapping batches as opscli.monitor's consumer does (the shared constants: up to 10,000 messages over
    2 s; Lambda itself cuts at 6 MB), not 10, where Lambda invokes at once and a storm costs a read per 10 events.
    It invokes 2 at a time at most (ScalingConfig: a mapping does not count the function's reserved concurrency),
    and the function reserves at least that, so no batch is throttled into a receive that brings a change closer to
    the dead-letter queue."""
    _, mapping = one(monitor_template, "AWS::Lambda::EventSourceMapping")
    props = mapping["Properties"]
    assert (props["BatchSize"], props["MaximumBatchingWindowInSeconds"]) == (
        monitor.BATCH_SIZE, monitor.BATCH_WINDOW_SECONDS) == (10_000, 2)
    assert props["BatchSize"] <= 10 or props["MaximumBatchingWindowInSeconds"] >= 1  # what Lambda requires
    assert props["ScalingConfig"] == {"MaximumConcurrency": 2}  # the least Lambda allows
    _, function = the_function(monitor_template)
    assert function["Properties"]["ReservedConcurrentExecutions"] >= props["ScalingConfig"]["MaximumConcurrency"]
    outputs = monitor_template["Outputs"]
    assert set(monitor.OUTPUTS) <= set(outputs)


def test_what_acts_with_a_role_waits_for_every_policy_of_the_role(monitor_template):
    """The policies are resources of their own, which the function, the mapping and the schedule do not name:
    without DependsOn, CloudFormation may create the mapping before its role may receive from the queue (Lambda
    refuses that mapping) and the schedule before its role may send."""
    def policies_of(role_lid: str) -> set[str]:
        return {lid for lid, r in resources(monitor_template, "AWS::IAM::ManagedPolicy").items()
                if role_lid in [ref(x) for x in r["Properties"]["Roles"]]}

    _function_lid, function = the_function(monitor_template)
    role_policies = policies_of(ref(function["Properties"]["Role"]))
    _, mapping = one(monitor_template, "AWS::Lambda::EventSourceMapping")
    assert len(role_policies) >= 2 and role_policies <= set(mapping["DependsOn"]) & set(function["DependsOn"])
    _, schedule = one(monitor_template, "AWS::Scheduler::Schedule")
    assert policies_of(ref(schedule["Properties"]["Target"]["RoleArn"])) <= set(schedule["DependsOn"])


def alarm_on(template: dict[str, Any], metric_name: str) -> dict[str, Any]:
    """The properties of the one alarm on `metric_name`."""
    [props] = [r["Properties"] for r in resources(template, "AWS::CloudWatch::Alarm").values()
               if r["Properties"].get("MetricName") == metric_name]
    return props


def test_high_and_critical_failing_findings_page_the_alarm_topic_once(monitor_template):
    """The alarm watches the one metric of failing HIGH and CRITICAL findings (its Maximum over a minute, > 0) and
    keeps its state while no data comes: it pages the alarm topic when they go from none to some."""
    props = alarm_on(monitor_template, monitor.ALARM_METRIC_NAME)
    assert (props["Namespace"], props["MetricName"]) == (monitor.METRIC_NAMESPACE, monitor.ALARM_METRIC_NAME)
    assert "Dimensions" not in props and "Metrics" not in props
    assert props["Statistic"] == "Maximum" and props["Period"] == 60 and props["TreatMissingData"] == "ignore"
    assert props["EvaluationPeriods"] == props["DatapointsToAlarm"] == 1
    assert props["ComparisonOperator"] == "GreaterThanThreshold" and props["Threshold"] == 0
    action = json.dumps(props["AlarmActions"])
    assert physical_name("alarm-topic", SUFFIX) in action and ":sns:" in action


def test_the_monitor_pages_when_it_stops_judging(monitor_template):
    """Beside the findings' alarm, four on the monitor itself, each to the same alarm topic: any message in its
    dead-letter queue, any error or throttle of its function (AWS's metrics, whose absence means nothing happened),
    and no complete whole-stack run for two schedule periods (its heartbeat, whose absence is the news: missing
    data breaching, for that alarm only). The schedule's rate and the heartbeat's period are one."""
    assert monitor.SCHEDULE_RATE == "rate(1 hour)" and monitor.SCHEDULE_PERIOD_SECONDS == 3600
    alarms = [r["Properties"] for r in resources(monitor_template, "AWS::CloudWatch::Alarm").values()]
    assert len(alarms) == 5
    for props in alarms:
        action = json.dumps(props["AlarmActions"])
        assert physical_name("alarm-topic", SUFFIX) in action and ":sns:" in action and \
            props.get("ActionsEnabled", True) is True
    dead_lid = next(lid for lid, r in resources(monitor_template, "AWS::SQS::Queue").items()
                    if r["Properties"]["QueueName"] == physical_name("monitor-dead-letter", SUFFIX))
    function_lid, _ = the_function(monitor_template)
    on = {(p["Namespace"], p["MetricName"]): p for p in alarms}
    dead = on[("AWS/SQS", "ApproximateNumberOfMessagesVisible")]
    assert dead["Dimensions"] == [{"Name": "QueueName", "Value": {"Fn::GetAtt": [dead_lid, "QueueName"]}}]
    for metric in ("Errors", "Throttles"):
        assert on[("AWS/Lambda", metric)]["Dimensions"] == [{"Name": "FunctionName", "Value": {"Ref": function_lid}}]
    for props in (dead, on[("AWS/Lambda", "Errors")], on[("AWS/Lambda", "Throttles")]):
        assert (props["ComparisonOperator"], props["Threshold"], props["TreatMissingData"]) == (
            "GreaterThanThreshold", 0, "notBreaching")
        assert props["EvaluationPeriods"] == props["DatapointsToAlarm"] == 1 and props["Period"] == 300
    beat = on[(monitor.METRIC_NAMESPACE, monitor.HEARTBEAT_METRIC_NAME)]
    assert "Dimensions" not in beat and beat["Statistic"] == "Maximum"
    assert (beat["Period"], beat["EvaluationPeriods"], beat["DatapointsToAlarm"]) == (3600, 2, 2)
    assert (beat["ComparisonOperator"], beat["Threshold"], beat["TreatMissingData"]) == (
        "LessThanThreshold", 1, "breaching")
    assert [p["TreatMissingData"] for p in alarms].count("breaching") == 1


def heartbeat_states(props: dict[str, Any], beats: dict[int, float], hours: int) -> list[str]:
    """The heartbeat alarm's state at the end of each hour, as CloudWatch evaluates an M-of-N alarm on `props`:
    `beats` is hour -> the Maximum put in it (an hour absent put nothing)."""
    assert props["ComparisonOperator"] == "LessThanThreshold" and props["Statistic"] == "Maximum"
    n, m = props["EvaluationPeriods"], props["DatapointsToAlarm"]
    missing = {"breaching": True, "notBreaching": False}.get(props["TreatMissingData"])
    states, state = [], "INSUFFICIENT_DATA"
    for hour in range(hours):
        window = [(beats[h] < props["Threshold"]) if h in beats else missing for h in range(hour - n + 1, hour + 1)]
        if missing is None and all(w is None for w in window):
            states.append(state)
            continue
        state = "ALARM" if sum(bool(w) for w in window) >= m else "OK"
        states.append(state)
    return states


def test_the_heartbeat_alarm_pages_two_hours_into_a_silent_or_blind_monitor(monitor_template):
    """Hourly complete runs keep it OK, one missed run does not page, two do; so does a monitor that runs but
    cannot look (it puts 0). The failing fixture: with missing data not breaching, a monitor that stopped never
    pages."""
    props = alarm_on(monitor_template, monitor.HEARTBEAT_METRIC_NAME)
    beats = {0: 1, 1: 1, 2: 1, 4: 1, 5: 1, 8: 0, 9: 0, 10: 1}  # hour 3 missed; 6, 7 nothing; 8, 9 blind
    assert heartbeat_states(props, beats, 11) == ["OK"] * 7 + ["ALARM"] * 3 + ["OK"]
    assert "ALARM" not in heartbeat_states({**props, "TreatMissingData": "notBreaching"},
                                           {0: 1, 1: 1, 2: 1}, 11)[1:]


class Recorded:
    """What the monitor puts into CloudWatch, recorded (a stand-in for its guarded session)."""

    def __init__(self) -> None:
        self.data: list[dict[str, Any]] = []

    def client(self, service: str) -> Recorded:
        assert service == "cloudwatch"
        return self

    def put_metric_data(self, Namespace: str, MetricData: list[dict[str, Any]]) -> None:  # noqa: N803 - botocore's
        assert Namespace == monitor.METRIC_NAMESPACE
        self.data += MetricData


def test_the_alarm_notifies_when_high_findings_appear_and_clears_only_on_a_whole_run_that_finds_none(
        monitor_template):
    """Runs one a minute, whole-stack or on some resources, each finding some failing HIGH findings; what they put
    (opscli.monitor.publish.to_metrics), judged as the template defines the alarm (moto evaluates no alarm): one
    notification when they appear, none while they persist (whichever runs see them, and between runs), OK again
    only after a whole-stack run finds none, and a second notification when they appear again."""
    from datetime import UTC, datetime, timedelta

    from opscli.model import Finding, Report
    from opscli.monitor import publish
    from platform_spec.result import Status

    props = alarm_on(monitor_template, monitor.ALARM_METRIC_NAME)
    runs = [(True, 0), (False, 1), (True, 2), (False, 0), (False, 1), (True, 0), (False, 0), (False, 1)]
    recorded, start = Recorded(), datetime(2026, 1, 2, 3, 0, tzinfo=UTC)
    for minute, (whole, high) in enumerate(runs):
        medium = Finding("STK-TAG-001", "STK-TAG-001", Status.FAIL, "AWS::S3::Bucket B (b)", "x")  # never pages
        findings = [Finding("STK-KMS-001", "STK-KMS-001", Status.FAIL, f"AWS::KMS::Key K{n} (k{n})", "x")
                    for n in range(high)] + [medium]
        assert all(f.severity == "HIGH" for f in findings[:high])
        report = Report(command="monitor", target={"suffix": SUFFIX}, findings=findings,
                        created=start + timedelta(minutes=minute, seconds=5))
        publish.to_metrics(recorded, monitor.METRIC_NAMESPACE, report, whole=whole)
    states, notified = alarm_states(props, recorded.data, start, len(runs))
    assert states == ["OK", "ALARM", "ALARM", "ALARM", "ALARM", "OK", "OK", "ALARM"]
    assert notified == [1, 7]
    # The failing fixture: missing data not breaching (the definition this replaced) returns to OK between runs,
    # so a run that still finds the same HIGH findings pages again.
    assert alarm_states({**props, "TreatMissingData": "notBreaching"}, recorded.data, start, len(runs))[1] == [1, 4, 7]
    # a partial run that finds none puts no alarm datum (it cannot vouch for the stack), a whole one always does
    assert sorted(_maxima(props, recorded.data, start)) == [0, 1, 2, 4, 5, 7]


def _maxima(props: dict[str, Any], data: list[dict[str, Any]], start: Any) -> dict[int, float]:
    """Per period from `start`, the Maximum of the data of the alarm's metric."""
    found: dict[int, float] = {}
    for datum in data:
        if datum["MetricName"] == props["MetricName"] and "Dimensions" not in datum:
            period = int((datum["Timestamp"] - start).total_seconds() // props["Period"])
            found[period] = max(found.get(period, datum["Value"]), datum["Value"])
    return found


def alarm_states(props: dict[str, Any], data: list[dict[str, Any]], start: Any,
                 periods: int) -> tuple[list[str], list[int]]:
    """The alarm's state after each period and the periods it notified in (entering ALARM), as CloudWatch
    evaluates a one-period, one-datapoint alarm on `props`' metric, statistic, threshold and missing-data rule."""
    assert props["Statistic"] == "Maximum" and props["EvaluationPeriods"] == props["DatapointsToAlarm"] == 1
    assert props["ComparisonOperator"] == "GreaterThanThreshold"
    maxima = _maxima(props, data, start)
    missing = {"ignore": None, "notBreaching": "OK", "breaching": "ALARM", "missing": "INSUFFICIENT_DATA"}[
        props["TreatMissingData"]]
    state, states, notified = "INSUFFICIENT_DATA", [], []
    for period in range(periods):
        new = ("ALARM" if maxima[period] > props["Threshold"] else "OK") if period in maxima else (missing or state)
        if new == "ALARM" and state != "ALARM":
            notified.append(period)
        state = new
        states.append(state)
    return states, notified


def _role_documents(template: dict[str, Any], role_lid: str) -> dict[str, dict[str, Any]]:
    """construct id (Reads1, Own, ...) -> policy document of every policy the role holds, from anywhere in the
    template: managed policies naming it, AWS::IAM::Policy naming it, the role's own inline and attached policies."""
    role = template["Resources"][role_lid]["Properties"]
    assert not role.get("Policies") and not role.get("ManagedPolicyArns"), "the role holds a policy of its own"
    found = {}
    for lid, resource in template["Resources"].items():
        if resource["Type"] in ("AWS::IAM::ManagedPolicy", "AWS::IAM::Policy") and \
                role_lid in [ref(r) for r in resource["Properties"].get("Roles", [])]:
            assert resource["Type"] == "AWS::IAM::ManagedPolicy", f"{lid} is an inline policy on the role"
            path = resource["Metadata"]["aws:cdk:path"].split("/")
            found[path[-2] if path[-1] == "Resource" else path[-1]] = resource["Properties"]["PolicyDocument"]
    return found


def test_the_monitors_role_holds_exactly_the_generated_reads_the_import_and_its_own_resources(monitor_template):
    """The role is what `opscli iam-policy --suffix test` prints (so the IAM-enforced run of the audit,
    tests/integration/test_iam_enforced.py, runs under exactly these reads) plus the import into Security Hub and
    what the monitor needs for its own queue, bucket, key, logs and metric: nothing else."""
    _, function = the_function(monitor_template)
    role_lid = ref(function["Properties"]["Role"])
    documents = _role_documents(monitor_template, role_lid)
    generated = managed_documents(policy_document(targets=from_suffix(SUFFIX)))
    reads = [documents.pop(f"Reads{n}") for n in range(1, len(generated) + 1)]
    assert reads == generated
    own = documents.pop("Own")
    assert not documents, f"the role holds more: {sorted(documents)}"
    by_sid = {s["Sid"]: s for s in own["Statement"]}
    assert {sid: sorted([s["Action"]] if isinstance(s["Action"], str) else s["Action"])
            for sid, s in by_sid.items()} == {
        "ImportFindings": ["securityhub:BatchImportFindings"],
        "ConsumeQueue": ["sqs:ChangeMessageVisibility", "sqs:DeleteMessage", "sqs:GetQueueAttributes",
                         "sqs:ReceiveMessage"],
        "DeadLetter": ["sqs:SendMessage"],
        "WriteReports": ["s3:PutObject"],
        "UseOwnKey": ["kms:Decrypt", "kms:GenerateDataKey"],
        "WriteLogs": ["logs:CreateLogStream", "logs:PutLogEvents"],
        "PutMetric": ["cloudwatch:PutMetricData"]}
    assert all(s["Effect"] == "Allow" for s in own["Statement"])
    queues = {r["Properties"]["QueueName"]: lid for lid, r in resources(monitor_template, "AWS::SQS::Queue").items()}
    assert ref(by_sid["ConsumeQueue"]["Resource"]) == queues[physical_name("monitor-events", SUFFIX)]
    assert ref(by_sid["DeadLetter"]["Resource"]) == queues[physical_name("monitor-dead-letter", SUFFIX)]
    assert by_sid["PutMetric"]["Resource"] == "*"
    assert by_sid["PutMetric"]["Condition"] == {"StringEquals": {"cloudwatch:namespace": monitor.METRIC_NAMESPACE}}
    assert "product/" in json.dumps(by_sid["ImportFindings"]["Resource"])
    # Exactly what the runtime sends beyond its reads (its guarded sessions' writes, as IAM names them), and what AWS
    # does with the role for it: nothing the runtime never asks for (it sends only to its own dead-letter queue, a
    # message it dead-letters with its reason; it never reads Security Hub back, so no finding is touched it did
    # not judge).
    runtime = {QUEUE_CALLS.get(op, op) for op in publish.WRITES | QUEUE_WRITES}
    assert runtime == {"securityhub:BatchImportFindings", "s3:PutObject", "cloudwatch:PutMetricData",
                       "sqs:SendMessage", "sqs:ReceiveMessage", "sqs:DeleteMessage", "sqs:ChangeMessageVisibility"}
    on_its_behalf = {"sqs:GetQueueAttributes",  # the event source mapping reads the queue's settings
                     "kms:Decrypt",  # SQS decrypts the queue's messages (its key) for whoever receives them
                     "kms:GenerateDataKey",  # S3 encrypts each report, SQS each dead letter, under the same key
                     "logs:CreateLogStream", "logs:PutLogEvents"}  # Lambda writes the function's log
    assert {a for s in own["Statement"] for a in ([s["Action"]] if isinstance(s["Action"], str) else s["Action"])} \
        == runtime | on_its_behalf

