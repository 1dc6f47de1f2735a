"""The emulator's CloudTrail events (localenv.cloudtrail): every write it serves puts an "AWS API Call via
CloudTrail" event on the default bus, which a rule routes to an SQS queue; reads, data events, failed calls and
disabled rules put nothing. In-process moto: the same response classes the emulator's server runs."""

from __future__ import annotations

import json

import botocore.session
import pytest
from moto import mock_aws

from localenv import cloudtrail
from localenv.emulator import configure_moto
from opscli.aws import new_session
from platform_spec import monitor

REGION = "ap-northeast-1"


@pytest.fixture
def bus(aws_credentials):
    """A rule on the default bus matching every CloudTrail event, its target an SQS queue; yields (clients,
    a function that drains the queue into the events it holds)."""
    configure_moto()
    with mock_aws():
        session = new_session(region_name=REGION)
        clients = {name: session.client(name) for name in ("sqs", "events", "ec2", "s3", "kms", "secretsmanager",
                                                           "cloudwatch")}
        queue = clients["sqs"].create_queue(QueueName="monitor-events-unit")["QueueUrl"]
        arn = clients["sqs"].get_queue_attributes(QueueUrl=queue, AttributeNames=["QueueArn"])["Attributes"][
            "QueueArn"]
        clients["events"].put_rule(Name="monitor-changes-unit", EventPattern=json.dumps(
            {"detail-type": ["AWS API Call via CloudTrail"], "source": [{"prefix": "aws."}]}))
        clients["events"].put_targets(Rule="monitor-changes-unit", Targets=[{"Id": "queue", "Arn": arn}])

        def drain() -> list[dict]:
            found = []
            while True:
                answer = clients["sqs"].receive_message(QueueUrl=queue, MaxNumberOfMessages=10)
                if not answer.get("Messages"):
                    return found
                found += [json.loads(m["Body"]) for m in answer["Messages"]]
                clients["sqs"].delete_message_batch(QueueUrl=queue, Entries=[
                    {"Id": str(n), "ReceiptHandle": m["ReceiptHandle"]} for n, m in enumerate(answer["Messages"])])

        drain()  # the rule's own PutTargets
        yield clients, drain


def _names(events: list[dict]) -> list[str]:
    return [e["detail"]["eventName"] for e in events]


def test_a_write_reaches_the_queue_as_cloudtrail_records_it(bus):
    clients, drain = bus
    vpc = clients["ec2"].create_vpc(CidrBlock="10.0.0.0/16")["Vpc"]["VpcId"]
    group = clients["ec2"].create_security_group(GroupName="g", Description="d", VpcId=vpc)["GroupId"]
    clients["ec2"].authorize_security_group_ingress(GroupId=group, IpPermissions=[
        {"IpProtocol": "tcp", "FromPort": 22, "ToPort": 22, "IpRanges": [{"CidrIp": "0.0.0.0/0"}]}])
    events = drain()
    assert _names(events) == ["CreateVpc", "CreateSecurityGroup", "AuthorizeSecurityGroupIngress"]
    event = events[-1]
    assert event["source"] == "aws.ec2" and event["detail-type"] == "AWS API Call via CloudTrail"
    detail = event["detail"]
    assert detail["eventSource"] == "ec2.amazonaws.com" and detail["awsRegion"] == REGION
    assert detail["requestParameters"]["groupId"] == group
    assert detail["requestParameters"]["ipPermissions"][0]["ipRanges"] == [{"cidrIp": "0.0.0.0/0"}]
    assert detail["responseElements"]["return"] is True
    assert detail["userIdentity"]["accessKeyId"] and detail["readOnly"] is False
    assert detail["eventTime"].endswith("Z") and detail["eventID"] and detail["managementEvent"] is True
    assert events[1]["detail"]["responseElements"]["groupId"] == group


def test_the_queue_gets_the_event_as_eventbridge_delivers_it_with_its_account(bus):
    """EventBridge's whole envelope, in its order, and the detail's text as the call wrote it (moto's default
    template dropped the account, which the monitor judges whose event is by, and filled its own fields into the
    detail's text)."""
    from opscli.monitor import messages

    clients, drain = bus
    clients["ec2"].create_vpc(CidrBlock="10.0.0.0/16", TagSpecifications=[
        {"ResourceType": "vpc", "Tags": [{"Key": "Name", "Value": "<region> <resources>"}]}])
    [event] = drain()
    assert list(event) == list(cloudtrail.ENVELOPE) and event["account"] == "123456789012"
    assert event["region"] == REGION and event["resources"] == []
    assert "<region> <resources>" in json.dumps(event["detail"]["requestParameters"])
    change = messages.read(messages.Record("m", json.dumps(event)), "unit")
    assert isinstance(change, messages.Change) and change.accounts == {"123456789012"} and change.regions == {REGION}


