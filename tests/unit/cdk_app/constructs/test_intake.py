"""cdk_app/constructs/intake.py in the session's synthesized TapStack: the CMK-encrypted, private, versioned bucket
whose new objects reach the intake queue, with its dead-letter queue."""

from __future__ import annotations

import pytest

from platform_spec.intrinsics import ref_target, tag_map
from tests.unit.cdk_app.constructs.template_reads import key_id

pytestmark = pytest.mark.synth


def test_intake_bucket_is_cmk_encrypted_private_tls_only_versioned_and_feeds_the_queue(synth):
    kid = key_id(synth)
    bucket_id, bucket = synth.one("AWS::S3::Bucket")
    p = bucket["Properties"]
    default = p["BucketEncryption"]["ServerSideEncryptionConfiguration"][0]["ServerSideEncryptionByDefault"]
    assert default["SSEAlgorithm"] == "aws:kms" and ref_target(default["KMSMasterKeyID"]) == kid
    assert all(p["PublicAccessBlockConfiguration"].values()) and len(p["PublicAccessBlockConfiguration"]) == 4
    assert p["VersioningConfiguration"] == {"Status": "Enabled"}
    assert p["NotificationConfiguration"] == {"EventBridgeConfiguration": {"EventBridgeEnabled": True}}
    assert tag_map(p["Tags"])["Name"] == "ingest-bucket-test"
    policy = next(r["Properties"] for r in synth.resources("AWS::S3::BucketPolicy").values()
                  if ref_target(r["Properties"]["Bucket"]) == bucket_id)
    assert any(s["Effect"] == "Deny" and s["Condition"] == {"Bool": {"aws:SecureTransport": "false"}}
               for s in policy["PolicyDocument"]["Statement"])
    # The object-created rule targets the intake queue, with the DLQ for undeliverable events.
    _, rule = synth.one("AWS::Events::Rule")
    assert rule["Properties"]["EventPattern"]["detail-type"] == ["Object Created"]
    queues = {r["Properties"]["QueueName"]: k for k, r in synth.resources("AWS::SQS::Queue").items()}
    target = rule["Properties"]["Targets"][0]
    assert ref_target(target["Arn"]) == queues["intake-queue-test"]
    assert ref_target(target["DeadLetterConfig"]["Arn"]) == queues["intake-dlq-test"]


def test_intake_queues_use_the_cmk_a_dead_letter_queue_and_tls(synth):
    kid = key_id(synth)
    queues = {r["Properties"]["QueueName"]: (k, r["Properties"]) for k, r in synth.resources("AWS::SQS::Queue").items()}
    assert set(queues) == {"intake-queue-test", "intake-dlq-test"}
    work = queues["intake-queue-test"][1]
    assert ref_target(work["RedrivePolicy"]["deadLetterTargetArn"]) == queues["intake-dlq-test"][0]
    assert work["RedrivePolicy"]["maxReceiveCount"] == 3 and work["VisibilityTimeout"] == 900
    for logical_id, props in queues.values():
        assert ref_target(props["KmsMasterKeyId"]) == kid
        policy = next(r["Properties"]["PolicyDocument"] for r in synth.resources("AWS::SQS::QueuePolicy").values()
                      if logical_id in [ref_target(q) for q in r["Properties"]["Queues"]])
        assert any(s["Effect"] == "Deny" and s["Condition"] == {"Bool": {"aws:SecureTransport": "false"}}
                   for s in policy["Statement"])
