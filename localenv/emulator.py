"""The local AWS stand-in: a moto server on 127.0.0.1 (a free port), configured for this stack, over plain
HTTP or, given TLS files, over HTTPS only (the local pipeline's data plane); a plain one may get an HTTPS listener
beside it (`tls_listener`: the posture monitor's consumer writes to a TLS-only bucket).

moto gap closed here: moto evaluates S3 bucket policies without their conditions, so the TLS-only bucket
policy (Deny when `aws:SecureTransport` is false) would deny every object request. The emulator records each
request's scheme and evaluates `Bool` conditions on `aws:SecureTransport` from it, like S3: object requests
over HTTPS pass, over plain HTTP they are denied. Other conditions keep moto's own handling."""

from __future__ import annotations

import functools
import json
import logging
import os
import queue
import re
import socket
import socketserver
import ssl
import threading
import traceback
import urllib.request
from collections.abc import Iterator
from contextlib import contextmanager, suppress
from datetime import UTC, datetime
from typing import IO, Any, cast

from botocore import xform_name
from moto.core import serialize
from moto.core.config import default_user_config
from moto.core.serialize import DEFAULT_ALIAS_PROVIDERS as _DEFAULT_ALIAS_PROVIDERS
from moto.core.serialize import XFormedAttributePicker
from moto.core.utils import MISSING
from moto.core.utils import get_value as _get_value
from moto.iam.access_control import IAMPolicy, PermissionResult
from moto.moto_server.threaded_moto_server import ThreadedMotoServer
from moto.moto_server.werkzeug_app import DomainDispatcherApplication, MotoRequestHandler, create_backend_app
from moto.s3.models import FakeBucket
from werkzeug.exceptions import InternalServerError
from werkzeug.serving import BaseWSGIServer
from werkzeug.wsgi import LimitedStream

from localenv import cloudtrail
from localenv.tls import TlsFiles
from platform_spec.stacks import ALLOWED_REGION
from platform_utils.numbers import whole

# Made-up credentials for the local emulator (botocore needs some; moto accepts any).
LOCAL_CREDENTIALS = {"AWS_ACCESS_KEY_ID": "local-emulator", "AWS_SECRET_ACCESS_KEY": "local-emulator",
                     "AWS_DEFAULT_REGION": ALLOWED_REGION}

# moto gap: ECS services never start tasks; report the stack's minimum (2) as running so the emulated
# environment looks like a healthy deployment. Set before any service is created.
EMULATED_RUNNING_TASKS = "2"
# A test mode: every answer moto pages, and the stacks it serves, come in pages of this many items (1 or 2), so a
# reader that reads only the first page shows. Unset: AWS's page sizes where we serve the answer (100 stack
# resources a page, as CloudFormation), moto's defaults elsewhere.
PAGE_SIZE_ENV = "STREAMTECH_EMULATOR_PAGE_SIZE"
STACK_RESOURCES_PAGE = 100  # CloudFormation's ListStackResources page size

_request = threading.local()  # the scheme of the request this server thread is handling


def free_port() -> int:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def _condition_verdict(conditions: dict[str, Any] | None, context: dict[str, str]) -> bool | None:
    """True when every condition is decidable here and holds, False when a decidable one fails, None when
    some condition is not ours to decide (left to moto, unchanged)."""
    if not conditions:
        return True
    verdict: bool | None = True
    for operator, pairs in conditions.items():
        for key, expected in pairs.items():
            if operator != "Bool" or key not in context:
                verdict = None
                continue
            allowed = [str(v).lower() for v in (expected if isinstance(expected, list) else [expected])]
            if context[key] not in allowed:
                return False
    return verdict


def bucket_permission(self: FakeBucket, action: str, resource: str) -> PermissionResult:
    """The bucket policy's verdict for one object request, with `aws:SecureTransport` evaluated (installed as
    FakeBucket.get_permission: `self` is the bucket)."""
    if self.policy is None:
        return PermissionResult.NEUTRAL
    policy = json.loads(self.policy)
    statements = policy["Statement"] if isinstance(policy["Statement"], list) else [policy["Statement"]]
    # In-process moto (mock_aws) has no server request: botocore spoke HTTPS to the AWS endpoint.
    context = {"aws:SecureTransport": "true" if getattr(_request, "secure", True) else "false"}
    kept = []
    for statement in statements:
        verdict = _condition_verdict(statement.get("Condition"), context)
        if verdict is False:
            continue  # its condition does not hold for this request: the statement does not apply
        kept.append({k: v for k, v in statement.items() if k != "Condition"} if verdict else statement)
    return IAMPolicy(json.dumps({**policy, "Statement": kept})).is_action_permitted(action, resource)


def configure_moto() -> None:
    _share_service_models()
    logging.getLogger("werkzeug").setLevel(logging.ERROR)  # no request log lines in the operator's output
    os.environ["MOTO_ECS_SERVICE_RUNNING"] = EMULATED_RUNNING_TASKS
    # The stack launches no EC2 instance: no AMIs. moto otherwise builds every default AMI (each with a volume and
    # a snapshot) every time it makes an EC2 backend, at every emulator start and in every in-process mock.
    os.environ["MOTO_EC2_LOAD_DEFAULT_AMIS"] = "false"
    # No Docker here: Lambda functions are created, never run (secret rotation is recorded, not executed).
    default_user_config["lambda"]["use_docker"] = False
    # The stack's roles attach AWS-managed policies (AWSLambdaBasicExecutionRole, ...): load them, so the
    # deployment attaches what the template declares and `opscli drift` finds nothing missing. Only those moto
    # needs here: loading all of AWS's managed policies would slow every emulator start.
    default_user_config.setdefault("iam", {})["load_aws_managed_policies"] = True
    _load_only_used_managed_policies()
    FakeBucket.get_permission = bucket_permission  # type: ignore[method-assign]
    _keep_integration_connection_ids()
    _update_web_acls_to_no_rules()
    _check_signatures_of_empty_bodies_as_aws_does()
    _answer_stage_keys_as_aws_does()
    _answer_s3_documents_with_their_aws_roots()
    _refuse_another_owners_bucket_location()
    _delete_inventory_configurations_alone()
    _answer_event_bridge_notifications()
    _response_transformers_per_request()
    _serve_declared_stacks()
    _replicate_file_systems()
    _answer_rds_certificate_details()
    _remove_cross_region_replicas()
    _answer_kms_multi_region_as_aws_does()
    _take_key_arns_where_kms_does()
    _make_symmetric_keys_without_a_key_pair()
    _keep_the_newer_finding()
    _filter_findings()
    _receive_each_message_once()
    _page_every_answer(page_size())
    _page_authorization_details(page_size())
    _remember_response_methods()
    _build_urls_on_first_use()
    _search_request_ids_from_the_first()
    cloudtrail.install()


