"""Create a synthesized template's resources in the emulator through the service APIs, in dependency order.

Every resource type the template uses is either created by its service's deployer (localenv.deployers, with the
properties the template gives) or listed as skipped with the reason; nothing is dropped silently. Known emulator
(moto) gaps are worked around in the deployers, each with a comment.
"""

from __future__ import annotations

import io
import json
import zipfile
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

import boto3

from cdk_app.config import AppConfig
from localenv.deployers import DEPLOYERS
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


class Deployer:
    """One stack's local deployment: the emulator's clients, the existing secrets it reads, the template's resolver
    and order; each resource is created by the deployer its type registered (localenv.deployers)."""

    account = ACCOUNT  # the account the emulator answers for

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
            create = DEPLOYERS.get(rtype)
            if create is None:
                result.skipped.append((lid, rtype, SKIPPED_TYPES.get(rtype, "no local handler for this type")))
                continue
            try:
                props = self.resolver.resolve(resource.get("Properties", {}))
            except Unresolvable as exc:
                result.skipped.append((lid, rtype, f"depends on {exc}, which was not created locally"))
                continue
            physical_id, attrs = create(self, lid, props)
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


def default_secret_values(config: AppConfig) -> dict[str, dict[str, str]]:
    """Local stand-ins for the existing secrets (made-up values, local emulator only)."""
    return {
        config.db_secret: {"username": "streamtech_admin", "password": "local-only-Passw0rd-not-secret"},
        config.api_key_secret: {"apiKey": "local-only-api-key-0123456789abcdef"},
        config.redis_auth_secret: {"authToken": "local-only-redis-auth-token-0123456789"},
    }
