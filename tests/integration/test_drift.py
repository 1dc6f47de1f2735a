"""Drift: break one setting of the deployed (emulated) environment at a time; opscli must report the matching
rule id with exit code 1, and pass again once the setting is restored. Never run against a real account."""

from __future__ import annotations

import json
import re

import pytest

from platform_spec.result import Status
from platform_spec.rules import stk_drift
from tests.integration.changes import Judged

# The live-misconfiguration tests change the deployment one setting at a time: their own xdist group, so they
# run on one worker with its own local deployment (session fixtures are per worker), beside the read-only users
# of the deployment (a group per module, tests/conftest.SHARED_DEPLOYMENT).
pytestmark = [pytest.mark.synth, pytest.mark.xdist_group("drift")]



def rotate_check(deployment) -> tuple[int, dict]:
    """`opscli rotate-check secrets`'s core in process, on the deployment's shared clients: (its exit code as the
    CLI decides it, the findings as its JSON report has them). The command itself is tested in tests/opscli."""
    from opscli import core, targets

    report = core.rotate_secrets(deployment.aws, targets.from_outputs(deployment.outputs_file))
    code, _ = core.conclude(report)
    return code, {"findings": [f.to_dict() for f in report.findings]}


def failed_rules(document: dict) -> set[str]:
    return {f["rule_id"] for f in document["findings"] if f["status"] == "FAIL"}


def _rds_multi_az(d, on):
    d.client("rds").modify_db_instance(DBInstanceIdentifier=d.outputs["DbInstanceIdentifier"], MultiAZ=on,
                                       ApplyImmediately=True)


def _kms_rotation(d, on):
    kms = d.client("kms")
    (kms.enable_key_rotation if on else kms.disable_key_rotation)(KeyId=d.outputs["KmsKeyArn"])


def _rds_owner_tag(d, on):
    rds = d.client("rds")
    [instance] = rds.describe_db_instances(DBInstanceIdentifier=d.outputs["DbInstanceIdentifier"])["DBInstances"]
    arn = instance["DBInstanceArn"]
    if on:
        rds.add_tags_to_resource(ResourceName=arn, Tags=[{"Key": "Owner", "Value": "platform-team"}])
    else:
        rds.remove_tags_from_resource(ResourceName=arn, TagKeys=["Owner"])


def _log_retention(d, on):
    logs, name = d.client("logs"), d.outputs["ApiAccessLogGroup"]
    if on:
        logs.put_retention_policy(logGroupName=name, retentionInDays=30)
    else:
        logs.delete_retention_policy(logGroupName=name)


_saved_policy: dict[str, str] = {}


def _efs_tls_policy(d, on):
    efs, fs = d.client("efs"), d.outputs["EfsFileSystemId"]
    if on:
        efs.put_file_system_policy(FileSystemId=fs, Policy=_saved_policy.pop(fs))
    else:
        # The TLS deny statement removed (moto has no DeleteFileSystemPolicy; real AWS would accept either).
        _saved_policy[fs] = efs.describe_file_system_policy(FileSystemId=fs)["Policy"]
        efs.put_file_system_policy(FileSystemId=fs, Policy=json.dumps({"Version": "2012-10-17", "Statement": [
            {"Effect": "Allow", "Principal": {"AWS": "*"}, "Action": "elasticfilesystem:ClientMount",
             "Resource": "*"}]}))


def _stage_tracing(d, on):
    d.client("apigateway").update_stage(restApiId=d.outputs["ApiId"], stageName=d.outputs["ApiStageName"],
                                        patchOperations=[{"op": "replace", "path": "/tracingEnabled",
                                                          "value": str(on).lower()}])


def _stage_cache_unencrypted(d, on):
    """The stage's cache turned on for every method, without encryption (and back: off, encrypted)."""
    operations = [{"op": "replace", "path": f"/*/*/caching/{setting}", "value": str(value).lower()}
                  for setting, value in (("enabled", not on), ("dataEncrypted", on))]
    d.client("apigateway").update_stage(restApiId=d.outputs["ApiId"], stageName=d.outputs["ApiStageName"],
                                        patchOperations=operations)


def _service_count(d, on):
    d.client("ecs").update_service(cluster=d.outputs["ClusterName"], service=d.outputs["MetadataApiServiceName"],
                                   desiredCount=2 if on else 1)


_saved_rotation: dict[str, str] = {}


def _secret_rotation(d, on):
    sm, name = d.client("secretsmanager"), d.outputs["DbSecretName"]
    if on:
        sm.rotate_secret(SecretId=name, RotationLambdaARN=_saved_rotation.pop(name),
                         RotationRules={"AutomaticallyAfterDays": 30})
    else:
        _saved_rotation[name] = sm.describe_secret(SecretId=name)["RotationLambdaARN"]
        sm.cancel_rotate_secret(SecretId=name)


def _secret_rotation_stretched(d, on):
    """The rotation schedule stretched to a year: rotation stays enabled, the secret was rotated recently."""
    sm, name = d.client("secretsmanager"), d.outputs["DbSecretName"]
    secret = sm.describe_secret(SecretId=name)
    sm.rotate_secret(SecretId=name, RotationLambdaARN=secret["RotationLambdaARN"],
                     RotationRules={"AutomaticallyAfterDays": 30 if on else 365})


_saved_queue_policy: dict[str, str] = {}


def _queue_tls_policy(d, on):
    sqs = d.client("sqs")
    url = sqs.get_queue_url(QueueName=d.outputs["IntakeQueueName"])["QueueUrl"]
    if on:
        sqs.set_queue_attributes(QueueUrl=url, Attributes={"Policy": _saved_queue_policy.pop(url)})
    else:
        _saved_queue_policy[url] = sqs.get_queue_attributes(QueueUrl=url,
                                                            AttributeNames=["Policy"])["Attributes"]["Policy"]
        sqs.set_queue_attributes(QueueUrl=url, Attributes={"Policy": json.dumps({"Version": "2012-10-17", "Statement": [
            {"Effect": "Allow", "Principal": {"Service": "events.amazonaws.com"}, "Action": "sqs:SendMessage",
             "Resource": "*"}]})})


