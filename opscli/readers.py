"""Live readers: each turns read-only Describe/Get/List answers about one declared resource into that type's
CloudFormation property shape (what Cloud Control's GetResource returns), so the predicates that judge the
template judge the live resource unchanged, and drift compares like with like.

A reader reads only by id (the physical id, or the declared properties resolved through the stack's ids), so its
cost does not grow with the account. A property a reader does not return is not evidence of anything: each
reader names the properties it reads (`reads`), and everything else a template declares is "not readable"
(listed in coverage, never reported as drift). A property the answer definitely says is not set (AWS leaves
unset optional fields out of some answers, or answers "not found" for a sub-resource) reads as None. Absence of
a field AWS always returns raises MalformedAnswer (the check could not look), never a default.
"""

from __future__ import annotations

import json
import threading
import urllib.parse
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from typing import Any

import botocore.exceptions

from opscli.stack import Declared, StackScope
from platform_spec.result import CouldNotLook

# What a write-only secret property (an AUTH token) reads as when the answer says one is set.
REDACTED = "(set; value not readable)"
# A reader returns live facts no template holds (key state, running tasks, ...) under this key, for the
# live-only rules (platform_spec.rules.live_only); they are not properties.
FACTS = "__facts__"
# A reader may return GetAtt values it saw (e.g. an endpoint address) under this key; they are not properties.
ATTRIBUTES = "__attributes__"
# A fact: what AWS keeps under a declared resource that the stack does not declare (a grant on the key, a key of
# the usage plan, a manual snapshot, a route, a subscription, a target, an attached policy, a running revision),
# one line each, judged by STK-STACK-002.
UNDECLARED = "Undeclared"


class MalformedAnswer(CouldNotLook):
    """An answer lacks a field AWS always returns, or has it in the wrong type: the reader could not look."""


class NotFound(Exception):
    """The declared resource is not there."""


def need(mapping: Any, key: str, kind: type | tuple[type, ...] = object, *, operation: str = "the answer") -> Any:
    """mapping[key], which must be present and of `kind`; otherwise MalformedAnswer saying what was missing."""
    if not isinstance(mapping, Mapping) or key not in mapping:
        raise MalformedAnswer(f"{operation} answered without '{key}'")
    value = mapping[key]
    if not isinstance(value, kind) or (kind is int and isinstance(value, bool)):
        raise MalformedAnswer(f"{operation} answered '{key}' as {type(value).__name__}")
    return value


def _only(items: Any, what: str, operation: str) -> Mapping[str, Any]:
    if not isinstance(items, list):
        raise MalformedAnswer(f"{operation} answered without a list of {what}")
    if not items:
        raise NotFound(f"{what} not found")
    if len(items) > 1 or not isinstance(items[0], Mapping):
        raise MalformedAnswer(f"{operation} answered {len(items)} {what}s for one id")
    return items[0]


def _not_found(exc: botocore.exceptions.ClientError, *codes: str) -> bool:
    return exc.response.get("Error", {}).get("Code") in codes


def _json(value: Any, operation: str, key: str) -> Any:
    if isinstance(value, (dict, list)):
        return value
    try:
        return json.loads(urllib.parse.unquote(value) if isinstance(value, str) and value.startswith("%7B") else value)
    except (TypeError, ValueError, RecursionError):
        raise MalformedAnswer(f"{operation} answered '{key}' that is not JSON") from None


def tag_list(pairs: Any, key: str = "Key", value: str = "Value") -> list[dict[str, str]]:
    """Tags in CloudFormation's list shape, sorted by key, from a {k: v} map or a list of pairs."""
    if isinstance(pairs, Mapping):
        items = pairs.items()
    elif isinstance(pairs, list):
        items = [(p.get(key), p.get(value)) for p in pairs if isinstance(p, Mapping)]
    else:
        raise MalformedAnswer("tags answered in an unknown shape")
    return [{"Key": k, "Value": v} for k, v in sorted(items, key=lambda kv: str(kv[0])) if isinstance(k, str)
            and not k.startswith("aws:")]


def _pascal(value: Any, special: Mapping[str, str] = {}, *, keep: frozenset[str] = frozenset()) -> Any:  # noqa: B006
    """camelCase API answers to CloudFormation's PascalCase keys, recursively (map-valued keys in `keep` kept)."""
    if isinstance(value, list):
        return [_pascal(v, special, keep=keep) for v in value]
    if isinstance(value, Mapping):
        out = {}
        for k, v in value.items():
            name = special.get(k, k[:1].upper() + k[1:])
            out[name] = v if name in keep else _pascal(v, special, keep=keep)
        return out
    return value


@dataclass(frozen=True)
class ReadContext:
    """What a reader may use: the clients, the scope and the declared properties resolved through its ids."""

    aws: Any
    scope: StackScope
    resolve: Callable[[Any], Any]  # declared value -> live value (Ref/GetAtt through the stack's ids)
    # Answers several readers need within one read of the stack (a security group and its standalone rules,
    # a route table and its routes): asked once per run, by (operation, id).
    _answers: dict[tuple[str, str], Any] = field(default_factory=dict, repr=False)
    _locks: dict[tuple[str, str], threading.Lock] = field(default_factory=dict, repr=False)
    _lock: threading.Lock = field(default_factory=threading.Lock, repr=False)

    def once(self, operation: str, key: str, call: Callable[[], Any]) -> Any:
        """The answer of `call`, asked once per (operation, key) in this run; readers asking at the same time
        wait for the first. A call that raised is asked again by the next reader."""
        with self._lock:
            lock = self._locks.setdefault((operation, key), threading.Lock())
        with lock:
            if (operation, key) not in self._answers:
                self._answers[(operation, key)] = call()
            return self._answers[(operation, key)]


Read = Callable[[ReadContext, Declared], dict[str, Any]]


@dataclass(frozen=True)
class Reader:
    resource_type: str
    operations: tuple[str, ...]  # service:Operation, for the IAM policy and the read-only allowlist
    reads: frozenset[str]  # the CloudFormation properties it returns
    read: Read


READERS: dict[str, Reader] = {}


def reader(resource_type: str, operations: tuple[str, ...], reads: str) -> Callable[[Read], Read]:
    def register(fn: Read) -> Read:
        READERS[resource_type] = Reader(resource_type, operations, frozenset(reads.split()), fn)
        return fn
    return register


def _resolved(ctx: ReadContext, value: Any, default: Any = None) -> Any:
    """A declared value resolved, or `default` when it cannot be (a child compared with it is then undeclared)."""
    try:
        return ctx.resolve(value)
    except Exception:  # noqa: BLE001 - Unresolvable or a malformed declaration: nothing declared to compare
        return default


def _call(operation: str, fn: Callable[..., Any], *codes: str, **kwargs: Any) -> Any:
    try:
        answer = fn(**kwargs)
    except botocore.exceptions.ClientError as exc:
        if codes and _not_found(exc, *codes):
            raise NotFound(f"{operation}: {exc.response['Error'].get('Message') or 'not found'}") from None
        raise
    if not isinstance(answer, Mapping):
        raise MalformedAnswer(f"{operation} answered {type(answer).__name__}")
    return answer


def _listed_tags(fn: Callable[..., Any], key: str, kind: type = list, **kwargs: Any) -> list[dict[str, str]]:
    """A ListTagsForResource answer's `key` (which AWS always returns) as CloudFormation's tag list."""
    return tag_list(need(_call("ListTagsForResource", fn, **kwargs), key, kind, operation="ListTagsForResource"))


BATCH = 100  # ids per batched call: within every limit used below (EC2 filter values, DescribeAlarms names)


def _one_of_all(ctx: ReadContext, operation: str, resource_type: str, wanted: str, what: str,
                id_key: str | Callable[[Mapping[str, Any]], list[str]],
                page: Callable[[list[str], str | None], tuple[Any, str | None]]) -> Mapping[str, Any]:
    """The item of `wanted` out of one answer for every declared `resource_type` in scope: asked once per read
    (one call where there was one per resource; fewer calls is less throttling in a large account). An id
    outside those (a group a rule points at, say) is asked on its own.

    `page(ids, token)` asks for those ids and returns (the answer's list of items, the next token); `id_key`
    names the item's id, or gives the ids an item answers for. An id the answer leaves out is not found; an
    item without its id, or one id answered twice, is a malformed answer."""
    declared = sorted({d.physical_id for d in ctx.scope.of_type(resource_type)
                       if d.physical_id and d.present and not d.not_emulated})
    ids = declared if wanted in declared else [wanted]

    def ask() -> dict[str, Mapping[str, Any]]:
        found: dict[str, Mapping[str, Any]] = {}
        for start in range(0, len(ids), BATCH):
            token: str | None = None
            while True:
                items, token = page(ids[start:start + BATCH], token)
                if not isinstance(items, list):
                    raise MalformedAnswer(f"{operation} answered without a list of {what}s")
                for item in items:
                    keys = [need(item, id_key, str, operation=operation)] if isinstance(id_key, str) else \
                        id_key(item)
                    for key in keys:
                        if key in found:
                            raise MalformedAnswer(f"{operation} answered {what} {key} twice")
                        found[key] = item
                if not token:
                    break
        return found

    items = ctx.once(operation, "\n".join(ids), ask)
    if wanted not in items:
        raise NotFound(f"{what} {wanted} not found")
    return items[wanted]


def _ec2_page(ctx: ReadContext, method: str, operation: str, filter_name: str, key: str
              ) -> Callable[[list[str], str | None], tuple[Any, str | None]]:
    """One page of an EC2 Describe* by id filter (a filter leaves out an id that does not exist, where the ids
    parameter would fail the whole call)."""
    def page(ids: list[str], token: str | None) -> tuple[Any, str | None]:
        kwargs: dict[str, Any] = {"Filters": [{"Name": filter_name, "Values": ids}]}
        if token:
            kwargs["NextToken"] = token
        answer = _call(operation, getattr(ctx.aws.client("ec2"), method), **kwargs)
        return answer.get(key), answer.get("NextToken")
    return page


# --- KMS -------------------------------------------------------------------------------------------

@reader("AWS::KMS::Key", ("kms:DescribeKey", "kms:GetKeyRotationStatus", "kms:GetKeyPolicy", "kms:ListResourceTags",
                          "kms:ListGrants"),
        "Description Enabled EnableKeyRotation RotationPeriodInDays KeyPolicy KeyUsage KeySpec Tags")