def _share_service_models() -> None:
    """One loader of botocore's service models for every botocore session of this process (botocore makes one
    per session with `create_loader`, keyed here by its one argument, the data path). moto makes sessions of its
    own, three of them at import only to list EC2's regions, and each parsed again every model it touched, a
    large share of an emulator's start (bench/README.md). A process that has already put a loader
    of its own in botocore's place (the tests share opscli's) keeps it.

    moto reads its own copy of each model (botocore's with moto's extras applied) through a loader it makes anew for
    every model (`moto.core.utils._load_service_model`), and a new loader lists every service of botocore's data
    directory again before it loads one (hundreds of directories, thousands of stat calls): moto's models are read
    through one loader too, the same loader class with the same search paths, so the same models."""
    import botocore.loaders
    import botocore.session
    from moto.core import loaders as moto_loaders
    from moto.core import utils as moto_utils

    if botocore.session.create_loader is botocore.loaders.create_loader:  # still botocore's own
        botocore.session.create_loader = functools.cache(botocore.loaders.create_loader)
    if moto_utils.create_loader is moto_loaders.create_loader:  # still moto's own
        moto_utils.create_loader = functools.cache(moto_loaders.create_loader)


def _remember_response_methods() -> None:
    """moto lists a response class's methods with inspect.getmembers on every request, to see whether it has one
    for the action, a share of an emulator's CPU on every request. The answer depends on the class alone, and the
    patches above (those that add methods too) are all made before the first request, so it is worked out once per
    class."""
    from moto.core import responses

    listed = responses.method_names_from_class
    if getattr(listed, "cache_info", None) is not None:
        return

    @functools.cache
    def method_names(clazz: type) -> frozenset[str]:
        return frozenset(listed(clazz))

    responses.method_names_from_class = method_names  # type: ignore[assignment]


def _build_urls_on_first_use() -> None:
    """werkzeug compiles two URL builders (Python code generated through `ast` and `compile`) for every route it
    binds, for `url_for`; moto binds hundreds (each service's Flask application, and moto's own routers of the
    REST services) and only ever matches requests against them, never builds a URL. Each builder is compiled here
    when it is first called, from the same rule, so a URL built is the same; nothing is built at start-up."""
    from werkzeug.routing.rules import Rule

    compile_builder = Rule._compile_builder
    if getattr(compile_builder, "_on_first_use", False):
        return

    @functools.wraps(compile_builder)
    def on_first_use(self: Rule, append_unknown: bool = True) -> Any:
        built: list[Any] = []

        def build(rule: Rule, /, *args: Any, **kwargs: Any) -> Any:
            if not built:
                built.append(compile_builder(rule, append_unknown))
            return built[0](rule, *args, **kwargs)

        return build

    on_first_use._on_first_use = True  # type: ignore[attr-defined]
    Rule._compile_builder = on_first_use  # type: ignore[method-assign]


_moto_get_value = serialize.ResponseSerializer.get_value


def _member_names(obj: Any, key: str, shape: Any, cache_key: tuple[Any, ...]) -> tuple[str, ...]:
    """The names moto's XFormedAttributePicker tries, in its order, for member `key` (of `shape`) of `obj`, but for
    an explicit alias of the object's own (which depends on the object, not its class): each alias provider's alias
    and its snake_case form. Worked out once per class, member, shape and the structure it is in (`cache_key`; the
    serializer sets the structure before it asks); a shape is moto's, made once per service and kept."""
    context = serialize.AttributePickerContext(obj=obj, key=key, shape=shape)
    found: list[str] = []
    for provider_class in _SHAPE_ALIAS_PROVIDERS:
        provider = provider_class(context)
        if provider.has_alias(key):
            alias = provider.get_alias(key)
            found += (alias, xform_name(alias))
    names = _MEMBER_NAMES[cache_key] = tuple(found)
    return names


_MEMBER_NAMES: dict[tuple[Any, ...], tuple[str, ...]] = {}
# The alias providers whose names depend on the class, the member and its shape only: moto's, after ExplicitAlias.
_SHAPE_ALIAS_PROVIDERS = (serialize.ShapeNameAlias, serialize.NoAlias, serialize.ShapePrefixAlias,
                          serialize.ClassPrefixAlias, serialize.ModelAlias)


def _picked_value(self: Any, value: Any, key: str, shape: Any) -> Any:
    """moto's ResponseSerializer.get_value with XFormedAttributePicker's names from `_member_names` (the same names
    in the same order), without the context object, the six alias providers and the generators moto makes for every
    member of every answer. A response transformer applies as in moto: the first whose path the member's key path
    ends with; none can unless the member's name ends with the last part of its path, which is asked first."""
    picker = self._value_picker
    if type(picker) is not XFormedAttributePicker or picker.alias_providers is not _DEFAULT_ALIAS_PROVIDERS:
        return _moto_get_value(self, value, key, shape)
    cache_key = (value.__class__, key, shape, getattr(shape, "parent", None))
    names = _MEMBER_NAMES.get(cache_key)
    if names is None:
        names = _member_names(value, key, shape, cache_key)
    meta = getattr(value, "Meta", None)  # moto's ExplicitAlias, asked of the object itself
    if meta is not None and hasattr(meta, "serialization_aliases") and key in meta.serialization_aliases:
        alias = meta.serialization_aliases[key]
        names = (alias, xform_name(alias), *names)
    for name in names:
        picked = _get_value(value, name, MISSING)
        if picked is not MISSING:
            break
    else:
        picked = None
    transformers = picker.response_transformers
    if transformers:
        ends = picker.__dict__.get("_path_ends")
        if ends is None:  # once per answer: a picker is made for each
            ends = picker.__dict__["_path_ends"] = tuple(path.rpartition(".")[2] for path in transformers)
        if key.endswith(ends):
            key_path = f"{'.'.join(self.path)}.{key}"
            for transform_path, transform in transformers.items():
                if key_path.endswith(transform_path):
                    return transform(picked)
    return picked


def serve_answers_faster() -> None:
    """moto's serializer finds each member of an answer by the names its alias providers suggest, and builds a
    context and six provider objects for every member of every answer, a large share of the emulator's CPU per
    request (bench/README.md). Here `_picked_value` does it in their place: the same names in the same order (but
    worked out once), so the same answers byte for byte. For the entry points only (`up` and the deploy-audit-stop
    run, whose threads all serve): in-process moto (mock_aws, and a server in a test's process) keeps moto's own,
    as the test suite runs moto's serializer untraced and none of our code may run inside it
    (tests/library_tracing.py). Left as moto's when its alias providers are not the ones `_member_names` stands in
    for (another moto)."""
    if serialize.ResponseSerializer.get_value is not _moto_get_value or list(_DEFAULT_ALIAS_PROVIDERS) != [
            serialize.ExplicitAlias, *_SHAPE_ALIAS_PROVIDERS]:
        return
    serialize.ResponseSerializer.get_value = _picked_value  # type: ignore[method-assign]


def _search_request_ids_from_the_first() -> None:
    """moto puts each answer's request ID into its <RequestId> element with a regular expression run over the whole
    answer, which tries a look-behind at every character (the stack's template, for GetTemplate, is a large answer).
    Here it runs from the first <RequestId> on (nothing before it can match) and not at all over an answer without
    one; the headers are moto's (the same request ID drawn, in the same order), and so is every answer."""
    from moto.core.responses import BaseResponse

    enrich = BaseResponse.__dict__["_enrich_response"].__func__
    if getattr(enrich, "_from_the_first", False):
        return

    @functools.wraps(enrich)
    def enriched(headers: dict[str, str], body: Any) -> tuple[dict[str, str], Any]:
        if type(body) is not str:  # bytes, or a str subclass whose slices and sums may differ: moto's own way
            return enrich(headers, body)
        start = body.find("<RequestId>")
        if start < 0:
            return enrich(headers, "")[0], body
        headers, tail = enrich(headers, body[start:])
        return headers, body[:start] + tail

    enriched._from_the_first = True  # type: ignore[attr-defined]
    BaseResponse._enrich_response = staticmethod(enriched)  # type: ignore[method-assign]


