"""The audit and rotate-check cores against a moto environment deployed from the real template."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import boto3
import pytest

from opscli import core, targets
from opscli.aws import Aws, new_session
from opscli.errors import UsageError
from opscli.model import exit_code
from platform_spec.result import Status
from platform_spec.rules.stk_secret_live import SECRET_CHECKS
from platform_spec.stages import DRIFT, live_evaluations
from tests import irreversible
from tests.irreversible import CHANGES, changed
from tests.opscli.conftest import audit_in_process, deploy_into_moto, in_process_moto
from tests.policy.mutations import by_name, props

# One worker holds the session's local deployment for every test that reads it (tests/conftest.py).
pytestmark = [pytest.mark.synth]  # tests on the shared deployment join its xdist group (tests/conftest.py)


def failing(report) -> set[str]:
    """The catalog rules the report fails."""
    return {f.rule_id for f in report.findings if f.status is Status.FAIL}


def failing_on(report) -> set[tuple[str, str]]:
    """(rule, resource type) of every FAIL."""
    return {(f.rule_id, f.resource.split(" ", 1)[0]) for f in report.findings if f.status is Status.FAIL}


def test_compliant_environment_passes_every_check(shared_read, aws, synth):
    report = core.audit(aws, targets.from_suffix("test"))
    assert {f.status for f in report.findings} == {Status.PASS}, [f for f in report.findings if f.status != Status.PASS]
    coverage = report.coverage
    assert coverage["declared"] == len(synth.template["Resources"]) and not coverage["missing"]
    assert not coverage["errors"]
    # Every rule the audit judges live was judged: all but the secrets' rotation rules (rotate-check judges them)
    # STK-OPS-001, which judges the entries of an --accepted file (tests/opscli/test_accepted.py), and STK-DRIFT-001
    # (opscli drift's).
    secret_checks = {check for check, _ in SECRET_CHECKS} | {"accepted.entry", DRIFT}
    audited = {rule_id for rule_id, how in live_evaluations().items() if set(how) - secret_checks}
    assert audited <= {f.rule_id for f in report.findings}


def test_outputs_file_and_suffix_audit_the_same_stack(shared_read, tmp_path):
    from tests.conftest import ROOT  # noqa: F401 - the outputs file is the session deployment's
    path = tmp_path / "flat-outputs.json"
    path.write_text(__import__("json").dumps(shared_read))
    session = new_session(region_name="ap-northeast-1")
    by_outputs = core.audit(Aws(session=session, max_attempts=2), targets.from_outputs(path))
    by_suffix = core.audit(Aws(session=session, max_attempts=2), targets.from_suffix("test"))
    assert {(f.check_id, f.resource, f.status) for f in by_outputs.findings} == \
        {(f.check_id, f.resource, f.status) for f in by_suffix.findings}


def _break_data_stores(t):
    props(t, "AWS::RDS::DBInstance").update(MultiAZ=False, BackupRetentionPeriod=0, PubliclyAccessible=True)
    props(t, "AWS::RDS::DBParameterGroup")["Parameters"]["rds.force_ssl"] = "0"
    props(t, "AWS::ElastiCache::ReplicationGroup").update(TransitEncryptionMode="preferred", NumCacheClusters=1,
                                                          PreferredCacheClusterAZs=["ap-northeast-1a"])
    props(t, "AWS::EFS::FileSystem").pop("FileSystemPolicy")
    mounts = [k for k, v in t["Resources"].items() if v["Type"] == "AWS::EFS::MountTarget"]
    for k in mounts[1:]:
        t["Resources"].pop(k)


def _break_platform(t):
    props(t, "AWS::KMS::Key")["EnableKeyRotation"] = False
    props(t, "AWS::ApiGateway::RestApi")["EndpointConfiguration"] = {"Types": ["EDGE"]}
    props(t, "AWS::ApiGateway::Stage")["TracingEnabled"] = False
    props(t, "AWS::ECS::Cluster")["ClusterSettings"] = [{"Name": "containerInsights", "Value": "disabled"}]
    by_name(t, "AWS::ECS::Service", "ServiceName", "metadata-api-test")["DesiredCount"] = 1
    logs = by_name(t, "AWS::Logs::LogGroup", "LogGroupName", "/ecs/video-processing-test")
    logs.pop("RetentionInDays")
    props(t, "AWS::RDS::DBInstance")["Tags"] = [x for x in props(t, "AWS::RDS::DBInstance")["Tags"]
                                                 if x["Key"] != "Owner"]


def _use_another_key(t, other):
    """Encrypted, but with another customer key than the project's."""
    props(t, "AWS::RDS::DBInstance")["KmsKeyId"] = other
    by_name(t, "AWS::Logs::LogGroup", "LogGroupName", "/ecs/metadata-api-test")["KmsKeyId"] = other