def kms_key(ctx: ReadContext, r: Declared) -> dict[str, Any]:
    kms = ctx.aws.client("kms")
    meta = need(_call("DescribeKey", kms.describe_key, "NotFoundException", KeyId=r.physical_id), "KeyMetadata",
                Mapping, operation="DescribeKey")
    rotation = _call("GetKeyRotationStatus", kms.get_key_rotation_status, KeyId=r.physical_id)
    policy = _call("GetKeyPolicy", kms.get_key_policy, KeyId=r.physical_id, PolicyName="default")
    tags = [t for page in kms.get_paginator("list_resource_tags").paginate(KeyId=r.physical_id)
            for t in need(page, "Tags", list, operation="ListResourceTags")]
    props = {"Description": meta.get("Description", ""), "Enabled": need(meta, "Enabled", bool, operation="DescribeKey"),
             "KeyUsage": meta.get("KeyUsage"), "KeySpec": meta.get("KeySpec") or meta.get("CustomerMasterKeySpec"),
             "EnableKeyRotation": need(rotation, "KeyRotationEnabled", bool, operation="GetKeyRotationStatus"),
             "KeyPolicy": _json(need(policy, "Policy", str, operation="GetKeyPolicy"), "GetKeyPolicy", "Policy"),
             "Tags": tag_list(tags, "TagKey", "TagValue"),
             FACTS: {"KeyManager": need(meta, "KeyManager", str, operation="DescribeKey"),
                     "KeyState": need(meta, "KeyState", str, operation="DescribeKey"),
                     UNDECLARED: _undeclared_grants(ctx, kms, r.physical_id)}}
    if "RotationPeriodInDays" in rotation:
        props["RotationPeriodInDays"] = rotation["RotationPeriodInDays"]
    return {k: v for k, v in props.items() if v is not None}


def _undeclared_grants(ctx: ReadContext, kms: Any, key: str) -> list[str]:
    """Grants on the key to anyone but an AWS service (ListGrants shows a service's grants under its service
    principal), a role of this stack or a service-linked role of this account."""
    account = _resolved(ctx, {"Ref": "AWS::AccountId"}, "")
    roles = {f"arn:aws:iam::{account}:role/{d.physical_id}" for d in ctx.scope.of_type("AWS::IAM::Role")
             if d.physical_id}
    found = []
    for page in kms.get_paginator("list_grants").paginate(KeyId=key):
        for grant in need(page, "Grants", list, operation="ListGrants"):
            grantee = str(grant.get("GranteePrincipal") or grant.get("GranteeServicePrincipal") or "")
            if grantee.endswith((".amazonaws.com", ".amazonaws.com.cn")) or grantee in roles or \
                    grantee.startswith(f"arn:aws:iam::{account}:role/aws-service-role/"):
                continue
            operations = ", ".join(str(o) for o in grant.get("Operations") or [])
            found.append(f"grant {str(grant.get('GrantId', '?'))[:16]} to {grantee or '(no grantee)'} ({operations})")
    return found


@reader("AWS::KMS::Alias", ("kms:DescribeKey",), "AliasName TargetKeyId")
def kms_alias(ctx: ReadContext, r: Declared) -> dict[str, Any]:
    meta = need(_call("DescribeKey", ctx.aws.client("kms").describe_key, "NotFoundException", KeyId=r.physical_id),
                "KeyMetadata", Mapping, operation="DescribeKey")
    return {"AliasName": r.physical_id, "TargetKeyId": need(meta, "KeyId", str, operation="DescribeKey")}


# --- CloudWatch Logs -------------------------------------------------------------------------------

@reader("AWS::Logs::LogGroup", ("logs:DescribeLogGroups", "logs:ListTagsForResource"),
        "LogGroupName RetentionInDays KmsKeyId Tags")
def log_group(ctx: ReadContext, r: Declared) -> dict[str, Any]:
    logs = ctx.aws.client("logs")
    answer = _call("DescribeLogGroups", logs.describe_log_groups, logGroupNamePrefix=r.physical_id, limit=50)
    groups = [g for g in need(answer, "logGroups", list, operation="DescribeLogGroups")
              if isinstance(g, Mapping) and g.get("logGroupName") == r.physical_id]
    group = _only(groups, f"log group {r.physical_id}", "DescribeLogGroups")
    # DescribeLogGroups leaves out what is not set: absent is a definite "not set" (None), not "unknown".
    props: dict[str, Any] = {"LogGroupName": r.physical_id, "RetentionInDays": group.get("retentionInDays"),
                             "KmsKeyId": group.get("kmsKeyId")}
    arn = need(group, "arn", str, operation="DescribeLogGroups").removesuffix(":*")
    props["Tags"] = _listed_tags(logs.list_tags_for_resource, "tags", Mapping, resourceArn=arn)
    return props


# --- RDS -------------------------------------------------------------------------------------------

def _manual_snapshots(rds: Any, instance: str) -> list[str]:
    """The instance's manual snapshots (the stack declares none: each is a copy of the data outside the
    declaration), with whom each is shared."""
    found = []
    for page in rds.get_paginator("describe_db_snapshots").paginate(DBInstanceIdentifier=instance,
                                                                     SnapshotType="manual"):
        for snapshot in need(page, "DBSnapshots", list, operation="DescribeDBSnapshots"):
            name = need(snapshot, "DBSnapshotIdentifier", str, operation="DescribeDBSnapshots")
            answer = _call("DescribeDBSnapshotAttributes", rds.describe_db_snapshot_attributes,
                           DBSnapshotIdentifier=name)
            result = need(answer, "DBSnapshotAttributesResult", Mapping, operation="DescribeDBSnapshotAttributes")
            shared = sorted(str(v) for a in need(result, "DBSnapshotAttributes", list,
                                                 operation="DescribeDBSnapshotAttributes")
                            if isinstance(a, Mapping) and a.get("AttributeName") == "restore"
                            for v in a.get("AttributeValues") or [])
            found.append(f"manual snapshot {name}" + (
                " shared with everyone (restore: all)" if "all" in shared else
                f" shared with account {', '.join(shared)}" if shared else ""))
    return found


@reader("AWS::RDS::DBInstance", ("rds:DescribeDBInstances", "rds:DescribeDBSnapshots",
                                  "rds:DescribeDBSnapshotAttributes"),
        "DBInstanceIdentifier DBInstanceClass Engine EngineVersion AllocatedStorage MaxAllocatedStorage StorageType "
        "StorageEncrypted KmsKeyId MultiAZ PubliclyAccessible BackupRetentionPeriod DeletionProtection "
        "CopyTagsToSnapshot AutoMinorVersionUpgrade EnableIAMDatabaseAuthentication EnablePerformanceInsights "
        "PerformanceInsightsKMSKeyId PerformanceInsightsRetentionPeriod MonitoringInterval MonitoringRoleArn "
        "EnableCloudwatchLogsExports DBParameterGroupName DBSubnetGroupName VPCSecurityGroups Port DBName "
        "MasterUsername CACertificateIdentifier Tags")
def db_instance(ctx: ReadContext, r: Declared) -> dict[str, Any]:
    rds = ctx.aws.client("rds")
    answer = _call("DescribeDBInstances", rds.describe_db_instances, "DBInstanceNotFound", "DBInstanceNotFoundFault",
                   DBInstanceIdentifier=r.physical_id)
    db = _only(answer.get("DBInstances"), f"DB instance {r.physical_id}", "DescribeDBInstances")
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
        FACTS: {"ParameterApplyStatus": need(_parameter_group(db), "ParameterApplyStatus", str, operation=op),
                "DBInstanceStatus": db.get("DBInstanceStatus"), UNDECLARED: _manual_snapshots(rds, r.physical_id)},
    }
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
    return props


def _parameter_group(db: Mapping[str, Any]) -> Mapping[str, Any]:
    """The one attached parameter group (name and apply status)."""
    groups = need(db, "DBParameterGroups", list, operation="DescribeDBInstances")
    if not groups:
        raise MalformedAnswer("DescribeDBInstances answered no parameter group")
    group = _only(groups, "parameter group", "DescribeDBInstances")
    need(group, "DBParameterGroupName", str, operation="DescribeDBInstances")
    return group


@reader("AWS::RDS::DBParameterGroup", ("rds:DescribeDBParameterGroups", "rds:DescribeDBParameters",
                                       "rds:ListTagsForResource"), "DBParameterGroupName Family Description Parameters Tags")
def db_parameter_group(ctx: ReadContext, r: Declared) -> dict[str, Any]:
    rds = ctx.aws.client("rds")
    answer = _call("DescribeDBParameterGroups", rds.describe_db_parameter_groups, "DBParameterGroupNotFound",
                   DBParameterGroupName=r.physical_id)
    group = _only(answer.get("DBParameterGroups"), f"parameter group {r.physical_id}", "DescribeDBParameterGroups")
    parameters = {}
    for page in rds.get_paginator("describe_db_parameters").paginate(DBParameterGroupName=r.physical_id,
                                                                      Source="user"):
        for p in need(page, "Parameters", list, operation="DescribeDBParameters"):
            if isinstance(p, Mapping) and "ParameterName" in p and "ParameterValue" in p:
                parameters[p["ParameterName"]] = p["ParameterValue"]
    props = {"DBParameterGroupName": r.physical_id, "Parameters": parameters,
             "Family": need(group, "DBParameterGroupFamily", str, operation="DescribeDBParameterGroups"),
             "Description": group.get("Description", "")}
    if "DBParameterGroupArn" in group:
        props["Tags"] = _listed_tags(rds.list_tags_for_resource, "TagList", ResourceName=group["DBParameterGroupArn"])
    return props


@reader("AWS::RDS::DBSubnetGroup", ("rds:DescribeDBSubnetGroups", "rds:ListTagsForResource"),
        "DBSubnetGroupName DBSubnetGroupDescription SubnetIds Tags")
def db_subnet_group(ctx: ReadContext, r: Declared) -> dict[str, Any]:
    rds = ctx.aws.client("rds")
    answer = _call("DescribeDBSubnetGroups", rds.describe_db_subnet_groups, "DBSubnetGroupNotFoundFault",
                   DBSubnetGroupName=r.physical_id)
    group = _only(answer.get("DBSubnetGroups"), f"DB subnet group {r.physical_id}", "DescribeDBSubnetGroups")
    subnets = need(group, "Subnets", list, operation="DescribeDBSubnetGroups")
    tags = _listed_tags(rds.list_tags_for_resource, "TagList",
                        ResourceName=need(group, "DBSubnetGroupArn", str, operation="DescribeDBSubnetGroups"))
    return {"DBSubnetGroupName": r.physical_id, "Tags": tags,
            "DBSubnetGroupDescription": group.get("DBSubnetGroupDescription", ""),
            "SubnetIds": sorted(s["SubnetIdentifier"] for s in subnets
                                if isinstance(s, Mapping) and "SubnetIdentifier" in s)}


# --- ElastiCache -----------------------------------------------------------------------------------

@reader("AWS::ElastiCache::ReplicationGroup", ("elasticache:DescribeReplicationGroups",
                                               "elasticache:ListTagsForResource"),
        "ReplicationGroupId ReplicationGroupDescription NumCacheClusters MultiAZEnabled AutomaticFailoverEnabled "
        "AtRestEncryptionEnabled TransitEncryptionEnabled TransitEncryptionMode KmsKeyId SnapshotRetentionLimit "
        "CacheNodeType Engine Port Tags")
