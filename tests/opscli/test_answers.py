"""opscli.answers: the answer check knows each operation's answer: a document that parses but is not the operation's
own (a foreign shape, an error document sent with 200, a boolean spelled otherwise than true/false, a member twice, a
value of the wrong type, an enumerated value the model does not list) is "could not look", never a verdict. Answered
over real HTTP by a local endpoint, through opscli's guarded clients (the type check also on an answer made in
memory)."""

from __future__ import annotations

import threading
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

import botocore.session
import pytest

from opscli import core
from opscli.answers import BODY_PROTOCOLS, REST_XML_ROOTS, check_answer
from opscli.aws import Aws, new_session
from platform_spec.result import CouldNotLook

QUERY_NS = 'xmlns="http://rds.amazonaws.com/doc/2014-10-31/"'
S3_NS = 'xmlns="http://s3.amazonaws.com/doc/2006-03-01/"'


class _Answer(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"

    def log_message(self, *args) -> None:
        pass

    def _answer(self) -> None:
        self.rfile.read(int(self.headers.get("Content-Length") or 0))
        content_type, body = self.server.answer  # type: ignore[attr-defined]
        self.send_response(200)
        self.send_header("Content-Type", content_type)
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)

    do_GET = do_POST = do_PUT = do_HEAD = _answer


@pytest.fixture(scope="module")
def endpoint() -> Iterator[ThreadingHTTPServer]:
    server = ThreadingHTTPServer(("127.0.0.1", 0), _Answer)
    server.daemon_threads = True
    server.answer = ("application/xml", b"")
    thread = threading.Thread(target=server.serve_forever, kwargs={"poll_interval": 0.05}, daemon=True)
    thread.start()
    yield server
    server.shutdown()
    server.server_close()


def call(server, operation: str, content_type: str, body: str):
    server.answer = (content_type, body.encode())
    aws = Aws(session=new_session(aws_access_key_id="k", aws_secret_access_key="s", region_name="ap-northeast-1"),
              endpoint_url=f"http://127.0.0.1:{server.server_address[1]}", max_attempts=1)
    service, name = operation.split(":")
    params = {"sqs:ListQueueTags": {"QueueUrl": "http://127.0.0.1/123456789012/q"},
              "wafv2:GetWebACLForResource": {"ResourceArn": "arn:aws:apigateway:ap-northeast-1::/restapis/a/stages/v1"},
              "apigateway:GetStage": {"restApiId": "a", "stageName": "v1"},
              "rds:DescribeDBInstances": {"DBInstanceIdentifier": "rds-x"},
              "elasticache:DescribeReplicationGroups": {"ReplicationGroupId": "redis-x"},
              "ec2:DescribeVpcs": {"VpcIds": ["vpc-1"]},
              "ec2:DescribeInternetGateways": {"InternetGatewayIds": ["igw-1"]},
              "kms:DescribeKey": {"KeyId": "k"}, "efs:DescribeFileSystems": {"FileSystemId": "fs-1"},
              "sns:GetTopicAttributes": {"TopicArn": "arn:aws:sns:ap-northeast-1:123456789012:t"},
              "cloudwatch:DescribeAlarms": {}}.get(operation, {"Bucket": "b"})
    client = aws.client(service)
    return getattr(client, botocore.xform_name(name))(**params)


