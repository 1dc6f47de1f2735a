"""Readers of the database, its parameter and subnet groups."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from opscli.readers.base import (
    ATTRIBUTES,
    FACTS,
    UNDECLARED,
    Call,
    MalformedAnswer,
    ReadContext,
    ask,
    listed_tags,
    need,
    only,
    pages,
    reader,
    spelled,
    tag_list,
)
from opscli.stack import Present

INSTANCE = ("arn:aws:rds:{region}:{account}:db:{db}",)
# The instance's manual snapshots, whatever they are named (an intruder names them).
SNAPSHOT = ("arn:aws:rds:{region}:{account}:snapshot:*",)
PARAMETER_GROUP = ("arn:aws:rds:{region}:{account}:pg:{db_params}",)
SUBNET_GROUP = ("arn:aws:rds:{region}:{account}:subgrp:{db_subnets}",)
FILTERED = ("asked with a filter over every declared one of its type in one call: RDS authorizes a filtered list on "
            "every resource it could return, not on the ids in the filter")
LIST_TAGS_FOR_RESOURCE = Call("rds:ListTagsForResource", INSTANCE + PARAMETER_GROUP + SUBNET_GROUP)


def _manual_snapshots(rds: Any, instance: str) -> list[dict[str, Any]]:
    """The instance's manual snapshots (the stack declares none: each is a copy of the data outside the
    declaration), each with the accounts its restore attribute shares it with ("all": everyone)."""
    found = []
    for page in pages(rds, "describe_db_snapshots", "DescribeDBSnapshots", DBInstanceIdentifier=instance,
                      SnapshotType="manual"):
        for snapshot in need(page, "DBSnapshots", list, operation="DescribeDBSnapshots"):
            name = need(snapshot, "DBSnapshotIdentifier", str, operation="DescribeDBSnapshots")
            answer = ask("DescribeDBSnapshotAttributes", rds.describe_db_snapshot_attributes,
                         DBSnapshotIdentifier=name)
            result = need(answer, "DBSnapshotAttributesResult", Mapping, operation="DescribeDBSnapshotAttributes")
            shared = sorted(str(v) for a in need(result, "DBSnapshotAttributes", list,
                                                 operation="DescribeDBSnapshotAttributes")
                            if isinstance(a, Mapping) and a.get("AttributeName") == "restore"
                            for v in a.get("AttributeValues") or [])
            found.append({"Snapshot": name, "SharedWith": shared})
    return found


def _undeclared_copies(ctx: ReadContext, snapshots: list[dict[str, Any]], replicas: list[str]) -> list[str]:
    """What STK-STACK-002 names beside the declared instance: its manual snapshots (with whom each is shared) and
    the read replicas the stack does not declare."""
    declared = {d.physical_id for d in ctx.scope.of_type("AWS::RDS::DBInstance") if d.physical_id}
    found = [f"manual snapshot {s['Snapshot']}" + (
        " shared with everyone (restore: all)" if "all" in s["SharedWith"] else
        f" shared with account {', '.join(s['SharedWith'])}" if s["SharedWith"] else "") for s in snapshots]
    return found + [f"read replica {replica}" for replica in replicas if replica not in declared]


def _arn(value: Any, what: str, operation: str) -> str:
    """An ARN from an answer, refused when it is not one (a rule reads its region and account)."""
    if not isinstance(value, str) or len(value.split(":", 5)) < 6 or not value.startswith("arn:"):
        raise MalformedAnswer(f"{operation} answered {what} {str(value)[:60]!r}, which is not an ARN")
    return value


def _identifiers(values: list[Any]) -> list[str]:
    if not all(isinstance(v, str) for v in values):
        raise MalformedAnswer("DescribeDBInstances answered a ReadReplicaDBInstanceIdentifiers item that is not text")
    return values


def _backup_replication_region(db: Mapping[str, Any]) -> str | None:
    """The region the instance's automated backups are replicated to (CloudFormation's
    AutomaticBackupReplicationRegion), from the replications' ARNs; None when there is none."""
    op = "DescribeDBInstances"
    replications = db.get("DBInstanceAutomatedBackupsReplications", [])  # left out when there is none
    if not isinstance(replications, list):
        raise MalformedAnswer(f"{op} answered DBInstanceAutomatedBackupsReplications that is not a list")
    regions = sorted({_arn(need(r, "DBInstanceAutomatedBackupsArn", str, operation=op),
                           "DBInstanceAutomatedBackupsArn", op).split(":")[3] for r in replications})
    return ", ".join(regions) or None


def _certificate(db: Mapping[str, Any]) -> dict[str, Any] | None:
    """The server certificate's CA and expiry (CertificateDetails); None when the answer has none (answers from
    before RDS reported it), which the certificate rule reports as could-not-look."""
    details = db.get("CertificateDetails")
    if details is None:
        return None
    if not isinstance(details, Mapping):
        raise MalformedAnswer("DescribeDBInstances answered CertificateDetails that is not an object")
    return {"CAIdentifier": details.get("CAIdentifier"), "ValidTill": details.get("ValidTill")}


