"""The ARN of every resource the stack declares, so that a finding names its resource as AWS does (Security Hub
joins findings with its own controls and with AWS Config on `Resources[].Id`, the ARN).

One table, `ARNS`, says for each declared type where its ARN comes from:
- `Own`: the type has an ARN, in the format AWS's service authorization reference publishes for it (the
  formats are copied here, as opscli ships without that data; tests/opscli/test_arns.py holds every one against
  the reference). Taken, in this order, from the live read's own ARN attribute where the reader answers one
  (the attribute named is one the type's CloudFormation schema declares read-only), from the physical id where
  CloudFormation's Ref is the ARN, else filled in from the physical id, the declared properties (resolved
  against the stack) and the read's attributes, with the partition, region and account. An ARN that does not
  fit the format (another account's, a malformed answer) is not used.
- `Parent`: the type has no ARN of its own that Security Hub or AWS Config record (a security group's rule,
  a route, a bucket's policy, an attachment, an inline policy): its findings name the resource(s) it belongs
  to, by the property that refers to them, with their ARNs.
A type without an entry, or whose ARN cannot be made (not deployed: no physical id; a piece the read did not
answer), has none: opscli.fleet then names it `Other` with the stable id STACK/LOGICAL-ID.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass
from typing import Any

from platform_spec.intrinsics import Unresolvable, references

PARTITION = "aws"
MAX_PARENT_DEPTH = 3  # a scaling policy -> its scalable target -> the ECS service is the longest chain declared
# An account id, and a region code as AWS names them (us-east-1, ap-northeast-1, us-gov-west-1, cn-north-1,
# us-isob-east-1): what the ARN formats' ${Account} and ${Region} hold.
ACCOUNT = re.compile(r"\d{12}")
REGION = re.compile(r"[a-z]{2}(?:-[a-z]+)+-\d{1,2}")


@dataclass(frozen=True)
class Parts:
    """An ARN's fields: arn:partition:service:region:account:resource (region and account empty where the
    service's format has none: an S3 bucket, an IAM role)."""

    partition: str
    service: str
    region: str
    account: str
    resource: str


def split(text: Any) -> Parts | None:
    """The fields of an ARN; None for anything that is not one (fewer than six fields, an empty service or
    resource)."""
    if not isinstance(text, str) or not text.startswith("arn:"):
        return None
    fields = text.split(":", 5)
    if len(fields) != 6 or not fields[1] or not fields[2] or not fields[5]:
        return None
    return Parts(*fields[1:])


@dataclass(frozen=True)
class Located:
    """An ARN and the CloudFormation type of the resource it names (the finding's own, or its parent's)."""

    arn: str
    type: str


@dataclass(frozen=True)
class Pieces:
    """What a format's placeholders are filled from: the physical id, the declared properties as resolved
    against the stack (None where they cannot be), and the live read's attributes."""

    physical_id: str
    prop: Callable[[str], Any]
    attributes: Mapping[str, Any]


@dataclass(frozen=True)
class Own:
    """A type with an ARN of its own: the service authorization reference's service prefix and the format(s)
    it publishes for the type (the first whose placeholders `fill` answers is used), where the ARN comes from."""

    service: str
    formats: tuple[str, ...]
    fill: Callable[[Pieces], Mapping[str, Any]] = lambda p: {}
    attribute: str | None = None  # the GetAtt attribute that is this ARN, when the reader answers it
    physical_is_arn: bool = False  # CloudFormation's Ref returns the ARN


@dataclass(frozen=True)
class Parent:
    """A type without an ARN of its own: its findings name the resources its `properties` refer to (of
    `types`, when given), or the ARNs those properties hold."""

    properties: tuple[str, ...]
    why: str
    types: tuple[str, ...] = ()


def _tail(separator: str) -> Callable[[Pieces], str]:
    return lambda p: p.physical_id.rsplit(separator, 1)[-1]