FOREIGN = [
    ("sqs:ListQueueTags", "application/x-amz-json-1.0", '{"status": "ok"}', "none of its output's"),
    ("wafv2:GetWebACLForResource", "application/x-amz-json-1.1", '{"status": "ok"}', "none of its output's"),
    ("apigateway:GetStage", "application/json", '{"status": "ok", "healthy": true}', "none of its output's"),
    ("sqs:ListQueueTags", "application/x-amz-json-1.0",
     '{"__type": "com.amazonaws.sqs#AccessDenied", "message": "denied"}', "an error document"),
    ("s3:GetPublicAccessBlock", "application/xml",
     f"<VersioningConfiguration {S3_NS}><Status>Enabled</Status></VersioningConfiguration>",
     "<VersioningConfiguration>, not <PublicAccessBlockConfiguration>"),
    ("s3:GetBucketVersioning", "application/xml",
     f"<LifecycleConfiguration {S3_NS}><Status>Enabled</Status></LifecycleConfiguration>",
     "<LifecycleConfiguration>, not <VersioningConfiguration>"),
    ("s3:GetBucketNotificationConfiguration", "application/xml",
     f"<Tagging {S3_NS}><TagSet/></Tagging>", "<Tagging>, not <NotificationConfiguration>"),
    # botocore itself refuses these before the answer check sees them (S3's error in a 200; a query answer
    # without its result element): still an exception that is ERROR, never a verdict.
    ("s3:GetBucketVersioning", "application/xml",
     "<Error><Code>AccessDenied</Code><Message>Access Denied</Message></Error>", None),
    ("rds:DescribeDBInstances", "text/xml",
     f"<DescribeDBClustersResponse {QUERY_NS}><DescribeDBClustersResult><DBClusters/></DescribeDBClustersResult>"
     "</DescribeDBClustersResponse>", None),
    ("rds:DescribeDBInstances", "text/xml",
     f"<ErrorResponse {QUERY_NS}><Error><Type>Sender</Type><Code>AccessDenied</Code><Message>no</Message>"
     "</Error></ErrorResponse>", None),
    ("rds:DescribeDBInstances", "text/xml",
     f"<DescribeDBClustersResponse {QUERY_NS}><DescribeDBInstancesResult><DBInstances/>"
     "</DescribeDBInstancesResult></DescribeDBClustersResponse>",
     "<DescribeDBClustersResponse>, not <DescribeDBInstancesResponse>"),
    ("rds:DescribeDBInstances", "text/xml",
     f"<DescribeDBInstancesResponse {QUERY_NS}><DescribeDBInstancesResult><Status>ok</Status>"
     "</DescribeDBInstancesResult></DescribeDBInstancesResponse>", "holding Status, none of its output's"),
    ("ec2:DescribeVpcs", "text/xml",
     '<DescribeSubnetsResponse xmlns="http://ec2.amazonaws.com/doc/2016-11-15/"><subnetSet/>'
     "</DescribeSubnetsResponse>", "<DescribeSubnetsResponse>, not <DescribeVpcsResponse>"),
    ("ec2:DescribeVpcs", "text/xml",
     "<Response><Errors><Error><Code>UnauthorizedOperation</Code><Message>no</Message></Error></Errors>"
     "<RequestID>r</RequestID></Response>", "an error document: UnauthorizedOperation"),
]


@pytest.mark.parametrize("operation, content_type, body, said", FOREIGN,
                         ids=[f"{op}-{n}" for n, (op, *_rest) in enumerate(FOREIGN)])
def test_a_document_that_is_not_the_operations_answer_is_could_not_look(endpoint, operation, content_type, body,
                                                                        said):
    from opscli.checks import describe_failure
    from platform_spec.result import Status

    with pytest.raises(Exception) as raised:  # noqa: PT011 - which one is asserted below
        call(endpoint, operation, content_type, body)
    assert describe_failure(raised.value)[0] is Status.ERROR, raised.value
    if said is not None:
        assert isinstance(raised.value, CouldNotLook) and said in str(raised.value), raised.value
        assert "answered with a document that is not its answer" in str(raised.value)


def _instance(multi_az: str, more: str = "") -> str:
    return (f"<DescribeDBInstancesResponse {QUERY_NS}><DescribeDBInstancesResult><DBInstances><DBInstance>"
            f"<DBInstanceIdentifier>rds-x</DBInstanceIdentifier><MultiAZ>{multi_az}</MultiAZ>{more}"
            "<StorageEncrypted>true</StorageEncrypted></DBInstance></DBInstances></DescribeDBInstancesResult>"
            "</DescribeDBInstancesResponse>")


