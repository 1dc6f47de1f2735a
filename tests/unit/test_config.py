"""Config parsing and the entry point's handling of bad input (no full synthesis here)."""

from __future__ import annotations

import io
import json
import os
import subprocess
import sys

import pytest

from cdk_app.app import main
from cdk_app.config import AppConfig, ConfigError, parse_context
from platform_spec.exit_codes import EXIT_FINDINGS, EXIT_OK, EXIT_USAGE
from platform_spec.naming import max_suffix_length
from tests.conftest import CDK_AND_CHECKOV, ROOT, cdk_json_context


def parse(**context):
    return parse_context(context.get)


def test_defaults_use_dev_and_suffixed_secret_names():
    config = parse()
    assert config.environment_suffix == "dev" and config.region == "ap-northeast-1"
    assert (config.db_secret, config.api_key_secret, config.redis_auth_secret) == (
        "rds-credentials-dev", "api-key-secret-dev", "redis-auth-dev")
    assert config.stack_name == "TapStackdev"
    assert config.availability_zones == ("ap-northeast-1a", "ap-northeast-1c", "ap-northeast-1d")


def test_context_values_override_defaults():
    arn = "arn:aws:secretsmanager:ap-northeast-1:123456789012:secret:prod/db-AbCdEf"
    config = parse(environmentSuffix="prod", dbSecretName=arn, logRetentionDays="90", natGateways=3,
                   redisNodeCount="3", videoImageUri="123456789012.dkr.ecr.ap-northeast-1.amazonaws.com/w:1",
                   dbInstanceClass="db.r7g.large", account="123456789012", extraTags='{"Team":"video"}')
    assert config.db_secret == arn and config.log_retention_days == 90 and config.nat_gateways == 3
    assert config.redis_node_count == 3 and config.db_instance_class == "r7g.large"
    assert config.extra_tags == (("Team", "video"),) and config.account == "123456789012"
    # the StackSet-ready template: an asset prefix, and no account (each stack instance is its own account's)
    stackset = parse(monitorAssetBucketPrefix="acme-monitor-assets")
    assert stackset.monitor_asset_bucket_prefix == "acme-monitor-assets" and stackset.account is None


@pytest.mark.parametrize("context, message", [
    ({"environmentSuffix": "Prod"}, "use lowercase letters and digits"),
    ({"environmentSuffix": "my env"}, "no spaces"),
    ({"environmentSuffix": ""}, "environmentSuffix is empty"),
    ({"environmentSuffix": "a" * (max_suffix_length() + 1)}, "the tightest is the 32-character load balancer name"),
    ({"region": "us-east-1"}, "region 'us-east-1' is not allowed"),
    ({"dbSecretName": ""}, "dbSecretName is empty"),
    ({"apiKeySecretName": "  "}, "apiKeySecretName is empty"),
    ({"redisAuthSecretName": "bad name!"}, "redisAuthSecretName"),
    ({"dbSecretName": "arn:aws:secretsmanager:us-east-1:123456789012:secret:x-AbCdEf"},
     "secrets must be in ap-northeast-1"),
    ({"dbSecretName": "arn:aws:s3:::bucket"}, "is not a Secrets Manager secret ARN"),
    ({"logRetentionDays": "forever"}, "is not a whole number"),
    ({"logRetentionDays": 10}, "logRetentionDays=10 is not allowed"),
    ({"natGateways": 0}, "natGateways=0 is not allowed"),
    ({"redisNodeCount": 1}, "redisNodeCount=1 is not allowed; allowed: 2 to 6"),
    ({"account": "12345"}, "not a 12-digit AWS account id"),
    ({"extraTags": "not json"}, "extraTags must be a JSON object"),
    ({"extraTags": {"aws:reserved": "x"}}, "reserved prefix"),
    ({"extraTags": ["a"]}, "extraTags must be a JSON object of tag key to string value"),
    ({"owner": ""}, "owner must not be empty"),
    ({"videoImageUri": "not an image"}, "is not an image URI"),
    ({"dbInstanceClass": "t4g.micro"}, "too small"),
    ({"redisNodeType": "t4g.small"}, "not an ElastiCache node type"),
    ({"monitorAssetBucketPrefix": "acme-monitor-assets", "account": "111122223333"},
     "the StackSet template must name no account"),
])
def test_bad_context_is_one_clear_error(context, message):
    with pytest.raises(ConfigError) as excinfo:
        parse(**context)
    assert message in str(excinfo.value) and "\n" not in str(excinfo.value)