def _answer_stage_keys_as_aws_does() -> None:
    """moto gap: GetApiKey answers `stageKeys` as the {restApiId, stageName} pairs it was given; API Gateway
    (and botocore's model: a list of strings) answers "restApiId/stageName"."""
    from moto.apigateway import models as apigw_models

    if getattr(apigw_models.ApiKey, "_stage_keys_as_aws", False):
        return
    original = apigw_models.ApiKey.to_json

    def as_json(self: Any) -> dict[str, Any]:
        answer = original(self)
        answer["stageKeys"] = [f"{k['restApiId']}/{k['stageName']}" if isinstance(k, dict) else k
                               for k in answer.get("stageKeys") or []]
        return answer

    apigw_models.ApiKey.to_json = as_json  # type: ignore[method-assign]
    apigw_models.ApiKey._stage_keys_as_aws = True  # type: ignore[attr-defined]


# moto's S3 answers whose root element is not the one S3 sends (the S3 API reference's response syntax), by the
# method that answers them. botocore ignores the root, but opscli's answer check does not: a document of another
# shape is not an answer.
_S3_ROOTS = {"get_bucket_versioning": ("GetBucketVersioningResponse", "VersioningConfiguration"),
             "get_bucket_notification": ("GetBucketNotificationResponse", "NotificationConfiguration"),
             "list_bucket_inventory_configurations": ("ListBucketInventoryConfigurationsResponse",
                                                      "ListInventoryConfigurationsResult")}


def _answer_s3_documents_with_their_aws_roots() -> None:
    """moto gap: GetBucketVersioning (and GetBucketNotificationConfiguration when nothing is configured) answer
    <GetBucketVersioningResponse/>, <GetBucketNotificationResponse/>; S3 answers <VersioningConfiguration/> and
    <NotificationConfiguration/>. Likewise <ListBucketInventoryConfigurationsResponse> for S3's
    <ListInventoryConfigurationsResult>."""
    from moto.s3.responses import S3Response

    for name, (moto_root, aws_root) in _S3_ROOTS.items():
        original = getattr(S3Response, name)
        if getattr(original, "_aws_root", False):
            continue

        def answer(self: Any, _original: Any = original, _moto: str = moto_root, _aws: str = aws_root) -> Any:
            result = _original(self)
            if not isinstance(result, tuple) or len(result) != 3:
                return result
            status, headers, body = result
            text = body.decode() if isinstance(body, bytes) else body
            if isinstance(text, str):
                text = re.sub(rf"<(/?){_moto}\b", rf"<\g<1>{_aws}", text)
                body = text.encode() if isinstance(body, bytes) else text
            return status, headers, body

        answer._aws_root = True  # type: ignore[attr-defined]
        setattr(S3Response, name, answer)


def _refuse_another_owners_bucket_location() -> None:
    """moto gap: GetBucketLocation ignores ExpectedBucketOwner; S3 refuses with 403 AccessDenied when the bucket
    belongs to another account (how the audit tells a bucket of its own account from another's)."""
    from moto.s3.exceptions import S3ClientError
    from moto.s3.responses import S3Response

    original = S3Response.get_bucket_location
    if getattr(original, "_expected_owner", False):
        return

    def answer(self: Any) -> Any:
        expected = self.headers.get("x-amz-expected-bucket-owner")
        if expected and self.backend.get_bucket(self.bucket_name).account_id != expected:
            raise S3ClientError("AccessDenied", "Access Denied")
        return original(self)

    answer._expected_owner = True  # type: ignore[attr-defined]
    S3Response.get_bucket_location = answer  # type: ignore[method-assign]


def _answer_event_bridge_notifications() -> None:
    """moto gap: GetBucketNotificationConfiguration leaves out <EventBridgeConfiguration/>, which S3 answers for
    a bucket that sends its events to EventBridge (moto keeps it: PutBucketNotificationConfiguration stores it)."""
    from moto.s3.responses import S3Response

    original = S3Response.get_bucket_notification
    if getattr(original, "_event_bridge", False):
        return

    def answer(self: Any) -> Any:
        result = original(self)
        configuration = self.backend.get_bucket_notification_configuration(self.bucket_name)
        if getattr(configuration, "event_bridge", None) is None or not isinstance(result, tuple) or len(result) != 3:
            return result
        status, headers, body = result
        text = body.decode() if isinstance(body, bytes) else body
        if not isinstance(text, str) or "<EventBridgeConfiguration" in text:  # another wrapping gave it already
            return result
        tag = "<EventBridgeConfiguration></EventBridgeConfiguration>"
        text = re.sub(r"<NotificationConfiguration([^>]*?)\s*/>", rf"<NotificationConfiguration\1>{tag}"
                      "</NotificationConfiguration>", text, count=1) if "</NotificationConfiguration>" not in text \
            else text.replace("</NotificationConfiguration>", f"{tag}</NotificationConfiguration>", 1)
        return status, {k: v for k, v in headers.items() if k.lower() != "content-length"}, \
            text.encode() if isinstance(body, bytes) else text

    answer._event_bridge = True  # type: ignore[attr-defined]
    S3Response.get_bucket_notification = answer  # type: ignore[method-assign]


def _delete_inventory_configurations_alone() -> None:
    """moto gap: DeleteBucketInventoryConfiguration is not implemented, and moto takes its DELETE ...?inventory for
    DeleteBucket: it deletes the bucket. S3 deletes that one configuration (NoSuchConfiguration if it has none)."""
    from moto.s3.exceptions import S3ClientError
    from moto.s3.responses import S3Response

    original = S3Response._bucket_response_delete
    if getattr(original, "_inventory", False):
        return

    def delete(self: Any, bucket_name: str, querystring: dict[str, Any]) -> Any:
        if "inventory" not in querystring:
            return original(self, bucket_name, querystring)
        configs = self.backend.get_bucket(bucket_name).inventory_configs
        if configs.pop((querystring.get("id") or [""])[0], None) is None:
            raise S3ClientError("NoSuchConfiguration", "The specified configuration does not exist.")
        return 204, {}, ""

    delete._inventory = True  # type: ignore[attr-defined]
    S3Response._bucket_response_delete = delete  # type: ignore[method-assign]


def _response_transformers_per_request() -> None:
    """moto bug: a response that includes or excludes a member for one request (ECS's DescribeServices and
    DescribeClusters with include=TAGS, EC2's key pairs) writes that choice into a dict shared by its class, while
    other threads' answers iterate over the same dict: "dictionary changed size during iteration" (seen in the
    suite under load), and the choice leaks into later requests. Here each response keeps its own copy."""
    from moto.core.responses import BaseResponse

    if getattr(BaseResponse, "_transformers_per_request", False):
        return

    def include(self: Any, response_key_path: str) -> None:
        self.RESPONSE_KEY_PATH_TO_TRANSFORMER = {**self.RESPONSE_KEY_PATH_TO_TRANSFORMER,
                                                 response_key_path: lambda value: value}

    def exclude(self: Any, response_key_path: str) -> None:
        from moto.core.serialize import never_return

        self.RESPONSE_KEY_PATH_TO_TRANSFORMER = {**self.RESPONSE_KEY_PATH_TO_TRANSFORMER,
                                                 response_key_path: never_return}

    BaseResponse._include_in_response = include  # type: ignore[method-assign]
    BaseResponse._exclude_from_response = exclude  # type: ignore[method-assign]
    BaseResponse._transformers_per_request = True  # type: ignore[attr-defined]


