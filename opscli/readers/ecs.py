"""Readers of the cluster, services and task definitions."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from opscli.readers.base import (
    FACTS,
    UNDECLARED,
    Call,
    MalformedAnswer,
    NotFound,
    ReadContext,
    ask,
    need,
    only,
    pascal,
    reader,
    resolved,
    spelled,
    tag_list,
)
from opscli.stack import Present

# The statuses ECS documents (strings its model does not enumerate).
_CLUSTER_STATUSES = ("ACTIVE", "PROVISIONING", "DEPROVISIONING", "FAILED", "INACTIVE")
_SERVICE_STATUSES = ("ACTIVE", "DRAINING", "INACTIVE")


def _described(answer: Mapping[str, Any], key: str, what: str, statuses: tuple[str, ...], operation: str
               ) -> Mapping[str, Any]:
    """The one item of an ECS Describe* asked for one name. ECS answers a name it does not know under
    `failures` (reason MISSING), not with an empty list; an INACTIVE item is a deleted one, kept in view for a
    while. An empty list without that failure is no answer."""
    items = need(answer, key, list, operation=operation)
    if not items:
        reasons = [str(f.get("reason")) for f in answer.get("failures") or [] if isinstance(f, Mapping)]
        if "MISSING" in reasons:
            raise NotFound(f"{what} not found ({operation}: MISSING)")
        raise MalformedAnswer(f"{operation} answered no {what} and " + (
            f"the failure {', '.join(reasons)[:80]}" if reasons else "no failure for it"))
    active = [item for item in items if not isinstance(item, Mapping) or spelled(
        need(item, "status", str, operation=operation), statuses, "status", operation) != "INACTIVE"]
    if not active:
        raise NotFound(f"{what} is INACTIVE (deleted)")
    return only(active, what, operation, by_id=True)


@reader("AWS::ECS::Cluster", (Call("ecs:DescribeClusters", ("arn:aws:ecs:{region}:{account}:cluster/{cluster}",)),),
        "ClusterName ClusterSettings Tags", derived=lambda p: {"Arn": p.arn("ecs", f"cluster/{p.id}")})
def ecs_cluster(ctx: ReadContext, r: Present) -> dict[str, Any]:
    answer = ask("DescribeClusters", ctx.aws.client("ecs").describe_clusters, clusters=[r.physical_id],
                 include=["SETTINGS", "TAGS"])
    cluster = _described(answer, "clusters", f"cluster {r.physical_id}", _CLUSTER_STATUSES, "DescribeClusters")
    return {"ClusterName": need(cluster, "clusterName", str, operation="DescribeClusters"),
            "ClusterSettings": pascal(cluster.get("settings", [])), "Tags": tag_list(cluster.get("tags", []),
                                                                                     "key", "value")}


def _undeclared_revisions(ctx: ReadContext, r: Present, service: Mapping[str, Any]) -> list[str]:
    """Task definitions the service runs or deploys that are not the one the stack declares for it."""
    declared = resolved(ctx, r.properties.get("TaskDefinition"))
    running = [str(service.get("taskDefinition"))] + [str(d.get("taskDefinition")) for d in
                                                      service.get("deployments") or [] if isinstance(d, Mapping)]
    return [f"runs task definition {arn.rsplit('/', 1)[-1]}, not the declared {str(declared).rsplit('/', 1)[-1]}"
            for arn in dict.fromkeys(running) if arn != declared]


@reader("AWS::ECS::Service", (Call("ecs:DescribeServices", ("arn:aws:ecs:{region}:{account}:service/{cluster}/*",)),),
        "ServiceName Cluster DesiredCount LaunchType PlatformVersion TaskDefinition NetworkConfiguration "
        "DeploymentConfiguration HealthCheckGracePeriodSeconds PropagateTags EnableECSManagedTags "
        "EnableExecuteCommand LoadBalancers Tags",
        derived=lambda p: {"ServiceArn": p.id, "Name": p.id.rsplit("/", 1)[-1]})
def ecs_service(ctx: ReadContext, r: Present) -> dict[str, Any]:
    cluster = ctx.resolve(r.properties.get("Cluster"))
    op = "DescribeServices"
    answer = ask(op, ctx.aws.client("ecs").describe_services, cluster=cluster, services=[r.physical_id],
                 include=["TAGS"])
    service = _described(answer, "services", f"service {r.physical_id}", _SERVICE_STATUSES, op)
    props: dict[str, Any] = {
        "ServiceName": need(service, "serviceName", str, operation=op),
        "Cluster": need(service, "clusterArn", str, operation=op),
        "DesiredCount": need(service, "desiredCount", int, operation=op),
        "TaskDefinition": need(service, "taskDefinition", str, operation=op),
        "NetworkConfiguration": pascal(need(service, "networkConfiguration", Mapping, operation=op)),
        "Tags": tag_list(service.get("tags", []), "key", "value"),
        FACTS: {"RunningCount": need(service, "runningCount", int, operation=op),
                "Status": need(service, "status", str, operation=op),
                UNDECLARED: _undeclared_revisions(ctx, r, service)},
    }
    for key in ("launchType", "platformVersion", "healthCheckGracePeriodSeconds", "propagateTags",
                "enableECSManagedTags", "enableExecuteCommand", "deploymentConfiguration", "loadBalancers"):
        if key in service:
            props[key[:1].upper() + key[1:]] = pascal(service[key])
    return props


_ECS_SPECIAL = {"efsVolumeConfiguration": "EFSVolumeConfiguration", "fileSystemId": "FilesystemId", "iam": "IAM"}


@reader("AWS::ECS::TaskDefinition", (Call("ecs:DescribeTaskDefinition"),),
        "Family Cpu Memory NetworkMode PidMode IpcMode RequiresCompatibilities TaskRoleArn ExecutionRoleArn "
        "ContainerDefinitions Volumes RuntimePlatform Tags", derived=lambda p: {"TaskDefinitionArn": p.id})
def task_definition(ctx: ReadContext, r: Present) -> dict[str, Any]:
    op = "DescribeTaskDefinition"
    answer = ask(op, ctx.aws.client("ecs").describe_task_definition, "ClientException",
                 taskDefinition=r.physical_id, include=["TAGS"])
    task = need(answer, "taskDefinition", Mapping, operation=op)
    if task.get("status") == "INACTIVE":  # deregistered: no new task can start from it
        raise NotFound(f"task definition {r.physical_id} is deregistered (INACTIVE)")
    props: dict[str, Any] = {"Family": need(task, "family", str, operation=op),
                             "ContainerDefinitions": pascal(need(task, "containerDefinitions", list, operation=op),
                                                            _ECS_SPECIAL, keep=frozenset({"Options"})),
                             "Volumes": pascal(task.get("volumes", []), _ECS_SPECIAL),
                             "Tags": tag_list(answer.get("tags", []), "key", "value")}
    for key in ("cpu", "memory", "networkMode", "pidMode", "ipcMode", "requiresCompatibilities", "taskRoleArn",
                "executionRoleArn", "runtimePlatform"):
        if key in task:
            props[key[:1].upper() + key[1:]] = pascal(task[key])
    return props
