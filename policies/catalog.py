"""The rule catalog: every rule's id, words and mapped controls, in one registry read by every engine."""

from __future__ import annotations

from dataclasses import dataclass, field
from enum import Enum


class Severity(str, Enum):
    CRITICAL = "CRITICAL"
    HIGH = "HIGH"
    MEDIUM = "MEDIUM"
    LOW = "LOW"
    INFO = "INFO"


class Stage(str, Enum):
    SYNTH = "synth"  # CDK Aspect at synthesis
    TEMPLATE = "template"  # checks over the synthesized CloudFormation template
    LIVE = "live"  # opscli against deployed resources


@dataclass(frozen=True)
class References:
    """Mapped controls. Empty string: no such control exists for this rule."""

    security_hub: str = ""  # AWS Foundational Security Best Practices control id
    config_rule: str = ""  # AWS Config managed rule identifier
    prowler: str = ""
    cdk_nag: str = ""
    checkov: str = ""


@dataclass(frozen=True)
class Rule:
    id: str
    title: str
    severity: Severity
    stages: tuple[Stage, ...]
    rationale: str
    remediation: str
    references: References = field(default_factory=References)
    # An accepted deviation documents a control we knowingly do not meet, and why.
    accepted_deviation: bool = False

    def message(self, detail: str) -> str:
        """The one line every engine prints: rule id, title, then what was found."""
        return f"[{self.id}] {self.title}: {detail}"


_RULES: tuple[Rule, ...] = (
    Rule(
        "STK-REGION-001", "Resources deploy to ap-northeast-1 only", Severity.CRITICAL,
        (Stage.SYNTH,),
        "StreamTech must keep video metadata in Japan under Japanese broadcasting regulations.",
        "Deploy the stack with env region ap-northeast-1; do not pass another region in context.",
    ),
    Rule(
        "STK-NAME-001", "Physical names follow {resource-type}-{environmentSuffix} and fit service limits",
        Severity.MEDIUM, (Stage.SYNTH,),
        "Deterministic names let several environments share an account and let opscli find resources "
        "by direct lookup; a name over a service limit fails the deployment late.",
        "Build every physical name with cdk_app.naming.physical_name and add new resource types to NAMES.",
    ),
    Rule(
        "STK-TAG-001", "Every taggable resource carries the required cost and compliance tags",
        Severity.MEDIUM, (Stage.SYNTH, Stage.TEMPLATE),
        "Cost allocation and compliance scoping depend on Project, Environment, CostCenter, Owner, "
        "DataClassification and ManagedBy on every resource.",
        "Keep the tagging Aspect attached through apply_guardrails; set tag values in context, not per resource.",
        References(config_rule="required-tags"),
    ),
    Rule(
        "STK-KMS-001", "Data stores and log groups are encrypted with the project's customer-managed key",
        Severity.HIGH, (Stage.SYNTH, Stage.TEMPLATE),
        "One customer-managed key gives StreamTech control over key policy, rotation and revocation; an "
        "AWS-managed aws/* key cannot be audited or disabled by the customer.",
        "Pass the Encryption construct's key to the resource (storage_encryption_key, kms_key, encryption_key).",
        References(security_hub="RDS.3", config_rule="rds-storage-encrypted", cdk_nag="AwsSolutions-RDS2"),
    ),
    Rule(
        "STK-DESTROY-001", "No resource is retained or snapshotted when the stack is deleted",
        Severity.MEDIUM, (Stage.SYNTH, Stage.TEMPLATE),
        "Environments are created and deleted per suffix; retained resources leak cost and block "
        "re-creation under the same deterministic names.",
        "Leave the destroy-policy Aspect attached; never set RemovalPolicy.RETAIN or SNAPSHOT.",
    ),
    Rule(
        "STK-DESTROY-002", "Deletion protection is off so the stack can be deleted without manual steps",
        Severity.LOW, (Stage.SYNTH, Stage.TEMPLATE),
        "Destroyability is a requirement of the brief; deletion protection would make stack deletion fail.",
        "Do not enable deletion_protection; the destroy-policy Aspect turns it off and warns.",
        References(security_hub="RDS.8", config_rule="rds-instance-deletion-protection-enabled",
                   cdk_nag="AwsSolutions-RDS10"),
        accepted_deviation=True,
    ),
    Rule(
        "STK-SECRET-001", "The stack creates no secret and writes into no existing secret", Severity.HIGH,
        (Stage.SYNTH, Stage.TEMPLATE),
        "Credentials and API keys are owned and rotated outside the stack; a created secret would be "
        "deleted with the stack and a SecretTargetAttachment would overwrite the existing one.",
        "Import secrets with Secret.from_secret_name_v2 / from_secret_complete_arn and use "
        "Credentials.from_password(username, secret.secret_value_from_json('password')).",
    ),
    Rule(
        "STK-SECRET-002", "No credential is passed to a container as a plain environment variable",
        Severity.HIGH, (Stage.SYNTH, Stage.TEMPLATE),
        "Environment variables are visible in the task definition to anyone who can describe it.",
        "Use the container's `secrets` field (ecs.Secret.from_secrets_manager) for passwords, tokens and keys.",
        References(cdk_nag="AwsSolutions-ECS2", checkov="CKV_AWS_97"),
    ),
)

CATALOG: dict[str, Rule] = {rule.id: rule for rule in _RULES}


def get(rule_id: str) -> Rule:
    """The rule with id `rule_id`; KeyError names the unknown id."""
    try:
        return CATALOG[rule_id]
    except KeyError:
        raise KeyError(f"unknown rule id '{rule_id}'") from None