def replication_group(ctx: ReadContext, r: Declared) -> dict[str, Any]:
    client = ctx.aws.client("elasticache")
    op = "DescribeReplicationGroups"
    answer = _call(op, client.describe_replication_groups, "ReplicationGroupNotFoundFault",
                   ReplicationGroupId=r.physical_id)
    group = _only(answer.get("ReplicationGroups"), f"replication group {r.physical_id}", op)
    props: dict[str, Any] = {
        "ReplicationGroupId": r.physical_id,
        "ReplicationGroupDescription": group.get("Description", ""),
        "NumCacheClusters": len(need(group, "MemberClusters", list, operation=op)),
        "MultiAZEnabled": need(group, "MultiAZ", str, operation=op) == "enabled",
        "AutomaticFailoverEnabled": need(group, "AutomaticFailover", str, operation=op) in ("enabled", "enabling"),
        "AtRestEncryptionEnabled": need(group, "AtRestEncryptionEnabled", bool, operation=op),
        "TransitEncryptionEnabled": need(group, "TransitEncryptionEnabled", bool, operation=op),
    }
    if need(group, "AuthTokenEnabled", bool, operation=op):
        # AuthToken is write-only: the answer says whether one is set, never its value (nor does opscli want it).
        props["AuthToken"] = REDACTED
    for key in ("TransitEncryptionMode", "KmsKeyId", "SnapshotRetentionLimit", "CacheNodeType", "Engine",
                "UserGroupIds"):
        if key in group:
            props[key] = group[key]
    node_groups = need(group, "NodeGroups", list, operation=op)
    props[FACTS] = {"MemberAvailabilityZones": [
        need(member, "PreferredAvailabilityZone", str, operation=op)
        for node_group in node_groups if isinstance(node_group, Mapping)
        for member in need(node_group, "NodeGroupMembers", list, operation=op) if isinstance(member, Mapping)]}
    if node_groups and isinstance(node_groups[0], Mapping):
        endpoint = node_groups[0].get("PrimaryEndpoint") or {}
        reader_endpoint = node_groups[0].get("ReaderEndpoint") or {}
        if isinstance(endpoint, Mapping) and "Port" in endpoint:
            props["Port"] = endpoint["Port"]
            props[ATTRIBUTES] = {"PrimaryEndPoint.Address": endpoint.get("Address"),
                                 "PrimaryEndPoint.Port": str(endpoint["Port"]),
                                 "ReaderEndPoint.Address": reader_endpoint.get("Address"),
                                 "ReaderEndPoint.Port": str(reader_endpoint.get("Port", endpoint["Port"]))}
    if "ARN" in group:
        props["Tags"] = _listed_tags(client.list_tags_for_resource, "TagList", ResourceName=group["ARN"])
    return props


# --- EFS -------------------------------------------------------------------------------------------

@reader("AWS::EFS::FileSystem", ("efs:DescribeFileSystems", "efs:DescribeFileSystemPolicy",
                                 "efs:DescribeLifecycleConfiguration"),
        "Encrypted KmsKeyId PerformanceMode ThroughputMode FileSystemPolicy LifecyclePolicies FileSystemTags")
def file_system(ctx: ReadContext, r: Declared) -> dict[str, Any]:
    efs = ctx.aws.client("efs")
    op = "DescribeFileSystems"
    answer = _call(op, efs.describe_file_systems, "FileSystemNotFound", FileSystemId=r.physical_id)
    fs = _only(answer.get("FileSystems"), f"file system {r.physical_id}", op)
    props: dict[str, Any] = {"Encrypted": need(fs, "Encrypted", bool, operation=op),
                             "FileSystemTags": tag_list(fs.get("Tags", []))}
    for key in ("KmsKeyId", "PerformanceMode", "ThroughputMode"):
        if key in fs:
            props[key] = fs[key]
    try:
        policy = _call("DescribeFileSystemPolicy", efs.describe_file_system_policy, FileSystemId=r.physical_id)
        props["FileSystemPolicy"] = _json(need(policy, "Policy", str, operation="DescribeFileSystemPolicy"),
                                          "DescribeFileSystemPolicy", "Policy")
    except botocore.exceptions.ClientError as exc:
        if not _not_found(exc, "PolicyNotFound"):
            raise
        props["FileSystemPolicy"] = None  # definitely none
    lifecycle = _call("DescribeLifecycleConfiguration", efs.describe_lifecycle_configuration,
                      FileSystemId=r.physical_id)
    props["LifecyclePolicies"] = need(lifecycle, "LifecyclePolicies", list, operation="DescribeLifecycleConfiguration")
    return props


@reader("AWS::EFS::MountTarget", ("efs:DescribeMountTargets",
                                  "efs:DescribeMountTargetSecurityGroups"),
        "FileSystemId SubnetId SecurityGroups")
def mount_target(ctx: ReadContext, r: Declared) -> dict[str, Any]:
    efs = ctx.aws.client("efs")
    file_system = ctx.resolve(r.properties.get("FileSystemId"))
    op = "DescribeMountTargets"

    def every_mount_target_of_the_file_system() -> list[Any]:
        try:
            pages = efs.get_paginator("describe_mount_targets").paginate(FileSystemId=file_system)
            return [t for page in pages for t in need(page, "MountTargets", list, operation=op)]
        except botocore.exceptions.ClientError as exc:
            if _not_found(exc, "FileSystemNotFound"):
                raise NotFound(f"{op}: file system {file_system} not found") from None
            raise

    # One answer per file system, shared by its mount targets (one per AZ).
    targets = ctx.once(op, file_system, every_mount_target_of_the_file_system)
    target = _only([t for t in targets if isinstance(t, Mapping) and t.get("MountTargetId") == r.physical_id],
                   f"mount target {r.physical_id}", op)
    groups = _call("DescribeMountTargetSecurityGroups", efs.describe_mount_target_security_groups,
                   MountTargetId=r.physical_id)
    return {FACTS: {"LifeCycleState": need(target, "LifeCycleState", str, operation="DescribeMountTargets"),
                    "AvailabilityZoneName": need(target, "AvailabilityZoneName", str,
                                                 operation="DescribeMountTargets")},
            "FileSystemId": need(target, "FileSystemId", str, operation="DescribeMountTargets"),
            "SubnetId": need(target, "SubnetId", str, operation="DescribeMountTargets"),
            "SecurityGroups": sorted(need(groups, "SecurityGroups", list,
                                          operation="DescribeMountTargetSecurityGroups"))}


@reader("AWS::EFS::AccessPoint", ("efs:DescribeAccessPoints",),
        "FileSystemId PosixUser RootDirectory AccessPointTags")
def access_point(ctx: ReadContext, r: Declared) -> dict[str, Any]:
    efs = ctx.aws.client("efs")
    answer = _call("DescribeAccessPoints", efs.describe_access_points, "AccessPointNotFound",
                   AccessPointId=r.physical_id)
    point = _only(answer.get("AccessPoints"), f"access point {r.physical_id}", "DescribeAccessPoints")
    props: dict[str, Any] = {"FileSystemId": need(point, "FileSystemId", str, operation="DescribeAccessPoints"),
                             "AccessPointTags": tag_list(point.get("Tags", []))}
    if isinstance(point.get("PosixUser"), Mapping):
        props["PosixUser"] = {k: str(v) for k, v in point["PosixUser"].items()}
    if isinstance(point.get("RootDirectory"), Mapping):
        root = dict(point["RootDirectory"])
        if isinstance(root.get("CreationInfo"), Mapping):
            root["CreationInfo"] = {k: str(v) for k, v in root["CreationInfo"].items()}
        props["RootDirectory"] = root
    return props


# --- ECS -------------------------------------------------------------------------------------------

@reader("AWS::ECS::Cluster", ("ecs:DescribeClusters",), "ClusterName ClusterSettings Tags")
def ecs_cluster(ctx: ReadContext, r: Declared) -> dict[str, Any]:
    answer = _call("DescribeClusters", ctx.aws.client("ecs").describe_clusters, clusters=[r.physical_id],
                   include=["SETTINGS", "TAGS"])
    clusters = [c for c in need(answer, "clusters", list, operation="DescribeClusters")
                if isinstance(c, Mapping) and c.get("status") != "INACTIVE"]
    cluster = _only(clusters, f"cluster {r.physical_id}", "DescribeClusters")
    return {"ClusterName": need(cluster, "clusterName", str, operation="DescribeClusters"),
            "ClusterSettings": _pascal(cluster.get("settings", [])), "Tags": tag_list(cluster.get("tags", []),
                                                                                     "key", "value")}


def _undeclared_revisions(ctx: ReadContext, r: Declared, service: Mapping[str, Any]) -> list[str]:
    """Task definitions the service runs or deploys that are not the one the stack declares for it."""
    declared = _resolved(ctx, r.properties.get("TaskDefinition"))
    running = [str(service.get("taskDefinition"))] + [str(d.get("taskDefinition")) for d in
                                                      service.get("deployments") or [] if isinstance(d, Mapping)]
    return [f"runs task definition {arn.rsplit('/', 1)[-1]}, not the declared {str(declared).rsplit('/', 1)[-1]}"
            for arn in dict.fromkeys(running) if arn != declared]


@reader("AWS::ECS::Service", ("ecs:DescribeServices",),
        "ServiceName Cluster DesiredCount LaunchType PlatformVersion TaskDefinition NetworkConfiguration "
        "DeploymentConfiguration HealthCheckGracePeriodSeconds PropagateTags EnableECSManagedTags "
        "EnableExecuteCommand LoadBalancers Tags")
def ecs_service(ctx: ReadContext, r: Declared) -> dict[str, Any]:
    cluster = ctx.resolve(r.properties.get("Cluster"))
    op = "DescribeServices"
    answer = _call(op, ctx.aws.client("ecs").describe_services, cluster=cluster, services=[r.physical_id],
                   include=["TAGS"])
    services = [s for s in need(answer, "services", list, operation=op)
                if isinstance(s, Mapping) and s.get("status") != "INACTIVE"]
    service = _only(services, f"service {r.physical_id}", op)
    props: dict[str, Any] = {
        "ServiceName": need(service, "serviceName", str, operation=op),
        "Cluster": need(service, "clusterArn", str, operation=op),
        "DesiredCount": need(service, "desiredCount", int, operation=op),
        "TaskDefinition": need(service, "taskDefinition", str, operation=op),
        "NetworkConfiguration": _pascal(need(service, "networkConfiguration", Mapping, operation=op)),
        "Tags": tag_list(service.get("tags", []), "key", "value"),
        FACTS: {"RunningCount": need(service, "runningCount", int, operation=op),
                "Status": need(service, "status", str, operation=op),
                UNDECLARED: _undeclared_revisions(ctx, r, service)},
    }
    for key in ("launchType", "platformVersion", "healthCheckGracePeriodSeconds", "propagateTags",
                "enableECSManagedTags", "enableExecuteCommand", "deploymentConfiguration", "loadBalancers"):
        if key in service:
            props[key[:1].upper() + key[1:]] = _pascal(service[key])
    return props


