"""Edits of the real stack for the rules' mutations and live-picture breaks (tests/policy/rules/test_<rule
module>.py): find a resource of the template or of its live picture, change or remove it."""

from __future__ import annotations


def first(template: dict, type_: str, **having: object) -> dict:
    """The first resource of `type_` whose properties have the values `having` names."""
    return next(r for r in template["Resources"].values() if r["Type"] == type_ and
                all(r["Properties"].get(k) == v for k, v in having.items()))


def props(template: dict, type_: str, **having: object) -> dict:
    return first(template, type_, **having)["Properties"]


def by_name(template: dict, type_: str, key: str, value: str) -> dict:
    return next(r["Properties"] for r in template["Resources"].values()
                if r["Type"] == type_ and r["Properties"].get(key) == value)


def public_subnet_id(template: dict) -> str:
    from platform_spec.template_engine import public_subnets
    return sorted(public_subnets(template["Resources"]))[0]


def every_rule_counts(acl: dict) -> None:
    """Each rule of the web ACL switched to Count: its Action, or a rule group's OverrideAction."""
    for rule in acl["Rules"]:
        rule["OverrideAction" if "OverrideAction" in rule else "Action"] = {"Count": {}}


def efs_volume(template: dict) -> dict:
    """The EFS volume configuration of the task definition that mounts the scratch file system."""
    return next(v["EFSVolumeConfiguration"] for r in template["Resources"].values()
                if r["Type"] == "AWS::ECS::TaskDefinition"
                for v in r["Properties"].get("Volumes", []) if "EFSVolumeConfiguration" in v)


def set_env(template: dict, name: str, value: str) -> None:
    """A plain environment variable added to the first task definition's first container."""
    container = props(template, "AWS::ECS::TaskDefinition")["ContainerDefinitions"][0]
    container["Environment"].append({"Name": name, "Value": value})


def private_route_to_igw(template: dict) -> None:
    """A private subnet's default route sent to the internet gateway instead of the NAT gateway."""
    resources = template["Resources"]
    gateway = next(lid for lid, r in resources.items() if r["Type"] == "AWS::EC2::InternetGateway")
    route = next(r["Properties"] for r in resources.values()
                 if r["Type"] == "AWS::EC2::Route" and "NatGatewayId" in r["Properties"])
    route.pop("NatGatewayId")
    route["GatewayId"] = {"Ref": gateway}


def drop(template: dict, type_: str) -> None:
    """Remove every resource of `type_` (a required resource left out of the template)."""
    for lid in [lid for lid, r in template["Resources"].items() if r["Type"] == type_]:
        template["Resources"].pop(lid)


# --- breaks of the live picture (the stack as read back, in template shape) -------------------------------------

OUTSIDER = "arn:aws:iam::111122223333:root"


def lid_of(picture: dict, type_: str) -> str:
    return next(lid for lid, r in picture["Resources"].items() if r["Type"] == type_)


def drop_first(picture: dict, type_: str) -> None:
    """Remove the first resource of `type_` (one declared resource gone)."""
    picture["Resources"].pop(lid_of(picture, type_))


def statements(properties: dict, key: str) -> list:
    document = properties[key]
    return document["Statement"] if isinstance(document["Statement"], list) else [document["Statement"]]


def outsider(sid: str = "Outsider") -> dict:
    return {"Sid": sid, "Effect": "Allow", "Principal": {"AWS": OUTSIDER}, "Action": "*", "Resource": "*"}


def without_tls_deny(properties: dict, key: str) -> None:
    document = properties[key]
    document["Statement"] = [s for s in statements(properties, key) if s.get("Effect") != "Deny"]
