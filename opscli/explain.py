"""What makes a finding explain itself in every format (terminal, JSON, SARIF, HTML, ASFF, OCSF): the rule's
words, the evidence (what was found, in which resource, read with which calls), what an operator does now, what
keeps it fixed in code, and the controls it maps to."""

from __future__ import annotations

import re
from typing import Any

from opscli.model import Finding, resource_parts
from opscli.operations import ACCOUNT_OPERATIONS, SECRETS_SPECS
from opscli.readers import READERS
from opscli.stackcheck import ACCOUNT_CHECK
from platform_spec import catalog
from platform_spec.result import Status

# catalog reference field -> how an auditor names the framework
CONTROL_NAMES = {"iso27001": "ISO/IEC 27001:2022", "security_hub": "AWS Security Hub (FSBP)",
                 "config_rule": "AWS Config", "prowler": "Prowler", "cdk_nag": "cdk-nag", "checkov": "Checkov",
                 "access_analyzer": "IAM Access Analyzer", "cis": "CIS AWS Foundations v3.0"}
# What to do about an ERROR, in every format: its reason says what could not be looked at, why and what to do.
COULD_NOT_LOOK = "no verdict yet: do what the evidence says (it could not look), then run again"
SECRETS_OPERATIONS = tuple(sorted({op for spec in SECRETS_SPECS for op in spec.operations}))


def read_with(finding: Finding) -> list[str]:
    """The AWS calls the evidence came from: the reader of the resource's type, or the secrets' collector."""
    if finding.check_id.startswith("secret."):
        return list(SECRETS_OPERATIONS)
    if finding.check_id.endswith(f"/{ACCOUNT_CHECK}"):  # the account's IAM beside the stack, and its scope
        return sorted({"cloudformation:GetTemplate", "cloudformation:ListStackResources", *ACCOUNT_OPERATIONS})
    parts = resource_parts(finding.resource)
    reader = READERS.get(parts[0]) if parts is not None else None
    if reader is not None:
        return sorted({"cloudformation:GetTemplate", "cloudformation:ListStackResources", *reader.operations})
    return ["cloudformation:GetTemplate", "cloudformation:ListStackResources"] if parts is not None else []


def controls(rule: catalog.Rule | None) -> dict[str, list[str]]:
    """Framework name -> the control ids the rule maps to (only the frameworks it maps to)."""
    if rule is None:
        return {}
    return {name: ids for kind, name in CONTROL_NAMES.items() if (ids := rule.references.ids(kind))}


# The placeholder a rule's operator remediation uses for a resource of each type ("aws kms enable-key-rotation
# --key-id KEY"): the finding's physical id takes its place, so the command is ready to run.
PLACEHOLDERS = {"AWS::EC2::SecurityGroup": "GROUP", "AWS::KMS::Key": "KEY", "AWS::EFS::FileSystem": "FS",
                "AWS::SQS::Queue": "QUEUE", "AWS::S3::Bucket": "BUCKET", "AWS::ApiGateway::RestApi": "API",
                "AWS::ECS::Cluster": "CLUSTER", "AWS::ECS::Service": "SERVICE", "AWS::EC2::RouteTable": "TABLE",
                "AWS::EC2::VPC": "VPC", "AWS::Logs::LogGroup": "GROUP", "AWS::RDS::DBParameterGroup": "GROUP",
                "AWS::CloudWatch::Alarm": "NAME"}


def ready_to_run(command: str, resource_type: str | None, physical_id: str | None) -> str:
    token = PLACEHOLDERS.get(resource_type or "")
    if not command or not token or not physical_id:
        return command
    return re.sub(rf"\b{token}\b", physical_id.replace("\\", "\\\\"), command)


def explanation(finding: Finding) -> dict[str, Any]:
    """Everything a reader of one finding needs, with nothing looked up elsewhere."""
    rule = catalog.CATALOG.get(finding.rule_id)
    parts = resource_parts(finding.resource)
    resource: dict[str, Any] = {"name": finding.resource}
    if parts is not None:
        resource = {"type": parts[0], "logical_id": parts[1], "physical_id": parts[2], "name": finding.resource}
    explained = {
        "title": finding.title or (rule.title if rule else finding.rule_id),
        "rationale": rule.rationale if rule else "",
        "evidence": {"found": finding.reason, "resource": resource, "read_with": read_with(finding)},
        "remediation": {"now": ready_to_run(rule.now, resource.get("type"), resource.get("physical_id"))
                        if rule else "", "in_code": rule.in_code if rule else ""},
        "controls": controls(rule),
    }
    if finding.status is Status.ERROR:  # no verdict: the rule's fix is for a FAIL that nobody has seen
        explained["remediation"] = {"now": COULD_NOT_LOOK, "in_code": ""}
    return explained
