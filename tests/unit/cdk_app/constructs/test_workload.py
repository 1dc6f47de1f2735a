"""cdk_app/constructs/workload.py in the session's synthesized TapStack: each Fargate service runs two tasks or more,
privately, scales on CPU and memory, and gets its credentials only as secrets; and each image (container_image's
build context) carries every package of ours its workload imports."""

from __future__ import annotations

import re
from pathlib import Path

import pytest

from tests.conftest import ROOT
from tests.imports import ours_imported

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


def _image_sources(dockerfile: Path, root: Path) -> set[str]:
    """The top-level directories of the build context a Dockerfile copies (`COPY <dir>[/...] /app/...`) that
    .dockerignore sends (`!<dir>`)."""
    sent = {line[1:].strip() for line in (root / ".dockerignore").read_text().splitlines() if line.startswith("!")}
    copied = {m.group(1) for m in re.finditer(r"^COPY\s+(?:--\S+\s+)*([\w.-]+)[/\s]", dockerfile.read_text(), re.M)}
    return copied & sent


@pytest.mark.parametrize("workload", ["video_worker", "metadata_api"])
def test_each_image_carries_every_package_of_ours_its_workload_imports(workload):
    """The image holds services.common, the workload and every package of ours they import (the contract in
    platform_spec, the signal handling in platform_utils): one it lacked would fail at the task's start, in AWS."""
    code = sorted((ROOT / "services" / "common").rglob("*.py")) + sorted((ROOT / "services" / workload).rglob("*.py"))
    needed = ours_imported(code, ROOT) | {"services"}
    assert {"platform_spec", "platform_utils"} <= needed  # the reader really followed the imports
    assert needed <= _image_sources(ROOT / "services" / workload / "Dockerfile", ROOT)


def test_the_image_check_finds_a_package_the_image_lacks(tmp_path):
    """Not blind: a package the workload imports that the Dockerfile does not copy, or .dockerignore does not send,
    is missing from what the image carries."""
    for name, text in {"services/__init__.py": "", "services/w/__init__.py": "def f():\n    import extra.x\n",
                       "extra/__init__.py": "from sent import y\n", "extra/x.py": "", "sent/__init__.py": "",
                       "services/w/Dockerfile": "COPY services/w /app/services/w\nCOPY extra /app/extra\n",
                       ".dockerignore": "*\n!services\n!sent\n"}.items():
        (tmp_path / name).parent.mkdir(parents=True, exist_ok=True)
        (tmp_path / name).write_text(text)
    assert ours_imported([tmp_path / "services" / "w" / "__init__.py"], tmp_path) == {"extra", "sent"}
    assert _image_sources(tmp_path / "services" / "w" / "Dockerfile", tmp_path) == {"services"}