def test_main_returns_exit_code_2_with_one_line_for_bad_context():
    err = io.StringIO()
    assert main({"environmentSuffix": "BAD"}, stderr=err) == EXIT_USAGE
    lines = err.getvalue().splitlines()
    assert len(lines) == 1 and lines[0].startswith("error: environmentSuffix 'BAD' is not allowed")


def test_python_entry_point_refuses_bad_region_without_a_traceback():
    """The command cdk.json runs, given context the way the CDK CLI passes it (CDK_CONTEXT_JSON)."""
    env = {**os.environ, "CDK_CONTEXT_JSON": json.dumps({"region": "eu-west-1"}),
           "JSII_SILENCE_WARNING_END_OF_LIFE_NODE_VERSION": "20"}
    proc = subprocess.run([sys.executable, "-m", "cdk_app"], cwd=ROOT, env=env, capture_output=True, text=True,
                          timeout=120)
    assert proc.returncode == EXIT_USAGE
    assert proc.stderr.strip() == ("error: region 'eu-west-1' is not allowed: StreamTech data must stay in Japan, "
                                   "so this app deploys to ap-northeast-1 only")
    assert "Traceback" not in proc.stderr


def test_config_is_frozen():
    config = AppConfig.for_suffix("qa")
    with pytest.raises(AttributeError):
        config.environment_suffix = "prod"  # type: ignore[misc]


@CDK_AND_CHECKOV
@pytest.mark.parametrize("flags", [True, False], ids=["cdk.json-flags", "no-flags"])
def test_main_exit_codes_follow_the_guardrails(monkeypatch, tmp_path, flags):
    """0 when the app is clean, 1 with one line per violation when an Aspect reports an error.

    With cdk.json's flags the errors arrive through CDK's validation report; without, as annotations.
    """
    from aws_cdk import Environment, Stack
    from aws_cdk import aws_kms as kms
    from aws_cdk import aws_logs as logs

    import cdk_app.app as entry

    for encrypted, expected in ((True, EXIT_OK), (False, EXIT_FINDINGS)):
        def build(app, config, encrypted=encrypted):
            # A one-resource stand-in for TapStack, so this test costs no full synthesis.
            stack = Stack(app, config.stack_name, env=Environment(region=config.region))
            key = kms.Key(stack, "Cmk", alias=config.name("kms-alias")) if encrypted else None
            logs.LogGroup(stack, "Logs", log_group_name=f"/ecs/thing-{config.environment_suffix}", encryption_key=key)
            entry.apply_guardrails(app, config)

        monkeypatch.setattr(entry, "build_app", build)
        err = io.StringIO()
        # cdk.json's feature flags make Annotations errors fail synth through the validation report.
        context = {**(cdk_json_context() if flags else {}), "environmentSuffix": "qa"}
        code = main(context, outdir=str(tmp_path / str(encrypted)), stderr=err)
        assert code == expected, err.getvalue()
        if expected == EXIT_FINDINGS:
            lines = err.getvalue().splitlines()
            assert lines[0].startswith("error: /TapStackqa/Logs/Resource: [STK-KMS-001]")
            assert lines[-1] == "error: synthesis found 1 guardrail violation(s); nothing is deployable"
        else:
            assert err.getvalue() == ""