def test_reads_data_events_and_failed_calls_put_nothing(bus):
    clients, drain = bus
    key = clients["kms"].create_key()["KeyMetadata"]["KeyId"]
    clients["s3"].create_bucket(Bucket="unit-bucket", CreateBucketConfiguration={"LocationConstraint": REGION})
    assert _names(drain()) == ["CreateKey", "CreateBucket"]
    clients["kms"].describe_key(KeyId=key)
    clients["kms"].list_aliases()
    clients["kms"].encrypt(KeyId=key, Plaintext=b"data")  # readOnly in CloudTrail
    clients["s3"].put_object(Bucket="unit-bucket", Key="object", Body=b"1")  # an object: a data event
    clients["cloudwatch"].put_metric_data(Namespace="N", MetricData=[{"MetricName": "M", "Value": 1.0}])
    clients["events"].put_events(Entries=[{"Source": "app", "DetailType": "t", "Detail": "{}"}])
    with pytest.raises(clients["kms"].exceptions.NotFoundException):
        clients["kms"].disable_key_rotation(KeyId="00000000-0000-0000-0000-000000000000")
    assert drain() == []
    clients["kms"].disable_key_rotation(KeyId=key)
    clients["s3"].put_bucket_policy(Bucket="unit-bucket", Policy=json.dumps(
        {"Version": "2012-10-17", "Statement": []}))
    events = drain()
    assert _names(events) == ["DisableKeyRotation", "PutBucketPolicy"]
    assert events[0]["detail"]["requestParameters"] == {"keyId": key}
    assert events[1]["source"] == "aws.s3" and events[1]["detail"]["requestParameters"]["bucket"] == "unit-bucket"


def test_a_disabled_rule_and_a_schedule_deliver_nothing(bus):
    clients, drain = bus
    queue = clients["sqs"].create_queue(QueueName="scheduled-unit")["QueueUrl"]
    arn = clients["sqs"].get_queue_attributes(QueueUrl=queue, AttributeNames=["QueueArn"])["Attributes"]["QueueArn"]
    clients["events"].put_rule(Name="every-hour-unit", ScheduleExpression="rate(1 hour)")
    clients["events"].put_targets(Rule="every-hour-unit", Targets=[{"Id": "queue", "Arn": arn}])
    # a target moto cannot deliver to, on a rule that matches everything and comes first: the rules after it
    # still deliver
    monitor = clients["events"].list_targets_by_rule(Rule="monitor-changes-unit")["Targets"]
    pattern = clients["events"].describe_rule(Name="monitor-changes-unit")["EventPattern"]
    clients["events"].remove_targets(Rule="monitor-changes-unit", Ids=["queue"])
    clients["events"].delete_rule(Name="monitor-changes-unit")
    clients["events"].put_rule(Name="to-a-function-unit", EventPattern=json.dumps({"source": [{"prefix": ""}]}))
    clients["events"].put_targets(Rule="to-a-function-unit", Targets=[
        {"Id": "function", "Arn": "arn:aws:lambda:ap-northeast-1:123456789012:function:nothing"}])
    clients["events"].put_rule(Name="monitor-changes-unit", EventPattern=pattern)
    clients["events"].put_targets(Rule="monitor-changes-unit", Targets=monitor)
    assert _names(drain())[-1] == "PutTargets"
    clients["events"].disable_rule(Name="monitor-changes-unit")
    clients["kms"].create_key()
    clients["events"].enable_rule(Name="monitor-changes-unit")
    assert _names(drain()) == ["EnableRule"]
    assert "Messages" not in clients["sqs"].receive_message(QueueUrl=queue)


def test_the_monitors_rule_receives_the_writes_of_services_named_otherwise_than_their_type(bus):
    """The monitor's pattern (platform_spec.monitor) for the types whose API is not named as CloudFormation names
    the service: a write to each reaches the queue, with the source the pattern names."""
    clients, drain = bus
    types = {"AWS::CloudWatch::Alarm": "monitoring", "AWS::EFS::FileSystem": "elasticfilesystem",
             "AWS::ElasticLoadBalancingV2::TargetGroup": "elasticloadbalancing",
             "AWS::ApplicationAutoScaling::ScalableTarget": "application-autoscaling"}
    clients["events"].put_rule(Name="monitor-changes-unit", EventPattern=json.dumps(
        {"detail-type": [monitor.CLOUDTRAIL_DETAIL_TYPE], "source": monitor.event_sources(types)}))
    drain()
    session = new_session(region_name=REGION)
    clients["cloudwatch"].put_metric_alarm(AlarmName="a", MetricName="m", Namespace="n", Statistic="Sum",
                                           Period=60, EvaluationPeriods=1, Threshold=1.0,
                                           ComparisonOperator="GreaterThanThreshold")
    session.client("efs").create_file_system(CreationToken="unit")
    vpc = clients["ec2"].create_vpc(CidrBlock="10.0.0.0/16")["Vpc"]["VpcId"]  # aws.ec2: not in this pattern
    session.client("elbv2").create_target_group(Name="unit", Protocol="HTTP", Port=80, VpcId=vpc)
    session.client("application-autoscaling").register_scalable_target(
        ServiceNamespace="dynamodb", ResourceId="table/unit", ScalableDimension="dynamodb:table:ReadCapacityUnits",
        MinCapacity=1, MaxCapacity=2)
    events = drain()
    assert [(e["source"], e["detail"]["eventName"]) for e in events] == [
        ("aws.monitoring", "PutMetricAlarm"), ("aws.elasticfilesystem", "CreateFileSystem"),
        ("aws.elasticloadbalancing", "CreateTargetGroup"), ("aws.application-autoscaling", "RegisterScalableTarget")]
    assert {e["source"] for e in events} == {monitor.event_source(t) for t in types} == {
        f"aws.{prefix}" for prefix in types.values()}