#: Copies of the real template with requirements broken (the mutation takes the template and the ARN of a customer
#: key that is not the project's), and the (rule, resource type) of every FAIL each case causes.
BROKEN_TEMPLATES = {
    "data-stores": (lambda t, _: _break_data_stores(t), {
        ("STK-RDS-001", "AWS::RDS::DBInstance"), ("STK-RDS-002", "AWS::RDS::DBInstance"),
        ("STK-NET-001", "AWS::RDS::DBInstance"), ("STK-RDS-003", "AWS::RDS::DBInstance"),
        ("STK-RDS-003", "AWS::RDS::DBParameterGroup"), ("STK-REDIS-002", "AWS::ElastiCache::ReplicationGroup"),
        ("STK-REDIS-001", "AWS::ElastiCache::ReplicationGroup"), ("STK-EFS-001", "AWS::EFS::FileSystem"),
        ("STK-EFS-002", "AWS::EFS::FileSystem")}),
    "platform": (lambda t, _: _break_platform(t), {
        ("STK-KMS-002", "AWS::KMS::Key"), ("STK-API-001", "AWS::ApiGateway::RestApi"),
        ("STK-API-002", "AWS::ApiGateway::Stage"), ("STK-ECS-003", "AWS::ECS::Cluster"),
        ("STK-ECS-002", "AWS::ECS::Service"), ("STK-LOG-001", "AWS::Logs::LogGroup"),
        ("STK-TAG-001", "AWS::RDS::DBInstance")}),
    "foreign-key": (_use_another_key, {("STK-KMS-001", "AWS::RDS::DBInstance"),
                                       ("STK-KMS-001", "AWS::Logs::LogGroup")}),
}


def _disjoint(*sets: set) -> bool:
    return sum(len(s) for s in sets) == len(set().union(*sets))


@pytest.fixture(scope="module")
def broken_templates(synth):
    """One deployment of the real template with every case of BROKEN_TEMPLATES broken at once (each breaks other
    settings, and the cases' FAILs are disjoint: each FAIL of the audit is one case's), audited once for the
    module's cases."""
    assert _disjoint(*(expected for _, expected in BROKEN_TEMPLATES.values()))
    with in_process_moto():
        other = boto3.client("kms", region_name="ap-northeast-1").create_key()["KeyMetadata"]["Arn"]

        def mutate(t):
            for broken, _ in BROKEN_TEMPLATES.values():
                broken(t, other)
        deploy_into_moto(synth.template, "test", mutate)
        return audit_in_process()


def _assert_fails_exactly(report, case: str, cases: dict) -> None:
    """The report of a deployment with every case of `cases` at once fails `case`'s checks, and nothing fails that
    no case broke (their FAILs are disjoint: what fails beyond `case`'s is another case's)."""
    expected = cases[case][1]
    assert expected <= failing_on(report), expected - failing_on(report)
    assert failing_on(report) == set().union(*(e for _, e in cases.values()))


@pytest.mark.parametrize("case", ["data-stores", "platform"])
def test_non_compliant_resources_fail_exactly_their_checks(broken_templates, case):
    """A copy of the real template with requirements broken, deployed: the audit fails exactly those rules on
    exactly those resource types (the deployment is what was declared, so nothing else is missing)."""
    _assert_fails_exactly(broken_templates, case, BROKEN_TEMPLATES)
    assert not any(f.status is Status.ERROR for f in broken_templates.findings)
    assert exit_code(broken_templates.findings) == 1


def test_foreign_key_is_not_the_project_cmk(broken_templates):
    """Encrypted, but with another customer key: the CMK-identity checks fail, the rest pass."""
    _assert_fails_exactly(broken_templates, "foreign-key", BROKEN_TEMPLATES)
    assert any("is not a reference to the project CMK" in f.reason for f in broken_templates.findings
               if f.rule_id == "STK-KMS-001" and f.status is Status.FAIL)


def test_a_stack_that_does_not_exist_is_an_error_not_a_pass(moto_env, aws):
    report = core.audit(aws, targets.from_suffix("ghost"))
    assert [(f.status, f.resource) for f in report.findings] == [(Status.ERROR, "TapStackghost")]
    assert "stack TapStackghost does not exist" in report.findings[0].reason and exit_code(report.findings) == 3


@pytest.fixture(scope="module")
def vanished(synth):
    """The deployment of the real template from which every case of tests/irreversible.py's VANISHED is deleted
    (with the attack surface's changes beside them: the changes' FAILs are disjoint), audited once."""
    return changed(synth).after