@pytest.mark.parametrize("spelled", ["TRUE", "True", "1", "yes", " true", ""])
def test_an_xml_boolean_spelled_otherwise_is_could_not_look_not_false(endpoint, spelled):
    """botocore reads every spelling but `true` as false: a Multi-AZ instance would FAIL STK-RDS-001."""
    with pytest.raises(CouldNotLook, match=r"DBInstances\.0\.MultiAZ = .*, not true or false"):
        call(endpoint, "rds:DescribeDBInstances", "text/xml", _instance(spelled))


def test_booleans_deep_in_lists_are_checked_too(endpoint):
    body = ('<DescribeReplicationGroupsResponse xmlns="http://elasticache.amazonaws.com/doc/2015-02-02/">'
            "<DescribeReplicationGroupsResult><ReplicationGroups><ReplicationGroup>"
            "<ReplicationGroupId>redis-x</ReplicationGroupId><TransitEncryptionEnabled>True"
            "</TransitEncryptionEnabled></ReplicationGroup></ReplicationGroups>"
            "</DescribeReplicationGroupsResult></DescribeReplicationGroupsResponse>")
    with pytest.raises(CouldNotLook, match="TransitEncryptionEnabled = 'True'"):
        call(endpoint, "elasticache:DescribeReplicationGroups", "text/xml", body)


JSON_1_1, REST_JSON = "application/x-amz-json-1.1", "application/json"
EC2_NS = 'xmlns="http://ec2.amazonaws.com/doc/2016-11-15/"'
SNS_NS = 'xmlns="http://sns.amazonaws.com/doc/2010-03-31/"'


def _topic(*entries: tuple[str, str]) -> str:
    return (f"<GetTopicAttributesResponse {SNS_NS}><GetTopicAttributesResult><Attributes>"
            + "".join(f"<entry><key>{k}</key><value>{v}</value></entry>" for k, v in entries)
            + "</Attributes></GetTopicAttributesResult></GetTopicAttributesResponse>")


MISSHAPEN = [
    # A member twice: botocore reads a repeated XML element as a list, which a boolean reads as false (a clean
    # PASS of "not public"), and keeps the last of two JSON keys.
    ("rds:DescribeDBInstances", "text/xml",
     _instance("true", "<PubliclyAccessible>true</PubliclyAccessible><PubliclyAccessible>true</PubliclyAccessible>"),
     "DBInstances.0.PubliclyAccessible twice"),
    ("rds:DescribeDBInstances", "text/xml", _instance("true", "<MultiAZ>false</MultiAZ>"),
     "DBInstances.0.MultiAZ twice"),
    ("rds:DescribeDBInstances", "text/xml",
     _instance("true").replace("</DescribeDBInstancesResponse>", "<DescribeDBInstancesResult><DBInstances/>"
                               "</DescribeDBInstancesResult></DescribeDBInstancesResponse>"),
     "<DescribeDBInstancesResult> twice"),
    ("sns:GetTopicAttributes", "text/xml", _topic(("KmsMasterKeyId", "alias/a"), ("KmsMasterKeyId", "")),
     "Attributes.KmsMasterKeyId twice"),
    ("kms:DescribeKey", JSON_1_1, '{"KeyMetadata": {"KeyId": "k", "Enabled": true, "Enabled": false}}',
     "the key 'Enabled' twice in one object"),
    ("cloudwatch:DescribeAlarms", "application/x-amz-json-1.0",  # CBOR first in its model; botocore speaks JSON
     '{"MetricAlarms": [{"AlarmName": "a", "ActionsEnabled": true, "ActionsEnabled": false}]}',
     "the key 'ActionsEnabled' twice in one object"),
    # An enumerated value in another case: a key "ENABLED" is not "Enabled" (a FAIL), Redis "ENABLED" not Multi-AZ.
    ("kms:DescribeKey", JSON_1_1, '{"KeyMetadata": {"KeyId": "k", "KeyState": "ENABLED"}}',
     "KeyMetadata.KeyState = 'ENABLED', not one of its model's values"),
    ("elasticache:DescribeReplicationGroups", "text/xml",
     '<DescribeReplicationGroupsResponse xmlns="http://elasticache.amazonaws.com/doc/2015-02-02/">'
     "<DescribeReplicationGroupsResult><ReplicationGroups><ReplicationGroup><ReplicationGroupId>redis-x"
     "</ReplicationGroupId><MultiAZ>ENABLED</MultiAZ></ReplicationGroup></ReplicationGroups>"
     "</DescribeReplicationGroupsResult></DescribeReplicationGroupsResponse>",
     "ReplicationGroups.0.MultiAZ = 'ENABLED', not one of its model's values"),
    # REST-JSON scalars of another JSON type: botocore reads 1 as false, "true" as true, 5.9 as 5.
    ("efs:DescribeFileSystems", REST_JSON, '{"FileSystems": [{"FileSystemId": "fs-1", "Encrypted": 1}]}',
     "FileSystems.0.Encrypted = 1, not true or false"),
    ("efs:DescribeFileSystems", REST_JSON, '{"FileSystems": [{"FileSystemId": "fs-1", "Encrypted": "true"}]}',
     'FileSystems.0.Encrypted = "true", not true or false'),
    ("apigateway:GetStage", REST_JSON, '{"stageName": "v1", "tracingEnabled": 1}',
     "tracingEnabled = 1, not true or false"),
    ("apigateway:GetStage", REST_JSON, '{"stageName": "v1", "methodSettings": {"*/*": {"dataTraceEnabled": 0}}}',
     "methodSettings.*/*.dataTraceEnabled = 0, not true or false"),
    ("efs:DescribeFileSystems", REST_JSON, '{"FileSystems": [{"FileSystemId": "fs-1", "NumberOfMountTargets": 2.5}]}',
     "FileSystems.0.NumberOfMountTargets = 2.5, not an integer"),
    ("kms:DescribeKey", JSON_1_1, '{"KeyMetadata": {"KeyId": "k", "Enabled": 1}}',
     "KeyMetadata.Enabled = 1, not true or false"),
]


