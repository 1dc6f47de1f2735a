"""cdk_app/constructs/workload.py in the session's synthesized TapStack: each Fargate service runs two tasks or more,
privately, scales on CPU and memory, and gets its credentials only as secrets."""

from __future__ import annotations

import pytest

pytestmark = pytest.mark.synth


def test_services_run_at_least_two_tasks_privately_and_scale_on_cpu_and_memory(synth):
    services = synth.resources("AWS::ECS::Service")
    assert {s["Properties"]["ServiceName"] for s in services.values()} == {"video-processing-test", "metadata-api-test"}
    for service in services.values():
        p = service["Properties"]
        assert p["DesiredCount"] >= 2 and p["LaunchType"] == "FARGATE"
        assert p["NetworkConfiguration"]["AwsvpcConfiguration"]["AssignPublicIp"] == "DISABLED"
    targets = synth.resources("AWS::ApplicationAutoScaling::ScalableTarget").values()
    assert len(targets) == 2 and all(t["Properties"]["MinCapacity"] >= 2 for t in targets)
    configs = [p["Properties"]["TargetTrackingScalingPolicyConfiguration"]
               for p in synth.resources("AWS::ApplicationAutoScaling::ScalingPolicy").values()]
    predefined = sorted(c["PredefinedMetricSpecification"]["PredefinedMetricType"]
                        for c in configs if "PredefinedMetricSpecification" in c)
    assert predefined == ["ECSServiceAverageCPUUtilization"] * 2 + ["ECSServiceAverageMemoryUtilization"] * 2


def test_containers_get_credentials_only_through_secrets(synth):
    for td in synth.resources("AWS::ECS::TaskDefinition").values():
        container = td["Properties"]["ContainerDefinitions"][0]
        names = {s["Name"] for s in container["Secrets"]}
        assert {"DB_PASSWORD", "DB_USERNAME", "REDIS_AUTH_TOKEN"} <= names
        env = {e["Name"] for e in container["Environment"]}
        assert not env & names
        assert container["ReadonlyRootFilesystem"] is True and container["User"] == "1000:1000"
