"""Create a synthesized TapStack template's resources in the emulator through the service APIs.

Every resource type the template uses is either created by a handler below (with the properties the
template gives) or listed as skipped with the reason; nothing is dropped silently. Known emulator (moto)
gaps are worked around here, each with a comment.
"""

from __future__ import annotations

import contextlib
import io
import json
import zipfile
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from typing import Any

import boto3

from cdk_app.config import AppConfig
from localenv.emulator import register_stack
from platform_spec.contract import LOCAL_NOT_EMULATED
from platform_spec.intrinsics import Resolver, Unresolvable, references

ACCOUNT = "123456789012"  # moto's default account
PSEUDO = {"AWS::AccountId": ACCOUNT, "AWS::Partition": "aws", "AWS::URLSuffix": "amazonaws.com",
          "AWS::NoValue": None}

# Types not emulated, with the reason (printed in the deployment summary, never dropped silently).
SKIPPED_TYPES = {
    "AWS::CDK::Metadata": "CDK bookkeeping, no AWS resource",
    "Custom::VpcRestrictDefaultSG": "custom resource: its handler is not run locally",
    "AWS::ApiGateway::Account": "account-wide API Gateway setting; nothing to audit locally",
    "Custom::S3AutoDeleteObjects": "custom resource: its handler is not run locally",
}


@dataclass
class DeployResult:
    created: list[tuple[str, str]] = field(default_factory=list)  # (logical id, type)
    skipped: list[tuple[str, str, str]] = field(default_factory=list)  # (logical id, type, reason)
    outputs: dict[str, str] = field(default_factory=dict)
    physical: dict[str, str] = field(default_factory=dict)  # logical id -> physical id (what Ref returns)
    record: dict[str, Any] = field(default_factory=dict)  # the stack record (stack_record) of this deployment

    def stack_record(self, stack_name: str, template: Mapping[str, Any]) -> dict[str, Any]:
        """What CloudFormation would answer for this stack: ListStackResources' summaries (the skipped
        resources with a local status and the reason) and GetTemplate's body. opscli reads its scope from it."""
        summaries = [{"LogicalResourceId": lid, "ResourceType": rtype, "PhysicalResourceId": self.physical[lid],
                      "ResourceStatus": "CREATE_COMPLETE"} for lid, rtype in self.created]
        summaries += [{"LogicalResourceId": lid, "ResourceType": rtype, "ResourceStatus": LOCAL_NOT_EMULATED,
                       "ResourceStatusReason": reason} for lid, rtype, reason in self.skipped]
        return {"StackName": stack_name, "StackResourceSummaries": summaries, "TemplateBody": template}


def _camel(value: Any, *, keep: frozenset[str] = frozenset({"Options"})) -> Any:
    """CloudFormation PascalCase keys to the ECS API's camelCase, recursively (map-valued keys kept)."""
    special = {"IAM": "iam", "EFSVolumeConfiguration": "efsVolumeConfiguration", "FilesystemId": "fileSystemId",
               "ValueFrom": "valueFrom", "CpuArchitecture": "cpuArchitecture"}
    if isinstance(value, list):
        return [_camel(v, keep=keep) for v in value]
    if isinstance(value, dict):
        out = {}
        for k, v in value.items():
            key = special.get(k, k[:1].lower() + k[1:])
            out[key] = v if k in keep else _camel(v, keep=keep)
        return out
    return value


def _permission(rule: Mapping[str, Any], peer_key: str) -> dict[str, Any]:
    """One CloudFormation security-group rule as an EC2 IpPermission."""
    permission: dict[str, Any] = {"IpProtocol": str(rule["IpProtocol"])}
    for key in ("FromPort", "ToPort"):
        if key in rule:
            permission[key] = int(rule[key])
    description = {"Description": rule["Description"]} if rule.get("Description") else {}
    if rule.get("CidrIp"):
        permission["IpRanges"] = [{"CidrIp": rule["CidrIp"], **description}]
    if rule.get("CidrIpv6"):
        permission["Ipv6Ranges"] = [{"CidrIpv6": rule["CidrIpv6"], **description}]
    if rule.get(peer_key):
        permission["UserIdGroupPairs"] = [{"GroupId": rule[peer_key], **description}]
    return permission


def _waf_rules(rules: list[dict[str, Any]]) -> list[dict[str, Any]]:
    """CloudFormation's web ACL rules as the WAFv2 API takes them (numbers where the API wants numbers)."""
    def convert(value: Any, key: str = "") -> Any:
        if isinstance(value, dict):
            return {k: convert(v, k) for k, v in value.items()}
        if isinstance(value, list):
            return [convert(v, key) for v in value]
        if key in ("Priority", "Limit", "EvaluationWindowSec") and isinstance(value, str) and value.isdigit():
            return int(value)
        return value
    return convert(rules)


def _tags(props: Mapping[str, Any], key: str = "Tags") -> list[dict[str, str]]:
    return [{"Key": t["Key"], "Value": str(t["Value"])} for t in props.get(key, []) or []]


