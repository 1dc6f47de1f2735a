"""Video intake: an ingest S3 bucket whose object-created events reach an SQS queue (via EventBridge) with a
dead-letter queue."""

from __future__ import annotations

from aws_cdk import Duration, RemovalPolicy, Stack
from aws_cdk import aws_events as events
from aws_cdk import aws_events_targets as targets
from aws_cdk import aws_iam as iam
from aws_cdk import aws_kms as kms
from aws_cdk import aws_s3 as s3
from aws_cdk import aws_sqs as sqs
from constructs import Construct

from cdk_app.compliance import suppress
from cdk_app.config import AppConfig
from cdk_app.constructs.logs import own_custom_resource_logs
from cdk_app.l1 import default_resource
from platform_spec import contract

# A worker holds a message this long per attempt (download, probe, write): longer than the slowest video.
VISIBILITY_TIMEOUT = Duration.minutes(15)
MAX_RECEIVES = contract.INTAKE_MAX_RECEIVES  # then the message goes to the dead-letter queue


class VideoIntake(Construct):
    """Creates `self.bucket`, `self.queue`, `self.dead_letter_queue` and `self.rule`."""

    def __init__(self, scope: Construct, construct_id: str, *, config: AppConfig, key: kms.IKey) -> None:
        super().__init__(scope, construct_id)
        self._key = key  # the bucket's key (CDK types a bucket's key as optional)
        self.dead_letter_queue = sqs.Queue(
            self, "DeadLetterQueue", queue_name=config.name("intake-dlq"),
            encryption=sqs.QueueEncryption.KMS, encryption_master_key=key, data_key_reuse=Duration.hours(1),
            enforce_ssl=True, retention_period=Duration.days(14), removal_policy=RemovalPolicy.DESTROY)
        self.queue = sqs.Queue(
            self, "Queue", queue_name=config.name("intake-queue"),
            encryption=sqs.QueueEncryption.KMS, encryption_master_key=key, data_key_reuse=Duration.hours(1),
            enforce_ssl=True, visibility_timeout=VISIBILITY_TIMEOUT, retention_period=Duration.days(4),
            dead_letter_queue=sqs.DeadLetterQueue(queue=self.dead_letter_queue, max_receive_count=MAX_RECEIVES),
            removal_policy=RemovalPolicy.DESTROY)
        # The bucket name stays CloudFormation-generated: S3 names are global, so "{type}-{suffix}" would
        # collide across accounts. opscli finds it through the stack outputs or its Name tag.
        self.bucket = s3.Bucket(
            self, "Bucket",
            encryption=s3.BucketEncryption.KMS, encryption_key=key, bucket_key_enabled=True,
            enforce_ssl=True, block_public_access=s3.BlockPublicAccess.BLOCK_ALL,
            object_ownership=s3.ObjectOwnership.BUCKET_OWNER_ENFORCED,
            # Versions protect an upload from being overwritten mid-processing; the worker keys its work by
            # object key and version. Old versions expire, so the bucket does not grow without bound.
            versioned=True,
            lifecycle_rules=[s3.LifecycleRule(abort_incomplete_multipart_upload_after=Duration.days(1),
                                              noncurrent_version_expiration=Duration.days(7))],
            auto_delete_objects=True, removal_policy=RemovalPolicy.DESTROY)
        cfn_bucket = default_resource(self.bucket, s3.CfnBucket)
        cfn_bucket.tags.set_tag("Name", config.name("ingest-bucket"))
        # Object-created events go S3 -> EventBridge -> the queue. Set on the L1: S3's direct queue notification
        # would need the queue policy before the bucket (a cycle, since the policy names the bucket), and CDK's
        # add_event_notification / event_bridge_enabled would add a Lambda-backed custom resource for it.
        cfn_bucket.notification_configuration = s3.CfnBucket.NotificationConfigurationProperty(
            event_bridge_configuration=s3.CfnBucket.EventBridgeConfigurationProperty(event_bridge_enabled=True))
        self.rule = events.Rule(
            self, "ObjectCreated", rule_name=config.name("intake-rule"),
            description="Uploaded videos become intake jobs",
            event_pattern=events.EventPattern(source=["aws.s3"], detail_type=["Object Created"],
                                              detail={"bucket": {"name": [self.bucket.bucket_name]}}),
            targets=[targets.SqsQueue(self.queue, dead_letter_queue=self.dead_letter_queue,
                                      retry_attempts=8, max_event_age=Duration.hours(24))])
        # EventBridge must be able to write to the CMK-encrypted queues (this account's rules only).
        key.add_to_resource_policy(iam.PolicyStatement(
            sid="AllowEventBridgeToEncryptedQueues", principals=[iam.ServicePrincipal("events.amazonaws.com")],
            actions=["kms:GenerateDataKey*", "kms:Decrypt"], resources=["*"],
            conditions={"StringEquals": {"aws:SourceAccount": Stack.of(self).account}}))
        custom = self.bucket.node.try_find_child("AutoDeleteObjectsCustomResource")
        if custom is None:  # pragma: no cover - CDK internals moved
            raise RuntimeError("CDK's auto-delete-objects custom resource was not found; update intake.py")
        own_custom_resource_logs(custom, provider_type="Custom::S3AutoDeleteObjectsCustomResourceProvider",
                                 config=config, key=key)
        suppress(self.bucket, "STK-DEV-011", checkov=["CKV_AWS_18"], nag=["AwsSolutions-S1"] + [
            f"{pack}-S3BucketLoggingEnabled" for pack in ("HIPAA.Security", "NIST.800.53.R5", "PCI.DSS.321")])
        suppress(self.bucket, "STK-DEV-012", nag=[
            f"{pack}-S3BucketReplicationEnabled" for pack in ("HIPAA.Security", "NIST.800.53.R5", "PCI.DSS.321")])

    def grant_read_videos(self, grantee: iam.IGrantable) -> None:
        """Read access to the uploaded videos (any version) and nothing else in the bucket."""
        grantee.grant_principal.add_to_principal_policy(iam.PolicyStatement(
            actions=["s3:GetObject", "s3:GetObjectVersion"], resources=[self.bucket.arn_for_objects("*")]))
        self._key.grant_decrypt(grantee)
