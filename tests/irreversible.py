"""One fresh deployment of the real template, in process (moto's mock), changed in ways that cannot be undone in
place: declared resources deleted (tests/opscli/test_core.py) and an intruder's attacks
(tests/integration/test_attack_surface.py). A deleted queue comes back with another ARN, a task definition with
another revision, a flow log or a mount target with another id, so these changes cannot be made on the shared
deployment and put back; and each of them on a deployment of its own would deploy the stack once per change.

The deployment is audited before the changes (a fresh deployment fails nothing: the changes' control) and after
them all. The changes' FAILs are disjoint, so each FAIL of the audit is one change's, and tests/opscli/test_core.py
proves the audit fails exactly their union. Made once per test process, for the modules' tests in the xdist group
GROUP."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import boto3
import pytest

from opscli.model import Report
from tests.library_tracing import untraced_with_its_threads
from tests.opscli.conftest import audit_in_process, deploy_into_moto, in_process_moto

#: The xdist group of every test that reads `changed`: one deployment per run, not one per worker.
GROUP = pytest.mark.xdist_group("irreversible")

REGION = "ap-northeast-1"


def _delete_the_dlq(_outputs: dict[str, str]) -> None:
    sqs = boto3.client("sqs", region_name=REGION)
    sqs.delete_queue(QueueUrl=sqs.get_queue_url(QueueName="intake-dlq-test")["QueueUrl"])


def _deregister_a_task_definition_and_delete_a_mount_target(_outputs: dict[str, str]) -> None:
    ecs = boto3.client("ecs", region_name=REGION)
    efs = boto3.client("efs", region_name=REGION)
    service = ecs.describe_services(cluster="ecs-cluster-test", services=["video-processing-test"])["services"][0]
    ecs.deregister_task_definition(taskDefinition=service["taskDefinition"])
    file_system = efs.describe_file_systems()["FileSystems"][0]["FileSystemId"]
    efs.delete_mount_target(MountTargetId=efs.describe_mount_targets(FileSystemId=file_system)["MountTargets"][0][
        "MountTargetId"])


def _delete_the_flow_log(outputs: dict[str, str]) -> None:
    """An intruder's first step: the VPC's flow log deleted."""
    ec2 = boto3.client("ec2", region_name=REGION)
    flows = ec2.describe_flow_logs(Filters=[{"Name": "resource-id", "Values": [outputs["VpcId"]]}])["FlowLogs"]
    ec2.delete_flow_logs(FlowLogIds=[f["FlowLogId"] for f in flows])


def _a_method_without_a_key(outputs: dict[str, str]) -> None:
    """A method of the API replaced by one that needs no API key (PutMethod over the declared one: moto has no
    UpdateMethod)."""
    api, api_id = boto3.client("apigateway", region_name=REGION), outputs["ApiId"]
    videos = next(r for r in api.get_resources(restApiId=api_id)["items"] if r["path"] == "/videos")
    api.put_method(restApiId=api_id, resourceId=videos["id"], httpMethod="GET", authorizationType="NONE",
                   apiKeyRequired=False)


Change = Callable[[dict[str, str]], None]

#: What is deleted from the deployment, and the (rule, resource type) of every FAIL it causes.
VANISHED: dict[str, tuple[Change, set[tuple[str, str]]]] = {
    # the queue, and the policy that went with it
    "dlq": (_delete_the_dlq, {("STK-STACK-001", "AWS::SQS::Queue"), ("STK-STACK-001", "AWS::SQS::QueuePolicy")}),
    "task-definition and mount target": (_deregister_a_task_definition_and_delete_a_mount_target, {
        ("STK-STACK-001", "AWS::ECS::TaskDefinition"), ("STK-STACK-001", "AWS::EFS::MountTarget"),
        ("STK-EFS-002", "AWS::EFS::FileSystem")}),
}

#: The attacks on the deployment, and the (rule, resource type) of every FAIL each causes.
ATTACKS: dict[str, tuple[Change, set[tuple[str, str]]]] = {
    # the VPC without a flow log (as the template stage would say of a template without one), and the declared
    # flow log gone
    "flow log deleted": (_delete_the_flow_log, {("STK-NET-003", "AWS::EC2::VPC"),
                                                ("STK-STACK-001", "AWS::EC2::FlowLog")}),
    # the method put anew has no integration either: it reaches no backend
    "method without a key": (_a_method_without_a_key, {("STK-API-004", "AWS::ApiGateway::Method"),
                                                        ("STK-API-003", "AWS::ApiGateway::Method")}),
}

#: Every change made to the one deployment.
CHANGES = {**VANISHED, **ATTACKS}


@dataclass(frozen=True)
class Changed:
    template: dict  # the template deployed (its resources' logical ids)
    before: Report  # the audit of the fresh deployment
    after: Report  # the audit once every change of CHANGES was made


_CHANGED: dict[Path, Changed] = {}


def changed(synth: Any) -> Changed:
    """The deployment of the session's template (`synth`), audited fresh and after every change of CHANGES: made
    once per test process."""
    if synth.template_path not in _CHANGED:
        _CHANGED[synth.template_path] = _deployed_and_changed(synth.template)
    return _CHANGED[synth.template_path]


def _deployed_and_changed(template: dict) -> Changed:
    assert sum(len(e) for _, e in CHANGES.values()) == len(set().union(*(e for _, e in CHANGES.values()))), \
        "the changes' FAILs overlap: a FAIL of the audit could not be told to be one change's"
    with in_process_moto():
        outputs = deploy_into_moto(template, "test")
        # The fresh deployment reads and judges as the session's compliant deployment does (traced there: every
        # check passed, tests/opscli/test_core.py): outside coverage's tracer here. The changed one runs traced.
        before = untraced_with_its_threads(audit_in_process)()
        for change, _ in CHANGES.values():
            change(outputs)
        return Changed(template, before, audit_in_process())