class Deployer:
    def __init__(self, template: Mapping[str, Any], config: AppConfig, *, session: boto3.Session | None = None,
                 endpoint_url: str | None = None, stack_name: str | None = None) -> None:
        self.template = template
        self.config = config
        self.stack_name = stack_name or config.stack_name  # TapStack<suffix>, or another stack of the app
        self.session = session or boto3.Session(region_name=config.region)
        self.endpoint_url = endpoint_url
        self._clients: dict[str, Any] = {}
        self.resolver = Resolver(
            pseudo={**PSEUDO, "AWS::Region": config.region, "AWS::StackName": self.stack_name,
                    "AWS::StackId": f"arn:aws:cloudformation:{config.region}:{ACCOUNT}:stack/{self.stack_name}/local"},
            parameters={name: p.get("Default") for name, p in template.get("Parameters", {}).items()},
            azs=list(config.availability_zones), secret_value=self.secret_value)
        self._secret_cache: dict[str, dict[str, Any]] = {}

    def client(self, service: str) -> Any:
        if service not in self._clients:
            self._clients[service] = self.session.client(service, region_name=self.config.region,
                                                         endpoint_url=self.endpoint_url)
        return self._clients[service]

    # --- inputs ---------------------------------------------------------------------------------

    def secret_value(self, secret_id: str, key: str) -> str:
        """Field `key` of the JSON secret `secret_id` (name or ARN), read once per secret."""
        if secret_id not in self._secret_cache:
            value = self.client("secretsmanager").get_secret_value(SecretId=secret_id)["SecretString"]
            self._secret_cache[secret_id] = json.loads(value)
        return str(self._secret_cache[secret_id][key])

    def seed_secrets(self, values: Mapping[str, Mapping[str, str]]) -> None:
        """Create the existing secrets the stack reads (inputs, not stack resources), encrypted with a customer
        key and with rotation configured, as a real environment's secrets are."""
        kms = self.client("kms")
        key = kms.create_key(Description="secrets key (input to the stack, not created by it)")["KeyMetadata"]["Arn"]
        rotation = self._rotation_function()
        sm = self.client("secretsmanager")
        for name, value in values.items():
            sm.create_secret(Name=name, SecretString=json.dumps(value), KmsKeyId=key,
                             Tags=[{"Key": "Environment", "Value": self.config.environment_suffix}])
            sm.rotate_secret(SecretId=name, RotationLambdaARN=rotation, RotationRules={"AutomaticallyAfterDays": 30},
                             RotateImmediately=False)

    def _rotation_function(self) -> str:
        role = self.client("iam").create_role(
            RoleName=f"secret-rotation-{self.config.environment_suffix}",
            AssumeRolePolicyDocument=json.dumps({"Version": "2012-10-17", "Statement": [
                {"Effect": "Allow", "Principal": {"Service": "lambda.amazonaws.com"}, "Action": "sts:AssumeRole"}]}),
        )["Role"]["Arn"]
        code = io.BytesIO()
        with zipfile.ZipFile(code, "w") as archive:
            archive.writestr("index.py", "def handler(event, context):\n    return None\n")
        return self.client("lambda").create_function(
            FunctionName=f"secret-rotation-{self.config.environment_suffix}", Runtime="python3.12", Role=role,
            Handler="index.handler", Code={"ZipFile": code.getvalue()})["FunctionArn"]

    # --- the template ---------------------------------------------------------------------------

    def order(self) -> list[str]:
        resources = self.template["Resources"]
        deps = {lid: (references(r.get("Properties", {})) | set(
            [r["DependsOn"]] if isinstance(r.get("DependsOn"), str) else r.get("DependsOn", []))) & set(resources)
            for lid, r in resources.items()}
        ordered, done = [], set()

        def visit(lid: str, path: tuple[str, ...] = ()) -> None:
            if lid in done:
                return
            if lid in path:
                raise ValueError(f"dependency cycle through {lid}")
            for dep in sorted(deps[lid]):
                visit(dep, (*path, lid))
            done.add(lid)
            ordered.append(lid)

        for lid in resources:
            visit(lid)
        return ordered

    def deploy(self) -> DeployResult:
        result = DeployResult()
        resources = self.template["Resources"]
        for lid in self.order():
            resource = resources[lid]
            rtype = resource["Type"]
            handler: Callable[[str, dict[str, Any]], tuple[str, dict[str, Any]]] | None = HANDLERS.get(rtype)
            if handler is None:
                result.skipped.append((lid, rtype, SKIPPED_TYPES.get(rtype, "no local handler for this type")))
                continue
            try:
                props = self.resolver.resolve(resource.get("Properties", {}))
            except Unresolvable as exc:
                result.skipped.append((lid, rtype, f"depends on {exc}, which was not created locally"))
                continue
            physical_id, attrs = handler(self, lid, props)
            self.resolver.refs[lid] = physical_id
            self.resolver.attrs[lid] = attrs
            result.created.append((lid, rtype))
            result.physical[lid] = str(physical_id)
        for key, output in self.template.get("Outputs", {}).items():
            try:
                result.outputs[key] = str(self.resolver.resolve(output["Value"]))
            except Unresolvable as exc:
                result.outputs[key] = f"UNRESOLVED({exc})"
        # The emulator (moto, in this process) now answers CloudFormation's ListStackResources / GetTemplate
        # for the stack, as AWS would after a deploy: opscli finds its scope the same way in both.
        result.record = result.stack_record(self.stack_name, self.template)
        register_stack(result.record, account=ACCOUNT, region=self.config.region)
        return result

    # --- handlers: (self, logical id, resolved properties) -> (Ref value, GetAtt attributes) ----

    def kms_key(self, lid: str, p: dict) -> tuple[str, dict]:
        kms = self.client("kms")
        meta = kms.create_key(Description=p.get("Description", lid), Policy=json.dumps(p.get("KeyPolicy", {})),
                              Tags=[{"TagKey": t["Key"], "TagValue": t["Value"]} for t in _tags(p)])["KeyMetadata"]
        if p.get("EnableKeyRotation"):
            kms.enable_key_rotation(KeyId=meta["KeyId"])
        return meta["KeyId"], {"Arn": meta["Arn"], "KeyId": meta["KeyId"]}

    def kms_alias(self, lid: str, p: dict) -> tuple[str, dict]:
        self.client("kms").create_alias(AliasName=p["AliasName"], TargetKeyId=p["TargetKeyId"])
        return p["AliasName"], {}

    def vpc(self, lid: str, p: dict) -> tuple[str, dict]:
        ec2 = self.client("ec2")
        vpc_id = ec2.create_vpc(CidrBlock=p["CidrBlock"], TagSpecifications=[
            {"ResourceType": "vpc", "Tags": _tags(p)}])["Vpc"]["VpcId"]
        for attribute in ("EnableDnsSupport", "EnableDnsHostnames"):
            if attribute in p:
                ec2.modify_vpc_attribute(VpcId=vpc_id, **{attribute: {"Value": str(p[attribute]).lower() == "true"}})
        default_sg = ec2.describe_security_groups(Filters=[{"Name": "vpc-id", "Values": [vpc_id]},
                                                           {"Name": "group-name", "Values": ["default"]}])
        return vpc_id, {"VpcId": vpc_id, "CidrBlock": p["CidrBlock"],
                        "DefaultSecurityGroup": default_sg["SecurityGroups"][0]["GroupId"]}

    def subnet(self, lid: str, p: dict) -> tuple[str, dict]:
        subnet = self.client("ec2").create_subnet(VpcId=p["VpcId"], CidrBlock=p["CidrBlock"],
                                                  AvailabilityZone=p["AvailabilityZone"], TagSpecifications=[
                                                      {"ResourceType": "subnet", "Tags": _tags(p)}])["Subnet"]
        return subnet["SubnetId"], {"SubnetId": subnet["SubnetId"], "AvailabilityZone": p["AvailabilityZone"]}

    def route_table(self, lid: str, p: dict) -> tuple[str, dict]:
        table = self.client("ec2").create_route_table(VpcId=p["VpcId"], TagSpecifications=[
            {"ResourceType": "route-table", "Tags": _tags(p)}])["RouteTable"]["RouteTableId"]
        return table, {"RouteTableId": table}

    def route_table_association(self, lid: str, p: dict) -> tuple[str, dict]:
        assoc = self.client("ec2").associate_route_table(RouteTableId=p["RouteTableId"], SubnetId=p["SubnetId"])
        return assoc["AssociationId"], {}

    def internet_gateway(self, lid: str, p: dict) -> tuple[str, dict]:
        igw = self.client("ec2").create_internet_gateway(TagSpecifications=[
            {"ResourceType": "internet-gateway", "Tags": _tags(p)}])["InternetGateway"]["InternetGatewayId"]
        return igw, {"InternetGatewayId": igw}

    def gateway_attachment(self, lid: str, p: dict) -> tuple[str, dict]:
        self.client("ec2").attach_internet_gateway(InternetGatewayId=p["InternetGatewayId"], VpcId=p["VpcId"])
        return f"{p['InternetGatewayId']}|{p['VpcId']}", {}

    def eip(self, lid: str, p: dict) -> tuple[str, dict]:
        address = self.client("ec2").allocate_address(Domain="vpc", TagSpecifications=[
            {"ResourceType": "elastic-ip", "Tags": _tags(p)}])
        return address["PublicIp"], {"AllocationId": address["AllocationId"], "PublicIp": address["PublicIp"]}

    def nat_gateway(self, lid: str, p: dict) -> tuple[str, dict]:
        nat = self.client("ec2").create_nat_gateway(
            SubnetId=p["SubnetId"], AllocationId=p["AllocationId"],
            TagSpecifications=[{"ResourceType": "natgateway", "Tags": _tags(p)}])
        return nat["NatGateway"]["NatGatewayId"], {}

    def route(self, lid: str, p: dict) -> tuple[str, dict]:
        target = {k: p[k] for k in ("GatewayId", "NatGatewayId") if p.get(k)}
        self.client("ec2").create_route(RouteTableId=p["RouteTableId"],
                                        DestinationCidrBlock=p["DestinationCidrBlock"], **target)
        return f"{p['RouteTableId']}|{p['DestinationCidrBlock']}", {}

    def security_group(self, lid: str, p: dict) -> tuple[str, dict]:
        ec2 = self.client("ec2")
        group = ec2.create_security_group(
            GroupName=p.get("GroupName", lid), Description=p["GroupDescription"], VpcId=p["VpcId"],
            TagSpecifications=[{"ResourceType": "security-group", "Tags": _tags(p)}])["GroupId"]
        if "SecurityGroupEgress" in p:  # as CloudFormation does: declared egress replaces the default allow-all
            ec2.revoke_security_group_egress(GroupId=group, IpPermissions=[
                {"IpProtocol": "-1", "IpRanges": [{"CidrIp": "0.0.0.0/0"}]}])
            if p["SecurityGroupEgress"]:
                ec2.authorize_security_group_egress(GroupId=group, IpPermissions=[
                    _permission(rule, "DestinationSecurityGroupId") for rule in p["SecurityGroupEgress"]])
        if p.get("SecurityGroupIngress"):
            ec2.authorize_security_group_ingress(GroupId=group, IpPermissions=[
                _permission(rule, "SourceSecurityGroupId") for rule in p["SecurityGroupIngress"]])
        return group, {"GroupId": group}

    def security_group_ingress(self, lid: str, p: dict) -> tuple[str, dict]:
        self.client("ec2").authorize_security_group_ingress(GroupId=p["GroupId"], IpPermissions=[
            _permission(p, "SourceSecurityGroupId")])
        return f"{lid}", {}

    def security_group_egress(self, lid: str, p: dict) -> tuple[str, dict]:
        ec2 = self.client("ec2")
        # As CloudFormation does: a SecurityGroupEgress resource replaces the group's default allow-all egress
        # (aws-cdk #987 and #998; CDK relies on it for egress between security groups of allow_all_outbound=False
        # groups, whose template then declares no inline egress).
        group = ec2.describe_security_groups(GroupIds=[p["GroupId"]])["SecurityGroups"][0]
        default = [perm for perm in group.get("IpPermissionsEgress", []) if perm.get("IpProtocol") == "-1"
                   and any(r.get("CidrIp") == "0.0.0.0/0" for r in perm.get("IpRanges", []))]
        if default:
            ec2.revoke_security_group_egress(GroupId=p["GroupId"], IpPermissions=[
                {"IpProtocol": "-1", "IpRanges": [{"CidrIp": "0.0.0.0/0"}]}])
        ec2.authorize_security_group_egress(GroupId=p["GroupId"], IpPermissions=[
            _permission(p, "DestinationSecurityGroupId")])
        return f"{lid}", {}

    def log_group(self, lid: str, p: dict) -> tuple[str, dict]:
        logs = self.client("logs")
        name = p["LogGroupName"]
        logs.create_log_group(logGroupName=name, kmsKeyId=p["KmsKeyId"],
                              tags={t["Key"]: t["Value"] for t in _tags(p)})
        if p.get("RetentionInDays"):
            logs.put_retention_policy(logGroupName=name, retentionInDays=int(p["RetentionInDays"]))
        arn = f"arn:aws:logs:{self.config.region}:{ACCOUNT}:log-group:{name}:*"
        return name, {"Arn": arn}

    def flow_log(self, lid: str, p: dict) -> tuple[str, dict]:
        flow = self.client("ec2").create_flow_logs(
            ResourceIds=[p["ResourceId"]], ResourceType=p["ResourceType"], TrafficType=p["TrafficType"],
            LogDestinationType="cloud-watch-logs", LogGroupName=p["LogGroupName"],
            DeliverLogsPermissionArn=p["DeliverLogsPermissionArn"],
            TagSpecifications=[{"ResourceType": "vpc-flow-log", "Tags": _tags(p)}])
        return flow["FlowLogIds"][0], {}

    def iam_role(self, lid: str, p: dict) -> tuple[str, dict]:
        iam = self.client("iam")
        name = f"{self.stack_name}-{lid}"[:64]
        role = iam.create_role(RoleName=name, AssumeRolePolicyDocument=json.dumps(p["AssumeRolePolicyDocument"]),
                               Tags=_tags(p))["Role"]
        for arn in p.get("ManagedPolicyArns", []) or []:
            # an AWS-managed policy moto does not ship: `opscli drift` reports it as missing, as it should
            with contextlib.suppress(iam.exceptions.NoSuchEntityException):
                iam.attach_role_policy(RoleName=name, PolicyArn=arn)
        for policy in p.get("Policies", []) or []:
            iam.put_role_policy(RoleName=name, PolicyName=policy["PolicyName"],
                                PolicyDocument=json.dumps(policy["PolicyDocument"]))
        return name, {"Arn": role["Arn"], "RoleId": role["RoleId"]}

    def iam_managed_policy(self, lid: str, p: dict) -> tuple[str, dict]:
        iam = self.client("iam")
        name = p.get("ManagedPolicyName") or f"{self.stack_name}-{lid}"[:128]
        arn = iam.create_policy(PolicyName=name, PolicyDocument=json.dumps(p["PolicyDocument"]),
                                Description=p.get("Description", ""))["Policy"]["Arn"]
        for role in p.get("Roles", []) or []:
            iam.attach_role_policy(RoleName=role, PolicyArn=arn)
        return arn, {"PolicyArn": arn}

    def iam_policy(self, lid: str, p: dict) -> tuple[str, dict]:
        for role in p.get("Roles", []):
            self.client("iam").put_role_policy(RoleName=role, PolicyName=p["PolicyName"],
                                               PolicyDocument=json.dumps(p["PolicyDocument"]))
        return p["PolicyName"], {}

    def db_subnet_group(self, lid: str, p: dict) -> tuple[str, dict]:
        name = p["DBSubnetGroupName"]
        self.client("rds").create_db_subnet_group(DBSubnetGroupName=name, SubnetIds=p["SubnetIds"],
                                                  DBSubnetGroupDescription=p["DBSubnetGroupDescription"],
                                                  Tags=_tags(p))
        return name, {}

    def db_parameter_group(self, lid: str, p: dict) -> tuple[str, dict]:
        rds = self.client("rds")
        name = p.get("DBParameterGroupName", lid.lower())
        rds.create_db_parameter_group(DBParameterGroupName=name, DBParameterGroupFamily=p["Family"],
                                      Description=p["Description"], Tags=_tags(p))
        rds.modify_db_parameter_group(DBParameterGroupName=name, Parameters=[
            {"ParameterName": k, "ParameterValue": str(v), "ApplyMethod": "pending-reboot"}
            for k, v in p.get("Parameters", {}).items()])
        return name, {}

    def db_instance(self, lid: str, p: dict) -> tuple[str, dict]:
        keys = ("DBInstanceIdentifier", "Engine", "EngineVersion", "DBInstanceClass", "MultiAZ", "StorageEncrypted",
                "KmsKeyId", "BackupRetentionPeriod", "DBParameterGroupName", "DBSubnetGroupName",
                "VPCSecurityGroups", "MasterUsername", "MasterUserPassword", "PubliclyAccessible", "Port",
                "EnablePerformanceInsights", "PerformanceInsightsKMSKeyId", "EnableCloudwatchLogsExports",
                "DeletionProtection", "CopyTagsToSnapshot", "StorageType", "DBName", "MaxAllocatedStorage",
                "EnableIAMDatabaseAuthentication", "AutoMinorVersionUpgrade", "MonitoringInterval",
                "MonitoringRoleArn", "CACertificateIdentifier")
        args = {k: p[k] for k in keys if k in p}
        args["VpcSecurityGroupIds"] = args.pop("VPCSecurityGroups", [])
        args["AllocatedStorage"] = int(p.get("AllocatedStorage", 20))
        args.setdefault("PubliclyAccessible", False)  # CloudFormation's default inside a VPC subnet group
        for key in ("Port", "BackupRetentionPeriod", "MaxAllocatedStorage", "MonitoringInterval"):
            if key in args:
                args[key] = int(args[key])
        db = self.client("rds").create_db_instance(**args, Tags=_tags(p))["DBInstance"]
        endpoint = db.get("Endpoint", {})
        return db["DBInstanceIdentifier"], {"Endpoint.Address": endpoint.get("Address", f"{lid}.local"),
                                            "Endpoint.Port": str(endpoint.get("Port", args.get("Port", 5432))),
                                            "DBInstanceArn": db["DBInstanceArn"]}

    def cache_subnet_group(self, lid: str, p: dict) -> tuple[str, dict]:
        name = p["CacheSubnetGroupName"]
        self.client("elasticache").create_cache_subnet_group(
            CacheSubnetGroupName=name, CacheSubnetGroupDescription=p["Description"], SubnetIds=p["SubnetIds"],
            Tags=_tags(p))
        return name, {}

    def replication_group(self, lid: str, p: dict) -> tuple[str, dict]:
        keys = ("ReplicationGroupId", "ReplicationGroupDescription", "Engine", "EngineVersion", "CacheNodeType",
                "NumCacheClusters", "PreferredCacheClusterAZs", "AutomaticFailoverEnabled", "MultiAZEnabled",
                "CacheSubnetGroupName", "SecurityGroupIds", "Port", "AtRestEncryptionEnabled", "KmsKeyId",
                "TransitEncryptionEnabled", "TransitEncryptionMode", "AuthToken", "SnapshotRetentionLimit",
                "AutoMinorVersionUpgrade")
        args = {k: p[k] for k in keys if k in p}
        for key in ("NumCacheClusters", "Port", "SnapshotRetentionLimit"):
            if key in args:
                args[key] = int(args[key])
        if "NumCacheClusters" in args:
            # moto gap: with cluster mode disabled it sizes the group from ReplicasPerNodeGroup and ignores
            # NumCacheClusters; pass both so the emulated members match the template.
            args["ReplicasPerNodeGroup"] = args["NumCacheClusters"] - 1
        group = self.client("elasticache").create_replication_group(**args, Tags=_tags(p))["ReplicationGroup"]
        primary = group["NodeGroups"][0].get("PrimaryEndpoint", {})
        reader = group["NodeGroups"][0].get("ReaderEndpoint", primary)
        return group["ReplicationGroupId"], {
            "PrimaryEndPoint.Address": primary.get("Address", ""), "PrimaryEndPoint.Port": str(args.get("Port", 6379)),
            "ReaderEndPoint.Address": reader.get("Address", ""), "ReaderEndPoint.Port": str(args.get("Port", 6379))}

    def file_system(self, lid: str, p: dict) -> tuple[str, dict]:
        efs = self.client("efs")
        fs = efs.create_file_system(
            CreationToken=f"{self.stack_name}-{lid}", Encrypted=bool(p.get("Encrypted")), KmsKeyId=p["KmsKeyId"],
            PerformanceMode=p.get("PerformanceMode", "generalPurpose"),
            ThroughputMode=p.get("ThroughputMode", "bursting"), Tags=_tags(p, "FileSystemTags"))
        if p.get("LifecyclePolicies"):
            efs.put_lifecycle_configuration(FileSystemId=fs["FileSystemId"], LifecyclePolicies=p["LifecyclePolicies"])
        if p.get("FileSystemPolicy"):
            efs.put_file_system_policy(FileSystemId=fs["FileSystemId"], Policy=json.dumps(p["FileSystemPolicy"]))
        return fs["FileSystemId"], {"Arn": fs["FileSystemArn"], "FileSystemId": fs["FileSystemId"]}

    def mount_target(self, lid: str, p: dict) -> tuple[str, dict]:
        target = self.client("efs").create_mount_target(FileSystemId=p["FileSystemId"], SubnetId=p["SubnetId"],
                                                        SecurityGroups=p.get("SecurityGroups", []))
        return target["MountTargetId"], {"IpAddress": target.get("IpAddress", "")}

    def access_point(self, lid: str, p: dict) -> tuple[str, dict]:
        args = {"FileSystemId": p["FileSystemId"], "Tags": _tags(p, "AccessPointTags")}
        if p.get("PosixUser"):
            args["PosixUser"] = {"Uid": int(p["PosixUser"]["Uid"]), "Gid": int(p["PosixUser"]["Gid"])}
        if p.get("RootDirectory"):
            root = p["RootDirectory"]
            args["RootDirectory"] = {"Path": root.get("Path", "/")}
            if root.get("CreationInfo"):
                info = root["CreationInfo"]
                args["RootDirectory"]["CreationInfo"] = {"OwnerUid": int(info["OwnerUid"]),
                                                         "OwnerGid": int(info["OwnerGid"]),
                                                         "Permissions": info["Permissions"]}
        point = self.client("efs").create_access_point(**args)
        return point["AccessPointId"], {"Arn": point["AccessPointArn"], "AccessPointId": point["AccessPointId"]}

    def ecs_cluster(self, lid: str, p: dict) -> tuple[str, dict]:
        cluster = self.client("ecs").create_cluster(
            clusterName=p["ClusterName"], settings=_camel(p.get("ClusterSettings", [])),
            tags=[{"key": t["Key"], "value": t["Value"]} for t in _tags(p)])["cluster"]
        return cluster["clusterName"], {"Arn": cluster["clusterArn"]}

    def task_definition(self, lid: str, p: dict) -> tuple[str, dict]:
        args = {k[:1].lower() + k[1:]: v for k, v in p.items() if k not in ("Tags", "ContainerDefinitions", "Volumes")}
        args["containerDefinitions"] = _camel(p["ContainerDefinitions"])
        args["volumes"] = _camel(p.get("Volumes", []))
        args["tags"] = [{"key": t["Key"], "value": t["Value"]} for t in _tags(p)]
        args["runtimePlatform"] = _camel(args.get("runtimePlatform", {}))
        arn = self.client("ecs").register_task_definition(**args)["taskDefinition"]["taskDefinitionArn"]
        return arn, {"TaskDefinitionArn": arn}

    def ecs_service(self, lid: str, p: dict) -> tuple[str, dict]:
        args = {"cluster": p["Cluster"], "serviceName": p["ServiceName"], "taskDefinition": p["TaskDefinition"],
                "desiredCount": int(p.get("DesiredCount", 1)), "launchType": p.get("LaunchType", "FARGATE"),
                "networkConfiguration": _camel(p.get("NetworkConfiguration", {})),
                "tags": [{"key": t["Key"], "value": t["Value"]} for t in _tags(p)]}
        for key in ("PropagateTags", "EnableECSManagedTags", "EnableExecuteCommand", "PlatformVersion",
                    "HealthCheckGracePeriodSeconds", "DeploymentConfiguration", "LoadBalancers"):
            if key in p:
                args[key[:1].lower() + key[1:]] = _camel(p[key])
        service = self.client("ecs").create_service(**args)["service"]
        return service["serviceArn"], {"Name": service["serviceName"], "ServiceArn": service["serviceArn"]}

    def scalable_target(self, lid: str, p: dict) -> tuple[str, dict]:
        self.client("application-autoscaling").register_scalable_target(
            ServiceNamespace=p["ServiceNamespace"], ResourceId=p["ResourceId"],
            ScalableDimension=p["ScalableDimension"], MinCapacity=int(p["MinCapacity"]),
            MaxCapacity=int(p["MaxCapacity"]))
        return f"{p['ResourceId']}|{p['ScalableDimension']}|{p['ServiceNamespace']}", {}

    def scaling_policy(self, lid: str, p: dict) -> tuple[str, dict]:
        namespace = p.get("ServiceNamespace") or "ecs"
        resource_id, dimension = p.get("ResourceId"), p.get("ScalableDimension")
        if "ScalingTargetId" in p:
            resource_id, dimension, namespace = p["ScalingTargetId"].split("|")
        config = dict(p["TargetTrackingScalingPolicyConfiguration"])
        self.client("application-autoscaling").put_scaling_policy(
            PolicyName=p["PolicyName"], ServiceNamespace=namespace, ResourceId=resource_id,
            ScalableDimension=dimension, PolicyType=p["PolicyType"], TargetTrackingScalingPolicyConfiguration=config)
        return p["PolicyName"], {}

    def load_balancer(self, lid: str, p: dict) -> tuple[str, dict]:
        lb = self.client("elbv2").create_load_balancer(
            Name=p["Name"], Subnets=p["Subnets"], SecurityGroups=p.get("SecurityGroups", []),
            Scheme=p.get("Scheme", "internal"), Type=p.get("Type", "network"), Tags=_tags(p))["LoadBalancers"][0]
        if p.get("LoadBalancerAttributes"):
            self.client("elbv2").modify_load_balancer_attributes(
                LoadBalancerArn=lb["LoadBalancerArn"],
                Attributes=[{"Key": a["Key"], "Value": str(a["Value"])} for a in p["LoadBalancerAttributes"]])
        return lb["LoadBalancerArn"], {"DNSName": lb["DNSName"], "LoadBalancerArn": lb["LoadBalancerArn"],
                                       "LoadBalancerFullName": lb["LoadBalancerArn"].split("loadbalancer/")[-1]}

    def target_group(self, lid: str, p: dict) -> tuple[str, dict]:
        group = self.client("elbv2").create_target_group(
            Name=p["Name"], Protocol=p["Protocol"], Port=int(p["Port"]), VpcId=p["VpcId"],
            TargetType=p.get("TargetType", "ip"), Tags=_tags(p),
            **{k: (int(p[k]) if k.endswith(("Seconds", "Count")) else p[k])
               for k in ("HealthCheckProtocol", "HealthCheckPath", "HealthCheckIntervalSeconds",
                         "HealthyThresholdCount", "UnhealthyThresholdCount") if k in p})["TargetGroups"][0]
        return group["TargetGroupArn"], {"TargetGroupFullName": group["TargetGroupArn"].split(":")[-1],
                                         "TargetGroupName": group["TargetGroupName"]}

    def listener(self, lid: str, p: dict) -> tuple[str, dict]:
        listener = self.client("elbv2").create_listener(
            LoadBalancerArn=p["LoadBalancerArn"], Protocol=p["Protocol"], Port=int(p["Port"]),
            DefaultActions=[{"Type": a["Type"], "TargetGroupArn": a["TargetGroupArn"]} for a in p["DefaultActions"]])
        return listener["Listeners"][0]["ListenerArn"], {}

    def rest_api(self, lid: str, p: dict) -> tuple[str, dict]:
        api = self.client("apigateway").create_rest_api(
            name=p["Name"], description=p.get("Description", ""), apiKeySource=p.get("ApiKeySourceType", "HEADER"),
            endpointConfiguration={"types": p.get("EndpointConfiguration", {}).get("Types", ["EDGE"])},
            tags={t["Key"]: t["Value"] for t in _tags(p)})
        root = self.client("apigateway").get_resources(restApiId=api["id"])["items"][0]["id"]
        return api["id"], {"RootResourceId": root}

    def api_resource(self, lid: str, p: dict) -> tuple[str, dict]:
        resource = self.client("apigateway").create_resource(restApiId=p["RestApiId"], parentId=p["ParentId"],
                                                              pathPart=p["PathPart"])
        return resource["id"], {"ResourceId": resource["id"]}

    def api_method(self, lid: str, p: dict) -> tuple[str, dict]:
        api = self.client("apigateway")
        api.put_method(restApiId=p["RestApiId"], resourceId=p["ResourceId"], httpMethod=p["HttpMethod"],
                       authorizationType=p.get("AuthorizationType", "NONE"),
                       apiKeyRequired=bool(p.get("ApiKeyRequired")),
                       requestParameters={k: bool(v) for k, v in p.get("RequestParameters", {}).items()},
                       **({"requestValidatorId": p["RequestValidatorId"]} if p.get("RequestValidatorId") else {}))
        integration = p.get("Integration", {})
        extra = {"timeoutInMillis": int(integration["TimeoutInMillis"])} if "TimeoutInMillis" in integration else {}
        if integration.get("RequestParameters"):
            extra["requestParameters"] = integration["RequestParameters"]
        api.put_integration(restApiId=p["RestApiId"], resourceId=p["ResourceId"], httpMethod=p["HttpMethod"],
                            type=integration["Type"],
                            integrationHttpMethod=integration.get("IntegrationHttpMethod", "GET"),
                            uri=integration.get("Uri", ""),
                            connectionType=integration.get("ConnectionType", "INTERNET"),
                            connectionId=integration.get("ConnectionId", ""), **extra)
        return f"{p['ResourceId']}|{p['HttpMethod']}", {}

    def api_deployment(self, lid: str, p: dict) -> tuple[str, dict]:
        deployment = self.client("apigateway").create_deployment(restApiId=p["RestApiId"],
                                                                 description=p.get("Description", ""))
        return deployment["id"], {"DeploymentId": deployment["id"]}

    def api_stage(self, lid: str, p: dict) -> tuple[str, dict]:
        api = self.client("apigateway")
        api.create_stage(restApiId=p["RestApiId"], stageName=p["StageName"], deploymentId=p["DeploymentId"],
                         tracingEnabled=bool(p.get("TracingEnabled")), tags={t["Key"]: t["Value"] for t in _tags(p)})
        patches = []
        if p.get("AccessLogSetting"):
            patches += [{"op": "replace", "path": "/accessLogSettings/destinationArn",
                         "value": p["AccessLogSetting"]["DestinationArn"]},
                        {"op": "replace", "path": "/accessLogSettings/format",
                         "value": p["AccessLogSetting"].get("Format", "")}]
        for setting in p.get("MethodSettings", []):
            prefix = f"/{setting.get('ResourcePath', '/*').lstrip('/') or '*'}/{setting.get('HttpMethod', '*')}"
            prefix = prefix.replace("//", "/")
            if "LoggingLevel" in setting:
                patches.append({"op": "replace", "path": f"{prefix}/logging/loglevel",
                                "value": setting["LoggingLevel"]})
            for key, path in (("MetricsEnabled", "metrics/enabled"), ("DataTraceEnabled", "logging/dataTrace"),
                              ("ThrottlingBurstLimit", "throttling/burstLimit"),
                              ("ThrottlingRateLimit", "throttling/rateLimit")):
                if key in setting:
                    value = setting[key]
                    patches.append({"op": "replace", "path": f"{prefix}/{path}",
                                    "value": str(value).lower() if isinstance(value, bool) else str(value)})
        if patches:
            api.update_stage(restApiId=p["RestApiId"], stageName=p["StageName"], patchOperations=patches)
        return p["StageName"], {}

    def api_request_validator(self, lid: str, p: dict) -> tuple[str, dict]:
        validator = self.client("apigateway").create_request_validator(
            restApiId=p["RestApiId"], name=p.get("Name", lid),
            validateRequestBody=bool(p.get("ValidateRequestBody")),
            validateRequestParameters=bool(p.get("ValidateRequestParameters")))
        return validator["id"], {"RequestValidatorId": validator["id"]}

    def api_key(self, lid: str, p: dict) -> tuple[str, dict]:
        key = self.client("apigateway").create_api_key(
            name=p["Name"], value=p["Value"], enabled=p.get("Enabled", True),
            stageKeys=[{"restApiId": k["RestApiId"], "stageName": k["StageName"]} for k in p.get("StageKeys", [])],
            tags={t["Key"]: t["Value"] for t in _tags(p)})
        return key["id"], {"APIKeyId": key["id"]}

    def usage_plan(self, lid: str, p: dict) -> tuple[str, dict]:
        plan = self.client("apigateway").create_usage_plan(
            name=p["UsagePlanName"],
            apiStages=[{"apiId": s["ApiId"], "stage": s["Stage"]} for s in p.get("ApiStages", [])],
            throttle={"rateLimit": float(p["Throttle"]["RateLimit"]), "burstLimit": int(p["Throttle"]["BurstLimit"])}
            if p.get("Throttle") else {}, tags={t["Key"]: t["Value"] for t in _tags(p)})
        return plan["id"], {"Id": plan["id"]}

    def usage_plan_key(self, lid: str, p: dict) -> tuple[str, dict]:
        self.client("apigateway").create_usage_plan_key(usagePlanId=p["UsagePlanId"], keyId=p["KeyId"],
                                                         keyType=p["KeyType"])
        return f"{p['UsagePlanId']}|{p['KeyId']}", {}

    def vpc_link(self, lid: str, p: dict) -> tuple[str, dict]:
        link = self.client("apigateway").create_vpc_link(name=p["Name"], targetArns=p["TargetArns"],
                                                         tags={t["Key"]: t["Value"] for t in _tags(p)})
        return link["id"], {}

    def s3_bucket(self, lid: str, p: dict) -> tuple[str, dict]:
        s3 = self.client("s3")
        # CloudFormation generates the name: <stack>-<logical id>-<random>, lowercase, at most 63 characters.
        name = f"{self.stack_name}-{lid}".lower()[:56] + "-local"
        s3.create_bucket(Bucket=name, CreateBucketConfiguration={"LocationConstraint": self.config.region})
        if p.get("BucketEncryption"):
            # CloudFormation says ServerSideEncryptionByDefault where the API says ApplyServerSideEncryptionByDefault.
            s3.put_bucket_encryption(Bucket=name, ServerSideEncryptionConfiguration={"Rules": [
                {"ApplyServerSideEncryptionByDefault": rule["ServerSideEncryptionByDefault"],
                 "BucketKeyEnabled": bool(rule.get("BucketKeyEnabled"))}
                for rule in p["BucketEncryption"]["ServerSideEncryptionConfiguration"]]})
        if p.get("PublicAccessBlockConfiguration"):
            s3.put_public_access_block(Bucket=name, PublicAccessBlockConfiguration=p["PublicAccessBlockConfiguration"])
        if p.get("VersioningConfiguration"):
            s3.put_bucket_versioning(Bucket=name, VersioningConfiguration={
                "Status": p["VersioningConfiguration"]["Status"]})
        if _tags(p):
            s3.put_bucket_tagging(Bucket=name, Tagging={"TagSet": _tags(p)})
        if p.get("OwnershipControls"):
            s3.put_bucket_ownership_controls(Bucket=name, OwnershipControls=p["OwnershipControls"])
        if p.get("NotificationConfiguration", {}).get("EventBridgeConfiguration", {}).get("EventBridgeEnabled"):
            s3.put_bucket_notification_configuration(Bucket=name, NotificationConfiguration={
                "EventBridgeConfiguration": {}})
        return name, {"Arn": f"arn:aws:s3:::{name}", "DomainName": f"{name}.s3.amazonaws.com"}

    def s3_bucket_policy(self, lid: str, p: dict) -> tuple[str, dict]:
        s3 = self.client("s3")
        s3.put_bucket_policy(Bucket=p["Bucket"], Policy=json.dumps(p["PolicyDocument"]))
        return f"{p['Bucket']}-policy", {}

    def sqs_queue(self, lid: str, p: dict) -> tuple[str, dict]:
        attributes = {k: str(p[k]) for k in ("KmsMasterKeyId", "KmsDataKeyReusePeriodSeconds", "VisibilityTimeout",
                                             "MessageRetentionPeriod") if k in p}
        if p.get("RedrivePolicy"):
            attributes["RedrivePolicy"] = json.dumps(p["RedrivePolicy"])
        sqs = self.client("sqs")
        url = sqs.create_queue(QueueName=p["QueueName"], Attributes=attributes,
                               tags={t["Key"]: t["Value"] for t in _tags(p)})["QueueUrl"]
        arn = sqs.get_queue_attributes(QueueUrl=url, AttributeNames=["QueueArn"])["Attributes"]["QueueArn"]
        return url, {"Arn": arn, "QueueName": p["QueueName"], "QueueUrl": url}

    def sqs_queue_policy(self, lid: str, p: dict) -> tuple[str, dict]:
        for url in p["Queues"]:
            self.client("sqs").set_queue_attributes(QueueUrl=url,
                                                    Attributes={"Policy": json.dumps(p["PolicyDocument"])})
        return lid, {}

    def sns_topic_policy(self, lid: str, p: dict) -> tuple[str, dict]:
        for arn in p["Topics"]:
            self.client("sns").set_topic_attributes(TopicArn=arn, AttributeName="Policy",
                                                    AttributeValue=json.dumps(p["PolicyDocument"]))
        return lid, {}

    def events_rule(self, lid: str, p: dict) -> tuple[str, dict]:
        events = self.client("events")
        arn = events.put_rule(Name=p["Name"], EventPattern=json.dumps(p["EventPattern"]),
                              State=p.get("State", "ENABLED"), Description=p.get("Description", ""))["RuleArn"]
        events.put_targets(Rule=p["Name"], Targets=[
            {"Id": t["Id"], "Arn": t["Arn"],
             **({"DeadLetterConfig": t["DeadLetterConfig"]} if "DeadLetterConfig" in t else {}),
             **({"RetryPolicy": {k: int(v) for k, v in t["RetryPolicy"].items()}} if "RetryPolicy" in t else {})}
            for t in p.get("Targets", [])])
        return p["Name"], {"Arn": arn}

    def sns_topic(self, lid: str, p: dict) -> tuple[str, dict]:
        attributes = {"KmsMasterKeyId": p["KmsMasterKeyId"]} if p.get("KmsMasterKeyId") else {}
        arn = self.client("sns").create_topic(Name=p["TopicName"], Attributes=attributes, Tags=_tags(p))["TopicArn"]
        return arn, {"TopicArn": arn, "TopicName": p["TopicName"]}

    def lambda_layer(self, lid: str, p: dict) -> tuple[str, dict]:
        """A placeholder layer (the asset bucket is not local): the local consumer runs with the installed
        dependencies."""
        code = io.BytesIO()
        with zipfile.ZipFile(code, "w") as archive:
            archive.writestr("python/placeholder.py", "")
        layer = self.client("lambda").publish_layer_version(
            LayerName=p.get("LayerName") or f"{self.stack_name}-{lid}"[:64], Content={"ZipFile": code.getvalue()},
            Description=p.get("Description", ""), CompatibleRuntimes=p.get("CompatibleRuntimes", []))
        return layer["LayerVersionArn"], {}

    def schedule(self, lid: str, p: dict) -> tuple[str, dict]:
        """Created as declared; the emulator never fires it (`python -m localenv schedule` sends its input)."""
        target = {k: p["Target"][k] for k in ("Arn", "RoleArn", "Input", "DeadLetterConfig", "SqsParameters")
                  if k in p["Target"]}
        if "RetryPolicy" in p["Target"]:
            target["RetryPolicy"] = {k: int(v) for k, v in p["Target"]["RetryPolicy"].items()}
        args = {k: p[k] for k in ("Description", "KmsKeyArn", "State", "GroupName", "ScheduleExpressionTimezone")
                if k in p}
        arn = self.client("scheduler").create_schedule(
            Name=p["Name"], ScheduleExpression=p["ScheduleExpression"], Target=target,
            FlexibleTimeWindow=p["FlexibleTimeWindow"], **args)["ScheduleArn"]
        return p["Name"], {"Arn": arn}

    def event_source_mapping(self, lid: str, p: dict) -> tuple[str, dict]:
        """Created disabled: the local consumer of the monitor's queue is `python -m opscli.monitor`, started by
        `localenv up`; an enabled mapping would have the emulator hand the queue's messages to a function it cannot
        run."""
        args = {k: p[k] for k in ("FunctionResponseTypes",) if k in p}
        args.update({k: int(p[k]) for k in ("BatchSize", "MaximumBatchingWindowInSeconds") if k in p})
        mapping = self.client("lambda").create_event_source_mapping(
            EventSourceArn=p["EventSourceArn"], FunctionName=p["FunctionName"], Enabled=False, **args)
        return mapping["UUID"], {"EventSourceMappingId": mapping["UUID"]}

    def lambda_function(self, lid: str, p: dict) -> tuple[str, dict]:
        """Created with placeholder code (the asset bucket is not local); never invoked: custom resources do not
        run locally, and the monitor's local consumer is a process of its own."""
        name = p.get("FunctionName") or f"{self.stack_name}-{lid}"[:64]
        code = io.BytesIO()
        with zipfile.ZipFile(code, "w") as archive:
            archive.writestr("index.js", "exports.handler = async () => ({});\n")
        args = {k: p[k] for k in ("Runtime", "Handler", "Description", "Architectures", "Environment") if k in p}
        args.update({k: int(p[k]) for k in ("MemorySize", "Timeout") if k in p})
        function = self.client("lambda").create_function(
            FunctionName=name, Role=p["Role"], Code={"ZipFile": code.getvalue()},
            Tags={t["Key"]: t["Value"] for t in _tags(p)}, **args)
        return name, {"Arn": function["FunctionArn"]}

    def web_acl(self, lid: str, p: dict) -> tuple[str, dict]:
        acl = self.client("wafv2").create_web_acl(
            Name=p["Name"], Scope=p["Scope"], DefaultAction=p["DefaultAction"], Rules=_waf_rules(p.get("Rules", [])),
            VisibilityConfig=p["VisibilityConfig"], Tags=_tags(p))["Summary"]
        # CloudFormation's Ref of a web ACL: name|id|scope.
        return f"{acl['Name']}|{acl['Id']}|{p['Scope']}", {"Arn": acl["ARN"], "Id": acl["Id"]}

    def web_acl_association(self, lid: str, p: dict) -> tuple[str, dict]:
        self.client("wafv2").associate_web_acl(WebACLArn=p["WebACLArn"], ResourceArn=p["ResourceArn"])
        return f"{p['ResourceArn']}|{p['WebACLArn']}", {}

    def waf_logging(self, lid: str, p: dict) -> tuple[str, dict]:
        self.client("wafv2").put_logging_configuration(LoggingConfiguration={
            "ResourceArn": p["ResourceArn"], "LogDestinationConfigs": p["LogDestinationConfigs"]})
        return p["ResourceArn"], {}

    def alarm(self, lid: str, p: dict) -> tuple[str, dict]:
        name = p.get("AlarmName") or f"{self.stack_name}-{lid}"
        args = {k: p[k] for k in ("AlarmActions", "ComparisonOperator", "MetricName", "Namespace", "Statistic",
                                  "ExtendedStatistic", "TreatMissingData", "AlarmDescription") if k in p}
        if p.get("Metrics"):  # a metric-math alarm: its queries, numbers where the API wants numbers
            args["Metrics"] = [{**m, **({"MetricStat": {**m["MetricStat"], "Period": int(m["MetricStat"]["Period"])}}
                                        if "MetricStat" in m else {})} for m in p["Metrics"]]
        args.update({k: int(p[k]) for k in ("DatapointsToAlarm", "EvaluationPeriods", "Period") if k in p})
        args["Threshold"] = float(p["Threshold"])
        if p.get("Dimensions"):
            args["Dimensions"] = [{"Name": d["Name"], "Value": str(d["Value"])} for d in p["Dimensions"]]
        cloudwatch = self.client("cloudwatch")
        cloudwatch.put_metric_alarm(AlarmName=name, Tags=_tags(p), **args)
        arn = cloudwatch.describe_alarms(AlarmNames=[name])["MetricAlarms"][0]["AlarmArn"]
        return name, {"Arn": arn}


