"""A one-stack app with every guardrail Aspect (cdk_app.aspects.apply_guardrails), synthesized in process: what
each Aspect's tests build their small constructs in.

aws_cdk is imported where a stack is built, never when a test module is collected: importing it starts a jsii
kernel, and every pytest-xdist worker collects every module, while only the "cdk" group's worker builds constructs
(tests/conftest.py CDK_AND_CHECKOV)."""

from __future__ import annotations

from collections.abc import Callable, Mapping
from typing import TYPE_CHECKING

from cdk_app.config import AppConfig

if TYPE_CHECKING:
    from aws_cdk import Stack
    from aws_cdk import aws_kms as kms
    from aws_cdk import aws_rds as rds

CONFIG = AppConfig.for_suffix("unit")
TOKYO = {"region": "ap-northeast-1"}  # aws_cdk.Environment's arguments


def synth_small(build: Callable[[Stack], None], env: Mapping[str, str] | None = TOKYO):
    """Synthesize a one-stack app with every guardrail, in the environment `env` (Environment's arguments; None:
    none); return (template, errors, warnings)."""
    from aws_cdk import App, Environment, Stack, cx_api

    from cdk_app.aspects import apply_guardrails

    app = App(analytics_reporting=False, builtin_cloud_formation_validation=False)
    stack = Stack(app, "Small", env=Environment(**env) if env is not None else None)
    build(stack)
    apply_guardrails(app, CONFIG)
    assembly = app.synth()
    artifact = assembly.get_stack_by_name("Small")
    errors = [m.entry.data for m in artifact.messages if m.level == cx_api.SynthesisMessageLevel.ERROR]
    warnings = [m.entry.data for m in artifact.messages if m.level == cx_api.SynthesisMessageLevel.WARNING]
    return artifact.template, errors, warnings


def project_key(stack: Stack) -> kms.Key:
    from aws_cdk import aws_kms as kms

    return kms.Key(stack, "Cmk", alias=CONFIG.name("kms-alias"), enable_key_rotation=True)


def small_db(stack: Stack, **props) -> rds.DatabaseInstance:
    from aws_cdk import SecretValue
    from aws_cdk import aws_ec2 as ec2
    from aws_cdk import aws_rds as rds

    vpc = ec2.Vpc(stack, "Vpc", vpc_name="vpc-unit", availability_zones=["ap-northeast-1a", "ap-northeast-1c"],
                  nat_gateways=0, restrict_default_security_group=False)
    props.setdefault("credentials", rds.Credentials.from_password("u", SecretValue.unsafe_plain_text("p" * 12)))
    return rds.DatabaseInstance(
        stack, "Db", instance_identifier="rds-unit", vpc=vpc,
        vpc_subnets=ec2.SubnetSelection(subnet_type=ec2.SubnetType.PRIVATE_ISOLATED),
        engine=rds.DatabaseInstanceEngine.postgres(version=rds.PostgresEngineVersion.VER_17_5), **props)


def only(errors: list[str], rule_id: str) -> list[str]:
    return [e for e in errors if e.startswith(f"[{rule_id}]")]
