"""Live readers, one module per AWS service (opscli.readers.kms, .rds, .ec2 ...) on the shared helpers of
opscli.readers.base. A module declares, beside each reader, the AWS calls it makes with their IAM scope and the
GetAtt values CloudFormation derives from its type's physical id, and registers each type it does not read with
the reason. Importing the package fills the registry: READERS (type -> reader), NO_READER (type -> why none) and
DERIVED (type -> its derived attributes)."""

from __future__ import annotations

from opscli.readers import (  # noqa: F401 - imported for the readers they register
    apigateway,
    autoscaling,
    cdk,
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
    DERIVED,
    FACTS,
    NO_READER,
    READERS,
    UNDECLARED,
    Call,
    MalformedAnswer,
    NotFound,
    Physical,
    ReadContext,
    Reader,
    derived_attributes,
    need,
    no_reader,
    reader,
)

__all__ = ["ATTRIBUTES", "DERIVED", "FACTS", "NO_READER", "READERS", "UNDECLARED", "Call", "MalformedAnswer",
           "NotFound", "Physical", "ReadContext", "Reader", "derived_attributes", "need", "no_reader", "reader"]
