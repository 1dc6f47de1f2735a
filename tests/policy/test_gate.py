"""The policy gate on the real template: clean as synthesized, and each broken requirement reported by id."""

from __future__ import annotations

import copy
import json
import xml.etree.ElementTree as ET
from collections import defaultdict
from collections.abc import Callable
from pathlib import Path

import pytest

from policies import gate
from policies.reports import ReportFinding

pytestmark = pytest.mark.synth


def first(template: dict, type_: str) -> dict:
    return next(r for r in template["Resources"].values() if r["Type"] == type_)


def props(template: dict, type_: str) -> dict:
    return first(template, type_)["Properties"]


def by_name(template: dict, type_: str, key: str, value: str) -> dict:
    return next(r["Properties"] for r in template["Resources"].values()
                if r["Type"] == type_ and r["Properties"].get(key) == value)


def public_subnet_id(template: dict) -> str:
    from policies.template_engine import public_subnets
    return sorted(public_subnets(template["Resources"]))[0]


def efs_volume(template: dict) -> dict:
    """The EFS volume configuration of the task definition that mounts the scratch file system."""
    return next(v["EFSVolumeConfiguration"] for r in template["Resources"].values()
                if r["Type"] == "AWS::ECS::TaskDefinition"
                for v in r["Properties"].get("Volumes", []) if "EFSVolumeConfiguration" in v)


def _set_env(t, name, value):
    props(t, "AWS::ECS::TaskDefinition")["ContainerDefinitions"][0]["Environment"].append({"Name": name, "Value": value})


MUTATIONS: dict[str, tuple[Callable[[dict], None], str]] = {
    "rds-multi-az-off": (lambda t: props(t, "AWS::RDS::DBInstance").update(MultiAZ=False), "STK-RDS-001"),
    "rds-backups-off": (lambda t: props(t, "AWS::RDS::DBInstance").update(BackupRetentionPeriod=0), "STK-RDS-002"),
    "rds-force-ssl-off": (lambda t: props(t, "AWS::RDS::DBParameterGroup")["Parameters"].update({"rds.force_ssl": "0"}),
                          "STK-RDS-003"),
    "rds-public": (lambda t: props(t, "AWS::RDS::DBInstance").update(PubliclyAccessible=True), "STK-NET-001"),
    "db-in-public-subnet": (lambda t: props(t, "AWS::RDS::DBSubnetGroup")["SubnetIds"].append(
        {"Ref": public_subnet_id(t)}), "STK-NET-001"),
    "rds-renamed": (lambda t: props(t, "AWS::RDS::DBInstance").update(DBInstanceIdentifier="database-x"), "STK-NAME-001"),
    "rds-deletion-protection": (lambda t: props(t, "AWS::RDS::DBInstance").update(DeletionProtection=True),
                                "STK-DESTROY-002"),
    "redis-transit-preferred": (lambda t: props(t, "AWS::ElastiCache::ReplicationGroup").update(
        TransitEncryptionMode="preferred"), "STK-REDIS-002"),
    "redis-single-node": (lambda t: props(t, "AWS::ElastiCache::ReplicationGroup").update(NumCacheClusters=1),
                          "STK-REDIS-001"),
    "efs-policy-removed": (lambda t: props(t, "AWS::EFS::FileSystem").pop("FileSystemPolicy"), "STK-EFS-001"),
    "efs-mount-target-removed": (lambda t: t["Resources"].pop(next(
        k for k, v in t["Resources"].items() if v["Type"] == "AWS::EFS::MountTarget")), "STK-EFS-002"),
    "efs-mount-without-tls": (lambda t: efs_volume(t).update(TransitEncryption="DISABLED"), "STK-ECS-001"),
    "secret-created": (lambda t: t["Resources"].update(Sneaky={"Type": "AWS::SecretsManager::Secret",
                                                              "Properties": {"Name": "sneaky-x"}}), "STK-SECRET-001"),
    "password-in-env": (lambda t: _set_env(t, "DB_PASSWORD", "hunter2"), "STK-SECRET-002"),
    "log-group-retained": (lambda t: first(t, "AWS::Logs::LogGroup").update(DeletionPolicy="Retain"), "STK-DESTROY-001"),
    "log-group-aws-key": (lambda t: props(t, "AWS::Logs::LogGroup").update(KmsKeyId="alias/aws/logs"), "STK-KMS-001"),
    "log-group-no-retention": (lambda t: props(t, "AWS::Logs::LogGroup").pop("RetentionInDays"), "STK-LOG-001"),
    "kms-rotation-off": (lambda t: props(t, "AWS::KMS::Key").update(EnableKeyRotation=False), "STK-KMS-002"),
    "tag-removed": (lambda t: props(t, "AWS::EC2::VPC").update(
        Tags=[x for x in props(t, "AWS::EC2::VPC")["Tags"] if x["Key"] != "CostCenter"]), "STK-TAG-001"),
    "api-edge": (lambda t: props(t, "AWS::ApiGateway::RestApi").update(EndpointConfiguration={"Types": ["EDGE"]}),
                 "STK-API-001"),
    "api-tracing-off": (lambda t: props(t, "AWS::ApiGateway::Stage").update(TracingEnabled=False), "STK-API-002"),
    "api-mock": (lambda t: props(t, "AWS::ApiGateway::Method").update(Integration={"Type": "MOCK"}), "STK-API-003"),
    "service-one-task": (lambda t: props(t, "AWS::ECS::Service").update(DesiredCount=1), "STK-ECS-002"),
    "insights-off": (lambda t: props(t, "AWS::ECS::Cluster").update(
        ClusterSettings=[{"Name": "containerInsights", "Value": "disabled"}]), "STK-ECS-003"),
    "bucket-public": (lambda t: props(t, "AWS::S3::Bucket")["PublicAccessBlockConfiguration"].update(
        BlockPublicPolicy=False), "STK-S3-001"),
    "bucket-sse-s3": (lambda t: props(t, "AWS::S3::Bucket").update(BucketEncryption={
        "ServerSideEncryptionConfiguration": [{"ServerSideEncryptionByDefault": {"SSEAlgorithm": "AES256"}}]}),
        "STK-KMS-001"),
    "bucket-tls-policy-removed": (lambda t: [t["Resources"].pop(k) for k, v in list(t["Resources"].items())
                                             if v["Type"] == "AWS::S3::BucketPolicy"], "STK-S3-002"),
    "queue-without-dlq": (lambda t: by_name(t, "AWS::SQS::Queue", "QueueName", "intake-queue-test").pop(
        "RedrivePolicy"), "STK-SQS-001"),
    "queue-tls-policy-removed": (lambda t: [t["Resources"].pop(k) for k, v in list(t["Resources"].items())
                                            if v["Type"] == "AWS::SQS::QueuePolicy"], "STK-SQS-002"),
    "worker-scales-on-cpu-only": (lambda t: by_name(t, "AWS::ApplicationAutoScaling::ScalingPolicy", "PolicyName",
                                                     "worker-backlog-scaling-test").update(
        TargetTrackingScalingPolicyConfiguration={"TargetValue": 60, "PredefinedMetricSpecification": {
            "PredefinedMetricType": "ECSServiceAverageCPUUtilization"}}), "STK-SQS-003"),
    "iam-star": (lambda t: props(t, "AWS::IAM::Policy")["PolicyDocument"]["Statement"].append(
        {"Effect": "Allow", "Action": "*", "Resource": "*"}), "STK-IAM-001"),
}


