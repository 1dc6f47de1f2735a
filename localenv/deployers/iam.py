"""Deployers of IAM roles, inline policies and managed policies."""

from __future__ import annotations

import contextlib
import json

from localenv.deployers.base import DeployContext, deployer, tags


@deployer("AWS::IAM::Role")
def iam_role(ctx: DeployContext, lid: str, p: dict) -> tuple[str, dict]:
    iam = ctx.client("iam")
    name = f"{ctx.stack_name}-{lid}"[:64]
    role = iam.create_role(RoleName=name, AssumeRolePolicyDocument=json.dumps(p["AssumeRolePolicyDocument"]),
                           Tags=tags(p))["Role"]
    for arn in p.get("ManagedPolicyArns", []) or []:
        # an AWS-managed policy moto does not ship: `opscli drift` reports it as missing, as it should
        with contextlib.suppress(iam.exceptions.NoSuchEntityException):
            iam.attach_role_policy(RoleName=name, PolicyArn=arn)
    for policy in p.get("Policies", []) or []:
        iam.put_role_policy(RoleName=name, PolicyName=policy["PolicyName"],
                            PolicyDocument=json.dumps(policy["PolicyDocument"]))
    return name, {"Arn": role["Arn"], "RoleId": role["RoleId"]}


@deployer("AWS::IAM::ManagedPolicy")
def iam_managed_policy(ctx: DeployContext, lid: str, p: dict) -> tuple[str, dict]:
    iam = ctx.client("iam")
    name = p.get("ManagedPolicyName") or f"{ctx.stack_name}-{lid}"[:128]
    arn = iam.create_policy(PolicyName=name, PolicyDocument=json.dumps(p["PolicyDocument"]),
                            Description=p.get("Description", ""))["Policy"]["Arn"]
    for role in p.get("Roles", []) or []:
        iam.attach_role_policy(RoleName=role, PolicyArn=arn)
    return arn, {"PolicyArn": arn}


@deployer("AWS::IAM::Policy")
def iam_policy(ctx: DeployContext, lid: str, p: dict) -> tuple[str, dict]:
    for role in p.get("Roles", []):
        ctx.client("iam").put_role_policy(RoleName=role, PolicyName=p["PolicyName"],
                                           PolicyDocument=json.dumps(p["PolicyDocument"]))
    return p["PolicyName"], {}