@pytest.mark.parametrize("operation, content_type, body, said", MISSHAPEN,
                         ids=[f"{op}-{n}" for n, (op, *_rest) in enumerate(MISSHAPEN)])
def test_an_answer_misshapen_in_its_models_terms_is_could_not_look(endpoint, operation, content_type, body, said):
    """A member twice, an enumerated value the model does not list (case included), a scalar of another JSON
    type: each is "could not look", named by where it is."""
    with pytest.raises(CouldNotLook) as raised:
        call(endpoint, operation, content_type, body)
    assert said in str(raised.value), raised.value


@pytest.mark.parametrize(("parsed", "problem"), [
    ({"Subnets": [{"SubnetId": "subnet-1"}, {"SubnetId": 5}]}, "Subnets.1.SubnetId of type int, not string"),
    ({"Subnets": {"SubnetId": "subnet-1"}}, "Subnets of type dict, not a list"),
    ({"Subnets": [{"MapPublicIpOnLaunch": "yes"}]}, "Subnets.0.MapPublicIpOnLaunch of type str, not boolean"),
    ({"Subnets": [{"AvailableIpAddressCount": True}]}, "Subnets.0.AvailableIpAddressCount of type bool, not integer"),
    ({"Subnets": [{"AvailableIpAddressCount": 5.0}]}, "Subnets.0.AvailableIpAddressCount of type float, not integer"),
    ({"Subnets": [{"SubnetId": "subnet-1", "State": "Available"}]},
     "Subnets.0.State = 'Available', not one of its model's values"),
    ([], "the answer of type list, not an object"),
])
def test_a_value_of_the_wrong_type_is_named_by_its_path(parsed, problem):
    """Every answer's values are checked against the operation's output shape, and the first one of the wrong
    type is named by where it is."""
    model = botocore.session.get_session().get_service_model("ec2").operation_model("DescribeSubnets")
    answer = type("Answer", (), {"status_code": 200, "raw": None})()  # made in memory: no body to check
    check_answer(answer, {"Subnets": [{"SubnetId": "subnet-1", "MapPublicIpOnLaunch": False}]}, model)
    with pytest.raises(CouldNotLook) as raised:
        check_answer(answer, parsed, model)
    assert str(raised.value) == f"ec2:DescribeSubnets answered with {problem}"


