"""cdk_app/config.py: the context read once into a frozen AppConfig, one clear line for each bad value (what the
entry point does with it: tests/unit/cdk_app/test_app.py)."""

from __future__ import annotations

import pytest

from cdk_app.config import AppConfig, ConfigError, parse_context
from platform_spec.naming import max_suffix_length


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
    ({"logRetentionDays": "3_0"}, "is not a whole number"),  # int() reads it as 30
    ({"natGateways": "\uff13"}, "is not a whole number"),  # a fullwidth three: int() reads it
    ({"logRetentionDays": 10}, "logRetentionDays=10 is not allowed"),
    ({"natGateways": 0}, "natGateways=0 is not allowed"),
    ({"redisNodeCount": 1}, "redisNodeCount=1 is not allowed; allowed: 2 to 6"),
    ({"account": "12345"}, "not a 12-digit AWS account id"),
    ({"account": "\uff11" * 12}, "not a 12-digit AWS account id"),  # fullwidth digits are no account id
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


def test_config_is_frozen():
    config = AppConfig.for_suffix("qa")
    with pytest.raises(AttributeError):
        config.environment_suffix = "prod"  # type: ignore[misc]