HANDLERS: dict[str, Callable[[Deployer, str, dict], tuple[str, dict]]] = {
    "AWS::KMS::Key": Deployer.kms_key, "AWS::KMS::Alias": Deployer.kms_alias,
    "AWS::EC2::VPC": Deployer.vpc, "AWS::EC2::Subnet": Deployer.subnet, "AWS::EC2::RouteTable": Deployer.route_table,
    "AWS::EC2::SubnetRouteTableAssociation": Deployer.route_table_association,
    "AWS::EC2::InternetGateway": Deployer.internet_gateway,
    "AWS::EC2::VPCGatewayAttachment": Deployer.gateway_attachment,
    "AWS::EC2::EIP": Deployer.eip, "AWS::EC2::NatGateway": Deployer.nat_gateway, "AWS::EC2::Route": Deployer.route,
    "AWS::EC2::SecurityGroup": Deployer.security_group,
    "AWS::EC2::SecurityGroupIngress": Deployer.security_group_ingress,
    "AWS::EC2::SecurityGroupEgress": Deployer.security_group_egress, "AWS::EC2::FlowLog": Deployer.flow_log,
    "AWS::Logs::LogGroup": Deployer.log_group, "AWS::IAM::Role": Deployer.iam_role,
    "AWS::IAM::Policy": Deployer.iam_policy,
    "AWS::RDS::DBSubnetGroup": Deployer.db_subnet_group, "AWS::RDS::DBParameterGroup": Deployer.db_parameter_group,
    "AWS::RDS::DBInstance": Deployer.db_instance, "AWS::ElastiCache::SubnetGroup": Deployer.cache_subnet_group,
    "AWS::ElastiCache::ReplicationGroup": Deployer.replication_group, "AWS::EFS::FileSystem": Deployer.file_system,
    "AWS::EFS::MountTarget": Deployer.mount_target, "AWS::EFS::AccessPoint": Deployer.access_point,
    "AWS::ECS::Cluster": Deployer.ecs_cluster, "AWS::ECS::TaskDefinition": Deployer.task_definition,
    "AWS::ECS::Service": Deployer.ecs_service,
    "AWS::ApplicationAutoScaling::ScalableTarget": Deployer.scalable_target,
    "AWS::ApplicationAutoScaling::ScalingPolicy": Deployer.scaling_policy,
    "AWS::ElasticLoadBalancingV2::LoadBalancer": Deployer.load_balancer,
    "AWS::ElasticLoadBalancingV2::TargetGroup": Deployer.target_group,
    "AWS::ElasticLoadBalancingV2::Listener": Deployer.listener,
    "AWS::ApiGateway::RestApi": Deployer.rest_api, "AWS::ApiGateway::Resource": Deployer.api_resource,
    "AWS::ApiGateway::Method": Deployer.api_method, "AWS::ApiGateway::Deployment": Deployer.api_deployment,
    "AWS::ApiGateway::Stage": Deployer.api_stage, "AWS::ApiGateway::RequestValidator": Deployer.api_request_validator,
    "AWS::ApiGateway::ApiKey": Deployer.api_key, "AWS::ApiGateway::UsagePlan": Deployer.usage_plan,
    "AWS::ApiGateway::UsagePlanKey": Deployer.usage_plan_key, "AWS::ApiGateway::VpcLink": Deployer.vpc_link,
    "AWS::SNS::Topic": Deployer.sns_topic,
    "AWS::S3::Bucket": Deployer.s3_bucket, "AWS::S3::BucketPolicy": Deployer.s3_bucket_policy,
    "AWS::SQS::Queue": Deployer.sqs_queue, "AWS::SQS::QueuePolicy": Deployer.sqs_queue_policy,
    "AWS::SNS::TopicPolicy": Deployer.sns_topic_policy,
    "AWS::Events::Rule": Deployer.events_rule,
    "AWS::WAFv2::WebACL": Deployer.web_acl, "AWS::WAFv2::WebACLAssociation": Deployer.web_acl_association,
    "AWS::WAFv2::LoggingConfiguration": Deployer.waf_logging, "AWS::CloudWatch::Alarm": Deployer.alarm,
    "AWS::Lambda::Function": Deployer.lambda_function, "AWS::Lambda::LayerVersion": Deployer.lambda_layer,
    "AWS::Lambda::EventSourceMapping": Deployer.event_source_mapping,
    "AWS::IAM::ManagedPolicy": Deployer.iam_managed_policy, "AWS::Scheduler::Schedule": Deployer.schedule,
}


def default_secret_values(config: AppConfig) -> dict[str, dict[str, str]]:
    """Local stand-ins for the existing secrets (made-up values, local emulator only)."""
    return {
        config.db_secret: {"username": "streamtech_admin", "password": "local-only-Passw0rd-not-secret"},
        config.api_key_secret: {"apiKey": "local-only-api-key-0123456789abcdef"},
        config.redis_auth_secret: {"authToken": "local-only-redis-auth-token-0123456789"},
    }
