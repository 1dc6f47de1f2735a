"""cdk_app/l1.py: the CloudFormation resource behind a construct, of the type the code configures, or an error that
names the construct (for a CDK release that moved its internals)."""

from __future__ import annotations

import pytest

from tests.conftest import CDK_AND_CHECKOV

pytestmark = CDK_AND_CHECKOV  # builds constructs (tests/conftest.py says why the group)


def test_the_default_child_of_the_type_asked_for_or_an_error_naming_the_construct():
    from aws_cdk import App, Stack
    from aws_cdk import aws_s3 as s3
    from aws_cdk import aws_sqs as sqs

    from cdk_app.l1 import default_resource

    stack = Stack(App(analytics_reporting=False), "L1")
    bucket = s3.Bucket(stack, "Bucket")
    found = default_resource(bucket, s3.CfnBucket)
    assert isinstance(found, s3.CfnBucket) and found.node.path == "L1/Bucket/Resource"
    with pytest.raises(TypeError, match=r"^L1/Bucket: its default child is CfnBucket, not the CfnQueue this code "
                                        r"configures; CDK's internals moved$"):
        default_resource(bucket, sqs.CfnQueue)
    with pytest.raises(TypeError, match=r"^L1: its default child is NoneType, not the CfnBucket"):
        default_resource(stack, s3.CfnBucket)