def _pid(name: str) -> Callable[[Pieces], Mapping[str, Any]]:
    return lambda p: {name: p.physical_id}


def _web_acl(p: Pieces) -> Mapping[str, Any]:
    parts = p.physical_id.split("|")  # CloudFormation's Ref: Name|Id|Scope
    if len(parts) != 3:
        return {}
    return {"Name": parts[0], "Id": parts[1], "Scope": "global" if parts[2] == "CLOUDFRONT" else "regional"}


def _rule(p: Pieces) -> Mapping[str, Any]:
    bus, _, name = p.physical_id.rpartition("|")  # CloudFormation's Ref: the name, or bus|name on another bus
    bus = bus or p.prop("EventBusName") or "default"
    return {"RuleName": name, **({"EventBusName": bus} if bus != "default" else {})}


def _role(p: Pieces) -> Mapping[str, Any]:
    path = p.prop("Path") or "/"
    return {"RoleNameWithPath": f"{path.strip('/')}/{p.physical_id}".lstrip("/")} if isinstance(path, str) else {}


_APIGW = "arn:${Partition}:apigateway:${Region}::"
_EC2 = "arn:${Partition}:ec2:${Region}:${Account}:"

ARNS: dict[str, Own | Parent] = {
    "AWS::ApiGateway::Account": Own("apigateway", (f"{_APIGW}/account",)),
    "AWS::ApiGateway::ApiKey": Own("apigateway", (f"{_APIGW}/apikeys/${{ApiKeyId}}",), _pid("ApiKeyId")),
    "AWS::ApiGateway::Deployment": Own(
        "apigateway", (f"{_APIGW}/restapis/${{RestApiId}}/deployments/${{DeploymentId}}",),
        lambda p: {"RestApiId": p.prop("RestApiId"), "DeploymentId": p.physical_id}),
    "AWS::ApiGateway::Method": Own(
        "apigateway", (f"{_APIGW}/restapis/${{RestApiId}}/resources/${{ResourceId}}/methods/${{HttpMethodType}}",),
        lambda p: {"RestApiId": p.prop("RestApiId"), "ResourceId": p.prop("ResourceId"),
                   "HttpMethodType": p.prop("HttpMethod")}),
    "AWS::ApiGateway::RequestValidator": Own(
        "apigateway", (f"{_APIGW}/restapis/${{RestApiId}}/requestvalidators/${{RequestValidatorId}}",),
        lambda p: {"RestApiId": p.prop("RestApiId"), "RequestValidatorId": p.physical_id}),
    "AWS::ApiGateway::Resource": Own(
        "apigateway", (f"{_APIGW}/restapis/${{RestApiId}}/resources/${{ResourceId}}",),
        lambda p: {"RestApiId": p.prop("RestApiId"), "ResourceId": p.physical_id}),
    "AWS::ApiGateway::RestApi": Own("apigateway", (f"{_APIGW}/restapis/${{RestApiId}}",), _pid("RestApiId")),
    "AWS::ApiGateway::Stage": Own(
        "apigateway", (f"{_APIGW}/restapis/${{RestApiId}}/stages/${{StageName}}",),
        lambda p: {"RestApiId": p.prop("RestApiId"), "StageName": p.physical_id}),
    "AWS::ApiGateway::UsagePlan": Own("apigateway", (f"{_APIGW}/usageplans/${{UsagePlanId}}",),
                                      _pid("UsagePlanId")),
    "AWS::ApiGateway::UsagePlanKey": Own(
        "apigateway", (f"{_APIGW}/usageplans/${{UsagePlanId}}/keys/${{Id}}",),
        lambda p: {"UsagePlanId": p.prop("UsagePlanId"), "Id": p.prop("KeyId")}),
    "AWS::ApiGateway::VpcLink": Own("apigateway", (f"{_APIGW}/vpclinks/${{VpcLinkId}}",), _pid("VpcLinkId")),
    "AWS::ApplicationAutoScaling::ScalableTarget": Parent(
        ("ResourceId",), "its ARN ends in an id only Application Auto Scaling's own answer carries (not "
        "CloudFormation's): the ECS service it scales", types=("AWS::ECS::Service",)),
    "AWS::ApplicationAutoScaling::ScalingPolicy": Parent(
        ("ScalingTargetId",), "the service authorization reference has no ARN for a scaling policy: the "
        "scalable target it acts on (and so the ECS service)"),
    "AWS::CloudWatch::Alarm": Own("cloudwatch", ("arn:${Partition}:cloudwatch:${Region}:${Account}:alarm:"
                                                  "${AlarmName}",), _pid("AlarmName"), "Arn"),
    "AWS::EC2::EIP": Own("ec2", (f"{_EC2}elastic-ip/${{AllocationId}}",),
                         lambda p: {"AllocationId": p.attributes.get("AllocationId")}),
    "AWS::EC2::FlowLog": Own("ec2", (f"{_EC2}vpc-flow-log/${{VpcFlowLogId}}",), _pid("VpcFlowLogId")),
    "AWS::EC2::InternetGateway": Own("ec2", (f"{_EC2}internet-gateway/${{InternetGatewayId}}",),
                                     _pid("InternetGatewayId")),
    "AWS::EC2::NatGateway": Own("ec2", (f"{_EC2}natgateway/${{NatGatewayId}}",), _pid("NatGatewayId")),
    "AWS::EC2::Route": Parent(("RouteTableId",), "a route is an entry of its route table"),
    "AWS::EC2::RouteTable": Own("ec2", (f"{_EC2}route-table/${{RouteTableId}}",), _pid("RouteTableId")),
    "AWS::EC2::SecurityGroup": Own("ec2", (f"{_EC2}security-group/${{SecurityGroupId}}",),
                                   _pid("SecurityGroupId")),
    "AWS::EC2::SecurityGroupEgress": Parent(
        ("GroupId",), "AWS Config and Security Hub record a rule as part of its security group (IAM's "
        "security-group-rule ARN names an sgr- id, which a rule declared apart may not have)"),
    "AWS::EC2::SecurityGroupIngress": Parent(
        ("GroupId",), "AWS Config and Security Hub record a rule as part of its security group (IAM's "
        "security-group-rule ARN names an sgr- id, which a rule declared apart may not have)"),
    "AWS::EC2::Subnet": Own("ec2", (f"{_EC2}subnet/${{SubnetId}}",), _pid("SubnetId")),
    "AWS::EC2::SubnetRouteTableAssociation": Parent(("SubnetId",), "an association decides how its subnet routes"),
    "AWS::EC2::VPC": Own("ec2", (f"{_EC2}vpc/${{VpcId}}",), _pid("VpcId")),
    "AWS::EC2::VPCGatewayAttachment": Parent(("VpcId",), "an attachment of a gateway to its VPC"),
    "AWS::ECS::Cluster": Own("ecs", ("arn:${Partition}:ecs:${Region}:${Account}:cluster/${ClusterName}",),
                             _pid("ClusterName"), "Arn"),
    "AWS::ECS::Service": Own("ecs", ("arn:${Partition}:ecs:${Region}:${Account}:service/${ClusterName}/"
                                     "${ServiceName}",), physical_is_arn=True),
    "AWS::ECS::TaskDefinition": Own("ecs", (
        "arn:${Partition}:ecs:${Region}:${Account}:task-definition/${TaskDefinitionFamilyName}:"
        "${TaskDefinitionRevisionNumber}",), physical_is_arn=True),
    "AWS::EFS::AccessPoint": Own("elasticfilesystem", (
        "arn:${Partition}:elasticfilesystem:${Region}:${Account}:access-point/${AccessPointId}",),
        _pid("AccessPointId"), "Arn"),
    "AWS::EFS::FileSystem": Own("elasticfilesystem", (
        "arn:${Partition}:elasticfilesystem:${Region}:${Account}:file-system/${FileSystemId}",),
        _pid("FileSystemId"), "Arn"),
    "AWS::EFS::MountTarget": Parent(("FileSystemId",), "the service authorization reference has no ARN for a "
                                                       "mount target: the file system it serves"),
    "AWS::ElastiCache::ReplicationGroup": Own("elasticache", (
        "arn:${Partition}:elasticache:${Region}:${Account}:replicationgroup:${ReplicationGroupId}",),
        _pid("ReplicationGroupId")),
    "AWS::ElastiCache::SubnetGroup": Own("elasticache", (
        "arn:${Partition}:elasticache:${Region}:${Account}:subnetgroup:${CacheSubnetGroupName}",),
        _pid("CacheSubnetGroupName")),
    "AWS::ElasticLoadBalancingV2::Listener": Own("elasticloadbalancing", tuple(
        f"arn:${{Partition}}:elasticloadbalancing:${{Region}}:${{Account}}:listener/{kind}/${{LoadBalancerName}}/"
        "${LoadBalancerId}/${ListenerId}" for kind in ("app", "net", "gwy")), physical_is_arn=True),
    "AWS::ElasticLoadBalancingV2::LoadBalancer": Own("elasticloadbalancing", tuple(
        f"arn:${{Partition}}:elasticloadbalancing:${{Region}}:${{Account}}:loadbalancer/{kind}/${{LoadBalancerName}}/"
        "${LoadBalancerId}" for kind in ("app", "net", "gwy")), physical_is_arn=True),
    "AWS::ElasticLoadBalancingV2::TargetGroup": Own("elasticloadbalancing", (
        "arn:${Partition}:elasticloadbalancing:${Region}:${Account}:targetgroup/${TargetGroupName}/"
        "${TargetGroupId}",), physical_is_arn=True),
    "AWS::Events::Rule": Own("events", (
        "arn:${Partition}:events:${Region}:${Account}:rule/${EventBusName}/${RuleName}",
        "arn:${Partition}:events:${Region}:${Account}:rule/${RuleName}"), _rule, "Arn"),
    "AWS::IAM::Policy": Parent(("Roles", "Users", "Groups"), "an inline policy has no ARN: the identities it is "
                                                            "embedded in"),
    "AWS::IAM::ManagedPolicy": Own("iam", ("arn:${Partition}:iam::${Account}:policy/${PolicyNameWithPath}",),
                                   physical_is_arn=True),
    "AWS::IAM::Role": Own("iam", ("arn:${Partition}:iam::${Account}:role/${RoleNameWithPath}",), _role,
                          "Arn"),
    "AWS::KMS::Alias": Own("kms", ("arn:${Partition}:kms:${Region}:${Account}:alias/${Alias}",),
                           lambda p: {"Alias": p.physical_id.removeprefix("alias/")}),
    "AWS::KMS::Key": Own("kms", ("arn:${Partition}:kms:${Region}:${Account}:key/${KeyId}",), _pid("KeyId"),
                         "Arn"),
    "AWS::Lambda::Function": Own("lambda", (
        "arn:${Partition}:lambda:${Region}:${Account}:function:${FunctionName}",), _pid("FunctionName"), "Arn"),
    # No attribute: the log group's GetAtt Arn ends in ":*" (its streams too), which is not the group's ARN.
    "AWS::Logs::LogGroup": Own("logs", (
        "arn:${Partition}:logs:${Region}:${Account}:log-group:${LogGroupName}",), _pid("LogGroupName")),
    "AWS::RDS::DBInstance": Own("rds", ("arn:${Partition}:rds:${Region}:${Account}:db:${DbInstanceName}",),
                                _pid("DbInstanceName"), "DBInstanceArn"),
    "AWS::RDS::DBParameterGroup": Own("rds", (
        "arn:${Partition}:rds:${Region}:${Account}:pg:${ParameterGroupName}",), _pid("ParameterGroupName"),
        "DBParameterGroupArn"),
    "AWS::RDS::DBSubnetGroup": Own("rds", (
        "arn:${Partition}:rds:${Region}:${Account}:subgrp:${SubnetGroupName}",), _pid("SubnetGroupName"),
        "DBSubnetGroupArn"),
    "AWS::S3::Bucket": Own("s3", ("arn:${Partition}:s3:::${BucketName}",), _pid("BucketName"), "Arn"),
    "AWS::S3::BucketPolicy": Parent(("Bucket",), "a bucket policy is a part of its bucket"),
    "AWS::Scheduler::Schedule": Own("scheduler", (
        "arn:${Partition}:scheduler:${Region}:${Account}:schedule/${GroupName}/${ScheduleName}",),
        lambda p: {"GroupName": p.prop("GroupName") or "default", "ScheduleName": p.physical_id}, "Arn"),
    "AWS::SNS::Topic": Own("sns", ("arn:${Partition}:sns:${Region}:${Account}:${TopicName}",),
                           physical_is_arn=True),
    "AWS::SNS::TopicPolicy": Parent(("Topics",), "a topic policy is a part of its topics"),
    "AWS::SQS::Queue": Own("sqs", ("arn:${Partition}:sqs:${Region}:${Account}:${QueueName}",),
                           lambda p: {"QueueName": _tail("/")(p)}, "Arn"),
    "AWS::SQS::QueuePolicy": Parent(("Queues",), "a queue policy is a part of its queues"),
    "AWS::WAFv2::LoggingConfiguration": Parent(("ResourceArn",), "the logging settings of its web ACL"),
    "AWS::WAFv2::WebACL": Own("wafv2", (
        "arn:${Partition}:wafv2:${Region}:${Account}:${Scope}/webacl/${Name}/${Id}",), _web_acl, "Arn"),
    "AWS::WAFv2::WebACLAssociation": Parent(("ResourceArn",), "an association protects the resource it names (as "
                                                              "Security Hub's own controls report it)"),
    "Custom::S3AutoDeleteObjects": Parent(("BucketName",), "a deployment-time custom resource: the bucket it "
                                                           "empties"),
    "Custom::VpcRestrictDefaultSG": Parent(("DefaultSecurityGroupId",), "a deployment-time custom resource: the "
                                                                        "VPC whose default security group it "
                                                                        "empties"),
}