def _replicate_file_systems() -> None:
    """moto gap: EFS replication is not emulated at all (moto answers "not implemented", so the file system reader
    could not look). Here CreateReplicationConfiguration, DescribeReplicationConfigurations and
    DeleteReplicationConfiguration keep one replication per source file system in its backend and answer as EFS
    does (its required members, ReplicationNotFound for a file system without one). The destination file system is
    only named (a new id in the region asked for), not created."""
    import secrets
    import time

    from moto.efs import urls as efs_urls
    from moto.efs.exceptions import EFSError, FileSystemNotFound
    from moto.efs.responses import EFSResponse

    if getattr(EFSResponse, "_replicates", False):
        return

    class ReplicationNotFound(EFSError):
        code = 404

        def __init__(self, file_system_id: str) -> None:
            super().__init__("ReplicationNotFound", f"No replication configuration found for file system "
                                                    f"{file_system_id}.")

    def replications(self: Any) -> dict[str, dict[str, Any]]:
        return self.efs_backend.__dict__.setdefault("_replications", {})

    def source(self: Any, name: str) -> Any:
        file_system_id = self._get_param(name)
        file_system = self.efs_backend.file_systems_by_id.get(file_system_id)
        if file_system is None:
            raise FileSystemNotFound(file_system_id)
        return file_system

    def create(self: Any) -> Any:
        file_system = source(self, "SourceFileSystemId")
        asked = (self._get_param("Destinations") or [{}])[0]
        region = asked.get("Region") or self.region
        destination = {"Status": "ENABLED", "Region": region,
                       "FileSystemId": asked.get("FileSystemId") or f"fs-{secrets.token_hex(8)}",
                       "OwnerId": self.current_account, **({"RoleArn": asked["RoleArn"]} if "RoleArn" in asked else {})}
        arn = file_system.file_system_arn
        replications(self)[file_system.file_system_id] = {
            "SourceFileSystemId": file_system.file_system_id, "SourceFileSystemRegion": self.region,
            "SourceFileSystemArn": arn, "OriginalSourceFileSystemArn": arn,
            "CreationTime": time.time(), "Destinations": [destination],
            "SourceFileSystemOwnerId": self.current_account}
        return json.dumps(replications(self)[file_system.file_system_id]), {"Content-Type": "application/json"}

    def describe(self: Any) -> Any:
        file_system = source(self, "FileSystemId")
        found = replications(self).get(file_system.file_system_id)
        if found is None:
            raise ReplicationNotFound(file_system.file_system_id)
        return json.dumps({"Replications": [found]}), {"Content-Type": "application/json"}

    def delete(self: Any) -> Any:
        file_system = source(self, "SourceFileSystemId")
        if replications(self).pop(file_system.file_system_id, None) is None:
            raise ReplicationNotFound(file_system.file_system_id)
        return "{}", {"status": 204, "Content-Type": "application/json"}

    # The path the create and delete calls use (moto's server routes only the paths its EFS lists).
    efs_urls.url_paths.setdefault("/2015-02-01/file-systems/<file_system_id>/replication-configuration",
                                  efs_urls.response.dispatch)
    EFSResponse.create_replication_configuration = create  # type: ignore[attr-defined]
    EFSResponse.describe_replication_configurations = describe  # type: ignore[attr-defined]
    EFSResponse.delete_replication_configuration = delete  # type: ignore[attr-defined]
    EFSResponse._replicates = True  # type: ignore[attr-defined]


# When each RDS certificate authority's own certificate ends (DescribeCertificates' ValidTill), standing in for the
# server certificate RDS issues under it: rds-ca-2019 ended in August 2024 (in Tokyo on the 22nd), the G1 CAs last
# 40 and 100 years.
RDS_CA_VALID_TILL = {"rds-ca-2019": datetime(2024, 8, 22, 17, 8, 50, tzinfo=UTC),
                     "rds-ca-rsa2048-g1": datetime(2061, 5, 25, 23, 34, 57, tzinfo=UTC),
                     "rds-ca-rsa4096-g1": datetime(2121, 5, 25, 23, 38, 35, tzinfo=UTC),
                     "rds-ca-ecc384-g1": datetime(2121, 5, 25, 23, 42, 11, tzinfo=UTC)}


def _answer_rds_certificate_details() -> None:
    """moto gap: DescribeDBInstances answers no CertificateDetails (RDS does, for every instance): here the
    instance's CA and when it ends, for the CAs above (none for another CA, as an older answer would)."""
    from moto.rds.models import DBInstance

    if getattr(DBInstance, "_answers_certificate_details", False):
        return

    def certificate_details(self: Any) -> dict[str, Any] | None:
        till = RDS_CA_VALID_TILL.get(self.ca_certificate_identifier)
        return None if till is None else {"CAIdentifier": self.ca_certificate_identifier, "ValidTill": till}

    DBInstance.certificate_details = property(certificate_details)  # type: ignore[attr-defined]
    DBInstance._answers_certificate_details = True  # type: ignore[attr-defined]


def _remove_cross_region_replicas() -> None:
    """moto bug: a primary lists a replica in another region by its ARN (as RDS does) but removes it by its
    identifier, so deleting a cross-region read replica fails ("x not in list") and the primary keeps listing it."""
    from moto.rds.models import DBInstance

    if getattr(DBInstance, "_removes_replicas_by_arn", False):
        return

    def remove_replica(self: Any, replica: Any) -> None:
        for name in (replica.db_instance_identifier, replica.db_instance_arn):
            if name in self.replicas:
                self.replicas.remove(name)
                return

    DBInstance.remove_replica = remove_replica  # type: ignore[method-assign]
    DBInstance._removes_replicas_by_arn = True  # type: ignore[attr-defined]


def _answer_kms_multi_region_as_aws_does() -> None:
    """moto gap: a key created without the MultiRegion parameter is answered with MultiRegion null, which botocore
    drops; KMS answers false for every single-Region key."""
    from moto.kms.models import Key

    if getattr(Key, "_multi_region_as_aws", False):
        return
    original = Key.to_dict

    def to_dict(self: Any) -> dict[str, Any]:
        answer = original(self)
        answer["KeyMetadata"]["MultiRegion"] = bool(answer["KeyMetadata"].get("MultiRegion"))
        return answer

    Key.to_dict = to_dict  # type: ignore[method-assign]
    Key._multi_region_as_aws = True  # type: ignore[attr-defined]


#: The key-state operations whose KeyId AWS takes as a key ID or a key ARN (the API reference of each: "Specify the
#: key ID or key ARN of the KMS key"), and moto's backend only as a key ID.
KEY_STATE_OPERATIONS = ("disable_key", "enable_key", "cancel_key_deletion", "schedule_key_deletion")


