"""Live readers, one module per AWS service (opscli.readers.kms, .rds, .ec2 ...) on the shared helpers of
opscli.readers.base. Importing the package registers every reader in READERS (resource type -> reader)."""

from __future__ import annotations

from opscli.readers import (  # noqa: F401 - imported for the readers they register
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
from opscli.readers.base import (
    ATTRIBUTES,
    FACTS,
    READERS,
    UNDECLARED,
    MalformedAnswer,
    NotFound,
    ReadContext,
    Reader,
    need,
    reader,
)

__all__ = ["ATTRIBUTES", "FACTS", "READERS", "UNDECLARED", "MalformedAnswer", "NotFound", "ReadContext", "Reader",
           "need", "reader"]