def test_sensitive_parameters_are_hidden_as_cloudtrail_hides_them(bus):
    clients, drain = bus
    clients["secretsmanager"].create_secret(Name="unit-secret", SecretString="hunter2")
    (event,) = drain()
    assert event["detail"]["requestParameters"]["secretString"] == cloudtrail.HIDDEN
    assert "hunter2" not in json.dumps(event)


def test_nothing_is_built_while_no_rule_listens(bus):
    """The deployment's writes cost only the check for a listening rule until the monitor's rule exists."""
    clients, _drain = bus
    clients["events"].remove_targets(Rule="monitor-changes-unit", Ids=["queue"])
    clients["events"].delete_rule(Name="monitor-changes-unit")
    before = cloudtrail.COUNTS.put
    clients["kms"].create_key()
    assert cloudtrail.COUNTS.put == before


@pytest.mark.parametrize(("service", "operation", "write"), [
    ("ec2", "AuthorizeSecurityGroupIngress", True), ("ec2", "DescribeSecurityGroups", False),
    ("kms", "DisableKeyRotation", True), ("kms", "Decrypt", False), ("s3", "PutBucketPolicy", True),
    ("s3", "PutObject", False), ("s3", "DeleteObjects", False), ("s3", "PutBucketAcl", True),
    ("apigateway", "UpdateStage", True), ("apigateway", "GetStage", False), ("sqs", "SendMessage", False),
    ("sqs", "SetQueueAttributes", True),
    ("lambda", "Invoke", False), ("lambda", "UpdateFunctionConfiguration", True), ("iam", "PutRolePolicy", True),
    ("logs", "PutLogEvents", False), ("logs", "PutRetentionPolicy", True)])
def test_what_counts_as_a_write_comes_from_the_model(service, operation, write):
    model = botocore.session.get_session().get_service_model(service).operation_model(operation)
    assert cloudtrail.is_write(model) is write


def test_a_global_services_write_reaches_us_east_1s_bus_and_no_other(bus):
    """IAM is a global service: CloudTrail records its calls in us-east-1 and EventBridge delivers their events to
    us-east-1's default bus only, whatever region the client signed for (a client with an endpoint URL, as every
    client of the emulator, signs IAM for its own region). The rule in ap-northeast-1 (TapMonitor's) gets none; a
    rule on us-east-1's bus gets it, us-east-1 in its envelope and its record, and the monitor reads it as a change
    of its account (a global service's events are judged by account alone)."""
    from opscli.monitor import messages

    clients, drain = bus
    virginia = new_session(region_name="us-east-1")
    sqs = virginia.client("sqs")
    queue = sqs.create_queue(QueueName="global-events-unit")["QueueUrl"]
    arn = sqs.get_queue_attributes(QueueUrl=queue, AttributeNames=["QueueArn"])["Attributes"]["QueueArn"]
    virginia.client("events").put_rule(Name="global-changes-unit", EventPattern=json.dumps(
        {"detail-type": [monitor.CLOUDTRAIL_DETAIL_TYPE], "source": ["aws.iam"]}))
    virginia.client("events").put_targets(Rule="global-changes-unit", Targets=[{"Id": "queue", "Arn": arn}])
    drain()
    iam = new_session(region_name=REGION).client("iam", endpoint_url="https://iam.amazonaws.com")
    iam.create_role(RoleName="unit-role", AssumeRolePolicyDocument=json.dumps(
        {"Version": "2012-10-17", "Statement": []}))
    clients["kms"].create_key()  # a regional write still reaches ap-northeast-1's rule
    assert _names(drain()) == ["CreateKey"]
    [message] = sqs.receive_message(QueueUrl=queue, MaxNumberOfMessages=10)["Messages"]
    event = json.loads(message["Body"])
    assert (event["source"], event["region"], event["detail"]["eventName"]) == ("aws.iam", "us-east-1", "CreateRole")
    assert event["detail"]["awsRegion"] == "us-east-1" and event["detail"]["eventSource"] == "iam.amazonaws.com"
    change = messages.read(messages.Record("m", json.dumps(event)), "unit")
    assert isinstance(change, messages.Change)
    assert not messages.foreign(change, region=REGION, account=event["account"])