def _take_key_arns_where_kms_does() -> None:
    """moto gap: DisableKey, EnableKey, CancelKeyDeletion and ScheduleKeyDeletion given a key's ARN (which moto's
    own check of the parameter accepts) looked the ARN up as a key ID and failed with a server error (500); an
    operator disabling or re-enabling the key by its ARN, as AWS allows, got no answer. Only an ARN of this
    region and account names one of its keys: another's, with the same key ID, does not exist here
    (NotFoundException, as KMS answers), never this key changed."""
    from moto.kms.exceptions import NotFoundException
    from moto.kms.models import KmsBackend
    from moto.utilities.utils import get_partition

    if getattr(KmsBackend, "_key_arns_as_aws", False):
        return
    for name in KEY_STATE_OPERATIONS:
        original = getattr(KmsBackend, name)

        def by_key_id(self: Any, key_id: str, *args: Any, _original: Any = original, **kwargs: Any) -> Any:
            if key_id.startswith("arn:"):
                own = f"arn:{get_partition(self.region_name)}:kms:{self.region_name}:{self.account_id}:key/"
                if not key_id.startswith(own):
                    raise NotFoundException(f"Key '{key_id}' does not exist")
            return _original(self, self.get_key_id(key_id), *args, **kwargs)

        setattr(KmsBackend, name, by_key_id)
    KmsBackend._key_arns_as_aws = True  # type: ignore[attr-defined]


class _KeyPairOnFirstUse:
    """What moto keeps as a key's asymmetric key pair, made only if something asks for it."""

    def __init__(self, make: Any, key_spec: str) -> None:
        self._make, self._key_spec, self._made = make, key_spec, None
        self._lock = threading.Lock()

    def __getattr__(self, name: str) -> Any:  # every attribute but the four above: the key pair's
        with self._lock:
            if self._made is None:
                self._made = self._make(self._key_spec)
        return getattr(self._made, name)


def _make_symmetric_keys_without_a_key_pair() -> None:
    """moto makes an RSA-2048 key pair for every KMS key, a symmetric one too (where AWS has none, and Sign,
    Verify and GetPublicKey refuse it): ~0.11 s of CPU per key, two per deployment of the stack. For a key spec
    that is not RSA or ECC, the pair is made only if something uses it; an asymmetric key's is made at once, as
    before."""
    from moto.kms import models as kms_models
    from moto.kms.models import KeySpec

    make = kms_models.generate_private_key
    if getattr(make, "_on_first_use", False):
        return

    def generate_private_key(key_spec: str) -> Any:
        if key_spec.startswith("RSA_") or key_spec in KeySpec.ecc_key_specs():
            return make(key_spec)
        return _KeyPairOnFirstUse(make, key_spec)

    generate_private_key._on_first_use = True  # type: ignore[attr-defined]
    kms_models.generate_private_key = generate_private_key


# Stacks the local deployer created, by account, region and name: what CloudFormation's ListStackResources and
# GetTemplate answer for them (moto's CloudFormation cannot deploy this stack, so the deployer creates the resources
# through the service APIs and records the stack here). Emulators in this process share it. A stack is answered
# only in the account and region it was deployed to, as CloudFormation does: credentials of another account are
# told the stack does not exist there, never shown one whose resources they then cannot find.
_DECLARED_STACKS: dict[tuple[str, str, str], dict[str, Any]] = {}


def _updated_at(finding: Any) -> datetime | None:
    try:
        moment = datetime.fromisoformat(str(finding.get("UpdatedAt", "")).replace("Z", "+00:00"))
    except ValueError:
        return None
    return moment if moment.tzinfo is not None else moment.replace(tzinfo=UTC)


def _receive_each_message_once() -> None:
    """SQS hands a message to one receive until its visibility timeout lapses. moto's ReceiveMessage checks that a
    message is visible and then marks it received with no lock between the two, so two receives at once (the
    worker's job loops, or any two consumers) could both take the same message: a video processed twice, only
    under load. Each scan of a queue now holds the queue's own lock (the one moto's SendMessage takes), and a long
    poll waits between scans without it, as moto's does. DeleteMessage rebuilt the queue's list with no lock
    either, so a message sent meanwhile could be lost: it takes the lock too."""
    from moto.core.utils import unix_time
    from moto.sqs.models import Queue, SQSBackend

    if getattr(SQSBackend, "_receives_each_message_once", False):
        return
    receive, delete = SQSBackend.receive_message, Queue.delete_message

    def receive_message(self: Any, queue_name: str, count: int, wait_seconds_timeout: int,
                        visibility_timeout: int, message_attribute_names: list[str] | None = None) -> Any:
        queue = self.get_queue(queue_name)
        polling_end = unix_time() + wait_seconds_timeout
        while True:
            with queue._messages_lock:
                found = receive(self, queue_name, count, 0, visibility_timeout, message_attribute_names)
            if found or not wait_seconds_timeout or unix_time() > polling_end:
                return found
            queue.wait_for_messages(1)

    def delete_message(self: Any, receipt_handle: str) -> None:
        with self._messages_lock:
            delete(self, receipt_handle)

    SQSBackend.receive_message = receive_message  # type: ignore[method-assign]
    Queue.delete_message = delete_message  # type: ignore[method-assign]
    SQSBackend._receives_each_message_once = True  # type: ignore[attr-defined]


def _keep_the_newer_finding() -> None:
    """Security Hub orders a provider's updates of one finding by their UpdatedAt: an update older than the
    finding it would replace changes nothing (its import still succeeds). moto replaced the finding with whatever
    came last, so two runs ending out of order left the older read's verdict standing here, not on AWS."""
    from moto.securityhub.models import SecurityHubBackend

    original = SecurityHubBackend.batch_import_findings

    def batch_import_findings(self: Any, findings: list[dict[str, Any]]) -> Any:
        current = {f.id: f for f in self.findings}
        newer, stale = [], 0
        for finding in findings:
            existing = current.get(finding.get("Id")) if isinstance(finding, dict) else None
            before = _updated_at(existing.data) if existing is not None else None
            after = _updated_at(finding) if isinstance(finding, dict) else None
            if before is not None and after is not None and after < before:
                stale += 1  # accepted, and left as it is
            else:
                newer.append(finding)
        failed, succeeded, failures = original(self, newer)
        return failed, succeeded + stale, failures

    SecurityHubBackend.batch_import_findings = batch_import_findings  # type: ignore[method-assign]


# GetFindings' string filters (AwsSecurityFindingFilters) the emulator applies, by the finding's field each reads.
FINDING_FILTERS = ("Id", "GeneratorId")
FINDING_COMPARISONS = ("EQUALS", "PREFIX")


def _finding_filter(filters: Any) -> Any:
    """The predicate GetFindings' `filters` ask for, as Security Hub applies a StringFilter: EQUALS and PREFIX
    filters on one field are joined by OR, the fields by AND. A filter the emulator does not apply (another field,
    another comparison, a value that is not a string) is refused, never ignored: ignoring it answers findings the
    caller asked to leave out."""
    from moto.securityhub.exceptions import InvalidInputException

    if not filters:
        return lambda finding: True
    if not isinstance(filters, dict):
        raise InvalidInputException(op="GetFindings", msg="Filters must be an object")
    wanted: list[tuple[str, list[tuple[str, str]]]] = []
    for field, given in filters.items():
        if field not in FINDING_FILTERS:
            raise InvalidInputException(op="GetFindings", msg=f"the local emulator does not filter by {field} "
                                        f"(only {', '.join(FINDING_FILTERS)})")
        if not isinstance(given, list) or not all(
                isinstance(f, dict) and isinstance(f.get("Value"), str) and
                f.get("Comparison") in FINDING_COMPARISONS for f in given):
            raise InvalidInputException(op="GetFindings", msg=f"the {field} filter must be a list of string "
                                        f"filters comparing by {' or '.join(FINDING_COMPARISONS)}")
        if given:  # an empty list asks for nothing, as on Security Hub
            wanted.append((field, [(f["Comparison"], f["Value"]) for f in given]))

    def matches(finding: dict[str, Any]) -> bool:
        for field, alternatives in wanted:
            value = finding.get(field)
            if not isinstance(value, str) or not any(value == v if how == "EQUALS" else value.startswith(v)
                                                     for how, v in alternatives):
                return False
        return True
    return matches


