"""STK-RES-005 to 009: every copy AWS makes of a data store's data stays in ap-northeast-1 and in the stack's own
account: the database's read replicas, its replicated automated backups and its shared snapshots, the file
system's replication, the project key's multi-Region replicas, and the replicas of the secrets the stack reads.

A copy in ap-northeast-1 in the stack's account passes (a resource the stack declares is one); a copy in another
region or another account fails, named. The template stage judges what a template can declare (a backup
replication region, a replication destination, MultiRegion); the live stage also judges what only AWS knows
(replicas, shares, replica keys), from facts its readers add (registered below with live_rule)."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from platform_spec.intrinsics import as_dict, as_list, is_true, render
from platform_spec.path import OUT, Path
from platform_spec.result import CouldNotLook, Result
from platform_spec.rule import live_rule, plain_rule, resource_rule
from platform_spec.stacks import ALLOWED_REGION

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


def _verdict(found: list[str], ok: str, rule: str = f"only {ALLOWED_REGION} in this account is allowed",
             **evidence: Any) -> Result:
    if found:
        return Result.fail("; ".join(found[:5]) + (f" (and {len(found) - 5} more)" if len(found) > 5 else "") +
                           f": {rule}", **{k: v for k, v in evidence.items() if v})
    return Result.ok(ok)


def _crossings(found: list[tuple[Path, str]]) -> list[str]:
    """The finding's words for each path that is outside."""
    return [said for path, said in found if path.outside]


def _copy(rule_id: str, other: str, via: str, where: str, said: str, kind: str = "resource") -> tuple[Path, str]:
    """A copy of the data at `other`, outside where `where` says so ("in us-east-1"; empty: it stays)."""
    return Path(OUT, rule_id, other, via, bool(where), kind=kind, why=(where,) if where else ()), said


# --- RDS --------------------------------------------------------------------------------------------------

def _rds_copies(properties: Mapping[str, Any], account: str | None) -> list[tuple[Path, str]]:
    found = []
    region = properties.get("AutomaticBackupReplicationRegion")
    if region is not None:
        if not isinstance(region, str):
            named = render(region) or repr(region)
            found.append(_copy(RDS_COPIES_ID, named, "automated backup replication", "not a fixed region",
                               f"automated backups are replicated to {render(region) or region!r}, not a fixed "
                               "region", "region"))
        else:
            found.append(_copy(RDS_COPIES_ID, region, "automated backup replication", outside(region, None, None),
                               f"automated backups are replicated to {region}", "region"))
    source = properties.get("SourceDBInstanceIdentifier")
    if isinstance(source, str):
        where = _arn_outside(source, account)
        found.append(_copy(RDS_COPIES_ID, source, "read replica of it", where, f"a read replica of {source}, {where}"))
    source_region = properties.get("SourceRegion")
    if isinstance(source_region, str):
        found.append(_copy(RDS_COPIES_ID, source_region, "read replica of an instance there",
                           outside(source_region, None, None),
                           f"a read replica of an instance in {source_region}", "region"))
    return found


def check_rds_copies(resource_type: str, properties: Mapping[str, Any], account: str | None) -> Result:
    """STK-RES-005 (declared half): automated backups replicated to, and a replica's source in, ap-northeast-1
    and this account."""
    if resource_type != INSTANCE:
        return Result.na()
    region = properties.get("AutomaticBackupReplicationRegion")
    return _verdict(_crossings(_rds_copies(properties, account)),
                    "no automated-backup replication or replica source outside " + ALLOWED_REGION,
                    backup_region=region if isinstance(region, str) and outside(region, None, None) else None)


def _rds_replicas(facts: Mapping[str, Any]) -> list[tuple[Path, str]]:
    home = _home_account(facts["DBInstanceArn"], "DescribeDBInstances")
    return [_copy(RDS_COPIES_ID, replica, "read replica", _arn_outside(replica, home),
                  f"read replica {replica} {_arn_outside(replica, home)}") for replica in facts["ReadReplicas"]]


def rds_replica_paths(_props: Mapping[str, Any], facts: Mapping[str, Any]) -> list[Path]:
    """Live half: every read replica of the instance."""
    return [path for path, _said in _rds_replicas(facts)]