_ECS_SPECIAL = {"efsVolumeConfiguration": "EFSVolumeConfiguration", "fileSystemId": "FilesystemId", "iam": "IAM"}


@reader("AWS::ECS::TaskDefinition", ("ecs:DescribeTaskDefinition",),
        "Family Cpu Memory NetworkMode PidMode IpcMode RequiresCompatibilities TaskRoleArn ExecutionRoleArn "
        "ContainerDefinitions Volumes RuntimePlatform Tags")
def task_definition(ctx: ReadContext, r: Declared) -> dict[str, Any]:
    op = "DescribeTaskDefinition"
    answer = _call(op, ctx.aws.client("ecs").describe_task_definition, "ClientException",
                   taskDefinition=r.physical_id, include=["TAGS"])
    task = need(answer, "taskDefinition", Mapping, operation=op)
    if task.get("status") == "INACTIVE":  # deregistered: no new task can start from it
        raise NotFound(f"task definition {r.physical_id} is deregistered (INACTIVE)")
    props: dict[str, Any] = {"Family": need(task, "family", str, operation=op),
                             "ContainerDefinitions": _pascal(need(task, "containerDefinitions", list, operation=op),
                                                             _ECS_SPECIAL, keep=frozenset({"Options"})),
                             "Volumes": _pascal(task.get("volumes", []), _ECS_SPECIAL),
                             "Tags": tag_list(answer.get("tags", []), "key", "value")}
    for key in ("cpu", "memory", "networkMode", "pidMode", "ipcMode", "requiresCompatibilities", "taskRoleArn",
                "executionRoleArn", "runtimePlatform"):
        if key in task:
            props[key[:1].upper() + key[1:]] = _pascal(task[key])
    return props


# --- API Gateway -----------------------------------------------------------------------------------

@reader("AWS::ApiGateway::RestApi", ("apigateway:GetRestApi",),
        "Name Description EndpointConfiguration ApiKeySourceType Tags")
def rest_api(ctx: ReadContext, r: Declared) -> dict[str, Any]:
    api = _call("GetRestApi", ctx.aws.client("apigateway").get_rest_api, "NotFoundException", restApiId=r.physical_id)
    props: dict[str, Any] = {"Name": need(api, "name", str, operation="GetRestApi"),
                             "EndpointConfiguration": {"Types": need(need(api, "endpointConfiguration", Mapping,
                                                                          operation="GetRestApi"),
                                                                     "types", list, operation="GetRestApi")},
                             "Tags": tag_list(api.get("tags", {}))}
    for key in ("description", "apiKeySource"):
        if key in api:
            props["Description" if key == "description" else "ApiKeySourceType"] = api[key]
    return props


# AWS::ApiGateway::Stage MethodSetting's properties (its CloudFormation schema); GetStage answers more (the
# cache-control authorization settings), which CloudFormation cannot declare.
METHOD_SETTING_PROPERTIES = frozenset({
    "CacheDataEncrypted", "CacheTtlInSeconds", "CachingEnabled", "DataTraceEnabled", "LoggingLevel", "MetricsEnabled",
    "ThrottlingBurstLimit", "ThrottlingRateLimit"})


@reader("AWS::ApiGateway::Stage", ("apigateway:GetStage",),
        "StageName DeploymentId TracingEnabled AccessLogSetting MethodSettings Tags")
def api_stage(ctx: ReadContext, r: Declared) -> dict[str, Any]:
    api_id = ctx.resolve(r.properties.get("RestApiId"))
    stage_name = ctx.resolve(r.properties.get("StageName")) or r.physical_id
    stage = _call("GetStage", ctx.aws.client("apigateway").get_stage, "NotFoundException", restApiId=api_id,
                  stageName=stage_name)
    props: dict[str, Any] = {"StageName": need(stage, "stageName", str, operation="GetStage"),
                             "TracingEnabled": bool(stage.get("tracingEnabled", False)),
                             "Tags": tag_list(stage.get("tags", {}))}
    if "deploymentId" in stage:
        props["DeploymentId"] = stage["deploymentId"]
    props["AccessLogSetting"] = _pascal(stage["accessLogSettings"]) if isinstance(
        stage.get("accessLogSettings"), Mapping) else None
    settings = []
    for path, value in (stage.get("methodSettings") or {}).items():
        resource, _, method = path.rpartition("/")
        setting = {"ResourcePath": "/" + resource.lstrip("/") if resource not in ("*", "") else "/*",
                   "HttpMethod": method}
        if isinstance(value, Mapping):
            setting.update({name: value[key] for key in value
                            if (name := key[:1].upper() + key[1:]) in METHOD_SETTING_PROPERTIES})
        settings.append(setting)
    props["MethodSettings"] = settings
    return props


@reader("AWS::ApiGateway::Method", ("apigateway:GetMethod",),
        "HttpMethod AuthorizationType ApiKeyRequired RequestParameters RequestValidatorId Integration")
def api_method(ctx: ReadContext, r: Declared) -> dict[str, Any]:
    method = _call("GetMethod", ctx.aws.client("apigateway").get_method, "NotFoundException",
                   restApiId=ctx.resolve(r.properties.get("RestApiId")),
                   resourceId=ctx.resolve(r.properties.get("ResourceId")),
                   httpMethod=ctx.resolve(r.properties.get("HttpMethod")))
    props: dict[str, Any] = {"HttpMethod": need(method, "httpMethod", str, operation="GetMethod"),
                             "AuthorizationType": need(method, "authorizationType", str, operation="GetMethod"),
                             "ApiKeyRequired": bool(method.get("apiKeyRequired", False))}
    if "requestParameters" in method:
        props["RequestParameters"] = method["requestParameters"]
    props["RequestValidatorId"] = method.get("requestValidatorId")
    integration = method.get("methodIntegration")
    if isinstance(integration, Mapping):
        props["Integration"] = {("IntegrationHttpMethod" if k == "httpMethod" else k[:1].upper() + k[1:]): v
                                for k, v in integration.items() if k not in ("cacheNamespace", "cacheKeyParameters",
                                                                             "integrationResponses")}
    return props


@reader("AWS::ApiGateway::UsagePlan", ("apigateway:GetUsagePlan", "apigateway:GetUsagePlanKeys"),
        "UsagePlanName ApiStages Throttle Tags")
def usage_plan(ctx: ReadContext, r: Declared) -> dict[str, Any]:
    plan = _call("GetUsagePlan", ctx.aws.client("apigateway").get_usage_plan, "NotFoundException",
                 usagePlanId=r.physical_id)
    props: dict[str, Any] = {"UsagePlanName": need(plan, "name", str, operation="GetUsagePlan"),
                             "ApiStages": [{"ApiId": s.get("apiId"), "Stage": s.get("stage")}
                                           for s in plan.get("apiStages", []) if isinstance(s, Mapping)],
                             "Tags": tag_list(plan.get("tags", {}))}
    if isinstance(plan.get("throttle"), Mapping):
        props["Throttle"] = _pascal(plan["throttle"])
    declared = {_resolved(ctx, d.properties.get("KeyId")) for d in ctx.scope.of_type("AWS::ApiGateway::UsagePlanKey")
                if _resolved(ctx, d.properties.get("UsagePlanId")) == r.physical_id}
    keys = [k for page in ctx.aws.client("apigateway").get_paginator("get_usage_plan_keys").paginate(
        usagePlanId=r.physical_id) for k in need(page, "items", list, operation="GetUsagePlanKeys")
        if isinstance(k, Mapping)]
    props[FACTS] = {UNDECLARED: [f"API key {k.get('id')} ({k.get('name', '?')})" for k in keys
                                 if k.get("id") not in declared]}
    return props


# --- S3 --------------------------------------------------------------------------------------------

@reader("AWS::S3::Bucket", ("s3:GetBucketEncryption", "s3:GetPublicAccessBlock", "s3:GetBucketVersioning",
                            "s3:GetBucketTagging", "s3:GetBucketOwnershipControls",
                            "s3:GetBucketNotificationConfiguration"),
        "BucketName BucketEncryption PublicAccessBlockConfiguration VersioningConfiguration OwnershipControls "
        "NotificationConfiguration Tags")
def bucket(ctx: ReadContext, r: Declared) -> dict[str, Any]:
    s3 = ctx.aws.client("s3")
    name = r.physical_id
    props: dict[str, Any] = {"BucketName": name}
    missing = ("NoSuchBucket",)
    try:
        enc = _call("GetBucketEncryption", s3.get_bucket_encryption, *missing, Bucket=name)
        rules = need(need(enc, "ServerSideEncryptionConfiguration", Mapping, operation="GetBucketEncryption"),
                     "Rules", list, operation="GetBucketEncryption")
        # The API says ApplyServerSideEncryptionByDefault where CloudFormation says ServerSideEncryptionByDefault.
        props["BucketEncryption"] = {"ServerSideEncryptionConfiguration": [
            {("ServerSideEncryptionByDefault" if k == "ApplyServerSideEncryptionByDefault" else k): v
             for k, v in rule.items()} for rule in rules if isinstance(rule, Mapping)]}
    except botocore.exceptions.ClientError as exc:
        if not _not_found(exc, "ServerSideEncryptionConfigurationNotFoundError"):
            raise
        props["BucketEncryption"] = None
    try:
        block = _call("GetPublicAccessBlock", s3.get_public_access_block, *missing, Bucket=name)
        props["PublicAccessBlockConfiguration"] = need(block, "PublicAccessBlockConfiguration", Mapping,
                                                       operation="GetPublicAccessBlock")
    except botocore.exceptions.ClientError as exc:
        if not _not_found(exc, "NoSuchPublicAccessBlockConfiguration"):
            raise
        props["PublicAccessBlockConfiguration"] = None
    versioning = _call("GetBucketVersioning", s3.get_bucket_versioning, *missing, Bucket=name)
    if "Status" in versioning:
        props["VersioningConfiguration"] = {"Status": versioning["Status"]}
    try:
        tags = _call("GetBucketTagging", s3.get_bucket_tagging, *missing, Bucket=name)
        props["Tags"] = tag_list(need(tags, "TagSet", list, operation="GetBucketTagging"))
    except botocore.exceptions.ClientError as exc:
        if not _not_found(exc, "NoSuchTagSet"):
            raise
        props["Tags"] = []
    try:
        owner = _call("GetBucketOwnershipControls", s3.get_bucket_ownership_controls, *missing, Bucket=name)
        props["OwnershipControls"] = need(owner, "OwnershipControls", Mapping,
                                          operation="GetBucketOwnershipControls")
    except botocore.exceptions.ClientError as exc:
        if not _not_found(exc, "OwnershipControlsNotFoundError"):
            raise
        props["OwnershipControls"] = None
    notification = _call("GetBucketNotificationConfiguration", s3.get_bucket_notification_configuration, *missing,
                         Bucket=name)
    if "EventBridgeConfiguration" in notification:
        props["NotificationConfiguration"] = {"EventBridgeConfiguration": {"EventBridgeEnabled": True}}
    return props


