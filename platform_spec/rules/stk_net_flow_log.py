"""STK-NET-003: every VPC of the stack has a flow log that captures ALL traffic.

Flow logs are the record of who talked to the data stores: an investigation without them starts blind. A flow
log of ACCEPT or REJECT alone misses half of it (the scan that failed, or the connection that got in). Deleting
the flow log is among an intruder's first steps; so the rule asks that the log exist, not only that a declared
one be well set, and it runs on the template as well as on the live resources."""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from typing import Any

from platform_spec.intrinsics import as_dict, ref_target
from platform_spec.result import Result
from platform_spec.rule import stack_rule

RULE_ID = "STK-NET-003"
VPC = "AWS::EC2::VPC"
FLOW_LOG = "AWS::EC2::FlowLog"


def check(resources: Mapping[str, Any]) -> Iterable[tuple[str, Result]]:
    logs: dict[str, list[str]] = {}
    for resource in resources.values():
        if resource.get("Type") == FLOW_LOG:
            props = as_dict(resource.get("Properties"))
            vpc = ref_target(props.get("ResourceId"))
            if vpc is not None and str(props.get("ResourceType", "VPC")) == "VPC":
                logs.setdefault(vpc, []).append(str(props.get("TrafficType", "?")))
    for lid, resource in resources.items():
        if resource.get("Type") != VPC:
            continue
        traffic = logs.get(lid, [])
        if "ALL" in traffic:
            yield lid, Result.ok("a flow log captures ALL traffic")
        elif traffic:
            yield lid, Result.fail(f"its flow logs capture only {', '.join(sorted(traffic))}, not ALL traffic")
        else:
            yield lid, Result.fail("no flow log: nobody can tell afterwards who reached what in this VPC")


stack_rule(RULE_ID, {VPC, FLOW_LOG}, check)
