"""The CloudFormation resource (L1) behind a CDK construct, with its type: CDK types a default child as any
construct or none."""

from __future__ import annotations

from typing import TypeVar

from aws_cdk import CfnResource
from constructs import IConstruct

L1 = TypeVar("L1", bound=CfnResource)


def default_resource(construct: IConstruct, kind: type[L1]) -> L1:
    """`construct`'s default child, which must be a `kind` (a CfnBucket behind a Bucket); else an error naming the
    construct, for a CDK release that moved its internals."""
    child = construct.node.default_child
    if not isinstance(child, kind):
        raise TypeError(f"{construct.node.path}: its default child is {type(child).__name__}, not the "
                        f"{kind.__name__} this code configures; CDK's internals moved")
    return child


__all__ = ["default_resource"]