@reader("AWS::S3::BucketPolicy", ("s3:GetBucketPolicy",), "Bucket PolicyDocument")
def bucket_policy(ctx: ReadContext, r: Declared) -> dict[str, Any]:
    name = ctx.resolve(r.properties.get("Bucket"))
    answer = _call("GetBucketPolicy", ctx.aws.client("s3").get_bucket_policy, "NoSuchBucket", "NoSuchBucketPolicy",
                   Bucket=name)
    return {"Bucket": name, "PolicyDocument": _json(need(answer, "Policy", str, operation="GetBucketPolicy"),
                                                    "GetBucketPolicy", "Policy")}


# --- SQS / SNS / EventBridge -----------------------------------------------------------------------

_INT_ATTRIBUTES = ("KmsDataKeyReusePeriodSeconds", "MessageRetentionPeriod", "VisibilityTimeout",
                   "DelaySeconds", "MaximumMessageSize", "ReceiveMessageWaitTimeSeconds")


@reader("AWS::SQS::Queue", ("sqs:GetQueueAttributes", "sqs:ListQueueTags"),
        "QueueName KmsMasterKeyId KmsDataKeyReusePeriodSeconds MessageRetentionPeriod VisibilityTimeout "
        "RedrivePolicy SqsManagedSseEnabled Tags")
def queue(ctx: ReadContext, r: Declared) -> dict[str, Any]:
    sqs = ctx.aws.client("sqs")
    attributes = _queue_attributes(ctx, r.physical_id)
    props: dict[str, Any] = {"QueueName": need(attributes, "QueueArn", str,
                                               operation="GetQueueAttributes").rsplit(":", 1)[-1]}
    for key in _INT_ATTRIBUTES:
        if key in attributes:
            try:
                props[key] = int(attributes[key])
            except (TypeError, ValueError):
                raise MalformedAnswer(f"GetQueueAttributes answered {key} that is not a number") from None
    # GetQueueAttributes(All) leaves out what is not set: absent is a definite "not set" (None).
    props["KmsMasterKeyId"] = attributes.get("KmsMasterKeyId") or None
    if "SqsManagedSseEnabled" in attributes:
        props["SqsManagedSseEnabled"] = str(attributes["SqsManagedSseEnabled"]).lower() == "true"
    props["RedrivePolicy"] = _json(attributes["RedrivePolicy"], "GetQueueAttributes", "RedrivePolicy") \
        if attributes.get("RedrivePolicy") else None
    tags = _call("ListQueueTags", sqs.list_queue_tags, *_QUEUE_MISSING, QueueUrl=r.physical_id)
    props["Tags"] = tag_list(tags.get("Tags", {}))
    return props


_QUEUE_MISSING = ("AWS.SimpleQueueService.NonExistentQueue", "QueueDoesNotExist")


def _queue_attributes(ctx: ReadContext, url: str) -> Mapping[str, Any]:
    """Every attribute of a queue (GetQueueAttributes "All"), asked once per read: the queue's reader and its
    policy's share the answer."""
    answer = ctx.once("GetQueueAttributes", url, lambda: _call(
        "GetQueueAttributes", ctx.aws.client("sqs").get_queue_attributes, *_QUEUE_MISSING, QueueUrl=url,
        AttributeNames=["All"]))
    return need(answer, "Attributes", Mapping, operation="GetQueueAttributes")


@reader("AWS::SQS::QueuePolicy", ("sqs:GetQueueAttributes",), "Queues PolicyDocument")
def queue_policy(ctx: ReadContext, r: Declared) -> dict[str, Any]:
    urls = ctx.resolve(r.properties.get("Queues"))
    if not isinstance(urls, list) or len(urls) != 1:
        raise MalformedAnswer("the declared QueuePolicy names more or less than one queue; read one at a time")
    attributes = _queue_attributes(ctx, urls[0])
    if "Policy" not in attributes:
        raise NotFound(f"queue {urls[0]} has no policy")
    return {"Queues": urls, "PolicyDocument": _json(attributes["Policy"], "GetQueueAttributes", "Policy")}


@reader("AWS::SNS::Topic", ("sns:GetTopicAttributes", "sns:ListTagsForResource", "sns:ListSubscriptionsByTopic"),
        "TopicName KmsMasterKeyId Tags")
def topic(ctx: ReadContext, r: Declared) -> dict[str, Any]:
    sns = ctx.aws.client("sns")
    answer = _call("GetTopicAttributes", sns.get_topic_attributes, "NotFound", TopicArn=r.physical_id)
    attributes = need(answer, "Attributes", Mapping, operation="GetTopicAttributes")
    props: dict[str, Any] = {"TopicName": r.physical_id.rsplit(":", 1)[-1],
                             "KmsMasterKeyId": attributes.get("KmsMasterKeyId") or None}
    props["Tags"] = _listed_tags(sns.list_tags_for_resource, "Tags", ResourceArn=r.physical_id)
    declared = {(str(_resolved(ctx, d.properties.get("Protocol"))), str(_resolved(ctx, d.properties.get("Endpoint"))))
                for d in ctx.scope.of_type("AWS::SNS::Subscription")
                if _resolved(ctx, d.properties.get("TopicArn")) == r.physical_id}
    declared |= {(str(_resolved(ctx, s.get("Protocol"))), str(_resolved(ctx, s.get("Endpoint"))))
                 for s in r.properties.get("Subscription") or [] if isinstance(s, Mapping)}
    subscriptions = [x for page in sns.get_paginator("list_subscriptions_by_topic").paginate(TopicArn=r.physical_id)
                     for x in need(page, "Subscriptions", list, operation="ListSubscriptionsByTopic")
                     if isinstance(x, Mapping)]
    props[FACTS] = {UNDECLARED: [f"subscription {x.get('Protocol')}:{x.get('Endpoint')}" for x in subscriptions
                                 if (str(x.get("Protocol")), str(x.get("Endpoint"))) not in declared]}
    return props


@reader("AWS::SNS::TopicPolicy", ("sns:GetTopicAttributes",), "Topics PolicyDocument")
def topic_policy(ctx: ReadContext, r: Declared) -> dict[str, Any]:
    arns = ctx.resolve(r.properties.get("Topics"))
    if not isinstance(arns, list) or len(arns) != 1:
        raise MalformedAnswer("the declared TopicPolicy names more or less than one topic; read one at a time")
    answer = _call("GetTopicAttributes", ctx.aws.client("sns").get_topic_attributes, "NotFound", TopicArn=arns[0])
    attributes = need(answer, "Attributes", Mapping, operation="GetTopicAttributes")
    if "Policy" not in attributes:
        raise NotFound(f"topic {arns[0]} has no policy")
    return {"Topics": arns, "PolicyDocument": _json(attributes["Policy"], "GetTopicAttributes", "Policy")}


@reader("AWS::Events::Rule", ("events:DescribeRule", "events:ListTargetsByRule"),
        "Name Description EventPattern State Targets")
def events_rule(ctx: ReadContext, r: Declared) -> dict[str, Any]:
    events = ctx.aws.client("events")
    rule = _call("DescribeRule", events.describe_rule, "ResourceNotFoundException", Name=r.physical_id)
    targets = [t for page in events.get_paginator("list_targets_by_rule").paginate(Rule=r.physical_id)
               for t in need(page, "Targets", list, operation="ListTargetsByRule")]
    declared = {_resolved(ctx, t.get("Id")) for t in r.properties.get("Targets") or [] if isinstance(t, Mapping)}
    props: dict[str, Any] = {"Name": need(rule, "Name", str, operation="DescribeRule"),
                             "State": need(rule, "State", str, operation="DescribeRule"),
                             "Targets": targets,
                             FACTS: {UNDECLARED: [f"target {t.get('Id')} -> {t.get('Arn')}" for t in targets
                                                  if isinstance(t, Mapping) and t.get("Id") not in declared]}}
    if "Description" in rule:
        props["Description"] = rule["Description"]
    if "EventPattern" in rule:
        props["EventPattern"] = _json(rule["EventPattern"], "DescribeRule", "EventPattern")
    return props


# --- EC2 -------------------------------------------------------------------------------------------

def _rules(permissions: Any, direction: str) -> list[dict[str, Any]]:
    """IpPermissions in CloudFormation's rule-per-peer shape (SecurityGroupIngress / SecurityGroupEgress)."""
    peer = "SourceSecurityGroupId" if direction == "ingress" else "DestinationSecurityGroupId"
    rules = []
    for perm in permissions if isinstance(permissions, list) else []:
        base = {"IpProtocol": str(perm.get("IpProtocol"))}
        if "FromPort" in perm:
            base["FromPort"] = perm["FromPort"]
        if "ToPort" in perm:
            base["ToPort"] = perm["ToPort"]
        for key, item_key, out in (("IpRanges", "CidrIp", "CidrIp"), ("Ipv6Ranges", "CidrIpv6", "CidrIpv6"),
                                ("UserIdGroupPairs", "GroupId", peer), ("PrefixListIds", "PrefixListId",
                                                                        "DestinationPrefixListId")):
            for item in perm.get(key, []) or []:
                rule = {**base, out: item.get(item_key)}
                if item.get("Description"):
                    rule["Description"] = item["Description"]
                rules.append(rule)
    return rules


@reader("AWS::EC2::SecurityGroup", ("ec2:DescribeSecurityGroups",),
        "GroupName GroupDescription VpcId SecurityGroupIngress SecurityGroupEgress Tags")
def security_group(ctx: ReadContext, r: Declared) -> dict[str, Any]:
    op = "DescribeSecurityGroups"
    group = _one_of_all(ctx, op, "AWS::EC2::SecurityGroup", r.physical_id, "security group", "GroupId",
                        _ec2_page(ctx, "describe_security_groups", op, "group-id", "SecurityGroups"))
    props = {"GroupName": need(group, "GroupName", str, operation=op),
             "GroupDescription": need(group, "Description", str, operation=op),
             "VpcId": group.get("VpcId"),
             "SecurityGroupIngress": _rules(need(group, "IpPermissions", list, operation=op), "ingress"),
             "SecurityGroupEgress": _rules(need(group, "IpPermissionsEgress", list, operation=op), "egress"),
             "Tags": tag_list(group.get("Tags", []))}
    if r.type == "AWS::EC2::SecurityGroup":
        # Rules the stack declares as their own resources (SecurityGroupIngress / Egress) are read as those.
        for kind, key in (("AWS::EC2::SecurityGroupIngress", "SecurityGroupIngress"),
                          ("AWS::EC2::SecurityGroupEgress", "SecurityGroupEgress")):
            for standalone in ctx.scope.of_type(kind):
                if _resolves_to(ctx, standalone.properties.get("GroupId"), r.physical_id):
                    rule = _matching_rule(ctx, standalone, props[key])
                    if rule is not None:
                        props[key].remove(rule)
    return props


