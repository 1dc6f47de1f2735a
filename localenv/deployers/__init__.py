"""Local deployers, one module per AWS service (localenv.deployers.kms, .ec2, .rds ...) on the registry of
localenv.deployers.base. Importing the package registers every deployer in DEPLOYERS (resource type -> deployer)."""

from __future__ import annotations

from localenv.deployers import (  # noqa: F401 - imported for the deployers they register
    apigateway,
    autoscaling,
    cloudwatch,
    ec2,
    ecs,
    efs,
    elasticache,
    elbv2,
    events,
    iam,
    kms,
    lambda_,
    logs,
    rds,
    s3,
    scheduler,
    sns,
    sqs,
    wafv2,
)
from localenv.deployers.base import DEPLOYERS, Deploy, DeployContext, deployer

__all__ = ["DEPLOYERS", "Deploy", "DeployContext", "deployer"]