def rds_replicas_in_japan(_props: Mapping[str, Any], facts: Mapping[str, Any]) -> Result:
    """STK-RES-005 (live half): every read replica of the instance is in ap-northeast-1 in this account
    (DescribeDBInstances names a replica in another region by its ARN)."""
    replicas = facts["ReadReplicas"]
    home = _home_account(facts["DBInstanceArn"], "DescribeDBInstances")
    leaving = [{"region": place[0], "id": replica.rsplit(":", 1)[-1]} for replica in replicas
               if _arn_outside(replica, home) and (place := arn_place(replica)) is not None]
    return _verdict(_crossings(_rds_replicas(facts)),
                    f"{len(replicas)} read replica(s), none outside {ALLOWED_REGION}" if replicas
                    else "no read replica", replicas=leaving)


def _snapshot_shares(facts: Mapping[str, Any]) -> list[tuple[Path, str]]:
    home = _home_account(facts["DBInstanceArn"], "DescribeDBInstances")
    found = []
    for snapshot in facts["SnapshotShares"]:
        others = [a for a in snapshot["SharedWith"] if a != home]
        via = f"manual snapshot {snapshot['Snapshot']}, restorable"
        if "all" in others:
            found.append(_copy(RDS_SNAPSHOTS_ID, "every AWS account", via, "restore: all",
                               f"manual snapshot {snapshot['Snapshot']} may be restored by every AWS account "
                               "(restore: all)", "everyone"))
        elif others:
            found.append(_copy(RDS_SNAPSHOTS_ID, f"account {', '.join(others)}", via, "another account",
                               f"manual snapshot {snapshot['Snapshot']} may be restored by account "
                               f"{', '.join(others)}", "account"))
    return found


def snapshot_paths(_props: Mapping[str, Any], facts: Mapping[str, Any]) -> list[Path]:
    """Live half: every other account a manual snapshot of the instance may be restored by."""
    return [path for path, _said in _snapshot_shares(facts)]


def rds_snapshots_kept_in_account(_props: Mapping[str, Any], facts: Mapping[str, Any]) -> Result:
    """STK-RES-006: no manual snapshot of the instance may be restored by another account (its restore
    attribute), which could copy it to any region."""
    count = len(facts["SnapshotShares"])
    home = _home_account(facts["DBInstanceArn"], "DescribeDBInstances")
    shared = [{"snapshot": snapshot["Snapshot"], "accounts": others} for snapshot in facts["SnapshotShares"]
              if (others := [a for a in snapshot["SharedWith"] if a != home])]
    return _verdict(_crossings(_snapshot_shares(facts)),
                    f"{count} manual snapshot(s), shared with no other account" if count else "no manual snapshot",
                    "no other account may restore (and copy anywhere) the database", shared=shared)


# --- EFS --------------------------------------------------------------------------------------------------

def _efs_replication(properties: Mapping[str, Any], account: str | None) -> list[tuple[Path, str]]:
    found = []
    for destination in as_list(as_dict(properties.get("ReplicationConfiguration")).get("Destinations")):
        destination = as_dict(destination)
        region, target = destination.get("Region"), destination.get("FileSystemId")
        named = target if isinstance(target, str) else render(target) or "a new file system"
        if region is not None and not isinstance(region, str):
            found.append(_copy(EFS_REPLICATION_ID, named, "replication", "not a fixed region",
                               f"replicated to {named} in {render(region) or region!r}, not a fixed region"))
            continue
        place = arn_place(target) if isinstance(target, str) else None
        in_region = region if region is not None else (place[0] if place else None)
        where = outside(in_region, place[1] if place else None, account)
        found.append(_copy(EFS_REPLICATION_ID, named + (f" in {region}" if region else ""), "replication", where,
                           f"replicated to {named} {where}"))
    return found


def check_efs_replication(resource_type: str, properties: Mapping[str, Any], account: str | None) -> Result:
    """STK-RES-007: every replication destination of the file system is in ap-northeast-1 in this account
    (a destination without Region is in the source's region; one named by ARN shows its account)."""
    if resource_type != FILE_SYSTEM:
        return Result.na()
    destinations = as_list(as_dict(properties.get("ReplicationConfiguration")).get("Destinations"))
    return _verdict(_crossings(_efs_replication(properties, account)),
                    f"replicated only within {ALLOWED_REGION} in this account" if destinations else "not replicated")


# --- KMS --------------------------------------------------------------------------------------------------

def _kms_multi_region(properties: Mapping[str, Any]) -> list[tuple[Path, str]]:
    if not is_true(properties.get("MultiRegion")):
        return []
    return [_copy(KMS_MULTI_REGION_ID, "replica keys in any region", "MultiRegion", "a multi-Region key",
                  "MultiRegion is true: one ReplicateKey call copies the key material to another region, where "
                  "every data store it encrypts can be decrypted", "region")]