def _resolves_to(ctx: ReadContext, value: Any, expected: Any) -> bool:
    try:
        return ctx.resolve(value) == expected
    except Exception:  # noqa: BLE001 - an unresolvable reference is simply not this group
        return False


def _matching_rule(ctx: ReadContext, standalone: Declared, rules: list[dict[str, Any]]) -> dict[str, Any] | None:
    declared = {k: ctx.resolve(v) for k, v in standalone.properties.items() if k not in ("GroupId", "Description")}
    return next((rule for rule in rules if all(str(rule.get(k)) == str(v) for k, v in declared.items())), None)


def _standalone_rule(ctx: ReadContext, r: Declared, direction: str) -> dict[str, Any]:
    group_id = ctx.resolve(r.properties.get("GroupId"))
    group = security_group(ctx, Declared(r.logical_id, "standalone rule", group_id, "CREATE_COMPLETE"))
    key = "SecurityGroupIngress" if direction == "ingress" else "SecurityGroupEgress"
    rule = _matching_rule(ctx, r, group[key])
    if rule is None:
        raise NotFound(f"no {direction} rule of {group_id} matches the declared one")
    return {"GroupId": group_id, **rule}


@reader("AWS::EC2::SecurityGroupIngress", ("ec2:DescribeSecurityGroups",),
        "GroupId IpProtocol FromPort ToPort SourceSecurityGroupId CidrIp CidrIpv6 Description")
def security_group_ingress(ctx: ReadContext, r: Declared) -> dict[str, Any]:
    return _standalone_rule(ctx, r, "ingress")


@reader("AWS::EC2::SecurityGroupEgress", ("ec2:DescribeSecurityGroups",),
        "GroupId IpProtocol FromPort ToPort DestinationSecurityGroupId CidrIp CidrIpv6 Description")
def security_group_egress(ctx: ReadContext, r: Declared) -> dict[str, Any]:
    return _standalone_rule(ctx, r, "egress")


@reader("AWS::EC2::VPC", ("ec2:DescribeVpcs", "ec2:DescribeVpcAttribute", "ec2:DescribeSecurityGroups"),
        "CidrBlock InstanceTenancy EnableDnsSupport EnableDnsHostnames Tags")
def vpc(ctx: ReadContext, r: Declared) -> dict[str, Any]:
    ec2 = ctx.aws.client("ec2")
    answer = _call("DescribeVpcs", ec2.describe_vpcs, "InvalidVpcID.NotFound", VpcIds=[r.physical_id])
    found = _only(answer.get("Vpcs"), f"VPC {r.physical_id}", "DescribeVpcs")
    props = {"CidrBlock": need(found, "CidrBlock", str, operation="DescribeVpcs"),
             "InstanceTenancy": found.get("InstanceTenancy", "default"), "Tags": tag_list(found.get("Tags", []))}
    for attribute, name in (("enableDnsSupport", "EnableDnsSupport"), ("enableDnsHostnames", "EnableDnsHostnames")):
        value = _call("DescribeVpcAttribute", ec2.describe_vpc_attribute, VpcId=r.physical_id, Attribute=attribute)
        props[name] = need(need(value, name, Mapping, operation="DescribeVpcAttribute"), "Value", bool,
                           operation="DescribeVpcAttribute")
    default = _call("DescribeSecurityGroups", ec2.describe_security_groups, Filters=[
        {"Name": "vpc-id", "Values": [r.physical_id]}, {"Name": "group-name", "Values": ["default"]}])
    groups = default.get("SecurityGroups") or []
    if len(groups) == 1 and isinstance(groups[0], Mapping) and "GroupId" in groups[0]:
        props[ATTRIBUTES] = {"DefaultSecurityGroup": groups[0]["GroupId"], "CidrBlock": props["CidrBlock"]}
    return props


@reader("AWS::EC2::Subnet", ("ec2:DescribeSubnets",), "VpcId CidrBlock AvailabilityZone MapPublicIpOnLaunch Tags")
def subnet(ctx: ReadContext, r: Declared) -> dict[str, Any]:
    op = "DescribeSubnets"
    found = _one_of_all(ctx, op, "AWS::EC2::Subnet", r.physical_id, "subnet", "SubnetId",
                        _ec2_page(ctx, "describe_subnets", op, "subnet-id", "Subnets"))
    return {"VpcId": need(found, "VpcId", str, operation=op), "CidrBlock": need(found, "CidrBlock", str, operation=op),
            "AvailabilityZone": need(found, "AvailabilityZone", str, operation=op),
            "MapPublicIpOnLaunch": need(found, "MapPublicIpOnLaunch", bool, operation=op),
            "Tags": tag_list(found.get("Tags", []))}


@reader("AWS::EC2::FlowLog", ("ec2:DescribeFlowLogs",),
        "ResourceId ResourceType TrafficType LogDestinationType LogGroupName DeliverLogsPermissionArn Tags")
def flow_log(ctx: ReadContext, r: Declared) -> dict[str, Any]:
    op = "DescribeFlowLogs"
    answer = _call(op, ctx.aws.client("ec2").describe_flow_logs, FlowLogIds=[r.physical_id])
    found = _only(answer.get("FlowLogs"), f"flow log {r.physical_id}", op)
    resource = need(found, "ResourceId", str, operation=op)
    props = {"ResourceId": resource, "TrafficType": need(found, "TrafficType", str, operation=op),
             "ResourceType": {"vpc": "VPC", "subnet": "Subnet", "eni": "NetworkInterface"}.get(
                 resource.split("-", 1)[0], "VPC"),
             "LogDestinationType": found.get("LogDestinationType", "cloud-watch-logs"),
             "Tags": tag_list(found.get("Tags", []))}
    for key in ("LogGroupName", "DeliverLogsPermissionArn"):
        if key in found:
            props[key] = found[key]
    return props


# --- IAM -------------------------------------------------------------------------------------------

def _declared_inline_policies(ctx: ReadContext, role_name: str) -> set[str]:
    """Inline policies that AWS::IAM::Policy resources of the stack attach to `role_name` (they are read as their
    own resources, not as the role's Policies)."""
    names = set()
    for policy in ctx.scope.of_type("AWS::IAM::Policy"):
        roles = ctx.resolve(policy.properties.get("Roles", []))
        if isinstance(roles, list) and role_name in roles:
            names.add(str(ctx.resolve(policy.properties.get("PolicyName"))))
    return names


@reader("AWS::IAM::Role", ("iam:GetRole", "iam:ListAttachedRolePolicies", "iam:ListRolePolicies",
                           "iam:GetRolePolicy"),
        "RoleName AssumeRolePolicyDocument Description ManagedPolicyArns Policies Tags")
def iam_role(ctx: ReadContext, r: Declared) -> dict[str, Any]:
    iam = ctx.aws.client("iam")
    role = need(_call("GetRole", iam.get_role, "NoSuchEntity", RoleName=r.physical_id), "Role", Mapping,
                operation="GetRole")
    attached = [p["PolicyArn"] for page in iam.get_paginator("list_attached_role_policies").paginate(
        RoleName=r.physical_id) for p in need(page, "AttachedPolicies", list, operation="ListAttachedRolePolicies")]
    inline_names = [n for page in iam.get_paginator("list_role_policies").paginate(RoleName=r.physical_id)
                    for n in need(page, "PolicyNames", list, operation="ListRolePolicies")]
    own = sorted(set(inline_names) - _declared_inline_policies(ctx, r.physical_id))
    policies = []
    for name in own:
        document = _call("GetRolePolicy", iam.get_role_policy, RoleName=r.physical_id, PolicyName=name)
        policies.append({"PolicyName": name, "PolicyDocument": _json(
            need(document, "PolicyDocument", (str, Mapping), operation="GetRolePolicy"), "GetRolePolicy",
            "PolicyDocument")})
    # Each name resolved on its own: a policy document may name what is not known yet (a group's id), its name not.
    declared_managed = {_resolved(ctx, arn) for arn in r.properties.get("ManagedPolicyArns") or []}
    declared_inline = {str(_resolved(ctx, p.get("PolicyName"))) for p in r.properties.get("Policies") or []
                       if isinstance(p, Mapping)}
    undeclared = [f"managed policy {arn} attached" for arn in sorted(attached) if arn not in declared_managed]
    undeclared += [f"inline policy {name}" for name in own if name not in declared_inline]
    props = {"RoleName": r.physical_id, "ManagedPolicyArns": sorted(attached), "Policies": policies,
             "AssumeRolePolicyDocument": _json(need(role, "AssumeRolePolicyDocument", (str, Mapping),
                                                    operation="GetRole"), "GetRole", "AssumeRolePolicyDocument"),
             "Tags": tag_list(role.get("Tags", [])), FACTS: {UNDECLARED: undeclared}}
    if role.get("Description"):
        props["Description"] = role["Description"]
    return props


@reader("AWS::IAM::Policy", ("iam:GetRolePolicy",), "PolicyName PolicyDocument Roles")
def iam_policy(ctx: ReadContext, r: Declared) -> dict[str, Any]:
    iam = ctx.aws.client("iam")
    name = ctx.resolve(r.properties.get("PolicyName"))
    roles = ctx.resolve(r.properties.get("Roles", []))
    if not isinstance(roles, list) or not roles:
        raise MalformedAnswer("the declared policy is attached to no role; there is nothing to read it from")
    documents = []
    for role in roles:
        answer = _call("GetRolePolicy", iam.get_role_policy, "NoSuchEntity", RoleName=role, PolicyName=name)
        documents.append(_json(need(answer, "PolicyDocument", (str, Mapping), operation="GetRolePolicy"),
                               "GetRolePolicy", "PolicyDocument"))
    if any(d != documents[0] for d in documents):
        raise MalformedAnswer(f"policy {name} differs between the roles it is attached to")
    return {"PolicyName": name, "PolicyDocument": documents[0], "Roles": roles}


# --- Application Auto Scaling ----------------------------------------------------------------------

@reader("AWS::ApplicationAutoScaling::ScalableTarget", ("application-autoscaling:DescribeScalableTargets",),
        "ServiceNamespace ResourceId ScalableDimension MinCapacity MaxCapacity")