def _filter_findings() -> None:
    """moto gap: GetFindings answered every finding, whatever its Filters. The Id and GeneratorId filters are
    applied (`_finding_filter`), before the answer is paged as moto pages it."""
    from moto.securityhub.exceptions import InvalidInputException
    from moto.securityhub.models import SecurityHubBackend
    from moto.utilities.paginator import paginate

    if getattr(SecurityHubBackend.get_findings, "_filtered", False):
        return

    @paginate(pagination_model=SecurityHubBackend.PAGINATION_MODEL)
    def get_findings(self: Any, filters: Any = None, sort_criteria: Any = None,
                     max_results: Any = None) -> list[dict[str, Any]]:
        if max_results is not None:  # as moto checks it
            try:
                limit = int(max_results)
            except ValueError:
                raise InvalidInputException(op="GetFindings",
                                            msg="MaxResults must be a number greater than 0") from None
            if not 1 <= limit <= 100:
                raise InvalidInputException(op="GetFindings", msg="MaxResults must be a number between 1 and 100")
        wanted = _finding_filter(filters)
        return [f.as_dict() for f in self.findings if wanted(f.data)]

    get_findings._filtered = True  # type: ignore[attr-defined]
    SecurityHubBackend.get_findings = get_findings  # type: ignore[method-assign]


def register_stack(record: dict[str, Any], *, account: str, region: str) -> None:
    """Make the emulator answer ListStackResources / GetTemplate for `record` (a stack record as written by
    DeployResult.stack_record) as CloudFormation would for a stack deployed to `account` and `region`."""
    # The template's text written once, now: what GetTemplate answers is the template as registered, even where the
    # caller's dict (the record is copied, its template is not) changes later (a whole-stack read asks every time).
    _DECLARED_STACKS[(account, region, record["StackName"])] = {
        **record, "created": datetime.now(UTC), "template_text": json.dumps(record["TemplateBody"])}


def _declared_stack(response: Any) -> dict[str, Any] | None:
    """The stack record a CloudFormation request names, in the caller's account and the request's region."""
    return _DECLARED_STACKS.get((response.current_account, response.region, response._get_param("StackName")))


def _serve_declared_stacks() -> None:
    from moto.cloudformation import responses as cfn_responses
    from moto.core.responses import ActionResult

    if getattr(cfn_responses.CloudFormationResponse, "_serves_declared_stacks", False):
        return
    list_resources, get_template = (cfn_responses.CloudFormationResponse.list_stack_resources,
                                    cfn_responses.CloudFormationResponse.get_template)

    def list_stack_resources(self: Any) -> Any:
        record = _declared_stack(self)
        if record is None:
            return list_resources(self)
        token = self._get_param("NextToken") or "0"
        start = whole(token) or 0
        size = page_size() or STACK_RESOURCES_PAGE
        summaries = record["StackResourceSummaries"]
        page: dict[str, Any] = {"StackResourceSummaries": [{**summary, "LastUpdatedTimestamp": record["created"]}
                                           for summary in summaries[start:start + size]]}
        if start + size < len(summaries):
            page["NextToken"] = str(start + size)
        return ActionResult(page)

    def template(self: Any) -> Any:
        record = _declared_stack(self)
        if record is None:
            return get_template(self)
        return ActionResult({"TemplateBody": record["template_text"], "StagesAvailable": ["Original", "Processed"]})

    cfn_responses.CloudFormationResponse.list_stack_resources = list_stack_resources  # type: ignore[method-assign]
    cfn_responses.CloudFormationResponse.get_template = template  # type: ignore[method-assign]
    cfn_responses.CloudFormationResponse._serves_declared_stacks = True  # type: ignore[attr-defined]


def page_size() -> int | None:
    """The paged test mode's page size (STREAMTECH_EMULATOR_PAGE_SIZE: 1 or 2), or None when it is off."""
    value = os.environ.get(PAGE_SIZE_ENV, "")
    if not value:
        return None
    if value not in ("1", "2"):
        raise ValueError(f"{PAGE_SIZE_ENV} must be 1 or 2, not {value!r}")
    return int(value)


def _page_every_answer(size: int | None) -> None:
    """In the paged mode, every answer moto pages (its paginator, whatever page size the client asked for)
    holds at most `size` items, with the token to the next page."""
    if size is None:
        return
    from moto.utilities import paginator

    if getattr(paginator.Paginator, "_paged_test_mode", None) == size:
        return
    original = getattr(paginator.Paginator, "_unpaged_init", paginator.Paginator.__init__)

    def paged_init(self: Any, *args: Any, **kwargs: Any) -> None:
        kwargs["max_results"] = size
        kwargs["max_results_default"] = size
        original(self, *args, **kwargs)

    paginator.Paginator._unpaged_init = original  # type: ignore[attr-defined]
    paginator.Paginator.__init__ = paged_init  # type: ignore[method-assign]
    paginator.Paginator._paged_test_mode = size  # type: ignore[attr-defined]


# AWS-managed policies the stack attaches (and AdministratorAccess, which the drift tests attach to show it
# is caught). A policy missing here is not attached locally, and `opscli drift` says so: add it.
MANAGED_POLICIES = ("AWSLambdaBasicExecutionRole", "AmazonAPIGatewayPushToCloudWatchLogs",
                    "AmazonRDSEnhancedMonitoringRole", "AdministratorAccess")


def _page_authorization_details(size: int | None) -> None:
    """moto answers GetAccountAuthorizationDetails in one page whatever MaxItems says: page it as IAM does (at most
    MaxItems items, 100 when not given, over users, groups, roles and policies in that order, with a Marker to the
    rest), and in the paged mode at most `size` items, so the audit's one account-wide read is read to its end."""
    from moto.core.responses import ActionResult
    from moto.iam.responses import IamResponse

    if getattr(IamResponse, "_pages_authorization_details", None) == (size,):
        return
    original = getattr(IamResponse, "_unpaged_authorization_details", IamResponse.get_account_authorization_details)
    keys = ("UserDetailList", "GroupDetailList", "RoleDetailList", "Policies")

    def paged(self: Any) -> Any:
        from moto.iam.exceptions import ValidationError

        details = original(self).result
        if not isinstance(details, dict):  # moto types an ActionResult's payload as object
            raise TypeError(f"moto's GetAccountAuthorizationDetails built a {type(details).__name__}, not a dict")
        items = [(key, item) for key in keys for item in list(details[key])]
        limit = whole(str(self._get_param("MaxItems") or 100), 1, 1000)  # IAM's MaxItems: 1 to 1000
        start = whole(str(self._get_param("Marker") or 0))
        if limit is None or start is None:
            raise ValidationError("MaxItems must be 1 to 1000 and Marker a marker this API returned")
        limit = min(limit, size) if size else limit
        chunk = items[start:start + limit]
        result: dict[str, Any] = {key: [item for k, item in chunk if k == key] for key in keys}
        result["IsTruncated"] = start + limit < len(items)
        if result["IsTruncated"]:
            result["Marker"] = str(start + limit)
        return ActionResult(result)

    IamResponse._unpaged_authorization_details = original  # type: ignore[attr-defined]
    IamResponse.get_account_authorization_details = paged  # type: ignore[method-assign]
    IamResponse._pages_authorization_details = (size,)  # type: ignore[attr-defined]