_PLACEHOLDER = re.compile(r"\$\{([A-Za-z]+)\}")


def pattern(fmt: str, *, partition: str, region: str, account: str) -> re.Pattern[str]:
    """A format as a pattern that only ARNs of this partition, region and account match."""
    fixed = {"Partition": partition, "Region": region, "Account": account}
    out, last = [], 0
    for m in _PLACEHOLDER.finditer(fmt):
        out.append(re.escape(fmt[last:m.start()]))
        out.append(re.escape(fixed[m.group(1)]) if m.group(1) in fixed else r"[^\s]+")
        last = m.end()
    return re.compile("".join(out) + re.escape(fmt[last:]))


def fits(spec: Own, arn: Any, *, partition: str, region: str, account: str) -> bool:
    return isinstance(arn, str) and any(pattern(f, partition=partition, region=region, account=account)
                                        .fullmatch(arn) for f in spec.formats)


def _filled(spec: Own, values: Mapping[str, Any], *, partition: str, region: str, account: str) -> str | None:
    """The first format whose every placeholder has a value (a non-empty string without whitespace)."""
    given = {**{k: v for k, v in values.items() if isinstance(v, str) and v and not any(c.isspace() for c in v)},
             "Partition": partition, "Region": region, "Account": account}
    for fmt in spec.formats:
        names = _PLACEHOLDER.findall(fmt)
        if all(name in given for name in names):
            return _PLACEHOLDER.sub(lambda m: given[m.group(1)], fmt)
    return None