_saved_scaling: dict[str, dict] = {}


def _backlog_scaling(d, on):
    scaling = d.client("application-autoscaling")
    resource = f"service/{d.outputs['ClusterName']}/{d.outputs['VideoProcessingServiceName']}"
    if on:
        scaling.put_scaling_policy(**_saved_scaling.pop(resource))
    else:
        [policy] = [p for p in scaling.describe_scaling_policies(ServiceNamespace="ecs", ResourceId=resource)[
            "ScalingPolicies"] if "CustomizedMetricSpecification" in p["TargetTrackingScalingPolicyConfiguration"]]
        _saved_scaling[resource] = {k: policy[k] for k in (
            "PolicyName", "ServiceNamespace", "ResourceId", "ScalableDimension", "PolicyType",
            "TargetTrackingScalingPolicyConfiguration")}
        scaling.delete_scaling_policy(PolicyName=policy["PolicyName"], ServiceNamespace="ecs", ResourceId=resource,
                                      ScalableDimension=policy["ScalableDimension"])


def _db_security_group(d) -> str:
    rds = d.client("rds")
    db = rds.describe_db_instances(DBInstanceIdentifier=d.outputs["DbInstanceIdentifier"])["DBInstances"][0]
    return db["VpcSecurityGroups"][0]["VpcSecurityGroupId"]


_OPEN_SSH = [{"IpProtocol": "tcp", "FromPort": 22, "ToPort": 22, "IpRanges": [{"CidrIp": "0.0.0.0/0"}]}]


def _db_open_to_the_world(d, on):
    ec2, group = d.client("ec2"), _db_security_group(d)
    (ec2.revoke_security_group_ingress if on else ec2.authorize_security_group_ingress)(
        GroupId=group, IpPermissions=_OPEN_SSH)


_EGRESS_TO_THE_WORLD = [{"IpProtocol": "tcp", "FromPort": 443, "ToPort": 443, "IpRanges": [{"CidrIp": "0.0.0.0/0"}]}]


def _db_egress_to_the_world(d, on):
    ec2, group = d.client("ec2"), _db_security_group(d)
    (ec2.revoke_security_group_egress if on else ec2.authorize_security_group_egress)(
        GroupId=group, IpPermissions=_EGRESS_TO_THE_WORLD)


def _debug_stage_on_the_api(d, on):
    """A second stage on the declared deployment: the API served without the declared stage's web ACL."""
    api, api_id = d.client("apigateway"), d.outputs["ApiId"]
    if on:
        api.delete_stage(restApiId=api_id, stageName="debug")
    else:
        deployment = api.get_stages(restApiId=api_id)["item"][0]["deploymentId"]
        api.create_stage(restApiId=api_id, stageName="debug", deploymentId=deployment)


def _undeclared_deployment(d, on):
    api, api_id = d.client("apigateway"), d.outputs["ApiId"]
    if on:
        api.delete_deployment(restApiId=api_id, deploymentId=_saved.pop("deployment"))
    else:
        _saved["deployment"] = api.create_deployment(restApiId=api_id, description="frozen copy")["id"]


def _force_ssl(d, on):
    d.client("rds").modify_db_parameter_group(
        DBParameterGroupName=d.outputs["DbParameterGroupName"],
        Parameters=[{"ParameterName": "rds.force_ssl", "ParameterValue": "1" if on else "0",
                     "ApplyMethod": "immediate"}])


def _insights(d, on):
    d.client("ecs").update_cluster(cluster=d.outputs["ClusterName"], settings=[
        {"name": "containerInsights", "value": "enabled" if on else "disabled"}])


def _api_endpoint(d, on):
    d.client("apigateway").update_rest_api(restApiId=d.outputs["ApiId"], patchOperations=[
        {"op": "replace", "path": "/endpointConfiguration/types/0", "value": "REGIONAL" if on else "EDGE"}])


def _bucket_public_access(d, on):
    d.client("s3").put_public_access_block(Bucket=d.outputs["IngestBucketName"], PublicAccessBlockConfiguration={
        "BlockPublicAcls": True, "IgnorePublicAcls": True, "BlockPublicPolicy": on, "RestrictPublicBuckets": True})


def _queue_key(d, on):
    sqs = d.client("sqs")
    url = sqs.get_queue_url(QueueName=d.outputs["IntakeQueueName"])["QueueUrl"]
    # moto's SetQueueAttributes drops the queue's Policy unless it is given again (AWS keeps it).
    policy = sqs.get_queue_attributes(QueueUrl=url, AttributeNames=["Policy"])["Attributes"]["Policy"]
    sqs.set_queue_attributes(QueueUrl=url, Attributes={
        "KmsMasterKeyId": d.outputs["KmsKeyArn"] if on else "alias/aws/sqs", "Policy": policy})


def _topic_key(d, on):
    sns = d.client("sns")
    arn = next(t["TopicArn"] for t in sns.list_topics()["Topics"] if t["TopicArn"].endswith(f":alarms-{d.suffix}"))
    sns.set_topic_attributes(TopicArn=arn, AttributeName="KmsMasterKeyId",
                             AttributeValue=d.outputs["KmsKeyArn"] if on else "alias/aws/sns")


def _admin_on_a_role(d, on):
    iam = d.client("iam")
    role = next(r["RoleName"] for r in iam.list_roles()["Roles"] if "VideoProcessingWorkerTaskDefinitionTaskRole"
                in r["RoleName"])
    admin = "arn:aws:iam::aws:policy/AdministratorAccess"
    (iam.detach_role_policy if on else iam.attach_role_policy)(RoleName=role, PolicyArn=admin)


_saved_integration: dict[str, dict] = {}


def _mock_integration(d, on):
    api, api_id = d.client("apigateway"), d.outputs["ApiId"]
    health = next(r["id"] for r in api.get_resources(restApiId=api_id)["items"] if r["path"] == "/health")
    if on:
        saved = _saved_integration.pop(health)
        api.put_integration(restApiId=api_id, resourceId=health, httpMethod="GET", type=saved["type"],
                            integrationHttpMethod=saved["httpMethod"], uri=saved["uri"],
                            connectionType=saved["connectionType"], connectionId=saved["connectionId"],
                            timeoutInMillis=saved["timeoutInMillis"])
    else:
        _saved_integration[health] = api.get_method(restApiId=api_id, resourceId=health, httpMethod="GET")[
            "methodIntegration"]
        api.put_integration(restApiId=api_id, resourceId=health, httpMethod="GET", type="MOCK")