def scalable_target(ctx: ReadContext, r: Declared) -> dict[str, Any]:
    namespace = ctx.resolve(r.properties.get("ServiceNamespace"))
    resource_id = ctx.resolve(r.properties.get("ResourceId"))
    dimension = ctx.resolve(r.properties.get("ScalableDimension"))
    op = "DescribeScalableTargets"
    answer = _call(op, ctx.aws.client("application-autoscaling").describe_scalable_targets,
                   ServiceNamespace=namespace, ResourceIds=[resource_id], ScalableDimension=dimension)
    target = _only(answer.get("ScalableTargets"), f"scalable target {resource_id}", op)
    return {"ServiceNamespace": namespace, "ResourceId": resource_id, "ScalableDimension": dimension,
            "MinCapacity": need(target, "MinCapacity", int, operation=op),
            "MaxCapacity": need(target, "MaxCapacity", int, operation=op)}


@reader("AWS::ApplicationAutoScaling::ScalingPolicy", ("application-autoscaling:DescribeScalingPolicies",),
        "PolicyName PolicyType TargetTrackingScalingPolicyConfiguration")
def scaling_policy(ctx: ReadContext, r: Declared) -> dict[str, Any]:
    target = ctx.scope.by_logical_id().get(_ref_target(r.properties.get("ScalingTargetId")) or "")
    if target is None:
        raise MalformedAnswer("the declared scaling policy's ScalingTargetId is not a target of this stack")
    namespace = ctx.resolve(target.properties.get("ServiceNamespace"))
    resource_id = ctx.resolve(target.properties.get("ResourceId"))
    name = ctx.resolve(r.properties.get("PolicyName"))
    op = "DescribeScalingPolicies"

    def every_policy_of_the_resource() -> list[Any]:
        pages = ctx.aws.client("application-autoscaling").get_paginator("describe_scaling_policies").paginate(
            ServiceNamespace=namespace, ResourceId=resource_id)
        return [p for page in pages for p in need(page, "ScalingPolicies", list, operation=op)]

    # One answer per scaled resource, shared by its policies (the stack gives one service three).
    policies = [p for p in ctx.once(op, f"{namespace} {resource_id}", every_policy_of_the_resource)
                if isinstance(p, Mapping) and p.get("PolicyName") == name]
    policy = _only(policies, f"scaling policy {name}", op)
    props: dict[str, Any] = {"PolicyName": name, "PolicyType": need(policy, "PolicyType", str, operation=op)}
    if "TargetTrackingScalingPolicyConfiguration" in policy:
        props["TargetTrackingScalingPolicyConfiguration"] = policy["TargetTrackingScalingPolicyConfiguration"]
    return props


def _ref_target(value: Any) -> str | None:
    if isinstance(value, Mapping) and isinstance(value.get("Ref"), str):
        return value["Ref"]
    return None


# --- Elastic Load Balancing ------------------------------------------------------------------------

def _elb_tags(ctx: ReadContext, arn: str) -> list[dict[str, str]]:
    answer = _call("DescribeTags", ctx.aws.client("elbv2").describe_tags, ResourceArns=[arn])
    described = _only(need(answer, "TagDescriptions", list, operation="DescribeTags"), f"tags of {arn}",
                      "DescribeTags")
    return tag_list(need(described, "Tags", list, operation="DescribeTags"))


@reader("AWS::ElasticLoadBalancingV2::LoadBalancer", ("elbv2:DescribeLoadBalancers",
                                                      "elbv2:DescribeLoadBalancerAttributes",
                                                      "elbv2:DescribeTags"),
        "Name Scheme Type Subnets SecurityGroups LoadBalancerAttributes Tags")
def load_balancer(ctx: ReadContext, r: Declared) -> dict[str, Any]:
    elb = ctx.aws.client("elbv2")
    op = "DescribeLoadBalancers"
    answer = _call(op, elb.describe_load_balancers, "LoadBalancerNotFound", LoadBalancerArns=[r.physical_id])
    lb = _only(answer.get("LoadBalancers"), f"load balancer {r.physical_id}", op)
    attributes = _call("DescribeLoadBalancerAttributes", elb.describe_load_balancer_attributes,
                       LoadBalancerArn=r.physical_id)
    return {ATTRIBUTES: {"DNSName": lb.get("DNSName"), "LoadBalancerFullName": r.physical_id.split("loadbalancer/")[-1]},
            "Name": need(lb, "LoadBalancerName", str, operation=op), "Scheme": need(lb, "Scheme", str, operation=op),
            "Tags": _elb_tags(ctx, r.physical_id),
            "Type": need(lb, "Type", str, operation=op),
            "Subnets": sorted(z["SubnetId"] for z in lb.get("AvailabilityZones", []) if "SubnetId" in z),
            "SecurityGroups": sorted(lb.get("SecurityGroups", [])),
            # Only the attributes the stack sets: the rest are AWS's defaults, not part of the declaration.
            "LoadBalancerAttributes": [a for a in need(attributes, "Attributes", list,
                                                       operation="DescribeLoadBalancerAttributes")
                                       if isinstance(a, Mapping) and a.get("Key") in _declared_keys(r)]}


def _declared_keys(r: Declared) -> set[str]:
    return {a.get("Key") for a in r.properties.get("LoadBalancerAttributes", []) if isinstance(a, Mapping)}


@reader("AWS::ElasticLoadBalancingV2::Listener", ("elbv2:DescribeListeners",),
        "LoadBalancerArn Port Protocol DefaultActions")
def listener(ctx: ReadContext, r: Declared) -> dict[str, Any]:
    op = "DescribeListeners"
    answer = _call(op, ctx.aws.client("elbv2").describe_listeners, "ListenerNotFound", ListenerArns=[r.physical_id])
    found = _only(answer.get("Listeners"), f"listener {r.physical_id}", op)
    return {"LoadBalancerArn": need(found, "LoadBalancerArn", str, operation=op),
            "Port": need(found, "Port", int, operation=op), "Protocol": need(found, "Protocol", str, operation=op),
            "DefaultActions": [{k: v for k, v in a.items() if k in ("Type", "TargetGroupArn")}
                               for a in found.get("DefaultActions", [])]}


@reader("AWS::ElasticLoadBalancingV2::TargetGroup", ("elbv2:DescribeTargetGroups",
                                                     "elbv2:DescribeTags"),
        "Name Port Protocol TargetType VpcId HealthCheckProtocol HealthCheckPath HealthCheckIntervalSeconds "
        "HealthyThresholdCount UnhealthyThresholdCount Tags")
def target_group(ctx: ReadContext, r: Declared) -> dict[str, Any]:
    op = "DescribeTargetGroups"
    answer = _call(op, ctx.aws.client("elbv2").describe_target_groups, "TargetGroupNotFound",
                   TargetGroupArns=[r.physical_id])
    found = _only(answer.get("TargetGroups"), f"target group {r.physical_id}", op)
    props = {"Name": need(found, "TargetGroupName", str, operation=op), "Tags": _elb_tags(ctx, r.physical_id)}
    for key in ("Port", "Protocol", "TargetType", "VpcId", "HealthCheckProtocol", "HealthCheckPath",
                "HealthCheckIntervalSeconds", "HealthyThresholdCount", "UnhealthyThresholdCount"):
        if key in found:
            props[key] = found[key]
    return props


# --- Routing (what makes a subnet public) ----------------------------------------------------------

def _route_table(ctx: ReadContext, table_id: str) -> Mapping[str, Any]:
    op = "DescribeRouteTables"
    return _one_of_all(ctx, op, "AWS::EC2::RouteTable", table_id, "route table", "RouteTableId",
                       _ec2_page(ctx, "describe_route_tables", op, "route-table-id", "RouteTables"))


@reader("AWS::EC2::RouteTable", ("ec2:DescribeRouteTables",), "VpcId Tags")
def route_table(ctx: ReadContext, r: Declared) -> dict[str, Any]:
    table = _route_table(ctx, r.physical_id)
    declared = {_resolved(ctx, d.properties.get("DestinationCidrBlock")) for d in ctx.scope.of_type("AWS::EC2::Route")
                if _resolved(ctx, d.properties.get("RouteTableId")) == r.physical_id}
    endpoints = {_resolved(ctx, {"Ref": d.logical_id}) for d in ctx.scope.of_type("AWS::EC2::VPCEndpoint")
                 if r.physical_id in {_resolved(ctx, t) for t in d.properties.get("RouteTableIds") or []}}
    undeclared = []
    for found in need(table, "Routes", list, operation="DescribeRouteTables"):
        if not isinstance(found, Mapping):
            continue
        target = next((str(found[k]) for k in ("GatewayId", "NatGatewayId", "TransitGatewayId",
                                               "VpcPeeringConnectionId", "NetworkInterfaceId", "InstanceId",
                                               "EgressOnlyInternetGatewayId", "CarrierGatewayId",
                                               "LocalGatewayId", "CoreNetworkArn") if found.get(k)), "?")
        destination = found.get("DestinationCidrBlock") or found.get("DestinationIpv6CidrBlock") or \
            found.get("DestinationPrefixListId")
        if target == "local" or destination in declared or (found.get("DestinationPrefixListId") and
                                                           target in endpoints):
            continue  # the VPC's own route, a declared route, or a declared gateway endpoint's
        undeclared.append(f"route {destination} -> {target}")
    return {"VpcId": need(table, "VpcId", str, operation="DescribeRouteTables"),
            "Tags": tag_list(table.get("Tags", [])), FACTS: {UNDECLARED: undeclared}}


@reader("AWS::EC2::Route", ("ec2:DescribeRouteTables",),
        "RouteTableId DestinationCidrBlock GatewayId NatGatewayId")
def route(ctx: ReadContext, r: Declared) -> dict[str, Any]:
    table_id = ctx.resolve(r.properties.get("RouteTableId"))
    destination = ctx.resolve(r.properties.get("DestinationCidrBlock"))
    table = _route_table(ctx, table_id)
    routes = [x for x in need(table, "Routes", list, operation="DescribeRouteTables")
              if isinstance(x, Mapping) and x.get("DestinationCidrBlock") == destination]
    found = _only(routes, f"route to {destination} in {table_id}", "DescribeRouteTables")
    props = {"RouteTableId": table_id, "DestinationCidrBlock": destination}
    for key in ("GatewayId", "NatGatewayId"):  # a route has one target: the other is read as not set
        props[key] = found.get(key) or None
    return props


@reader("AWS::EC2::SubnetRouteTableAssociation", ("ec2:DescribeRouteTables",), "RouteTableId SubnetId")
def route_table_association(ctx: ReadContext, r: Declared) -> dict[str, Any]:
    subnet_id = ctx.resolve(r.properties.get("SubnetId"))
    op = "DescribeRouteTables"

    def subnets(table: Mapping[str, Any]) -> list[str]:  # the subnets a table is associated with
        return [a["SubnetId"] for a in need(table, "Associations", list, operation=op)
                if isinstance(a, Mapping) and isinstance(a.get("SubnetId"), str)]

    # The table that holds the subnet's association, whichever it is (the declared one or not: that is drift).
    table = _one_of_all(ctx, op, "AWS::EC2::Subnet", subnet_id, "route table of subnet", subnets,
                        _ec2_page(ctx, "describe_route_tables", op, "association.subnet-id", "RouteTables"))
    return {"SubnetId": subnet_id, "RouteTableId": need(table, "RouteTableId", str, operation=op)}