def own_arn(spec: Own, pieces: Pieces, *, partition: str = PARTITION, region: str, account: str) -> str | None:
    """The ARN of a resource of an `Own` type: the read's attribute, the physical id that is one, or the format
    filled in; None when none of them gives an ARN that fits the format."""
    where = {"partition": partition, "region": region, "account": account}
    if spec.attribute and fits(spec, pieces.attributes.get(spec.attribute), **where):
        return str(pieces.attributes[spec.attribute])
    if spec.physical_is_arn:
        return pieces.physical_id if fits(spec, pieces.physical_id, **where) else None
    try:
        values = spec.fill(pieces)
    except (TypeError, ValueError, AttributeError, IndexError, KeyError):
        return None
    arn = _filled(spec, values, **where)
    return arn if arn is not None and fits(spec, arn, **where) else None


def from_physical(resource_type: str, physical_id: str | None, *, region: str, account: str | None,
                  partition: str = PARTITION) -> str | None:
    """The ARN that a type's physical id alone gives (with the partition, region and account), when it does."""
    spec = ARNS.get(resource_type)
    if not isinstance(spec, Own) or not physical_id or not account:
        return None
    return own_arn(spec, Pieces(physical_id, lambda _name: None, {}), partition=partition, region=region,
                   account=account)