def _load_only_used_managed_policies() -> None:
    from moto.iam import models as iam_models

    data = json.loads(iam_models.aws_managed_policies_data)
    if len(data) > len(MANAGED_POLICIES):
        iam_models.aws_managed_policies_data = json.dumps({k: v for k, v in data.items() if k in MANAGED_POLICIES})


def _check_signatures_of_empty_bodies_as_aws_does() -> None:
    """With IAM enforcement on, moto recomputes each request's SigV4 signature from the request it parsed: for a
    request without a body it hashes the parsed query parameters as the payload, where the client (and AWS)
    signed the empty payload. Every GET of a REST-JSON service (API Gateway, EFS, Lambda) was refused with
    SignatureDoesNotMatch. An empty body is signed as empty, as AWS does."""
    from moto.iam import access_control

    base = access_control.IAMRequestBase
    if getattr(base, "_signs_empty_bodies", False):
        return
    create = base._create_aws_request

    def create_aws_request(self: Any) -> Any:
        request = create(self)
        if not self._body and self._method in ("GET", "HEAD", "DELETE"):
            request.data = b""
        return request

    base._create_aws_request = create_aws_request  # type: ignore[method-assign]
    base._signs_empty_bodies = True  # type: ignore[attr-defined]


def _update_web_acls_to_no_rules() -> None:
    """moto's UpdateWebACL takes `Rules: []` for "leave the rules as they are"; AWS replaces the rules with none
    (Rules is required, and empty is valid). Kept as AWS does, so emptying a web ACL can be shown to be caught."""
    from moto.wafv2 import models as waf_models

    backend = waf_models.WAFV2Backend
    if getattr(backend, "_empties_rules", False):
        return
    update = backend.update_web_acl

    def update_web_acl(self: Any, name: str, _id: str, default_action: Any, rules: Any, *args: Any,
                       **kwargs: Any) -> str:
        token = update(self, name, _id, default_action, rules, *args, **kwargs)
        if rules == []:
            self.get_web_acl(None, name, _id).rules = []
        return token

    backend.update_web_acl = update_web_acl  # type: ignore[method-assign]
    backend._empties_rules = True  # type: ignore[attr-defined]


def _keep_integration_connection_ids() -> None:
    """moto drops an API Gateway integration's connectionId (the VPC link it goes through): keep it, so the
    deployment holds what the template declares and `opscli drift` can compare it."""
    from moto.apigateway import models as apigw_models
    from moto.apigateway import responses as apigw_responses

    if getattr(apigw_models.Integration, "_keeps_connection_id", False):
        return
    put_integration, to_json = apigw_responses.APIGatewayResponse.put_integration, apigw_models.Integration.to_json

    def put(self: Any) -> Any:
        answer = put_integration(self)
        connection_id = self._get_param("connectionId")
        if connection_id:  # path: /restapis/{api}/resources/{resource}/methods/{method}/integration
            parts = self.path.split("?")[0].split("/")
            integration = self.backend.get_integration(parts[2], parts[4], parts[6])
            integration.connection_id = connection_id
            status, headers, _ = answer
            answer = status, headers, json.dumps(integration.to_json())
        return answer

    def as_json(self: Any) -> dict[str, Any]:
        document = to_json(self)
        if getattr(self, "connection_id", None):
            document["connectionId"] = self.connection_id
        return document

    apigw_responses.APIGatewayResponse.put_integration = put  # type: ignore[method-assign]
    apigw_models.Integration.to_json = as_json  # type: ignore[method-assign]
    apigw_models.Integration._keeps_connection_id = True  # type: ignore[attr-defined]


class _SchemeRecorder:
    """WSGI middleware: remembers whether the request came over TLS, for `bucket_permission`."""

    def __init__(self, app: Any) -> None:
        self.app = app

    def __call__(self, environ: dict[str, Any], start_response: Any) -> Any:
        _request.secure = environ.get("wsgi.url_scheme") == "https"
        return self.app(environ, start_response)


def _backend_app(service: Any) -> Any:
    """moto's Flask application for one service, out of debug mode (in it, Flask builds a class for every request
    to explain form-encoding errors to a developer) and without the CORS headers moto adds to every answer (AWS
    sends none to a request without an Origin; no client of the emulator is a browser page)."""
    from moto.moto_server import werkzeug_app

    werkzeug_app.DISABLE_GLOBAL_CORS = True
    app = create_backend_app(service)
    app.debug = False
    return app


class _Dispatcher(DomainDispatcherApplication):
    """moto's dispatcher with its host -> backend answer remembered. moto works it out anew for every request,
    listing its own package directory and trying hundreds of URL patterns under one lock, the largest part of
    the emulator's CPU for a whole-stack read (bench/README.md). The answer depends on the host alone."""

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self._backends: dict[str | None, Any] = {}

    def get_backend_for_host(self, host: str | None) -> Any:
        if host not in self._backends:
            self._backends[host] = super().get_backend_for_host(host)
        return self._backends[host]


class KeepAliveRequestHandler(MotoRequestHandler):
    """moto's request handler, answering HTTP/1.1 requests on a connection the client may keep (werkzeug closes
    every connection after one answer, so each request of a read was a new TCP connection, with its own accept,
    hand-over to a thread, selector and teardown on both sides). A request whose body has a
    Content-Length (or none) is answered with the whole answer's length and the connection stays open; anything
    else (chunked bodies, HTTP/1.0) goes werkzeug's own way, closing it. The request log line is made only when
    something would print it."""

    protocol_version = "HTTP/1.1"
    disable_nagle_algorithm = True  # an answer's head and body are two writes: neither waits for an ACK

    def log_request(self, code: int | str = "-", size: int | str = "-") -> None:
        if _werkzeug_log.isEnabledFor(logging.INFO):
            super().log_request(code, size)

    def run_wsgi(self) -> None:
        length = whole(self.headers.get("Content-Length", "0").strip())
        if self.request_version != "HTTP/1.1" or "Transfer-Encoding" in self.headers or length is None:
            return super().run_wsgi()
        if self.headers.get("Expect", "").lower().strip(" \t") == "100-continue":
            self.wfile.write(b"HTTP/1.1 100 Continue\r\n\r\n")
        environ = self.environ = self.make_environ()
        # cast: socketserver types rfile as BufferedIOBase; it is the socket's makefile("rb"), an IO[bytes].
        body = LimitedStream(cast(IO[bytes], self.rfile), length)
        environ["wsgi.input"] = body
        answered: list[Any] = []
        chunks: list[bytes] = []

        def start_response(status: str, headers: list[tuple[str, str]], exc_info: Any = None) -> Any:
            answered[:] = [status, headers]  # nothing is sent before the application returns: a later call wins
            return chunks.append

        try:
            result = self.server.app(environ, start_response)
            try:
                chunks.extend(result)
            finally:
                if hasattr(result, "close"):
                    result.close()
        except Exception:  # as werkzeug: a 500 and the traceback in the log, and the server goes on
            if self.server.passthrough_errors:
                raise
            self.server.log("error", f"Error on request:\n{traceback.format_exc()}")
            answered[:], chunks[:] = [], []
            chunks.extend(InternalServerError()(environ, start_response))
            self.close_connection = True
        body.exhaust()  # what the application left unread: the next request starts after it
        keeps = getattr(self.server, "keeps", None)
        if keeps is not None and not keeps():
            self.close_connection = True  # said in this answer, so no client sends on it after: no race
        status, headers = answered
        code, _, reason = status.partition(" ")
        head = self.command == "HEAD"
        self.send_response(int(code), reason or None)  # none given: the standard phrase
        for key, value in headers:
            if key.lower() not in _HOP_BY_HOP and (head or key.lower() != "content-length"):
                self.send_header(key, value)
        payload = b"".join(chunks)
        if not head and int(code) not in (204, 304) and int(code) >= 200:
            self.send_header("Content-Length", str(len(payload)))
        else:
            payload = b""
        if self.close_connection:
            self.send_header("Connection", "close")
        self.end_headers()
        self.wfile.write(payload)
        self.wfile.flush()