@reader("AWS::EC2::InternetGateway", ("ec2:DescribeInternetGateways",), "Tags")
def internet_gateway(ctx: ReadContext, r: Declared) -> dict[str, Any]:
    op = "DescribeInternetGateways"
    answer = _call(op, ctx.aws.client("ec2").describe_internet_gateways, "InvalidInternetGatewayID.NotFound",
                   InternetGatewayIds=[r.physical_id])
    found = _only(answer.get("InternetGateways"), f"internet gateway {r.physical_id}", op)
    return {"Tags": tag_list(found.get("Tags", []))}


@reader("AWS::ElastiCache::SubnetGroup", ("elasticache:DescribeCacheSubnetGroups", "elasticache:ListTagsForResource"),
        "CacheSubnetGroupName Description SubnetIds Tags")
def cache_subnet_group(ctx: ReadContext, r: Declared) -> dict[str, Any]:
    op = "DescribeCacheSubnetGroups"
    answer = _call(op, ctx.aws.client("elasticache").describe_cache_subnet_groups, "CacheSubnetGroupNotFoundFault",
                   CacheSubnetGroupName=r.physical_id)
    group = _only(answer.get("CacheSubnetGroups"), f"cache subnet group {r.physical_id}", op)
    tags = _listed_tags(ctx.aws.client("elasticache").list_tags_for_resource, "TagList",
                        ResourceName=need(group, "ARN", str, operation=op))
    return {"CacheSubnetGroupName": r.physical_id, "Tags": tags,
            "Description": group.get("CacheSubnetGroupDescription", ""),
            "SubnetIds": sorted(s["SubnetIdentifier"] for s in need(group, "Subnets", list, operation=op)
                                if isinstance(s, Mapping) and "SubnetIdentifier" in s)}


# --- WAF, API keys and links, alarms ----------------------------------------------------------------

@reader("AWS::WAFv2::WebACL", ("wafv2:GetWebACL", "wafv2:ListTagsForResource"),
        "Name Scope DefaultAction Rules VisibilityConfig Tags")
def web_acl(ctx: ReadContext, r: Declared) -> dict[str, Any]:
    try:
        name, acl_id, scope = r.physical_id.split("|")
    except ValueError:
        raise MalformedAnswer(f"web ACL id {r.physical_id!r} is not name|id|scope") from None
    waf = ctx.aws.client("wafv2")
    answer = _call("GetWebACL", waf.get_web_acl, "WAFNonexistentItemException", Name=name, Scope=scope, Id=acl_id)
    acl = need(answer, "WebACL", Mapping, operation="GetWebACL")
    arn = need(acl, "ARN", str, operation="GetWebACL")
    tag_list_read: list[Any] = []
    markers: set[str] = set()
    marker: str | None = None
    while True:  # WAF pages its tags (NextMarker); botocore has no paginator for it
        page = _call("ListTagsForResource", waf.list_tags_for_resource, ResourceARN=arn,
                     **({"NextMarker": marker} if marker else {}))
        info = need(page, "TagInfoForResource", Mapping, operation="ListTagsForResource")  # AWS always returns it
        tag_list_read += need(info, "TagList", list, operation="ListTagsForResource") if "TagList" in info else []
        marker = page.get("NextMarker")
        if not marker:
            break
        if marker in markers:  # an endpoint that pages in a circle would hold the read forever
            raise MalformedAnswer(f"ListTagsForResource answered NextMarker {marker[:40]!r} twice")
        markers.add(marker)
    return {"Name": need(acl, "Name", str, operation="GetWebACL"), "Scope": scope,
            "DefaultAction": need(acl, "DefaultAction", Mapping, operation="GetWebACL"),
            "Rules": need(acl, "Rules", list, operation="GetWebACL"),
            "VisibilityConfig": need(acl, "VisibilityConfig", Mapping, operation="GetWebACL"),
            "Tags": tag_list(tag_list_read),
            ATTRIBUTES: {"Arn": acl["ARN"], "Id": acl_id}}


@reader("AWS::WAFv2::WebACLAssociation", ("wafv2:GetWebACLForResource",), "ResourceArn WebACLArn")
def web_acl_association(ctx: ReadContext, r: Declared) -> dict[str, Any]:
    resource = ctx.resolve(r.properties.get("ResourceArn"))
    answer = _call("GetWebACLForResource", ctx.aws.client("wafv2").get_web_acl_for_resource,
                   "WAFNonexistentItemException", ResourceArn=resource)
    acl = answer.get("WebACL")
    if not isinstance(acl, Mapping):
        raise NotFound(f"no web ACL is associated with {resource}")
    return {"ResourceArn": resource, "WebACLArn": need(acl, "ARN", str, operation="GetWebACLForResource")}


@reader("AWS::WAFv2::LoggingConfiguration", ("wafv2:GetLoggingConfiguration",),
        "ResourceArn LogDestinationConfigs")
def waf_logging(ctx: ReadContext, r: Declared) -> dict[str, Any]:
    resource = ctx.resolve(r.properties.get("ResourceArn"))
    answer = _call("GetLoggingConfiguration", ctx.aws.client("wafv2").get_logging_configuration,
                   "WAFNonexistentItemException", ResourceArn=resource)
    config = need(answer, "LoggingConfiguration", Mapping, operation="GetLoggingConfiguration")
    return {"ResourceArn": resource, "LogDestinationConfigs": need(config, "LogDestinationConfigs", list,
                                                                   operation="GetLoggingConfiguration")}


@reader("AWS::ApiGateway::ApiKey", ("apigateway:GetApiKey",), "Name Enabled StageKeys Tags")
def api_key(ctx: ReadContext, r: Declared) -> dict[str, Any]:
    # includeValue stays False: opscli never reads the key itself.
    key = _call("GetApiKey", ctx.aws.client("apigateway").get_api_key, "NotFoundException", apiKey=r.physical_id,
                includeValue=False)
    stage_keys = []
    for item in key.get("stageKeys", []):  # "restApiId/stageName" (the answer's types are checked in aws.py)
        api_id, _, stage = item.partition("/")
        stage_keys.append({"RestApiId": api_id, "StageName": stage})
    return {"Name": need(key, "name", str, operation="GetApiKey"), "Enabled": bool(key.get("enabled", False)),
            "StageKeys": stage_keys, "Tags": tag_list(key.get("tags", {}))}


@reader("AWS::ApiGateway::VpcLink", ("apigateway:GetVpcLink",), "Name TargetArns Tags")
def vpc_link(ctx: ReadContext, r: Declared) -> dict[str, Any]:
    link = _call("GetVpcLink", ctx.aws.client("apigateway").get_vpc_link, "NotFoundException", vpcLinkId=r.physical_id)
    return {"Name": need(link, "name", str, operation="GetVpcLink"),
            "TargetArns": need(link, "targetArns", list, operation="GetVpcLink"), "Tags": tag_list(link.get("tags", {}))}


@reader("AWS::CloudWatch::Alarm", ("cloudwatch:DescribeAlarms", "cloudwatch:ListTagsForResource"),
        "ActionsEnabled AlarmActions ComparisonOperator DatapointsToAlarm Dimensions EvaluationPeriods "
        "ExtendedStatistic MetricName Namespace Period Statistic Threshold TreatMissingData Tags")
def alarm(ctx: ReadContext, r: Declared) -> dict[str, Any]:
    cloudwatch = ctx.aws.client("cloudwatch")

    def page(names: list[str], token: str | None) -> tuple[Any, str | None]:
        answer = _call("DescribeAlarms", cloudwatch.describe_alarms, AlarmNames=names, AlarmTypes=["MetricAlarm"],
                       **({"NextToken": token} if token else {}))
        return answer.get("MetricAlarms"), answer.get("NextToken")

    found = _one_of_all(ctx, "DescribeAlarms", "AWS::CloudWatch::Alarm", r.physical_id, "alarm", "AlarmName", page)
    props: dict[str, Any] = {}
    for key in ("ActionsEnabled", "AlarmActions", "ComparisonOperator", "DatapointsToAlarm", "Dimensions",
                "EvaluationPeriods", "ExtendedStatistic", "MetricName", "Namespace", "Period", "Statistic", "Threshold",
                "TreatMissingData"):
        if key in found:
            props[key] = found[key]
    props["Tags"] = _listed_tags(cloudwatch.list_tags_for_resource, "Tags",
                                 ResourceARN=need(found, "AlarmArn", str, operation="DescribeAlarms"))
    return props


@reader("AWS::EC2::EIP", ("ec2:DescribeAddresses",), "Domain Tags")
def elastic_ip(ctx: ReadContext, r: Declared) -> dict[str, Any]:
    op = "DescribeAddresses"
    answer = _call(op, ctx.aws.client("ec2").describe_addresses, "InvalidAddress.NotFound", PublicIps=[r.physical_id])
    found = _only(answer.get("Addresses"), f"address {r.physical_id}", op)
    return {"Domain": need(found, "Domain", str, operation=op), "Tags": tag_list(found.get("Tags", [])),
            ATTRIBUTES: {"AllocationId": found.get("AllocationId")}}


@reader("AWS::EC2::NatGateway", ("ec2:DescribeNatGateways",), "SubnetId AllocationId Tags")
def nat_gateway(ctx: ReadContext, r: Declared) -> dict[str, Any]:
    op = "DescribeNatGateways"
    answer = _call(op, ctx.aws.client("ec2").describe_nat_gateways, "NatGatewayNotFound", NatGatewayIds=[r.physical_id])
    found = _only(answer.get("NatGateways"), f"NAT gateway {r.physical_id}", op)
    addresses = found.get("NatGatewayAddresses") or [{}]
    props = {"SubnetId": need(found, "SubnetId", str, operation=op), "Tags": tag_list(found.get("Tags", []))}
    if isinstance(addresses[0], Mapping) and addresses[0].get("AllocationId"):
        props["AllocationId"] = addresses[0]["AllocationId"]
    return props


@reader("AWS::Lambda::Function", ("lambda:GetFunction",), "Runtime Handler MemorySize Timeout Role Description Tags")
def lambda_function(ctx: ReadContext, r: Declared) -> dict[str, Any]:
    op = "GetFunction"
    answer = _call(op, ctx.aws.client("lambda").get_function, "ResourceNotFoundException", FunctionName=r.physical_id)
    config = need(answer, "Configuration", Mapping, operation=op)
    props = {k: config[k] for k in ("Runtime", "Handler", "MemorySize", "Timeout", "Role", "Description")
             if k in config}
    props["Tags"] = tag_list(answer.get("Tags") or {})
    return props
