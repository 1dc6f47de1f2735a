"""Readers of roles and their policies."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from opscli.readers.base import (
    FACTS,
    UNDECLARED,
    Call,
    MalformedAnswer,
    ReadContext,
    ask,
    json_value,
    need,
    pages,
    reader,
    resolved,
    tag_list,
)
from opscli.stack import Present

ROLE = ("arn:aws:iam::{account}:role/{stack}-*",)
POLICY = ("arn:aws:iam::{account}:policy/{stack}-*",)
GET_ROLE_POLICY = Call("iam:GetRolePolicy", ROLE)


def _declared_inline_policies(ctx: ReadContext, role_name: str) -> set[str]:
    """Inline policies that AWS::IAM::Policy resources of the stack attach to `role_name` (they are read as their
    own resources, not as the role's Policies)."""
    names = set()
    for policy in ctx.scope.of_type("AWS::IAM::Policy"):
        roles = ctx.resolve(policy.properties.get("Roles", []))
        if isinstance(roles, list) and role_name in roles:
            names.add(str(ctx.resolve(policy.properties.get("PolicyName"))))
    return names


def _declared_managed_policies(ctx: ReadContext, role_name: str) -> set[str]:
    """ARNs of the AWS::IAM::ManagedPolicy resources of the stack that attach themselves to `role_name` (their
    Roles; read, like AWS::IAM::Policy, as their own resources, not as the role's ManagedPolicyArns)."""
    arns = set()
    for policy in ctx.scope.of_type("AWS::IAM::ManagedPolicy"):
        roles = ctx.resolve(policy.properties.get("Roles", []))
        if isinstance(roles, list) and role_name in roles and policy.physical_id:
            arns.add(policy.physical_id)
    return arns


@reader("AWS::IAM::Role", (Call("iam:GetRole", ROLE), Call("iam:ListAttachedRolePolicies", ROLE),
                           Call("iam:ListRolePolicies", ROLE), GET_ROLE_POLICY),
        "RoleName AssumeRolePolicyDocument Description ManagedPolicyArns Policies Tags",
        derived=lambda p: {"Arn": f"arn:aws:iam::{p.account}:role/{p.id}"})
def iam_role(ctx: ReadContext, r: Present) -> dict[str, Any]:
    iam = ctx.aws.client("iam")
    role = need(ask("GetRole", iam.get_role, "NoSuchEntity", RoleName=r.physical_id), "Role", Mapping,
                operation="GetRole")
    attached = [p["PolicyArn"] for page in pages(iam, "list_attached_role_policies", "ListAttachedRolePolicies",
                                                 RoleName=r.physical_id)
                for p in need(page, "AttachedPolicies", list, operation="ListAttachedRolePolicies")]
    attached = sorted(set(attached) - _declared_managed_policies(ctx, r.physical_id))
    inline_names = [n for page in pages(iam, "list_role_policies", "ListRolePolicies", RoleName=r.physical_id)
                    for n in need(page, "PolicyNames", list, operation="ListRolePolicies")]
    own = sorted(set(inline_names) - _declared_inline_policies(ctx, r.physical_id))
    policies = []
    for name in own:
        document = ask("GetRolePolicy", iam.get_role_policy, RoleName=r.physical_id, PolicyName=name)
        policies.append({"PolicyName": name, "PolicyDocument": json_value(
            need(document, "PolicyDocument", (str, Mapping), operation="GetRolePolicy"), "GetRolePolicy",
            "PolicyDocument")})
    # Each name resolved on its own: a policy document may name what is not known yet (a group's id), its name not.
    declared_managed = {resolved(ctx, arn) for arn in r.properties.get("ManagedPolicyArns") or []}
    declared_inline = {str(resolved(ctx, p.get("PolicyName"))) for p in r.properties.get("Policies") or []
                       if isinstance(p, Mapping)}
    undeclared = [f"managed policy {arn} attached" for arn in sorted(attached) if arn not in declared_managed]
    undeclared += [f"inline policy {name}" for name in own if name not in declared_inline]
    props = {"RoleName": r.physical_id, "ManagedPolicyArns": sorted(attached), "Policies": policies,
             "AssumeRolePolicyDocument": json_value(need(role, "AssumeRolePolicyDocument", (str, Mapping),
                                                    operation="GetRole"), "GetRole", "AssumeRolePolicyDocument"),
             "Tags": tag_list(role.get("Tags", [])), FACTS: {UNDECLARED: undeclared}}
    if role.get("Description"):
        props["Description"] = role["Description"]
    return props


@reader("AWS::IAM::Policy", (GET_ROLE_POLICY,), "PolicyName PolicyDocument Roles")
def iam_policy(ctx: ReadContext, r: Present) -> dict[str, Any]:
    iam = ctx.aws.client("iam")
    name = ctx.resolve(r.properties.get("PolicyName"))
    roles = ctx.resolve(r.properties.get("Roles", []))
    if not isinstance(roles, list) or not roles:
        raise MalformedAnswer("the declared policy is attached to no role; there is nothing to read it from")
    documents = []
    for role in roles:
        answer = ask("GetRolePolicy", iam.get_role_policy, "NoSuchEntity", RoleName=role, PolicyName=name)
        documents.append(json_value(need(answer, "PolicyDocument", (str, Mapping), operation="GetRolePolicy"),
                                    "GetRolePolicy", "PolicyDocument"))
    if any(d != documents[0] for d in documents):
        raise MalformedAnswer(f"policy {name} differs between the roles it is attached to")
    return {"PolicyName": name, "PolicyDocument": documents[0], "Roles": roles}


@reader("AWS::IAM::ManagedPolicy", (Call("iam:GetPolicy", POLICY), Call("iam:GetPolicyVersion", POLICY),
                                    Call("iam:ListEntitiesForPolicy", POLICY)),
        "ManagedPolicyName Description Path PolicyDocument Roles Users Groups", derived=lambda p: {"PolicyArn": p.id})
def iam_managed_policy(ctx: ReadContext, r: Present) -> dict[str, Any]:
    """The policy's default version (the document in force) and every identity it is attached to: a role, user or
    group the stack does not attach it to is undeclared."""
    iam = ctx.aws.client("iam")
    policy = need(ask("GetPolicy", iam.get_policy, "NoSuchEntity", PolicyArn=r.physical_id), "Policy", Mapping,
                  operation="GetPolicy")
    version_id = need(policy, "DefaultVersionId", str, operation="GetPolicy")
    version = need(ask("GetPolicyVersion", iam.get_policy_version, "NoSuchEntity", PolicyArn=r.physical_id,
                       VersionId=version_id), "PolicyVersion", Mapping, operation="GetPolicyVersion")
    document = json_value(need(version, "Document", (str, Mapping), operation="GetPolicyVersion"), "GetPolicyVersion",
                          "Document")
    attached: dict[str, list[str]] = {"Roles": [], "Users": [], "Groups": []}
    for page in pages(iam, "list_entities_for_policy", "ListEntitiesForPolicy", PolicyArn=r.physical_id):
        for prop, key, name in (("Roles", "PolicyRoles", "RoleName"), ("Users", "PolicyUsers", "UserName"),
                                ("Groups", "PolicyGroups", "GroupName")):
            attached[prop] += [need(item, name, str, operation="ListEntitiesForPolicy")
                               for item in need(page, key, list, operation="ListEntitiesForPolicy")]
    undeclared = []
    for prop, kind in (("Roles", "role"), ("Users", "user"), ("Groups", "group")):
        declared = resolved(ctx, r.properties.get(prop), [])
        declared = set(declared) if isinstance(declared, list) else set()
        undeclared += [f"attached to {kind} {name}" for name in sorted(attached[prop]) if name not in declared]
    props: dict[str, Any] = {"ManagedPolicyName": need(policy, "PolicyName", str, operation="GetPolicy"),
                             "Path": need(policy, "Path", str, operation="GetPolicy"), "PolicyDocument": document,
                             **{prop: sorted(names) for prop, names in attached.items()},
                             FACTS: {UNDECLARED: undeclared}}
    if policy.get("Description"):
        props["Description"] = policy["Description"]
    return props