def check_kms_single_region(resource_type: str, properties: Mapping[str, Any]) -> Result:
    """STK-RES-008 (declared half): the key is single-Region, so its material can never be copied to a replica
    key in another region (MultiRegion cannot be changed after the key is created)."""
    if resource_type != KEY:
        return Result.na()
    found = _crossings(_kms_multi_region(properties))
    return Result.fail(found[0]) if found else Result.ok("a single-Region key")


def _kms_replicas(facts: Mapping[str, Any]) -> list[tuple[Path, str]]:
    related = facts["MultiRegionKeys"]
    if related is None:
        return []
    home = _home_account(facts["KeyArn"], "DescribeKey")
    found = []
    if related["Primary"] != facts["KeyArn"]:
        where = _arn_outside(related["Primary"], home)
        found.append(_copy(KMS_MULTI_REGION_ID, related["Primary"], "its primary key", where,
                           f"a replica of the primary key {related['Primary']} {where}"))
    found += [_copy(KMS_MULTI_REGION_ID, arn, "replica key", _arn_outside(arn, home),
                    f"replica key {arn} {_arn_outside(arn, home)}")
              for arn in related["Replicas"] if arn != facts["KeyArn"]]
    return found


def kms_replica_paths(_props: Mapping[str, Any], facts: Mapping[str, Any]) -> list[Path]:
    """Live half: every key that shares this key's material (its replicas, or its primary)."""
    return [path for path, _said in _kms_replicas(facts)]


def kms_replicas_in_japan(_props: Mapping[str, Any], facts: Mapping[str, Any]) -> Result:
    """STK-RES-008 (live half): no key shares this key's material outside ap-northeast-1 (its replica keys, or its
    primary when it is itself a replica), as DescribeKey's MultiRegionConfiguration lists them."""
    if facts["MultiRegionKeys"] is None:
        return Result.ok("a single-Region key: no replica key exists")
    return _verdict(_crossings(_kms_replicas(facts)), f"multi-Region, with no key outside {ALLOWED_REGION}")


def paths(resource_type: str, properties: Mapping[str, Any], account: str | None) -> list[Path]:
    """Every copy of a data store's data the declaration makes, judged as its rule judges it."""
    if resource_type == INSTANCE:
        found = _rds_copies(properties, account)
    elif resource_type == FILE_SYSTEM:
        found = _efs_replication(properties, account)
    elif resource_type == KEY:
        found = _kms_multi_region(properties)
    else:
        found = []
    return [path for path, _said in found]


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
    found, regions = [], []
    primary_region = secret.get("PrimaryRegion")
    if primary_region is not None and (not isinstance(primary_region, str) or outside(primary_region, None, None)):
        found.append(f"a replica of the primary secret in {primary_region}")
    for replica in _listed(secret, "ReplicationStatus"):
        region = _text(replica, "Region", "a ReplicationStatus entry")
        if outside(region, None, None):
            found.append(f"replicated to {region} ({replica.get('Status', 'status not given')})")
            regions.append(region)
    for replica in _listed(secret, "CrossAccountReplicas"):
        arn = _text(replica, "ReplicaSecretARN", "a CrossAccountReplicas entry")
        if _arn_outside(arn, home):
            found.append(f"replicated to {arn} {_arn_outside(arn, home)}")
    primary = secret.get("CrossAccountPrimary")
    if primary is not None:
        arn = _text(as_dict(primary), "PrimarySecretARN", "CrossAccountPrimary")
        if _arn_outside(arn, home):
            found.append(f"a replica of {arn} {_arn_outside(arn, home)}")
    return _verdict(found, f"not replicated outside {ALLOWED_REGION}", regions=regions)


resource_rule(RDS_COPIES_ID, {INSTANCE}, lambda t, p, c: check_rds_copies(t, p, c.account))
resource_rule(EFS_REPLICATION_ID, {FILE_SYSTEM}, lambda t, p, c: check_efs_replication(t, p, c.account))
plain_rule(KMS_MULTI_REGION_ID, {KEY}, check_kms_single_region)
live_rule(RDS_COPIES_ID, "rds.replicas_in_japan", INSTANCE, ("DBInstanceArn", "ReadReplicas"),
          rds_replicas_in_japan, paths=rds_replica_paths)
live_rule(RDS_SNAPSHOTS_ID, "rds.snapshots_kept_in_account", INSTANCE, ("DBInstanceArn", "SnapshotShares"),
          rds_snapshots_kept_in_account, paths=snapshot_paths)
live_rule(KMS_MULTI_REGION_ID, "kms.replicas_in_japan", KEY, ("KeyArn", "MultiRegionKeys"), kms_replicas_in_japan,
          paths=kms_replica_paths)