def test_every_operation_opscli_calls_answers_in_a_protocol_whose_body_is_checked():
    """The body check reads JSON and XML; botocore speaks, per service, the first protocol of the model's list it
    supports (CloudWatch's lists CBOR first, botocore speaks JSON). A service botocore would speak CBOR with would
    have its bodies unchecked: it fails here first."""
    session = botocore.session.get_session()
    spoken = {op: session.get_service_model(op.split(":")[0]).resolved_protocol for op in core.declared_operations()}
    assert {op: protocol for op, protocol in spoken.items() if protocol not in BODY_PROTOCOLS} == {}


def test_an_internet_gateways_attachment_available_is_beyond_the_enum_by_the_models_own_word():
    """The one enumerated value accepted beyond its list: AWS answers an attached internet gateway's state as
    "available" (the model's documentation of the member says so, as does the AWS CLI reference's example)."""
    shape = botocore.session.get_session().get_service_model("ec2").shape_for("InternetGatewayAttachment")
    assert "available" not in shape.members["State"].enum
    assert "the state is <code>available</code> when attached to a VPC" in shape.members["State"].documentation


@pytest.mark.parametrize("operation, content_type, body", [
    ("ec2:DescribeInternetGateways", "text/xml",
     f"<DescribeInternetGatewaysResponse {EC2_NS}><internetGatewaySet><item><internetGatewayId>igw-1"
     "</internetGatewayId><attachmentSet><item><vpcId>vpc-1</vpcId><state>available</state></item></attachmentSet>"
     "</item></internetGatewaySet></DescribeInternetGatewaysResponse>"),
    ("sns:GetTopicAttributes", "text/xml", _topic(("KmsMasterKeyId", "alias/a"), ("Policy", "{}"))),
    ("kms:DescribeKey", JSON_1_1, '{"KeyMetadata": {"KeyId": "k", "KeyState": "Enabled", "Enabled": true}}'),
    ("efs:DescribeFileSystems", REST_JSON, '{"FileSystems": [{"FileSystemId": "fs-1", "Encrypted": true}]}'),
    ("rds:DescribeDBInstances", "text/xml", _instance("true")),
    ("rds:DescribeDBInstances", "text/xml", _instance("false")),
    ("sqs:ListQueueTags", "application/x-amz-json-1.0", "{}"),  # no tags: every member is optional
    ("sqs:ListQueueTags", "application/x-amz-json-1.0", '{"Tags": {"Project": "streamtech"}}'),
    ("s3:GetBucketVersioning", "application/xml", f"<VersioningConfiguration {S3_NS}/>"),
    ("s3:GetBucketVersioning", "application/xml",
     f"<VersioningConfiguration {S3_NS}><Status>Enabled</Status></VersioningConfiguration>"),
    ("s3:GetPublicAccessBlock", "application/xml",
     f"<PublicAccessBlockConfiguration {S3_NS}><BlockPublicAcls>true</BlockPublicAcls>"
     "</PublicAccessBlockConfiguration>"),
    ("ec2:DescribeVpcs", "text/xml", '<DescribeVpcsResponse xmlns="http://ec2.amazonaws.com/doc/2016-11-15/">'
                                     "<requestId>r</requestId><vpcSet/></DescribeVpcsResponse>"),
])
def test_the_operations_own_answers_pass(endpoint, operation, content_type, body):
    assert isinstance(call(endpoint, operation, content_type, body), dict)


def test_every_rest_xml_operation_opscli_calls_has_a_known_root():
    """Where the model names no payload element, REST_XML_ROOTS does; an operation added without it fails here."""
    session = botocore.session.get_session()
    missing = []
    for operation in sorted(core.declared_operations()):
        service, name = operation.split(":")
        model = session.get_service_model(service).operation_model(name)
        if model.service_model.protocol == "rest-xml" and model.output_shape is not None and \
                not model.output_shape.serialization.get("payload") and operation not in REST_XML_ROOTS:
            missing.append(operation)
    assert not missing, missing