@pytest.fixture(scope="module")
def gate_run(synth, tmp_path_factory):
    """Findings of the gate's template stage per mutated copy of the real template (and the original).

    The template engine sees every copy. Checkov, slow on whole templates, sees the original and the
    copies whose rule the template engine does not implement: the gate reports the union of both.
    """
    from policies import catalog

    directory = tmp_path_factory.mktemp("mutations")
    paths = {"original": directory / "original.template.json"}
    paths["original"].write_text(json.dumps(synth.template))
    for name, (mutate, _) in MUTATIONS.items():
        template = copy.deepcopy(synth.template)
        mutate(template)
        paths[name] = directory / f"{name}.template.json"
        paths[name].write_text(json.dumps(template))
    template_rules = {r.id for r in catalog.rules_for(catalog.Engine.TEMPLATE)}
    needs_checkov = [paths["original"]] + [paths[n] for n, (_, rule) in MUTATIONS.items() if rule not in template_rules]
    findings, _, _ = gate.checkov_scan(needs_checkov, suffix=synth.config.environment_suffix)
    engine_findings, _ = gate.template_scan(list(paths.values()))
    grouped: dict[str, list[ReportFinding]] = defaultdict(list)
    for finding in findings + engine_findings:
        grouped[Path(finding.location).name.removesuffix(".template.json")].append(finding)
    return grouped


def test_the_synthesized_template_passes_the_template_stage(gate_run):
    assert gate_run["original"] == []


@pytest.mark.parametrize("mutation", sorted(MUTATIONS))
def test_each_broken_requirement_is_reported_with_its_rule_id(gate_run, mutation):
    expected = MUTATIONS[mutation][1]
    reported = {f.catalog_id for f in gate_run[mutation]}
    assert expected in reported, f"{mutation}: expected {expected}, got {sorted(reported)}"