def _event_rule(d, on):
    events, name = d.client("events"), f"intake-rule-{d.suffix}"
    (events.enable_rule if on else events.disable_rule)(Name=name)


def _scaling_minimum(d, on):
    d.client("application-autoscaling").register_scalable_target(
        ServiceNamespace="ecs", ScalableDimension="ecs:service:DesiredCount",
        ResourceId=f"service/{d.outputs['ClusterName']}/{d.outputs['MetadataApiServiceName']}",
        MinCapacity=2 if on else 0, MaxCapacity=10)


def _redis_owner_tag(d, on):
    cache = d.client("elasticache")
    arn = cache.describe_replication_groups(ReplicationGroupId=d.outputs["RedisReplicationGroupId"])[
        "ReplicationGroups"][0]["ARN"]
    if on:
        cache.add_tags_to_resource(ResourceName=arn, Tags=[{"Key": "Owner", "Value": "platform-team"}])
    else:
        cache.remove_tags_from_resource(ResourceName=arn, TagKeys=["Owner"])


def _access_point_owner_tag(d, on):
    efs = d.client("efs")
    point = efs.describe_access_points(FileSystemId=d.outputs["EfsFileSystemId"])["AccessPoints"][0]
    if on:
        efs.tag_resource(ResourceId=point["AccessPointId"], Tags=[{"Key": "Owner", "Value": "platform-team"}])
    else:
        efs.untag_resource(ResourceId=point["AccessPointId"], TagKeys=["Owner"])