# The apply statuses RDS documents for an instance's parameter group (a string its model does not enumerate).
_APPLY_STATUSES = ("in-sync", "applying", "pending-reboot")


@reader("AWS::RDS::DBInstance", (Call("rds:DescribeDBInstances", unscoped=FILTERED),
                                 Call("rds:DescribeDBSnapshots", INSTANCE + SNAPSHOT),
                                 Call("rds:DescribeDBSnapshotAttributes", SNAPSHOT)),
        "DBInstanceIdentifier DBInstanceClass Engine EngineVersion AllocatedStorage MaxAllocatedStorage StorageType "
        "StorageEncrypted KmsKeyId MultiAZ PubliclyAccessible BackupRetentionPeriod DeletionProtection "
        "CopyTagsToSnapshot AutoMinorVersionUpgrade EnableIAMDatabaseAuthentication EnablePerformanceInsights "
        "PerformanceInsightsKMSKeyId PerformanceInsightsRetentionPeriod MonitoringInterval MonitoringRoleArn "
        "EnableCloudwatchLogsExports DBParameterGroupName DBSubnetGroupName VPCSecurityGroups Port DBName "
        "MasterUsername CACertificateIdentifier AutomaticBackupReplicationRegion SourceDBInstanceIdentifier Tags",
        derived=lambda p: {"DBInstanceArn": p.arn("rds", f"db:{p.id}")})
def db_instance(ctx: ReadContext, r: Present) -> dict[str, Any]:
    rds = ctx.aws.client("rds")
    answer = ask("DescribeDBInstances", rds.describe_db_instances, "DBInstanceNotFound", "DBInstanceNotFoundFault",
                 DBInstanceIdentifier=r.physical_id)
    db = only(answer.get("DBInstances"), f"DB instance {r.physical_id}", "DescribeDBInstances", by_id=True)
    op = "DescribeDBInstances"
    props: dict[str, Any] = {
        "DBInstanceIdentifier": need(db, "DBInstanceIdentifier", str, operation=op),
        "MultiAZ": need(db, "MultiAZ", bool, operation=op),
        "StorageEncrypted": need(db, "StorageEncrypted", bool, operation=op),
        "PubliclyAccessible": need(db, "PubliclyAccessible", bool, operation=op),
        "BackupRetentionPeriod": need(db, "BackupRetentionPeriod", int, operation=op),
        "DBParameterGroupName": _parameter_group(db)["DBParameterGroupName"],
        "VPCSecurityGroups": [g["VpcSecurityGroupId"] for g in need(db, "VpcSecurityGroups", list, operation=op)
                              if isinstance(g, Mapping) and "VpcSecurityGroupId" in g],
        "Tags": tag_list(db.get("TagList", [])),
        FACTS: {"ParameterApplyStatus": spelled(need(_parameter_group(db), "ParameterApplyStatus", str,
                                                     operation=op), _APPLY_STATUSES, "ParameterApplyStatus", op),
                "DBInstanceStatus": db.get("DBInstanceStatus"),
                # where the data is copied: replicas (another region's by ARN), shared snapshots; and the
                # server certificate's expiry
                "DBInstanceArn": _arn(need(db, "DBInstanceArn", str, operation=op), "DBInstanceArn", op),
                "ReadReplicas": _identifiers(need(db, "ReadReplicaDBInstanceIdentifiers", list, operation=op)),
                "SnapshotShares": _manual_snapshots(rds, r.physical_id), "CertificateDetails": _certificate(db)},
        "AutomaticBackupReplicationRegion": _backup_replication_region(db),
    }
    facts = props[FACTS]
    facts[UNDECLARED] = _undeclared_copies(ctx, facts["SnapshotShares"], facts["ReadReplicas"])
    if isinstance(db.get("ReadReplicaSourceDBInstanceIdentifier"), str):
        props["SourceDBInstanceIdentifier"] = db["ReadReplicaSourceDBInstanceIdentifier"]
    simple = {"DBInstanceClass": "DBInstanceClass", "Engine": "Engine", "EngineVersion": "EngineVersion",
              "AllocatedStorage": "AllocatedStorage", "MaxAllocatedStorage": "MaxAllocatedStorage",
              "StorageType": "StorageType", "KmsKeyId": "KmsKeyId", "DeletionProtection": "DeletionProtection",
              "CopyTagsToSnapshot": "CopyTagsToSnapshot", "AutoMinorVersionUpgrade": "AutoMinorVersionUpgrade",
              "EnableIAMDatabaseAuthentication": "IAMDatabaseAuthenticationEnabled",
              "EnablePerformanceInsights": "PerformanceInsightsEnabled",
              "PerformanceInsightsKMSKeyId": "PerformanceInsightsKMSKeyId",
              "PerformanceInsightsRetentionPeriod": "PerformanceInsightsRetentionPeriod",
              "MonitoringInterval": "MonitoringInterval", "MonitoringRoleArn": "MonitoringRoleArn",
              "EnableCloudwatchLogsExports": "EnabledCloudwatchLogsExports", "DBName": "DBName",
              "MasterUsername": "MasterUsername", "CACertificateIdentifier": "CACertificateIdentifier"}
    for name, key in simple.items():
        if key in db:
            props[name] = db[key]
    if isinstance(db.get("DBSubnetGroup"), Mapping) and "DBSubnetGroupName" in db["DBSubnetGroup"]:
        props["DBSubnetGroupName"] = db["DBSubnetGroup"]["DBSubnetGroupName"]
    if isinstance(db.get("Endpoint"), Mapping) and "Port" in db["Endpoint"]:
        props["Port"] = db["Endpoint"]["Port"]
        props[ATTRIBUTES] = {"Endpoint.Address": db["Endpoint"].get("Address"), "Endpoint.Port": str(props["Port"])}
    # The id IAM names the database by for rds-db:connect (STK-PERIM-002), as Fn::GetAtt DbiResourceId gives it.
    props.setdefault(ATTRIBUTES, {})["DbiResourceId"] = db.get("DbiResourceId")
    return props


