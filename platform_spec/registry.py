"""Every per-resource rule as (resource types, predicate): the one table the cdk-nag pack, the Checkov
checks and the template engine adapt. Adding a rule: a predicate, a catalog entry, a row here, fixtures."""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass
from typing import Any

from platform_spec.context import Context
from platform_spec.result import Result
from platform_spec.rules import (
    stk_api,
    stk_ecs,
    stk_efs,
    stk_iam,
    stk_intake,
    stk_kms,
    stk_log,
    stk_name,
    stk_net,
    stk_rds,
    stk_redis,
    stk_secret,
    stk_tag,
)
from platform_spec.tagging import REQUIRED_TAG_KEYS

Predicate = Callable[[str, Mapping[str, Any], Context], Result]


@dataclass(frozen=True)
class ResourceRule:
    rule_id: str
    resource_types: frozenset[str]
    predicate: Predicate

    def applies_to(self, resource_type: str) -> bool:
        return resource_type in self.resource_types

    def evaluate(self, resource_type: str, properties: Mapping[str, Any] | None, context: Context) -> Result:
        if not self.applies_to(resource_type):
            return Result.na()
        return self.predicate(resource_type, properties or {}, context)


def _plain(fn: Callable[[str, Mapping[str, Any]], Result]) -> Predicate:
    return lambda resource_type, properties, _context: fn(resource_type, properties)


_IAM_TYPES = frozenset({"AWS::IAM::Policy", "AWS::IAM::ManagedPolicy", "AWS::IAM::Role", "AWS::IAM::User",
                        "AWS::IAM::Group"})

RESOURCE_RULES: tuple[ResourceRule, ...] = (
    ResourceRule(stk_name.RULE_ID, frozenset(stk_name.NAME_PROPERTIES),
                 lambda t, p, c: stk_name.check(t, p, c.suffix)),
    ResourceRule(stk_tag.RULE_ID, stk_tag.TAGGABLE_TYPES,
                 lambda t, p, c: stk_tag.check(t, p, REQUIRED_TAG_KEYS, dict(c.expected_tags) or None)),
    ResourceRule(stk_kms.RULE_ID, frozenset(stk_kms.KEY_PROPERTIES), lambda t, p, c: stk_kms.check(t, p, c.cmk_ids)),
    ResourceRule("STK-KMS-002", frozenset({"AWS::KMS::Key"}), _plain(stk_kms.check_rotation)),
    ResourceRule(stk_rds.MULTI_AZ_ID, frozenset({stk_rds.INSTANCE}), _plain(stk_rds.check_multi_az)),
    ResourceRule(stk_net.OPEN_INGRESS_ID, stk_net.TYPES, _plain(stk_net.check_no_ingress_from_anywhere)),
    ResourceRule(stk_rds.BACKUP_ID, frozenset({stk_rds.INSTANCE}), _plain(stk_rds.check_backups)),
    ResourceRule(stk_rds.FORCE_SSL_ID, frozenset({stk_rds.INSTANCE, stk_rds.PARAMETER_GROUP}),
                 _plain(stk_rds.check_force_ssl)),
    ResourceRule(stk_rds.PUBLIC_ID, frozenset({stk_rds.INSTANCE}), _plain(stk_rds.check_not_public)),
    ResourceRule(stk_redis.HA_ID, frozenset({stk_redis.TYPE}), _plain(stk_redis.check_high_availability)),
    ResourceRule(stk_redis.TRANSIT_ID, frozenset({stk_redis.TYPE}), _plain(stk_redis.check_transit)),
    ResourceRule(stk_efs.RULE_ID, frozenset({stk_efs.TYPE}), _plain(stk_efs.check)),
    ResourceRule(stk_ecs.EFS_ID, frozenset({"AWS::ECS::TaskDefinition"}), _plain(stk_ecs.check_efs_volumes)),
    ResourceRule(stk_ecs.SERVICE_ID, frozenset({"AWS::ECS::Service"}), _plain(stk_ecs.check_service)),
    ResourceRule(stk_ecs.INSIGHTS_ID, frozenset({"AWS::ECS::Cluster"}), _plain(stk_ecs.check_container_insights)),
    ResourceRule(stk_api.REGIONAL_ID, frozenset({"AWS::ApiGateway::RestApi"}), _plain(stk_api.check_regional)),
    ResourceRule(stk_api.LOGGING_ID, frozenset({"AWS::ApiGateway::Stage"}), _plain(stk_api.check_stage_logging)),
    ResourceRule(stk_api.INTEGRATION_ID, frozenset({"AWS::ApiGateway::Method"}), _plain(stk_api.check_integration)),
    ResourceRule(stk_log.RULE_ID, frozenset({"AWS::Logs::LogGroup"}), _plain(stk_log.check)),
    ResourceRule(stk_secret.CREATED_RULE_ID, frozenset(stk_secret.SECRET_WRITING_TYPES),
                 lambda t, p, c: stk_secret.check_created(t)),
    ResourceRule(stk_secret.ENV_RULE_ID, frozenset({"AWS::ECS::TaskDefinition"}), _plain(stk_secret.check_environment)),
    ResourceRule(stk_iam.RULE_ID, _IAM_TYPES, _plain(stk_iam.check)),
    ResourceRule(stk_intake.PUBLIC_ID, frozenset({"AWS::S3::Bucket"}), _plain(stk_intake.check_public_access_block)),
)

BY_ID: dict[str, ResourceRule] = {rule.rule_id: rule for rule in RESOURCE_RULES}

# Rules whose template stage Checkov's built-in checks (named in the catalog references) cover fully;
# every other CHECKOV-engine rule gets a custom check (policies/checkov_checks).
CHECKOV_BUILTIN_COVERED = frozenset({"STK-KMS-002", "STK-RDS-001", "STK-ECS-003", "STK-API-002", "STK-LOG-001"})


def checkov_custom_rule_ids() -> list[str]:
    from platform_spec import catalog

    return [r.id for r in catalog.rules_for(catalog.Engine.CHECKOV) if r.id not in CHECKOV_BUILTIN_COVERED]