def _usage_plan_throttle(d, on):
    api = d.client("apigateway")
    plan = next(p for p in api.get_usage_plans()["items"] if p["name"].endswith(f"-{d.suffix}"))
    declared = {"rateLimit": plan["throttle"]["rateLimit"], "burstLimit": plan["throttle"]["burstLimit"]}
    value = str(int(declared["rateLimit"] // 10)) if not on else _saved_throttle.pop(plan["id"])
    if not on:
        _saved_throttle[plan["id"]] = str(int(declared["rateLimit"]))
    api.update_usage_plan(usagePlanId=plan["id"], patchOperations=[
        {"op": "replace", "path": "/throttle/rateLimit", "value": value}])


_saved_throttle: dict[str, str] = {}
_other_key: dict[str, str] = {}


def _alias_target(d, on):
    kms, alias = d.client("kms"), f"alias/kms-key-{d.suffix}"
    if on:
        kms.update_alias(AliasName=alias, TargetKeyId=d.outputs["KmsKeyArn"])
    else:
        other = _other_key.get("id") or kms.create_key(Description="not the project key")["KeyMetadata"]["KeyId"]
        _other_key["id"] = other
        kms.update_alias(AliasName=alias, TargetKeyId=other)


_saved_bucket_policy: dict[str, str] = {}


def _bucket_tls_policy(d, on):
    s3, bucket = d.client("s3"), d.outputs["IngestBucketName"]
    if on:
        s3.put_bucket_policy(Bucket=bucket, Policy=_saved_bucket_policy.pop(bucket))
    else:
        _saved_bucket_policy[bucket] = s3.get_bucket_policy(Bucket=bucket)["Policy"]
        s3.delete_bucket_policy(Bucket=bucket)


_saved_role_policy: dict[tuple[str, str], str] = {}


def _star_in_a_role_policy(d, on):
    iam = d.client("iam")
    role = next(r["RoleName"] for r in iam.list_roles()["Roles"] if "VideoProcessingWorkerTaskDefinitionTaskRole"
                in r["RoleName"])
    name = iam.list_role_policies(RoleName=role)["PolicyNames"][0]
    if on:
        iam.put_role_policy(RoleName=role, PolicyName=name, PolicyDocument=_saved_role_policy.pop((role, name)))
    else:
        document = iam.get_role_policy(RoleName=role, PolicyName=name)["PolicyDocument"]
        _saved_role_policy[(role, name)] = json.dumps(document)
        widened = {**document, "Statement": document["Statement"] + [
            {"Effect": "Allow", "Action": "*", "Resource": "*"}]}
        iam.put_role_policy(RoleName=role, PolicyName=name, PolicyDocument=json.dumps(widened))


def _flow_log_tag(d, on):
    ec2 = d.client("ec2")
    vpc = d.outputs["VpcId"]
    flow = ec2.describe_flow_logs(Filters=[{"Name": "resource-id", "Values": [vpc]}])["FlowLogs"][0]["FlowLogId"]
    if on:
        ec2.create_tags(Resources=[flow], Tags=[{"Key": "Owner", "Value": "platform-team"}])
    else:
        ec2.delete_tags(Resources=[flow], Tags=[{"Key": "Owner"}])


def _stage_arn(d) -> str:
    return f"arn:aws:apigateway:ap-northeast-1::/restapis/{d.outputs['ApiId']}/stages/{d.outputs['ApiStageName']}"


_saved_acl: dict[str, str] = {}


def _waf_association(d, on):
    waf, stage = d.client("wafv2"), _stage_arn(d)
    if on:
        waf.associate_web_acl(WebACLArn=_saved_acl.pop(stage), ResourceArn=stage)
    else:
        _saved_acl[stage] = waf.get_web_acl_for_resource(ResourceArn=stage)["WebACL"]["ARN"]
        waf.disassociate_web_acl(ResourceArn=stage)


def _db_subnet_group_tag(d, on):
    # (Adding a public subnet would be the sharper case, but moto's ModifyDBSubnetGroup corrupts the group; the
    # placement rule is proven live by tests/opscli/test_core.py on a deployment of a broken template.)
    rds = d.client("rds")
    db = rds.describe_db_instances(DBInstanceIdentifier=d.outputs["DbInstanceIdentifier"])["DBInstances"][0]
    arn = rds.describe_db_subnet_groups(DBSubnetGroupName=db["DBSubnetGroup"]["DBSubnetGroupName"])[
        "DBSubnetGroups"][0]["DBSubnetGroupArn"]
    if on:
        rds.add_tags_to_resource(ResourceName=arn, Tags=[{"Key": "Owner", "Value": "platform-team"}])
    else:
        rds.remove_tags_from_resource(ResourceName=arn, TagKeys=["Owner"])


_WORKER_TO_DB: dict[str, list] = {}


def _db_ingress_revoked(d, on):
    """The standalone ingress rule that lets the worker reach the database, revoked (and put back)."""
    ec2, group = d.client("ec2"), _db_security_group(d)
    if on:
        ec2.authorize_security_group_ingress(GroupId=group, IpPermissions=_WORKER_TO_DB.pop(group))
    else:
        permission = next(p for p in ec2.describe_security_groups(GroupIds=[group])["SecurityGroups"][0][
            "IpPermissions"] if p.get("UserIdGroupPairs"))
        pair = permission["UserIdGroupPairs"][0]
        revoked = [{"IpProtocol": permission["IpProtocol"], "FromPort": permission["FromPort"],
                    "ToPort": permission["ToPort"], "UserIdGroupPairs": [
                        {k: pair[k] for k in ("GroupId", "Description") if k in pair}]}]
        _WORKER_TO_DB[group] = revoked
        ec2.revoke_security_group_ingress(GroupId=group, IpPermissions=revoked)


# --- attack surface: what an intruder or a hurried operator changes (issue 25) -------------------------------

_saved: dict[str, object] = {}


def _task_role(d) -> str:
    iam = d.client("iam")
    return next(r["RoleName"] for r in iam.list_roles()["Roles"]
                if "VideoProcessingWorkerTaskDefinitionTaskRole" in r["RoleName"])


def _role_trusts_another_account(d, on):
    iam, role = d.client("iam"), _task_role(d)
    if on:
        iam.update_assume_role_policy(RoleName=role, PolicyDocument=_saved.pop("trust"))
    else:
        document = iam.get_role(RoleName=role)["Role"]["AssumeRolePolicyDocument"]
        document = json.loads(document) if isinstance(document, str) else document
        _saved["trust"] = json.dumps(document)
        opened = {**document, "Statement": document["Statement"] + [
            {"Effect": "Allow", "Principal": {"AWS": "arn:aws:iam::999999999999:root"}, "Action": "sts:AssumeRole"}]}
        iam.update_assume_role_policy(RoleName=role, PolicyDocument=json.dumps(opened))


def _queue_open_to_everyone(d, on):
    sqs = d.client("sqs")
    url = sqs.get_queue_url(QueueName=d.outputs["IntakeQueueName"])["QueueUrl"]
    if on:
        sqs.set_queue_attributes(QueueUrl=url, Attributes={"Policy": _saved.pop("queue-policy")})
    else:
        policy = sqs.get_queue_attributes(QueueUrl=url, AttributeNames=["Policy"])["Attributes"]["Policy"]
        _saved["queue-policy"] = policy
        document = json.loads(policy)
        document["Statement"].append({"Effect": "Allow", "Principal": "*", "Action": "sqs:SendMessage",
                                      "Resource": document["Statement"][0]["Resource"]})
        sqs.set_queue_attributes(QueueUrl=url, Attributes={"Policy": json.dumps(document)})


def _key_granted_to_another_account(d, on):
    kms, key = d.client("kms"), d.outputs["KmsKeyArn"]
    if on:
        kms.put_key_policy(KeyId=key, PolicyName="default", Policy=_saved.pop("key-policy"))
    else:
        policy = kms.get_key_policy(KeyId=key, PolicyName="default")["Policy"]
        _saved["key-policy"] = policy
        document = json.loads(policy)
        document["Statement"].append({"Effect": "Allow", "Principal": {"AWS": "arn:aws:iam::999999999999:root"},
                                      "Action": ["kms:Decrypt"], "Resource": "*"})
        kms.put_key_policy(KeyId=key, PolicyName="default", Policy=json.dumps(document))


def _bucket_acls_enabled(d, on):
    s3 = d.client("s3")
    ownership = "BucketOwnerEnforced" if on else "ObjectWriter"
    s3.put_bucket_ownership_controls(Bucket=d.outputs["IngestBucketName"],
                                     OwnershipControls={"Rules": [{"ObjectOwnership": ownership}]})


def _alarm_actions_disabled(d, on):
    cloudwatch = d.client("cloudwatch")
    names = [a["AlarmName"] for a in cloudwatch.describe_alarms()["MetricAlarms"] if "DatabaseCpu" in a["AlarmName"]]
    (cloudwatch.enable_alarm_actions if on else cloudwatch.disable_alarm_actions)(AlarmNames=names)


def _ecs_exec_enabled(d, on):
    d.client("ecs").update_service(cluster=d.outputs["ClusterName"], service=d.outputs["MetadataApiServiceName"],
                                   enableExecuteCommand=not on)


def _web_acl_emptied(d, on):
    waf, stage = d.client("wafv2"), _stage_arn(d)
    acl = waf.get_web_acl_for_resource(ResourceArn=stage)["WebACL"]
    lock = waf.get_web_acl(Name=acl["Name"], Scope="REGIONAL", Id=acl["Id"])["LockToken"]
    if not on:
        _saved["acl-rules"] = acl["Rules"]
    waf.update_web_acl(Name=acl["Name"], Scope="REGIONAL", Id=acl["Id"], DefaultAction=acl["DefaultAction"],
                       Rules=_saved.pop("acl-rules") if on else [], VisibilityConfig=acl["VisibilityConfig"],
                       LockToken=lock)


def _web_acl_changed(d, on, change):
    """The stage's web ACL updated by `change(acl)` -> (DefaultAction, Rules); restored as it was."""
    waf, stage = d.client("wafv2"), _stage_arn(d)
    acl = waf.get_web_acl_for_resource(ResourceArn=stage)["WebACL"]
    lock = waf.get_web_acl(Name=acl["Name"], Scope="REGIONAL", Id=acl["Id"])["LockToken"]
    if on:
        default, rules = _saved.pop("acl")
    else:
        _saved["acl"] = (acl["DefaultAction"], acl["Rules"])
        default, rules = change(json.loads(json.dumps(acl)))
    waf.update_web_acl(Name=acl["Name"], Scope="REGIONAL", Id=acl["Id"], DefaultAction=default, Rules=rules,
                       VisibilityConfig=acl["VisibilityConfig"], LockToken=lock)


def _counting(rules, names=None):
    for rule in rules:
        if names is None or rule["Name"] in names:
            rule["OverrideAction" if "OverrideAction" in rule else "Action"] = {"Count": {}}
    return rules


def _rate_rule_counts(d, on):
    """The one rule with an Action of its own (the rate limit) switched from Block to Count."""
    _web_acl_changed(d, on, lambda acl: (acl["DefaultAction"], _counting(
        acl["Rules"], {r["Name"] for r in acl["Rules"] if "Action" in r})))


def _every_waf_rule_counts(d, on):
    _web_acl_changed(d, on, lambda acl: (acl["DefaultAction"], _counting(acl["Rules"])))


def _managed_rules_switched_off(d, on):
    """In the first managed rule group, one rule overridden to Count and one excluded; the group's own
    OverrideAction still None."""
    def change(acl):
        group = next(r for r in acl["Rules"] if "ManagedRuleGroupStatement" in r["Statement"])
        group["Statement"]["ManagedRuleGroupStatement"].update(
            RuleActionOverrides=[{"Name": "NoUserAgent_HEADER", "ActionToUse": {"Count": {}}}],
            ExcludedRules=[{"Name": "SizeRestrictions_BODY"}])
        return acl["DefaultAction"], acl["Rules"]
    _web_acl_changed(d, on, change)


def _web_acl_default_flipped(d, on):
    _web_acl_changed(d, on, lambda acl: ({"Block": {}} if "Allow" in acl["DefaultAction"] else {"Allow": {}},
                                         acl["Rules"]))


# --- next to the declaration: children AWS keeps under a declared resource, added without changing it ---------

def _grant_on_the_key(d, on):
    kms, key = d.client("kms"), d.outputs["KmsKeyArn"]
    if on:
        kms.revoke_grant(KeyId=key, GrantId=_saved.pop("grant"))
    else:
        _saved["grant"] = kms.create_grant(KeyId=key, GranteePrincipal="arn:aws:iam::999999999999:root",
                                           Operations=["Decrypt"])["GrantId"]


def _second_key_on_the_usage_plan(d, on):
    api = d.client("apigateway")
    name = f"usage-plan-{d.outputs['EnvironmentSuffix']}"
    plan = next(p["id"] for p in api.get_usage_plans()["items"] if p["name"] == name)
    if on:
        key = _saved.pop("api-key")
        api.delete_usage_plan_key(usagePlanId=plan, keyId=key)
        api.delete_api_key(apiKey=key)
    else:
        key = api.create_api_key(name="added-by-hand", enabled=True)["id"]
        api.create_usage_plan_key(usagePlanId=plan, keyId=key, keyType="API_KEY")
        _saved["api-key"] = key


def _shared_manual_snapshot(d, on):
    rds = d.client("rds")
    if on:
        rds.delete_db_snapshot(DBSnapshotIdentifier="copy-for-later")
    else:
        rds.create_db_snapshot(DBSnapshotIdentifier="copy-for-later",
                               DBInstanceIdentifier=d.outputs["DbInstanceIdentifier"])
        rds.modify_db_snapshot_attribute(DBSnapshotIdentifier="copy-for-later", AttributeName="restore",
                                         ValuesToAdd=["all"])


# The subscription and the target added below deliver within ap-northeast-1 and this account: one delivering
# elsewhere is the residency rules' finding, named there alone (tests/integration/test_residency.py).
def _subscription_on_the_alarm_topic(d, on):
    sns = d.client("sns")
    if on:
        sns.unsubscribe(SubscriptionArn=_saved.pop("subscription"))
    else:
        account = d.outputs["KmsKeyArn"].split(":")[4]
        _saved["subscription"] = sns.subscribe(
            TopicArn=d.outputs["AlarmTopicArn"], Protocol="sqs", ReturnSubscriptionArn=True,
            Endpoint=f"arn:aws:sqs:ap-northeast-1:{account}:{d.outputs['IntakeDeadLetterQueueName']}")[
            "SubscriptionArn"]


def _extra_target_of_the_intake_rule(d, on):
    events = d.client("events")
    rule = f"intake-rule-{d.outputs['EnvironmentSuffix']}"
    if on:
        events.remove_targets(Rule=rule, Ids=["copy-of-uploads"])
    else:
        account = d.outputs["KmsKeyArn"].split(":")[4]
        events.put_targets(Rule=rule, Targets=[{"Id": "copy-of-uploads",
                                                "Arn": f"arn:aws:sqs:ap-northeast-1:{account}:elsewhere"}])


def _another_revision_running(d, on):
    ecs = d.client("ecs")
    cluster, service = d.outputs["ClusterName"], d.outputs["MetadataApiServiceName"]
    if on:
        declared, added = _saved.pop("revision")
        ecs.update_service(cluster=cluster, service=service, taskDefinition=declared)
        ecs.deregister_task_definition(taskDefinition=added)
    else:
        declared = ecs.describe_services(cluster=cluster, services=[service])["services"][0]["taskDefinition"]
        task = ecs.describe_task_definition(taskDefinition=declared)["taskDefinition"]
        keep = ("family", "containerDefinitions", "networkMode", "requiresCompatibilities", "cpu", "memory",
                "taskRoleArn", "executionRoleArn", "volumes")
        added = ecs.register_task_definition(**{k: task[k] for k in keep if k in task})["taskDefinition"][
            "taskDefinitionArn"]
        ecs.update_service(cluster=cluster, service=service, taskDefinition=added)
        _saved["revision"] = (declared, added)


def _debug_route_on_the_api(d, on):
    api, api_id = d.client("apigateway"), d.outputs["ApiId"]
    root = next(r["id"] for r in api.get_resources(restApiId=api_id)["items"] if r["path"] == "/")
    if on:
        api.delete_resource(restApiId=api_id, resourceId=_saved.pop("debug-route"))
    else:
        debug = api.create_resource(restApiId=api_id, parentId=root, pathPart="debug")["id"]
        api.put_method(restApiId=api_id, resourceId=debug, httpMethod="GET", authorizationType="NONE")
        _saved["debug-route"] = debug


def _route_added_to_a_private_table(d, on):
    ec2 = d.client("ec2")
    vpc = d.outputs["VpcId"]
    tables = ec2.describe_route_tables(Filters=[{"Name": "vpc-id", "Values": [vpc]}])["RouteTables"]
    private = next(t["RouteTableId"] for t in tables if any(r.get("NatGatewayId") for r in t["Routes"]))
    if on:
        ec2.delete_route(RouteTableId=private, DestinationCidrBlock="203.0.113.0/24")
    else:
        nat = next(r["NatGatewayId"] for t in tables if t["RouteTableId"] == private for r in t["Routes"]
                   if r.get("NatGatewayId"))
        ec2.create_route(RouteTableId=private, DestinationCidrBlock="203.0.113.0/24", NatGatewayId=nat)


def _private_default_route_to_the_internet(d, on):
    ec2 = d.client("ec2")
    tables = ec2.describe_route_tables(Filters=[{"Name": "vpc-id", "Values": [d.outputs["VpcId"]]}])["RouteTables"]
    if on:
        table, nat = _saved.pop("private-route")
        ec2.replace_route(RouteTableId=table, DestinationCidrBlock="0.0.0.0/0", NatGatewayId=nat)
    else:
        table, nat = next((t["RouteTableId"], r["NatGatewayId"]) for t in tables for r in t["Routes"]
                          if r.get("NatGatewayId") and r.get("DestinationCidrBlock") == "0.0.0.0/0")
        gateway = next(r["GatewayId"] for t in tables for r in t["Routes"]
                       if r.get("GatewayId", "").startswith("igw-"))
        _saved["private-route"] = (table, nat)
        ec2.replace_route(RouteTableId=table, DestinationCidrBlock="0.0.0.0/0", GatewayId=gateway)


# Drift names the rule a drifted property breaks by putting that one property back. Where the change spans two
# properties, neither alone restores the verdict, and the drift finding carries no rule (the audit has it).
UNATTRIBUTED = {"private-default-route-to-the-internet": "a route's target is GatewayId or NatGatewayId: putting "
                "NatGatewayId back leaves GatewayId on the internet gateway"}

# name -> (toggle, rules `opscli audit` fails, (resource type, property) `opscli drift` reports, command)
DRIFTS = {
    "worker-backlog-scaling-deleted": (_backlog_scaling, {"STK-SQS-003", "STK-STACK-001"},
                                       ("AWS::ApplicationAutoScaling::ScalingPolicy", None), "audit"),
    "queue-tls-policy-removed": (_queue_tls_policy, {"STK-SQS-002"}, ("AWS::SQS::QueuePolicy", "PolicyDocument"),
                                 "audit"),
    "queue-aws-managed-key": (_queue_key, {"STK-KMS-001"}, ("AWS::SQS::Queue", "KmsMasterKeyId"), "audit"),
    "rds-multi-az-off": (_rds_multi_az, {"STK-RDS-001"}, ("AWS::RDS::DBInstance", "MultiAZ"), "audit"),
    "rds-force-ssl-off": (_force_ssl, {"STK-RDS-003"}, ("AWS::RDS::DBParameterGroup", "Parameters"), "audit"),
    "db-open-to-the-world": (_db_open_to_the_world, {"STK-NET-002"},
                             ("AWS::EC2::SecurityGroup", "SecurityGroupIngress"), "audit"),
    "db-egress-to-the-world": (_db_egress_to_the_world, {"STK-NET-005"},
                               ("AWS::EC2::SecurityGroup", "SecurityGroupEgress"), "audit"),
    "kms-rotation-off": (_kms_rotation, {"STK-KMS-002"}, ("AWS::KMS::Key", "EnableKeyRotation"), "audit"),
    "required-tag-removed": (_rds_owner_tag, {"STK-TAG-001"}, ("AWS::RDS::DBInstance", "Tags"), "audit"),
    "log-retention-removed": (_log_retention, {"STK-LOG-001"}, ("AWS::Logs::LogGroup", "RetentionInDays"), "audit"),
    # the replacing policy also lets everyone mount (Principal "*", no condition): STK-POLICY-001 names it
    "efs-tls-policy-removed": (_efs_tls_policy, {"STK-EFS-001", "STK-POLICY-001"},
                               ("AWS::EFS::FileSystem", "FileSystemPolicy"), "audit"),
    "api-tracing-off": (_stage_tracing, {"STK-API-002"}, ("AWS::ApiGateway::Stage", "TracingEnabled"), "audit"),
    # set beside what the stage declares (caching is not a declared key): the audit sees it, drift compares
    # only what the declaration sets, as CloudFormation's drift detection does
    "api-cache-unencrypted": (_stage_cache_unencrypted, {"STK-API-006"}, None, "beside"),
    "api-edge-optimized": (_api_endpoint, {"STK-API-001"}, ("AWS::ApiGateway::RestApi", "EndpointConfiguration"),
                           "audit"),
    "api-mock-integration": (_mock_integration, {"STK-API-003"}, ("AWS::ApiGateway::Method", "Integration"),
                             "audit"),
    "service-below-two-tasks": (_service_count, {"STK-ECS-002"}, ("AWS::ECS::Service", "DesiredCount"), "audit"),
    "insights-off": (_insights, {"STK-ECS-003"}, ("AWS::ECS::Cluster", "ClusterSettings"), "audit"),
    "scaling-minimum-zero": (_scaling_minimum, set(), ("AWS::ApplicationAutoScaling::ScalableTarget", "MinCapacity"),
                             "audit"),
    "bucket-public-policy-allowed": (_bucket_public_access, {"STK-S3-001"},
                                     ("AWS::S3::Bucket", "PublicAccessBlockConfiguration"), "audit"),
    "topic-aws-managed-key": (_topic_key, {"STK-KMS-001"}, ("AWS::SNS::Topic", "KmsMasterKeyId"), "audit"),
    "admin-on-a-task-role": (_admin_on_a_role, {"STK-IAM-001", "STK-STACK-002"},
                             ("AWS::IAM::Role", "ManagedPolicyArns"), "audit"),
    "intake-rule-disabled": (_event_rule, set(), ("AWS::Events::Rule", "State"), "audit"),
    "redis-tag-removed": (_redis_owner_tag, {"STK-TAG-001"}, ("AWS::ElastiCache::ReplicationGroup", "Tags"), "audit"),
    "access-point-tag-removed": (_access_point_owner_tag, {"STK-TAG-001"},
                                 ("AWS::EFS::AccessPoint", "AccessPointTags"), "audit"),
    "usage-plan-throttle-lowered": (_usage_plan_throttle, set(), ("AWS::ApiGateway::UsagePlan", "Throttle"), "audit"),
    "alias-on-another-key": (_alias_target, {"STK-KMS-001"}, ("AWS::KMS::Alias", "TargetKeyId"), "audit"),
    "bucket-tls-policy-deleted": (_bucket_tls_policy, {"STK-S3-002", "STK-STACK-001"},
                                  ("AWS::S3::BucketPolicy", None), "audit"),
    "star-in-a-role-policy": (_star_in_a_role_policy, {"STK-IAM-001", "STK-IAM-003"},
                              ("AWS::IAM::Policy", "PolicyDocument"), "audit"),
    "flow-log-tag-removed": (_flow_log_tag, {"STK-TAG-001"}, ("AWS::EC2::FlowLog", "Tags"), "audit"),
    "waf-detached-from-the-stage": (_waf_association, {"STK-STACK-001", "STK-API-005"},
                                    ("AWS::WAFv2::WebACLAssociation", None), "audit"),
    "db-subnet-group-tag-removed": (_db_subnet_group_tag, {"STK-TAG-001"}, ("AWS::RDS::DBSubnetGroup", "Tags"),
                                    "audit"),
    "db-ingress-rule-revoked": (_db_ingress_revoked, {"STK-STACK-001"}, ("AWS::EC2::SecurityGroupIngress", None),
                                "audit"),
    "role-trusts-another-account": (_role_trusts_another_account, {"STK-IAM-002"},
                                    ("AWS::IAM::Role", "AssumeRolePolicyDocument"), "audit"),
    "queue-open-to-everyone": (_queue_open_to_everyone, {"STK-POLICY-001"},
                               ("AWS::SQS::QueuePolicy", "PolicyDocument"), "audit"),
    "key-granted-to-another-account": (_key_granted_to_another_account, {"STK-POLICY-001"},
                                       ("AWS::KMS::Key", "KeyPolicy"), "audit"),
    "bucket-acls-enabled": (_bucket_acls_enabled, {"STK-S3-003"}, ("AWS::S3::Bucket", "OwnershipControls"), "audit"),
    "alarm-actions-disabled": (_alarm_actions_disabled, {"STK-ALARM-001"},
                               ("AWS::CloudWatch::Alarm", "ActionsEnabled"), "audit"),
    "ecs-exec-enabled": (_ecs_exec_enabled, {"STK-ECS-006"}, ("AWS::ECS::Service", "EnableExecuteCommand"), "audit"),
    "web-acl-emptied": (_web_acl_emptied, {"STK-WAF-001"}, ("AWS::WAFv2::WebACL", "Rules"), "audit"),
    # a choice made by which key is present ({"Block": {}} against {"Count": {}}): drift, by the WAF schema
    "waf-rate-rule-counts": (_rate_rule_counts, set(), ("AWS::WAFv2::WebACL", "Rules"), "audit"),
    "waf-every-rule-counts": (_every_waf_rule_counts, {"STK-WAF-001"}, ("AWS::WAFv2::WebACL", "Rules"), "audit"),
    "web-acl-default-action-flipped": (_web_acl_default_flipped, set(), ("AWS::WAFv2::WebACL", "DefaultAction"),
                                       "audit"),
    # keys the declaration does not set, inside a declared rule: the audit judges them, drift compares what is set
    "managed-waf-rules-switched-off": (_managed_rules_switched_off, {"STK-WAF-001"}, None, "beside"),
    # beside the declaration: no declared property changes, so drift reports nothing ("beside" below)
    # a grant to another account is named once, by the perimeter rule (not again as "undeclared")
    "grant-on-the-key": (_grant_on_the_key, {"STK-POLICY-001"}, None, "beside"),
    "second-key-on-the-usage-plan": (_second_key_on_the_usage_plan, {"STK-STACK-002"}, None, "beside"),
    # shared with everyone: beside the declaration, and a copy any account may restore anywhere (residency)
    "shared-manual-snapshot": (_shared_manual_snapshot, {"STK-STACK-002", "STK-RES-006"}, None, "beside"),
    "subscription-on-the-alarm-topic": (_subscription_on_the_alarm_topic, {"STK-STACK-002"}, None, "beside"),
    "extra-target-of-the-intake-rule": (_extra_target_of_the_intake_rule, {"STK-STACK-002"},
                                        ("AWS::Events::Rule", "Targets"), "audit"),
    "another-revision-running": (_another_revision_running, {"STK-STACK-002"},
                                 ("AWS::ECS::Service", "TaskDefinition"), "audit"),
    "route-added-to-a-private-table": (_route_added_to_a_private_table, {"STK-STACK-002"}, None, "beside"),
    "debug-route-on-the-api": (_debug_route_on_the_api, {"STK-STACK-002"}, None, "beside"),
    "debug-stage-on-the-api": (_debug_stage_on_the_api, {"STK-STACK-002"}, None, "beside"),
    "undeclared-deployment-of-the-api": (_undeclared_deployment, {"STK-STACK-002"}, None, "beside"),
    # the subnet is public now: the data stores' subnet groups include it too (STK-NET-001)
    "private-default-route-to-the-internet": (_private_default_route_to_the_internet, {"STK-NET-004", "STK-NET-001"},
                                              ("AWS::EC2::Route", "NatGatewayId"), "audit"),
    "secret-rotation-off": (_secret_rotation, {"STK-SECRET-003"}, None, "rotate-check"),
    "secret-rotation-stretched-to-a-year": (_secret_rotation_stretched, {"STK-SECRET-004"}, None, "rotate-check"),
}


def look(judged: Judged) -> tuple[set[str], set[tuple[str, str]], set[str]]:
    """What a monitor run read and judged for a case's writes: (rules the audit fails, (type, property) the drift
    reports, rules the drifted values break). The rest of the deployment is the session's baseline, every check
    PASS (`baseline_posture`)."""
    changed = {(f.resource.split(" ", 1)[0], f.check_id.removeprefix("drift.")) for f in judged.drift
               if f.status is Status.FAIL}
    # A drifted value that breaks several rules is one finding under the first; its reason names them all.
    broken = {f.rule_id for f in judged.drift if f.status is Status.FAIL and f.rule_id != stk_drift.DRIFT_ID}
    broken |= {rule for f in judged.drift if f.status is Status.FAIL and f.rule_id
               for rule in re.findall(r"(STK-[A-Z0-9]+-\d{3}) \(", f.reason.split("; now breaks ", 1)[-1])}
    return {f.rule_id for f in judged.audit if f.status is Status.FAIL}, changed, broken


@pytest.fixture(scope="module")
def all_restored(local, local_deployment, baseline_posture):
    """After the last case: every check of the audit, the drift and the rotate-check on the whole deployment is as
    at the session's start, when every one passed (each case restores what it broke, and `Monitor.restored` proves
    it on what the case touched)."""
    from tests.conftest import assert_restored

    yield
    assert_restored(local_deployment, baseline_posture)
    code, document = rotate_check(local)
    assert code == 0 and failed_rules(document) == set()


@pytest.mark.parametrize("name", sorted(DRIFTS))
def test_drift_is_reported_with_its_rule_id(local, monitor, all_restored, baseline_posture, name):
    """One live misconfiguration at a time: the audit fails exactly the rules it breaks, the drift names the
    resource and property (and the rule the value now breaks), and both are clean once it is restored.
    What is judged is what the posture monitor reads for the case's writes (their CloudTrail records, its planner):
    so each case also proves the monitor catches that change, and that it sees the restoration.
    (The commands themselves, exit codes and formats are tested in tests/opscli.)"""
    toggle, rules, drifted, command = DRIFTS[name]
    with monitor.recording(local.session) as broke:
        toggle(local, False)
    try:
        if command == "beside":  # added next to the declaration: the audit sees it, drift has nothing to compare
            audit, changed, broken = look(monitor.judge(broke))
            assert audit == rules, audit
            assert changed == set() and broken == set(), (changed, broken)
        elif command == "audit":
            audit, changed, broken = look(monitor.judge(broke))
            assert audit == rules, audit
            rtype, prop = drifted
            assert any(t == rtype and (prop is None or p == prop) for t, p in changed), changed
            if prop is None:  # the resource is gone: drift says so (presence), with what was expected
                assert broken == {"STK-STACK-001"}, broken
            elif name in UNATTRIBUTED:
                assert broken == set(), broken
            else:  # a drifted value names the rule it now breaks (a child beside the declaration is no property)
                assert broken == rules - {"STK-STACK-001", "STK-STACK-002"}, broken
        else:
            code, document = rotate_check(local)
            assert code == 1 and failed_rules(document) == rules
    finally:
        with monitor.recording(local.session) as put_back:
            toggle(local, True)
    if command == "rotate-check":
        monitor.rotation_restored(baseline_posture)
    else:
        monitor.restored(broke + put_back, baseline_posture)


def test_a_breaking_test_that_restores_leaves_the_shared_deployment_as_it_was(local, local_deployment, monitor,
                                                                              all_restored, baseline_posture):
    """The guards of the shared deployment (the whole one, and the monitor's read of what a case touched): a change
    left behind is caught, a restored one passes."""
    from tests.conftest import assert_restored

    with monitor.recording(local.session) as broke:
        _kms_rotation(local, False)
    try:
        with pytest.raises(AssertionError, match="left the shared deployment changed"):
            monitor.restored(broke, baseline_posture)
        with pytest.raises(AssertionError, match="left the shared deployment changed"):
            assert_restored(local_deployment, baseline_posture)
    finally:
        with monitor.recording(local.session) as put_back:
            _kms_rotation(local, True)
    monitor.restored(broke + put_back, baseline_posture)
    # a role beside the stack (no resource of it): only the account's IAM shows it is left behind
    with monitor.recording(local.session) as added:
        local.client("iam").create_role(RoleName="left-behind", AssumeRolePolicyDocument=json.dumps({
            "Version": "2012-10-17", "Statement": [{"Effect": "Allow", "Principal": {"Service": "ecs.amazonaws.com"},
                                                    "Action": "sts:AssumeRole"}]}))
    try:
        with pytest.raises(AssertionError, match="left the shared deployment changed: the account's IAM"):
            monitor.restored(added, baseline_posture)
    finally:
        with monitor.recording(local.session) as removed:
            local.client("iam").delete_role(RoleName="left-behind")
    monitor.restored(added + removed, baseline_posture)
    # a setting no check judges, left changed (the stage's cache on, encrypted: every rule passes, and drift
    # compares only what the declaration sets): what the writes touched does not read back as it was
    stage = {"restApiId": local.outputs["ApiId"], "stageName": local.outputs["ApiStageName"]}
    with monitor.recording(local.session) as cached:
        local.client("apigateway").update_stage(**stage, patchOperations=[
            {"op": "replace", "path": "/*/*/caching/enabled", "value": "true"}])
    try:
        with pytest.raises(AssertionError, match=r"left the shared deployment changed: .*MethodSettings"):
            monitor.restored(cached, baseline_posture)
    finally:
        with monitor.recording(local.session) as uncached:
            local.client("apigateway").update_stage(**stage, patchOperations=[
                {"op": "replace", "path": "/*/*/caching/enabled", "value": "false"}])
    monitor.restored(cached + uncached, baseline_posture)
    # and the whole deployment restored passes `assert_restored`: `all_restored`, right after the module's last case
