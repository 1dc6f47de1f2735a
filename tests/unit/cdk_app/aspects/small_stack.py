"""A one-stack app with every guardrail Aspect (cdk_app.aspects.apply_guardrails), synthesized in process: what
each Aspect's tests build their small constructs in."""

from __future__ import annotations

from collections.abc import Callable

from aws_cdk import App, Environment, SecretValue, Stack, cx_api
from aws_cdk import aws_ec2 as ec2
from aws_cdk import aws_kms as kms
from aws_cdk import aws_rds as rds

from cdk_app.aspects import apply_guardrails
from cdk_app.config import AppConfig

CONFIG = AppConfig.for_suffix("unit")
TOKYO = Environment(region="ap-northeast-1")


def synth_small(build: Callable[[Stack], None], env: Environment | None = TOKYO):
    """Synthesize a one-stack app with every guardrail; return (template, errors, warnings)."""
    app = App(analytics_reporting=False, builtin_cloud_formation_validation=False)
    stack = Stack(app, "Small", env=env)
    build(stack)
    apply_guardrails(app, CONFIG)
    assembly = app.synth()
    artifact = assembly.get_stack_by_name("Small")
    errors = [m.entry.data for m in artifact.messages if m.level == cx_api.SynthesisMessageLevel.ERROR]
    warnings = [m.entry.data for m in artifact.messages if m.level == cx_api.SynthesisMessageLevel.WARNING]
    return artifact.template, errors, warnings


def project_key(stack: Stack) -> kms.Key:
    return kms.Key(stack, "Cmk", alias=CONFIG.name("kms-alias"), enable_key_rotation=True)


def small_db(stack: Stack, **props) -> rds.DatabaseInstance:
    vpc = ec2.Vpc(stack, "Vpc", vpc_name="vpc-unit", availability_zones=["ap-northeast-1a", "ap-northeast-1c"],
                  nat_gateways=0, restrict_default_security_group=False)
    props.setdefault("credentials", rds.Credentials.from_password("u", SecretValue.unsafe_plain_text("p" * 12)))
    return rds.DatabaseInstance(
        stack, "Db", instance_identifier="rds-unit", vpc=vpc,
        vpc_subnets=ec2.SubnetSelection(subnet_type=ec2.SubnetType.PRIVATE_ISOLATED),
        engine=rds.DatabaseInstanceEngine.postgres(version=rds.PostgresEngineVersion.VER_17_5), **props)


def only(errors: list[str], rule_id: str) -> list[str]:
    return [e for e in errors if e.startswith(f"[{rule_id}]")]