_werkzeug_log = logging.getLogger("werkzeug")
_HOP_BY_HOP = frozenset({"connection", "keep-alive", "transfer-encoding"})


class PooledWSGIServer(BaseWSGIServer):
    """werkzeug's WSGI server answering each connection in a thread it keeps, not a new one per connection
    (werkzeug's threaded server starts a thread for every request). A connection finds an idle thread, or a new one
    is started for it, so no request ever waits for another (a long poll, a client that never sends, a client
    keeping its connection open between requests: KeepAliveRequestHandler); the threads stop with the server, and
    so do the connections clients keep. A thread per request cost the emulator CPU on every whole-stack read
    (bench/README.md)."""

    multithread = True
    #: At most this many connections are kept between requests; past it an answer says Connection: close. Each
    #: kept connection holds a thread here and a socket in its client until the client closes it, and a client
    #: that drops its connections without closing them (one garbage collection away) must not pile up either.
    kept_connections = 64

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self._connections: queue.SimpleQueue[tuple[Any, Any] | None] = queue.SimpleQueue()
        self._lock = threading.Lock()
        self._idle = 0  # threads free to take a connection, less those already promised one
        self._open: set[Any] = set()  # the connections being answered (and kept) now
        self.threads: list[threading.Thread] = []

    @property
    def idle_threads(self) -> int:
        """Threads free to take the next connection."""
        with self._lock:
            return self._idle

    def process_request(self, request: Any, client_address: Any) -> None:
        with self._lock:
            self._open.add(request)
            if self._idle:
                self._idle -= 1
            else:
                thread = threading.Thread(target=self._answer, name=f"emulator-{len(self.threads)}", daemon=True)
                self.threads.append(thread)
                thread.start()
        self._connections.put((request, client_address))

    def _answer(self) -> None:
        while (connection := self._connections.get()) is not None:
            socketserver.ThreadingMixIn.process_request_thread(self, *connection)  # type: ignore[arg-type]
            with self._lock:
                self._idle += 1

    def keeps(self) -> bool:
        """Whether a connection answered now may stay open for the client's next request."""
        with self._lock:
            return len(self._open) <= self.kept_connections

    def shutdown_request(self, request: Any) -> None:
        with self._lock:  # out of the set before it is closed: server_close never touches a closed socket
            self._open.discard(request)
        super().shutdown_request(request)

    def server_close(self) -> None:
        super().server_close()
        with self._lock:
            for request in self._open:  # a kept connection's thread waits for the next request: it ends now
                with suppress(OSError):
                    request.shutdown(socket.SHUT_RDWR)
        for _ in self.threads:
            self._connections.put(None)


class _Heard:
    """WSGI middleware: sets `heard` when a request arrives, before it is answered."""

    def __init__(self, app: Any, heard: threading.Event) -> None:
        self.app, self.heard = app, heard

    def __call__(self, environ: dict[str, Any], start_response: Any) -> Any:
        self.heard.set()
        return self.app(environ, start_response)


class _Server(ThreadedMotoServer):
    """moto's threaded server with the scheme recorder, a kept pool of threads and, optionally, TLS and an event
    set by every request (`heard`)."""

    def __init__(self, port: int, ssl_context: ssl.SSLContext | None, heard: threading.Event | None = None) -> None:
        super().__init__(ip_address="127.0.0.1", port=port, verbose=False)
        self._ssl_context = ssl_context
        self._heard = heard

    def _server_entry(self) -> None:
        app: Any = _Dispatcher(_backend_app)
        size = page_size()
        if size is not None:
            from localenv.pager import Pager

            app = Pager(app, size)
        app = _SchemeRecorder(app)
        if self._heard is not None:
            app = _Heard(app, self._heard)
        self._server = PooledWSGIServer(self._ip_address, self._port, app, KeepAliveRequestHandler,
                                        ssl_context=self._ssl_context)
        self._server_ready_event.set()
        self._server.serve_forever()


def _contexts(tls: TlsFiles) -> tuple[ssl.SSLContext, ssl.SSLContext]:
    """The server's TLS context (TLS 1.2 at least) and one for a client that trusts `tls.ca`."""
    server_context = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
    server_context.minimum_version = ssl.TLSVersion.TLSv1_2
    server_context.load_cert_chain(tls.cert, tls.key)
    return server_context, ssl.create_default_context(cafile=str(tls.ca))


@contextmanager
def moto_server(port: int | None = None, *, tls: TlsFiles | None = None) -> Iterator[str]:
    """A moto server on 127.0.0.1 for the duration of the block (HTTPS only when `tls` is given); yields its
    endpoint URL. Clients of an HTTPS endpoint trust `tls.ca` (AWS_CA_BUNDLE for boto3)."""
    configure_moto()
    port = port or free_port()
    server_context, client_context = _contexts(tls) if tls is not None else (None, None)
    server = _Server(port, server_context)
    server.start()
    endpoint = f"{'https' if tls else 'http'}://127.0.0.1:{port}"
    # moto keeps its state per process: start every emulator empty, whatever ran before in this process.
    urllib.request.urlopen(urllib.request.Request(f"{endpoint}/moto-api/reset", method="POST"), timeout=10,
                           context=client_context).close()
    try:
        yield endpoint
    finally:
        server.stop()


@contextmanager
def tls_listener(tls: TlsFiles, port: int | None = None, *, heard: threading.Event | None = None) -> Iterator[str]:
    """An HTTPS listener on 127.0.0.1 for the emulator `moto_server` runs in this process, for the duration of the
    block; yields its endpoint. The same emulator (moto keeps its state per process), so what a client of the plain
    HTTP endpoint made is there, and a TLS-only resource (a bucket whose policy denies requests without
    `aws:SecureTransport`) serves a client of this one, as S3 serves a client over HTTPS. Nothing is reset. Every
    request it receives sets `heard` (when given): whoever waits for its client's first request clears it first."""
    port = port or free_port()
    server = _Server(port, _contexts(tls)[0], heard)
    server.start()  # returns once the server listens
    try:
        yield f"https://127.0.0.1:{port}"
    finally:
        server.stop()