def test_full_gate_passes_on_the_stack_and_writes_reports(tmp_path, capsys):
    """The gate command end to end: synth with every pack, Checkov, template engine, reports."""
    code = gate.main(["--suffix", "gatetest", "--cdk-out", str(tmp_path / "cdk.out"), "--reports", str(tmp_path / "r")])
    out = capsys.readouterr().out
    assert code == gate.EXIT_OK, out
    assert "policy gate: 0 unsuppressed finding(s)" in out
    assert "0 non-compliant" in out and "0 failed over 1 template(s)" in out
    summary = json.loads((tmp_path / "r" / "gate.json").read_text())
    assert summary["findings"] == [] and summary["summary"]["nag_compliant"] > 100
    sarif = json.loads((tmp_path / "r" / "gate.sarif").read_text())
    assert sarif["version"] == "2.1.0" and sarif["runs"][0]["results"] == []
    suite = ET.parse(tmp_path / "r" / "gate.junit.xml").getroot().find("testsuite")
    assert suite.get("failures") == "0" and int(suite.get("tests")) > 20


def test_gate_usage_and_tool_errors(tmp_path, capsys, monkeypatch):
    assert gate.main(["--suffix", "Bad Suffix"]) == gate.EXIT_USAGE
    assert "environmentSuffix 'Bad Suffix' is not allowed" in capsys.readouterr().err
    assert gate.main(["--suffix", "x", "--skip-synth", "--cdk-out", str(tmp_path)]) == gate.EXIT_USAGE
    assert "no *.template.json" in capsys.readouterr().err
    (tmp_path / "a.template.json").write_text("{}")
    monkeypatch.setenv("CHECKOV_BIN", str(tmp_path / "missing-checkov"))
    assert gate.main(["--suffix", "x", "--skip-synth", "--cdk-out", str(tmp_path),
                      "--reports", str(tmp_path / "r")]) == gate.EXIT_TOOL
    assert "Checkov was not found" in capsys.readouterr().err


def test_gate_reports_findings_with_exit_1(tmp_path, capsys):
    from tests.policy.fixtures import FIXTURES
    (tmp_path / "broken.template.json").write_text(json.dumps(FIXTURES["STK-REDIS-002"]["fail"]))
    code = gate.main(["--suffix", "fx", "--skip-synth", "--cdk-out", str(tmp_path), "--reports", str(tmp_path / "r")])
    captured = capsys.readouterr()
    assert code == gate.EXIT_FINDINGS
    assert "FAIL checkov STK-REDIS-002" in captured.out and "TransitEncryptionMode is 'preferred'" in captured.err
    sarif = json.loads((tmp_path / "r" / "gate.sarif").read_text())
    assert {r["ruleId"] for r in sarif["runs"][0]["results"]} >= {"STK-REDIS-002"}
    suite = ET.parse(tmp_path / "r" / "gate.junit.xml").getroot().find("testsuite")
    assert int(suite.get("failures")) >= 1


def test_synth_error_lines_become_findings():
    stderr = "\n".join([
        "error: /TapStackx/Logs/Resource: [STK-KMS-001] Data stores ... : KmsKeyId is not set (at TapStackx/Logs/Resource)",
        "error: /TapStackx/Role/Resource: AwsSolutions-IAM5[Resource::*]: The IAM entity contains wildcard permissions",
        "error: /TapStackx/Db/Resource: StreamTech-STK-RDS-001: The PostgreSQL instance is Multi-AZ",
        "noise that is not a finding",
    ])
    findings = gate.synth_findings(stderr)
    assert [(f.engine, f.rule_id, f.catalog_id) for f in findings] == [
        ("aspect", "STK-KMS-001", "STK-KMS-001"), ("nag", "AwsSolutions-IAM5", ""),
        ("nag", "StreamTech-STK-RDS-001", "STK-RDS-001")]


def test_gate_scans_only_the_stacks_of_the_current_assembly(tmp_path):
    """Templates of earlier synths (other suffixes) left in cdk.out are not judged against this suffix."""
    (tmp_path / "TapStackold.template.json").write_text("{}")
    (tmp_path / "TapStacknew.template.json").write_text("{}")
    (tmp_path / "manifest.json").write_text(json.dumps({"artifacts": {
        "TapStacknew": {"type": "aws:cloudformation:stack", "properties": {"templateFile": "TapStacknew.template.json"}},
        "Tree": {"type": "cdk:tree", "properties": {"file": "tree.json"}}}}))
    assert gate.assembly_templates(tmp_path) == [tmp_path / "TapStacknew.template.json"]
    (tmp_path / "manifest.json").unlink()
    assert len(gate.assembly_templates(tmp_path)) == 2
