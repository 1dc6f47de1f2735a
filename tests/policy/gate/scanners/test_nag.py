"""policies/gate/scanners/nag.py: every cdk-nag rule our packs evaluate maps to a catalog rule or is listed."""

from __future__ import annotations

import pytest

from policies.gate.scanners import nag
from tests.conftest import CDK_AND_CHECKOV

pytestmark = [pytest.mark.synth, CDK_AND_CHECKOV]


# cdk-nag rules our packs evaluate on the stack that no catalog rule maps, each with why: a finding of any
# other unmapped rule fails the test below (a cdk-nag upgrade that adds a rule must be mapped or listed here).
UNMAPPED_NAG = {
    "AEC5": "Redis on a non-default port: the cache listens on 6380 (TLS), nothing to enforce beyond it",
    "APIG2": "request validation is the metadata API's own (it answers 400 itself)",
    "EC27": "security group descriptions: cosmetic, CDK writes one for every group",
    "ECS7": "container logging: every container logs through awslogs to an encrypted group (STK-KMS-001, LOG-001)",
    "RDS11": "a non-default database port: PostgreSQL listens on 5433 already",
    "S5": "CloudFront origin access identity: the stack has no CloudFront",
    "SNS3": "topic SSL-only policy: the alarm topic has no publisher outside AWS services",
    "ALBHttpDropInvalidHeaderEnabled": "the stack has no Application Load Balancer (an internal NLB)",
    "ALBHttpToHttpsRedirection": "the stack has no Application Load Balancer (an internal NLB)",
    "ALBWAFEnabled": "the stack has no Application Load Balancer; the web ACL is on the API stage (STK-API-005)",
    "ElastiCacheRedisClusterAutomaticBackup": "the cache holds derived data only, rebuilt from PostgreSQL",
    "IAMUserNoPolicies": "the stack declares no IAM users",
    "L1": "the posture monitor's function runs the newest Python runtime (posture_monitor.RUNTIME); no catalog rule "
          "of its own yet",
    "LambdaConcurrency": "the posture monitor's function reserves its concurrency "
                         "(posture_monitor.RESERVED_CONCURRENCY);"
                         " no catalog rule of its own yet",
    "RDSAutomaticMinorVersionUpgradeEnabled": "the engine version is pinned and upgraded through the stack",
    "RDSEnhancedMonitoringEnabled": "enhanced monitoring is on; no catalog rule of its own yet",
    "RDSLoggingEnabled": "PostgreSQL logs are exported; no catalog rule of its own yet",
    "S3BucketVersioningEnabled": "versioning is on; no catalog rule of its own yet",
    "VPCDefaultSecurityGroupClosed": "CDK's restrict_default_security_group closes it at deployment",
    "WAFv2LoggingEnabled": "WAF logging is on; no catalog rule of its own yet",
}


def test_every_cdk_nag_rule_our_packs_evaluate_maps_to_a_catalog_rule_or_is_listed(synth):
    import csv

    evaluated = {row["Rule ID"] for report in synth.outdir.glob("*-NagReport.csv")
                 for row in csv.DictReader(report.open(newline=""))}
    mapping = nag.nag_to_catalog()
    unmapped = {rule for rule in evaluated if not rule.startswith("StreamTech-") and rule not in mapping}
    concept = {rule: rule.split("-", 1)[1] for rule in unmapped}
    assert {rule for rule, name in concept.items() if name not in UNMAPPED_NAG} == set(), \
        "map these cdk-nag rules in the catalog references or list them with a reason"
    assert len(evaluated) > 150 and len(unmapped) < len(evaluated) / 3