def _parameter_group(db: Mapping[str, Any]) -> Mapping[str, Any]:
    """The one attached parameter group (name and apply status)."""
    groups = need(db, "DBParameterGroups", list, operation="DescribeDBInstances")
    if not groups:
        raise MalformedAnswer("DescribeDBInstances answered no parameter group")
    group = only(groups, "parameter group", "DescribeDBInstances", by_id=False)
    need(group, "DBParameterGroupName", str, operation="DescribeDBInstances")
    return group


@reader("AWS::RDS::DBParameterGroup",
        (Call("rds:DescribeDBParameterGroups", unscoped=FILTERED),
         Call("rds:DescribeDBParameters", PARAMETER_GROUP), LIST_TAGS_FOR_RESOURCE),
        "DBParameterGroupName Family Description Parameters Tags")
def db_parameter_group(ctx: ReadContext, r: Present) -> dict[str, Any]:
    rds = ctx.aws.client("rds")
    answer = ask("DescribeDBParameterGroups", rds.describe_db_parameter_groups, "DBParameterGroupNotFound",
                 DBParameterGroupName=r.physical_id)
    group = only(answer.get("DBParameterGroups"), f"parameter group {r.physical_id}", "DescribeDBParameterGroups",
                 by_id=True)
    parameters = {}
    for page in pages(rds, "describe_db_parameters", "DescribeDBParameters", DBParameterGroupName=r.physical_id,
                      Source="user"):
        for p in need(page, "Parameters", list, operation="DescribeDBParameters"):
            if isinstance(p, Mapping) and "ParameterName" in p and "ParameterValue" in p:
                parameters[p["ParameterName"]] = p["ParameterValue"]
    props = {"DBParameterGroupName": r.physical_id, "Parameters": parameters,
             "Family": need(group, "DBParameterGroupFamily", str, operation="DescribeDBParameterGroups"),
             "Description": group.get("Description", "")}
    if "DBParameterGroupArn" in group:
        props["Tags"] = listed_tags(rds.list_tags_for_resource, "TagList", ResourceName=group["DBParameterGroupArn"])
    return props


@reader("AWS::RDS::DBSubnetGroup", (Call("rds:DescribeDBSubnetGroups", unscoped=FILTERED), LIST_TAGS_FOR_RESOURCE),
        "DBSubnetGroupName DBSubnetGroupDescription SubnetIds Tags")
def db_subnet_group(ctx: ReadContext, r: Present) -> dict[str, Any]:
    rds = ctx.aws.client("rds")
    answer = ask("DescribeDBSubnetGroups", rds.describe_db_subnet_groups, "DBSubnetGroupNotFoundFault",
                 DBSubnetGroupName=r.physical_id)
    group = only(answer.get("DBSubnetGroups"), f"DB subnet group {r.physical_id}", "DescribeDBSubnetGroups",
                 by_id=True)
    subnets = need(group, "Subnets", list, operation="DescribeDBSubnetGroups")
    tags = listed_tags(rds.list_tags_for_resource, "TagList",
                       ResourceName=need(group, "DBSubnetGroupArn", str, operation="DescribeDBSubnetGroups"))
    return {"DBSubnetGroupName": r.physical_id, "Tags": tags,
            "DBSubnetGroupDescription": group.get("DBSubnetGroupDescription", ""),
            "SubnetIds": sorted(s["SubnetIdentifier"] for s in subnets
                                if isinstance(s, Mapping) and "SubnetIdentifier" in s)}
