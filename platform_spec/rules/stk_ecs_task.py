"""STK-ECS-004 and STK-ECS-005: what a container may do to its host.

STK-ECS-004: no privileged container, no added kernel capabilities that break out (SYS_ADMIN, NET_ADMIN, ALL),
and no sharing of the host's network, PID or IPC namespace. On Fargate most of these are refused at run time,
but a task definition is also run on EC2 capacity by whoever can register one; the definition is the control.
STK-ECS-005: every container's root filesystem is read-only, so a compromised worker cannot plant a binary or
change its own code; scratch space is the EFS volume and /tmp mounts."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from platform_spec.intrinsics import as_dict, as_list, is_true
from platform_spec.result import Result
from platform_spec.rule import plain_rule

HOST_ID = "STK-ECS-004"
READ_ONLY_ID = "STK-ECS-005"
TYPE = "AWS::ECS::TaskDefinition"
DANGEROUS_CAPABILITIES = frozenset({"ALL", "SYS_ADMIN", "NET_ADMIN", "SYS_PTRACE", "SYS_MODULE", "DAC_READ_SEARCH"})


def _containers(properties: Mapping[str, Any]) -> list[Mapping[str, Any]]:
    return [c for c in as_list(properties.get("ContainerDefinitions")) if isinstance(c, Mapping)]


def check_host_isolation(resource_type: str, properties: Mapping[str, Any]) -> Result:
    if resource_type != TYPE:
        return Result.na()
    problems = []
    for key, name in (("NetworkMode", "network"), ("PidMode", "PID"), ("IpcMode", "IPC")):
        if str(properties.get(key, "")).lower() == "host":
            problems.append(f"shares the host's {name} namespace ({key}: host)")
    for container in _containers(properties):
        name = container.get("Name", "?")
        if is_true(container.get("Privileged")):
            problems.append(f"container {name} is privileged")
        added = as_list(as_dict(as_dict(container.get("LinuxParameters")).get("Capabilities")).get("Add"))
        dangerous = sorted({str(c).upper() for c in added} & DANGEROUS_CAPABILITIES)
        if dangerous:
            problems.append(f"container {name} adds {', '.join(dangerous)}")
    if problems:
        return Result.fail("; ".join(problems))
    return Result.ok("no privileged container, no host namespace shared")


def check_read_only_root(resource_type: str, properties: Mapping[str, Any]) -> Result:
    if resource_type != TYPE:
        return Result.na()
    containers = _containers(properties)
    if not containers:
        return Result.fail("no container definitions: cannot show the root filesystems are read-only")
    writable = [str(c.get("Name", "?")) for c in containers if not is_true(c.get("ReadonlyRootFilesystem"))]
    if writable:
        return Result.fail(f"container {', '.join(writable)} can write its root filesystem")
    return Result.ok(f"all {len(containers)} containers have read-only root filesystems")


plain_rule(HOST_ID, {TYPE}, check_host_isolation)
plain_rule(READ_ONLY_ID, {TYPE}, check_read_only_root)