@irreversible.GROUP
def test_a_declared_resource_that_is_gone_fails_with_what_was_expected(vanished):
    _assert_fails_exactly(vanished, "dlq", CHANGES)
    gone = {f.resource.split(" ", 1)[0]: f for f in vanished.findings
            if f.rule_id == "STK-STACK-001" and f.status is Status.FAIL}
    assert {"AWS::SQS::Queue", "AWS::SQS::QueuePolicy"} <= set(gone)
    queue = gone["AWS::SQS::Queue"]
    assert queue.reason.startswith("expected AWS::SQS::Queue ") and "declared by TapStacktest" in queue.reason


@irreversible.GROUP
def test_a_deregistered_task_definition_and_a_deleted_mount_target_are_missing(vanished):
    _assert_fails_exactly(vanished, "task-definition and mount target", CHANGES)
    gone = {f.resource.split(" ", 1)[0]: f.reason for f in vanished.findings if f.rule_id == "STK-STACK-001"
            and f.status is Status.FAIL}
    assert "deregistered (INACTIVE)" in gone["AWS::ECS::TaskDefinition"]


def test_rotation_checks_on_seeded_secrets(deployed, aws):
    report = core.rotate_secrets(aws, targets.from_suffix("test"))
    assert {f.status for f in report.findings} == {Status.PASS}
    assert len(report.findings) == len(targets.from_suffix("test").secrets) * len(SECRET_CHECKS)
    later = core.rotate_secrets(aws, targets.from_suffix("test"), now=datetime.now(UTC) + timedelta(days=120))
    failed = {f.check_id for f in later.findings if f.status is Status.FAIL}
    assert failed == {"secret.rotation_age", "secret.last_accessed", "secret.pending"}


def test_rotation_off_and_aws_managed_key_fail(moto_env, aws):
    sm = boto3.client("secretsmanager", region_name="ap-northeast-1")
    for name in targets.from_suffix("bare").secrets:
        sm.create_secret(Name=name, SecretString="{}")
    report = core.rotate_secrets(aws, targets.from_suffix("bare"))
    failed = {(f.check_id, f.reason) for f in report.findings if f.status is Status.FAIL}
    assert ("secret.rotation_enabled", "rotation is not enabled") in failed
    assert ("secret.rotation_age", "never rotated") in failed
    assert ("secret.cmk", "encrypted with the AWS-managed key aws/secretsmanager") in failed


def test_key_rotation_check(deployed, aws):
    report = core.rotate_keys(aws, targets.from_suffix("test"))
    assert {(f.rule_id, f.status) for f in report.findings} == {
        ("STK-STACK-001", Status.PASS), ("STK-KMS-002", Status.PASS), ("STK-KMS-003", Status.PASS),
        ("STK-TAG-001", Status.PASS)}
    assert {f.resource.split(" ", 1)[0] for f in report.findings} == {"AWS::KMS::Key"}


def test_calls_are_exactly_the_declared_reads(deployed, aws, local_deployment):
    """A full audit, rotate-check secrets and keys call exactly the operations `opscli iam-policy` covers (with a
    manual snapshot beside the database, whose sharing the audit then reads, and copies of the bucket and a log
    group within Tokyo, where the audit then asks where an undeclared bucket is)."""
    from opscli.aws import is_read
    from tests.conftest import MONITOR_ONLY_READS, copied_within_tokyo, manual_snapshot

    t = targets.from_suffix("test")
    with manual_snapshot(local_deployment), copied_within_tokyo(local_deployment):
        core.audit(aws, t)
    core.rotate_secrets(aws, t)
    core.rotate_keys(aws, t)
    assert aws.log.operations == core.declared_operations() - MONITOR_ONLY_READS
    assert all(is_read(op.split(":", 1)[1]) for op in aws.log.operations)


def test_audit_refuses_other_regions(moto_env):
    with pytest.raises(UsageError, match="region 'us-east-1' is not allowed"):
        core.audit(Aws(region="us-east-1"), targets.from_suffix("test"))


def test_the_core_concludes_a_run_and_the_cli_only_prints_it():
    """Accepted deviations, the --compliance view and the exit code are decided by core.conclude."""
    from opscli.model import Finding, Report
    from platform_spec.exit_codes import EXIT_INCOMPLETE, EXIT_INTERRUPTED

    def report(*findings):
        return Report(command="audit", target={"suffix": "test"}, findings=list(findings))

    failing = Finding("kms.rotation", "STK-KMS-002", Status.FAIL, "AWS::KMS::Key Key (k)", "rotation off")
    assert core.conclude(report(failing)) == (1, None)
    # a view that keeps none of the run's checks vouches for nothing (STK-OPS-001 maps to no Checkov check)
    ops = Finding("accepted.entry", "STK-OPS-001", Status.PASS, "accepted.toml", "fine")
    code, note = core.conclude(report(ops), compliance="checkov")
    assert code == EXIT_INCOMPLETE and "no check reached a verdict for --compliance checkov" in note
    interrupted = report(failing)
    interrupted.incomplete = "interrupted"
    assert core.conclude(interrupted)[0] == EXIT_INTERRUPTED
