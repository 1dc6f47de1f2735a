"""cdk_app/constructs/video_processing.py in the session's synthesized TapStack: the cluster and the worker that
mounts the scratch space, scales on the queue's backlog and stops slowly."""

from __future__ import annotations

import pytest

from tests.conftest import CDK_AND_CHECKOV

pytestmark = pytest.mark.synth


@CDK_AND_CHECKOV  # aws_cdk.assertions or a synthesis in process
def test_worker_mounts_efs_with_transit_encryption_and_iam(synth):
    from aws_cdk.assertions import Match

    synth.assertions.has_resource_properties("AWS::ECS::TaskDefinition", {
        "Family": "video-processing-test",
        "Volumes": Match.array_with([Match.object_like({
            "EFSVolumeConfiguration": Match.object_like({
                "TransitEncryption": "ENABLED",
                "AuthorizationConfig": Match.object_like({"IAM": "ENABLED"}),
            })})]),
    })


def test_the_worker_scales_first_on_queue_backlog_per_task(synth):
    [backlog] = [p["Properties"] for p in synth.resources("AWS::ApplicationAutoScaling::ScalingPolicy").values()
                 if "CustomizedMetricSpecification" in p["Properties"]["TargetTrackingScalingPolicyConfiguration"]]
    assert backlog["PolicyName"] == "worker-backlog-scaling-test"
    config = backlog["TargetTrackingScalingPolicyConfiguration"]
    assert config["TargetValue"] == 10
    queries = {q["Id"]: q for q in config["CustomizedMetricSpecification"]["Metrics"]}
    visible = queries["visible"]["MetricStat"]["Metric"]
    assert (visible["Namespace"], visible["MetricName"]) == ("AWS/SQS", "ApproximateNumberOfMessagesVisible")
    assert visible["Dimensions"] == [{"Name": "QueueName", "Value": "intake-queue-test"}]
    tasks = queries["tasks"]["MetricStat"]["Metric"]
    assert tasks["MetricName"] == "RunningTaskCount" and {"Name": "ServiceName", "Value": "video-processing-test"} in [
        {"Name": d["Name"], "Value": d["Value"]} for d in tasks["Dimensions"]]
    per_task = queries["backlog_per_task"]
    assert per_task["ReturnData"] is True and "visible /" in per_task["Expression"]
    # scales the worker's own scalable target (the one whose CPU and memory policies are the second signal)
    worker_target = [lid for lid, t in synth.resources("AWS::ApplicationAutoScaling::ScalableTarget").items()
                     if "VideoProcessing" in lid]
    assert backlog["ScalingTargetId"] == {"Ref": worker_target[0]}


@CDK_AND_CHECKOV  # aws_cdk.assertions or a synthesis in process
def test_the_worker_may_send_to_the_dead_letter_queue_and_stop_slowly(synth):
    [worker] = [t["Properties"] for t in synth.resources("AWS::ECS::TaskDefinition").values()
                if t["Properties"]["Family"] == "video-processing-test"]
    container = worker["ContainerDefinitions"][0]
    assert container["StopTimeout"] == 120
    env = {e["Name"]: e["Value"] for e in container["Environment"]}
    assert {"INTAKE_QUEUE_URL", "INTAKE_DLQ_URL", "INGEST_BUCKET", "SCRATCH_DIR", "DB_SSLMODE"} <= set(env)
    assert env["WORKER_CONCURRENCY"] == "2" and env["DB_SSLMODE"] == "verify-full"
    statements = [s for p in synth.resources("AWS::IAM::Policy").values()
                  for s in p["Properties"]["PolicyDocument"]["Statement"]
                  if s.get("Sid") == "SendUnreadableVideosToDeadLetterQueue"]
    assert statements and statements[0]["Action"] == "sqs:SendMessage"
    synth.assertions.has_resource_properties("AWS::ECS::Cluster", {
        "ClusterName": "ecs-cluster-test",
        "ClusterSettings": [{"Name": "containerInsights", "Value": "enabled"}]})