def stack_arns(resources: Iterable[Any], *, resolve: Callable[[Any], Any],
               attributes: Mapping[str, Mapping[str, Any]], region: str, account: str,
               partition: str = PARTITION) -> dict[str, tuple[Located, ...]]:
    """Logical id -> the resources a finding on it names, by ARN: its own, or its parents' (`ARNS`); empty
    where there is none. `resources` are opscli.stack.Declared; `resolve` resolves a declared value against the
    stack (raising Unresolvable where it cannot); `attributes` are what the live read answered, by logical id."""
    declared = {r.logical_id: r for r in resources}

    def prop(r: Any) -> Callable[[str], Any]:
        def get(name: str) -> Any:
            try:
                return resolve(r.properties.get(name))
            except (Unresolvable, KeyError, IndexError, TypeError, ValueError, AttributeError, RecursionError):
                return None
        return get

    found: dict[str, tuple[Located, ...]] = {}
    for lid, r in declared.items():
        spec = ARNS.get(r.type)
        if isinstance(spec, Own):
            arn = own_arn(spec, Pieces(r.physical_id, prop(r), attributes.get(lid) or {}), partition=partition,
                          region=region, account=account) if r.physical_id else None
            found[lid] = (Located(arn, r.type),) if arn else ()
    kinds = {item.arn: item.type for items in found.values() for item in items}

    def parents(lid: str, depth: int) -> tuple[Located, ...]:
        if lid in found:
            return found[lid]
        r, spec = declared[lid], ARNS.get(declared[lid].type)
        if not isinstance(spec, Parent) or depth > MAX_PARENT_DEPTH:  # a chain that long is a loop
            return ()
        out: list[Located] = []
        for name in spec.properties:
            resolved = prop(r)(name)
            held = [v for v in (resolved if isinstance(resolved, list) else [resolved])
                    if isinstance(v, str) and v.startswith("arn:")]
            if held:  # the property holds the ARN(s) itself: those, typed where they are the stack's own
                out += [Located(arn, kinds.get(arn, "")) for arn in held]
                continue
            named = sorted(other for other in references(r.properties.get(name)) if other in declared and
                           other != lid and (not spec.types or declared[other].type in spec.types))
            out += [item for other in named for item in parents(other, depth + 1)]
        return tuple(dict.fromkeys(out))

    for lid in declared:
        if lid not in found:
            found[lid] = parents(lid, 0)
    return found
