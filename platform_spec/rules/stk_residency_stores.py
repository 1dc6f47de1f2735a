"""STK-RES-005 to 009: every copy AWS makes of a data store's data stays in ap-northeast-1 and in the stack's own
account: the database's read replicas, its replicated automated backups and its shared snapshots, the file
system's replication, the project key's multi-Region replicas, and the replicas of the secrets the stack reads.

A copy in ap-northeast-1 in the stack's account passes (a resource the stack declares is one); a copy in another
region or another account fails, named. The template stage judges what a template can declare (a backup
replication region, a replication destination, MultiRegion); the live stage also judges what only AWS knows
(replicas, shares, replica keys), from facts its readers add (platform_spec.rules.live_only)."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from platform_spec.result import CouldNotLook, Result
from platform_spec.rule import plain_rule, resource_rule
from platform_spec.rules.intrinsics import as_dict, as_list, is_true, render
from platform_spec.rules.stk_region import ALLOWED_REGION

RDS_COPIES_ID = "STK-RES-005"
RDS_SNAPSHOTS_ID = "STK-RES-006"
EFS_REPLICATION_ID = "STK-RES-007"
KMS_MULTI_REGION_ID = "STK-RES-008"
SECRET_REPLICAS_ID = "STK-RES-009"

INSTANCE = "AWS::RDS::DBInstance"
FILE_SYSTEM = "AWS::EFS::FileSystem"
KEY = "AWS::KMS::Key"


def arn_place(arn: str) -> tuple[str, str] | None:
    """(region, account) of an ARN, None when `arn` is not one (a plain id names a resource of this region and
    account)."""
    parts = arn.split(":", 5)
    if len(parts) < 6 or parts[0] != "arn":
        return None
    return parts[3], parts[4]


def outside(region: str | None, account: str | None, home_account: str | None) -> str:
    """Where a copy is, when that is outside the stack's place ("in us-east-1", "in account 999999999999"); empty
    when it is in ap-northeast-1 and in the stack's account (None: the same as the resource it copies)."""
    where = []
    if region and region != ALLOWED_REGION:
        where.append(f"in {region}")
    if account and home_account and account != home_account:
        where.append(f"in account {account}")
    return " and ".join(where)


def _arn_outside(arn: str, home_account: str | None) -> str:
    place = arn_place(arn)
    return outside(*place, home_account) if place else ""


def _home_account(arn: Any, operation: str) -> str:
    place = arn_place(arn) if isinstance(arn, str) else None
    if place is None:
        raise CouldNotLook(f"{operation} answered the resource's ARN as {str(arn)[:60]!r}")
    return place[1]


def _verdict(found: list[str], ok: str, rule: str = f"only {ALLOWED_REGION} in this account is allowed") -> Result:
    if found:
        return Result.fail("; ".join(found[:5]) + (f" (and {len(found) - 5} more)" if len(found) > 5 else "") +
                           f": {rule}")
    return Result.ok(ok)


# --- RDS --------------------------------------------------------------------------------------------------

def check_rds_copies(resource_type: str, properties: Mapping[str, Any], account: str | None) -> Result:
    """STK-RES-005 (declared half): automated backups replicated to, and a replica's source in, ap-northeast-1
    and this account."""
    if resource_type != INSTANCE:
        return Result.na()
    found = []
    region = properties.get("AutomaticBackupReplicationRegion")
    if region is not None:
        if not isinstance(region, str):
            found.append(f"automated backups are replicated to {render(region) or region!r}, not a fixed region")
        elif outside(region, None, None):
            found.append(f"automated backups are replicated to {region}")
    source = properties.get("SourceDBInstanceIdentifier")
    if isinstance(source, str) and _arn_outside(source, account):
        found.append(f"a read replica of {source}, {_arn_outside(source, account)}")
    source_region = properties.get("SourceRegion")
    if isinstance(source_region, str) and outside(source_region, None, None):
        found.append(f"a read replica of an instance in {source_region}")
    return _verdict(found, "no automated-backup replication or replica source outside " + ALLOWED_REGION)


def rds_replicas_in_japan(_props: Mapping[str, Any], facts: Mapping[str, Any]) -> Result:
    """STK-RES-005 (live half): every read replica of the instance is in ap-northeast-1 in this account
    (DescribeDBInstances names a replica in another region by its ARN)."""
    home = _home_account(facts["DBInstanceArn"], "DescribeDBInstances")
    replicas = facts["ReadReplicas"]
    found = [f"read replica {replica} {_arn_outside(replica, home)}" for replica in replicas
             if _arn_outside(replica, home)]
    return _verdict(found, f"{len(replicas)} read replica(s), none outside {ALLOWED_REGION}" if replicas
                    else "no read replica")


def rds_snapshots_kept_in_account(_props: Mapping[str, Any], facts: Mapping[str, Any]) -> Result:
    """STK-RES-006: no manual snapshot of the instance may be restored by another account (its restore
    attribute), which could copy it to any region."""
    home = _home_account(facts["DBInstanceArn"], "DescribeDBInstances")
    found = []
    for snapshot in facts["SnapshotShares"]:
        others = [a for a in snapshot["SharedWith"] if a != home]
        if "all" in others:
            found.append(f"manual snapshot {snapshot['Snapshot']} may be restored by every AWS account (restore: all)")
        elif others:
            found.append(f"manual snapshot {snapshot['Snapshot']} may be restored by account {', '.join(others)}")
    count = len(facts["SnapshotShares"])
    return _verdict(found, f"{count} manual snapshot(s), shared with no other account" if count
                    else "no manual snapshot", "no other account may restore (and copy anywhere) the database")


