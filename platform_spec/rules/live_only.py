"""Rules that exist only live: facts no template holds (a key's state, the AZs Redis members landed in, tasks
actually running, a parameter group actually applied, a mount target actually available).

Each predicate judges a resource in its CloudFormation property shape plus the live facts its reader adds
(`facts`: plain values from the describe answers, named below). The live readers guarantee the facts a predicate
names are present (an answer without them is ERROR, "could not look"), so a missing fact here is a bug, not
a verdict: it raises KeyError.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass
from typing import Any

from platform_spec.path import Path
from platform_spec.result import Result
from platform_spec.rules import stk_perimeter as perimeter
from platform_spec.rules import stk_rds, stk_residency
from platform_spec.rules import stk_residency_stores as residency
from platform_spec.rules import stk_resource_policy as resource_policy

LivePredicate = Callable[[Mapping[str, Any], Mapping[str, Any]], Result]  # (properties, facts) -> Result
LivePaths = Callable[[Mapping[str, Any], Mapping[str, Any]], list[Path]]  # (properties, facts) -> paths


@dataclass(frozen=True)
class LiveOnlyRule:
    rule_id: str  # the catalog rule whose live half this is
    check_id: str
    resource_type: str
    facts: tuple[str, ...]  # the facts the reader must supply
    predicate: LivePredicate
    # A perimeter or residency half: the paths in or out it judges, from the same facts (platform_spec.path)
    paths: LivePaths | None = None


def key_state(_props: Mapping[str, Any], facts: Mapping[str, Any]) -> Result:
    """STK-KMS-003: the project key is customer-managed and enabled (not disabled or pending deletion)."""
    if facts["KeyManager"] != "CUSTOMER":
        return Result.fail(f"the key is {facts['KeyManager']}-managed, not customer-managed")
    if facts["KeyState"] != "Enabled":
        return Result.fail(f"the key is {facts['KeyState']}: every data store encrypted with it is unreadable",
                           key_state=facts["KeyState"],
                           **({"pending_deletion": True} if facts["KeyState"] == "PendingDeletion" else {}))
    return Result.ok("customer-managed and enabled")


def redis_members_spread(_props: Mapping[str, Any], facts: Mapping[str, Any]) -> Result:
    """STK-REDIS-001 (live half): the members really sit in at least two AZs."""
    azs = sorted(set(facts["MemberAvailabilityZones"]))
    if len(facts["MemberAvailabilityZones"]) < 2 or len(azs) < 2:
        return Result.fail(f"{len(facts['MemberAvailabilityZones'])} member(s) in {len(azs)} AZ(s) "
                           f"({', '.join(azs) or 'none'}); at least 2 members in 2 AZs are required")
    return Result.ok(f"{len(facts['MemberAvailabilityZones'])} members in {len(azs)} AZs")


def mount_target_available(_props: Mapping[str, Any], facts: Mapping[str, Any]) -> Result:
    """STK-EFS-002 (live half): a declared mount target is available, so tasks in its AZ can mount."""
    if facts["LifeCycleState"] != "available":
        return Result.fail(f"mount target in {facts['AvailabilityZoneName']} is {facts['LifeCycleState']}")
    return Result.ok(f"available in {facts['AvailabilityZoneName']}")


def tasks_running(props: Mapping[str, Any], facts: Mapping[str, Any]) -> Result:
    """STK-ECS-002 (live half): the service is active and runs at least two tasks (its desired count)."""
    desired, running = props.get("DesiredCount"), facts["RunningCount"]
    if facts["Status"] != "ACTIVE":
        return Result.fail(f"service status is {facts['Status']}")
    if not isinstance(desired, int) or running < max(desired, 2):
        return Result.fail(f"{running} of {desired} tasks running; at least 2 are required")
    return Result.ok(f"{running}/{desired} tasks running")


def parameters_applied(_props: Mapping[str, Any], facts: Mapping[str, Any]) -> Result:
    """STK-RDS-003 (live half): the attached parameter group is applied (a pending-reboot group's
    rds.force_ssl is not what the instance runs with)."""
    if facts["ParameterApplyStatus"] != "in-sync":
        return Result.fail(f"the parameter group is {facts['ParameterApplyStatus']}, not in-sync: the instance does "
                           "not run with its settings (rds.force_ssl) until it is applied",
                           **({"pending_reboot": True} if facts["ParameterApplyStatus"] == "pending-reboot" else {}))
    return Result.ok("the attached parameter group is applied (in-sync)")


PRESENCE_ID = "STK-STACK-001"  # every declared resource exists and is readable (judged by opscli's stack check)
UNDECLARED_CHILDREN_ID = "STK-STACK-002"
KEY_STATE_ID = "STK-KMS-003"
# The declared types whose readers list what AWS keeps under them (the fact "Undeclared").
# A declared property whose live value differs and breaks no other rule (opscli drift); a value that breaks a rule
# is reported under that rule.
DRIFT_ID = "STK-DRIFT-001"
CHILD_BEARING = ("AWS::KMS::Key", "AWS::ApiGateway::UsagePlan", "AWS::ApiGateway::RestApi", "AWS::RDS::DBInstance",
                 "AWS::SNS::Topic", "AWS::Events::Rule", "AWS::IAM::Role", "AWS::IAM::ManagedPolicy",
                 "AWS::ECS::Service", "AWS::EC2::RouteTable", perimeter.FILE_SYSTEM)


def nothing_undeclared(_props: Mapping[str, Any], facts: Mapping[str, Any]) -> Result:
    """STK-STACK-002: nothing was added next to the declaration (a grant on the key, a key of the usage plan, a
    manual snapshot, a subscription, a target, a policy on a role, an identity a managed policy is attached to, a
    revision a service runs, a route)."""
    found = facts["Undeclared"]
    if found:
        return Result.fail(f"{len(found)} undeclared: {'; '.join(found[:5])}{' ...' if len(found) > 5 else ''}")
    return Result.ok("nothing beside the declaration")


LIVE_ONLY_RULES: tuple[LiveOnlyRule, ...] = (
    *(LiveOnlyRule(UNDECLARED_CHILDREN_ID, "stack.undeclared_children", resource_type, ("Undeclared",),
                   nothing_undeclared) for resource_type in CHILD_BEARING),
    LiveOnlyRule(stk_residency.LOGS_ID, "logs.subscription_destinations", stk_residency.LOG_GROUP,
                 ("Arn", "SubscriptionFilters"), stk_residency.log_group_subscriptions, stk_residency.log_group_paths),
    LiveOnlyRule(KEY_STATE_ID, "kms.key_state", "AWS::KMS::Key", ("KeyManager", "KeyState"), key_state),
    LiveOnlyRule("STK-REDIS-001", "redis.members_spread", "AWS::ElastiCache::ReplicationGroup",
                 ("MemberAvailabilityZones",), redis_members_spread),
    LiveOnlyRule("STK-EFS-002", "efs.mount_target_available", "AWS::EFS::MountTarget",
                 ("LifeCycleState", "AvailabilityZoneName"), mount_target_available),
    LiveOnlyRule("STK-ECS-002", "ecs.tasks_running", "AWS::ECS::Service", ("RunningCount", "Status"), tasks_running),
    LiveOnlyRule("STK-RDS-003", "rds.parameters_applied", "AWS::RDS::DBInstance", ("ParameterApplyStatus",),
                 parameters_applied),
    LiveOnlyRule(stk_rds.CA_EXPIRY_ID, "rds.server_certificate", stk_rds.INSTANCE, ("CertificateDetails",),
                 stk_rds.ca_certificate_current),
    LiveOnlyRule(residency.RDS_COPIES_ID, "rds.replicas_in_japan", residency.INSTANCE,
                 ("DBInstanceArn", "ReadReplicas"), residency.rds_replicas_in_japan, residency.rds_replica_paths),
    LiveOnlyRule(residency.RDS_SNAPSHOTS_ID, "rds.snapshots_kept_in_account", residency.INSTANCE,
                 ("DBInstanceArn", "SnapshotShares"), residency.rds_snapshots_kept_in_account,
                 residency.snapshot_paths),
    LiveOnlyRule(residency.KMS_MULTI_REGION_ID, "kms.replicas_in_japan", residency.KEY,
                 ("KeyArn", "MultiRegionKeys"), residency.kms_replicas_in_japan, residency.kms_replica_paths),
    # the perimeter: who can reach in beside the declared policies
    LiveOnlyRule(resource_policy.RULE_ID, resource_policy.GRANTS_CHECK, "AWS::KMS::Key", ("Grants", "Account"),
                 resource_policy.grants, resource_policy.grant_paths),
    LiveOnlyRule(resource_policy.RULE_ID, resource_policy.BUS_CHECK, "AWS::Events::Rule",
                 ("EventBus", "EventBusPolicy", "Account"), resource_policy.bus_policy, resource_policy.bus_paths),
    LiveOnlyRule(perimeter.ACCESS_POINT_ID, perimeter.ACCESS_POINTS_CHECK, perimeter.FILE_SYSTEM, ("AccessPoints",),
                 perimeter.undeclared_access_points),
)
