"""STK-RDS-001/002/003/004/005: Multi-AZ, backups, TLS-only, a server certificate that does not expire soon, the
PostgreSQL log exported. (Not public, STK-NET-001: stk_net_public.py.)"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from datetime import UTC, datetime, timedelta
from typing import Any

from platform_spec.intrinsics import as_dict, as_int, is_true, ref_target
from platform_spec.result import Result, Status
from platform_spec.rule import live_rule, plain_rule, stack_rule

MULTI_AZ_ID = "STK-RDS-001"
BACKUP_ID = "STK-RDS-002"
FORCE_SSL_ID = "STK-RDS-003"
CA_EXPIRY_ID = "STK-RDS-004"
LOG_EXPORT_ID = "STK-RDS-005"
# Prowler's rds_instance_certificate_expiration fails under three months as well: changing the CA means checking
# every client's trust store (the images carry the bundle) and, for some engines, a restart in a maintenance
# window; a quarter's notice leaves time for both.
CA_EXPIRY_DAYS = 90

INSTANCE = "AWS::RDS::DBInstance"
PARAMETER_GROUP = "AWS::RDS::DBParameterGroup"
# The log type RDS exports PostgreSQL's server log under: connections, failed logins, errors, slow statements.
POSTGRES_LOG = "postgresql"


def _is_postgres_instance(resource_type: str, properties: Mapping[str, Any]) -> bool:
    return resource_type == INSTANCE and str(properties.get("Engine", "")).startswith("postgres")


def check_multi_az(resource_type: str, properties: Mapping[str, Any]) -> Result:
    if resource_type != INSTANCE or "DBClusterIdentifier" in properties:
        return Result.na()
    return Result.ok("Multi-AZ") if is_true(properties.get("MultiAZ")) else Result.fail("MultiAZ is not true")


def check_backups(resource_type: str, properties: Mapping[str, Any]) -> Result:
    if resource_type != INSTANCE or "DBClusterIdentifier" in properties:
        return Result.na()
    retention = properties.get("BackupRetentionPeriod", 1)  # CloudFormation's default is 1 day
    days = as_int(retention)
    if days is None:
        return Result.fail(f"BackupRetentionPeriod {retention!r} is not a number of days")
    if days < 1:
        return Result.fail("BackupRetentionPeriod is 0: automated backups are off")
    return Result.ok(f"automated backups kept {days} day(s)")


def force_ssl_on(parameters: Mapping[str, Any] | None) -> bool:
    return str(as_dict(parameters).get("rds.force_ssl", "")).strip() == "1"


def check_force_ssl(resource_type: str, properties: Mapping[str, Any]) -> Result:
    """A PostgreSQL parameter group sets rds.force_ssl=1; a PostgreSQL instance names a parameter group."""
    if resource_type == PARAMETER_GROUP:
        if not str(properties.get("Family", "")).startswith("postgres"):
            return Result.na("not a PostgreSQL parameter group")
        if force_ssl_on(properties.get("Parameters")):
            return Result.ok("rds.force_ssl=1")
        return Result.fail("rds.force_ssl is not 1: plaintext connections are accepted")
    if _is_postgres_instance(resource_type, properties):
        if properties.get("DBParameterGroupName") is None:
            return Result.fail("no DBParameterGroupName: the default parameter group does not enforce TLS here")
        return Result.ok("a custom parameter group is attached (its rds.force_ssl is checked on the group)")
    return Result.na()


def ca_certificate_current(_props: Mapping[str, Any], facts: Mapping[str, Any],
                           now: datetime | None = None) -> Result:
    """STK-RDS-004 (live only): the instance's server certificate (DescribeDBInstances' CertificateDetails) stays
    valid for at least CA_EXPIRY_DAYS: once it expires, every client that verifies it (sslmode=verify-full, as the
    workloads connect) is refused, and the database is down for them."""
    details = facts["CertificateDetails"]
    till = details.get("ValidTill") if isinstance(details, Mapping) else None
    if not isinstance(till, datetime):
        return Result(Status.ERROR, "could not look: DescribeDBInstances did not say when the server certificate "
                                    "expires (no CertificateDetails.ValidTill)")
    till = till if till.tzinfo else till.replace(tzinfo=UTC)
    left = till - (now or datetime.now(UTC))
    ca = details.get("CAIdentifier") or "its CA"
    if left <= timedelta(0):
        return Result.fail(f"the server certificate ({ca}) expired on {till:%Y-%m-%d}: clients that verify it "
                           "cannot connect")
    if left < timedelta(days=CA_EXPIRY_DAYS):
        return Result.fail(f"the server certificate ({ca}) expires on {till:%Y-%m-%d}, in {left.days} day(s); at "
                           f"least {CA_EXPIRY_DAYS} are required")
    return Result.ok(f"the server certificate ({ca}) is valid until {till:%Y-%m-%d}")


def check_log_export(resource_type: str, properties: Mapping[str, Any]) -> Result:
    """A PostgreSQL instance exports its server log to CloudWatch Logs (EnableCloudwatchLogsExports names
    "postgresql"). Absent, the list is empty, in the template and in DescribeDBInstances' answer alike. An instance
    of a cluster exports through its cluster."""
    if not _is_postgres_instance(resource_type, properties) or "DBClusterIdentifier" in properties:
        return Result.na()
    exports = properties.get("EnableCloudwatchLogsExports", [])
    if not isinstance(exports, list) or not all(isinstance(kind, str) for kind in exports):
        return Result.fail(f"EnableCloudwatchLogsExports {exports!r} is not a list of log types",
                           log_types=[POSTGRES_LOG])
    if POSTGRES_LOG not in exports:
        exported = ", ".join(exports) or "nothing"
        return Result.fail(f"the {POSTGRES_LOG} log is not exported to CloudWatch Logs (exported: {exported}): "
                           "its connections and failed logins are kept on the instance alone, for 3 days by default",
                           log_types=[POSTGRES_LOG])
    return Result.ok(f"the {POSTGRES_LOG} log is exported to CloudWatch Logs")


plain_rule(MULTI_AZ_ID, {INSTANCE}, check_multi_az)
plain_rule(BACKUP_ID, {INSTANCE}, check_backups)
plain_rule(FORCE_SSL_ID, {INSTANCE, PARAMETER_GROUP}, check_force_ssl)
plain_rule(LOG_EXPORT_ID, {INSTANCE}, check_log_export)


def check_attached_force_ssl(resources: Mapping[str, Any]) -> Iterable[tuple[str, Result]]:
    """STK-RDS-003 over the whole template: the parameter group a PostgreSQL instance attaches sets rds.force_ssl."""
    for lid, resource in resources.items():
        props = resource.get("Properties", {}) or {}
        if resource.get("Type") != INSTANCE or not str(props.get("Engine", "")).startswith("postgres"):
            continue
        group = resources.get(ref_target(props.get("DBParameterGroupName")) or "", {})
        if group.get("Type") != PARAMETER_GROUP:
            yield lid, Result.fail("the attached parameter group is not defined in this template")
        elif not force_ssl_on(group.get("Properties", {}).get("Parameters")):
            yield lid, Result.fail("the attached parameter group does not set rds.force_ssl=1",
                                   parameter_group=props.get("DBParameterGroupName"))
        else:
            yield lid, Result.ok("the attached parameter group sets rds.force_ssl=1")


stack_rule(FORCE_SSL_ID, {PARAMETER_GROUP}, check_attached_force_ssl)


def parameters_applied(_props: Mapping[str, Any], facts: Mapping[str, Any]) -> Result:
    """STK-RDS-003 (live half): the attached parameter group is applied (a pending-reboot group's
    rds.force_ssl is not what the instance runs with)."""
    if facts["ParameterApplyStatus"] != "in-sync":
        return Result.fail(f"the parameter group is {facts['ParameterApplyStatus']}, not in-sync: the instance does "
                           "not run with its settings (rds.force_ssl) until it is applied",
                           **({"pending_reboot": True} if facts["ParameterApplyStatus"] == "pending-reboot" else {}))
    return Result.ok("the attached parameter group is applied (in-sync)")


live_rule(FORCE_SSL_ID, "rds.parameters_applied", INSTANCE, ("ParameterApplyStatus",), parameters_applied)
live_rule(CA_EXPIRY_ID, "rds.server_certificate", INSTANCE, ("CertificateDetails",), ca_certificate_current)