# --- EFS --------------------------------------------------------------------------------------------------

def check_efs_replication(resource_type: str, properties: Mapping[str, Any], account: str | None) -> Result:
    """STK-RES-007: every replication destination of the file system is in ap-northeast-1 in this account
    (a destination without Region is in the source's region; one named by ARN shows its account)."""
    if resource_type != FILE_SYSTEM:
        return Result.na()
    found = []
    destinations = as_list(as_dict(properties.get("ReplicationConfiguration")).get("Destinations"))
    for destination in destinations:
        destination = as_dict(destination)
        region, target = destination.get("Region"), destination.get("FileSystemId")
        named = target if isinstance(target, str) else render(target) or "a new file system"
        if region is not None and not isinstance(region, str):
            found.append(f"replicated to {named} in {render(region) or region!r}, not a fixed region")
            continue
        place = arn_place(target) if isinstance(target, str) else None
        in_region = region if region is not None else (place[0] if place else None)
        where = outside(in_region, place[1] if place else None, account)
        if where:
            found.append(f"replicated to {named} {where}")
    return _verdict(found, f"replicated only within {ALLOWED_REGION} in this account" if destinations
                    else "not replicated")


# --- KMS --------------------------------------------------------------------------------------------------

def check_kms_single_region(resource_type: str, properties: Mapping[str, Any]) -> Result:
    """STK-RES-008 (declared half): the key is single-Region, so its material can never be copied to a replica
    key in another region (MultiRegion cannot be changed after the key is created)."""
    if resource_type != KEY:
        return Result.na()
    if is_true(properties.get("MultiRegion")):
        return Result.fail("MultiRegion is true: one ReplicateKey call copies the key material to another region, "
                           "where every data store it encrypts can be decrypted")
    return Result.ok("a single-Region key")


def kms_replicas_in_japan(_props: Mapping[str, Any], facts: Mapping[str, Any]) -> Result:
    """STK-RES-008 (live half): no key shares this key's material outside ap-northeast-1 (its replica keys, or its
    primary when it is itself a replica), as DescribeKey's MultiRegionConfiguration lists them."""
    related = facts["MultiRegionKeys"]
    if related is None:
        return Result.ok("a single-Region key: no replica key exists")
    home = _home_account(facts["KeyArn"], "DescribeKey")
    found = []
    if related["Primary"] != facts["KeyArn"] and _arn_outside(related["Primary"], home):
        found.append(f"a replica of the primary key {related['Primary']} {_arn_outside(related['Primary'], home)}")
    found += [f"replica key {arn} {_arn_outside(arn, home)}" for arn in related["Replicas"]
              if arn != facts["KeyArn"] and _arn_outside(arn, home)]
    return _verdict(found, f"multi-Region, with no key outside {ALLOWED_REGION}")


# --- Secrets Manager (the existing secrets the stack reads; `opscli rotate-check secrets`) ------------------

def _listed(secret: Mapping[str, Any], key: str) -> list[Mapping[str, Any]]:
    value = secret.get(key, [])  # left out when the secret has none (DescribeSecret's documentation)
    if not isinstance(value, list) or not all(isinstance(item, Mapping) for item in value):
        raise CouldNotLook(f"DescribeSecret answered {key} that is not a list of objects")
    return value


def _text(item: Mapping[str, Any], key: str, where: str) -> str:
    value = item.get(key)
    if not isinstance(value, str):
        raise CouldNotLook(f"DescribeSecret answered {where} without '{key}'")
    return value


def secret_replicas_in_japan(secret: Mapping[str, Any]) -> Result:
    """STK-RES-009: the secret has no replica outside ap-northeast-1 or this account (ReplicationStatus,
    CrossAccountReplicas) and is not itself a replica of a secret outside them (PrimaryRegion,
    CrossAccountPrimary)."""
    home = _home_account(secret.get("ARN"), "DescribeSecret")
    found = []
    primary_region = secret.get("PrimaryRegion")
    if primary_region is not None and (not isinstance(primary_region, str) or outside(primary_region, None, None)):
        found.append(f"a replica of the primary secret in {primary_region}")
    for replica in _listed(secret, "ReplicationStatus"):
        region = _text(replica, "Region", "a ReplicationStatus entry")
        if outside(region, None, None):
            found.append(f"replicated to {region} ({replica.get('Status', 'status not given')})")
    for replica in _listed(secret, "CrossAccountReplicas"):
        arn = _text(replica, "ReplicaSecretARN", "a CrossAccountReplicas entry")
        if _arn_outside(arn, home):
            found.append(f"replicated to {arn} {_arn_outside(arn, home)}")
    primary = secret.get("CrossAccountPrimary")
    if primary is not None:
        arn = _text(as_dict(primary), "PrimarySecretARN", "CrossAccountPrimary")
        if _arn_outside(arn, home):
            found.append(f"a replica of {arn} {_arn_outside(arn, home)}")
    return _verdict(found, f"not replicated outside {ALLOWED_REGION}")


resource_rule(RDS_COPIES_ID, {INSTANCE}, lambda t, p, c: check_rds_copies(t, p, c.account))
resource_rule(EFS_REPLICATION_ID, {FILE_SYSTEM}, lambda t, p, c: check_efs_replication(t, p, c.account))
plain_rule(KMS_MULTI_REGION_ID, {KEY}, check_kms_single_region)
