"""The cases of platform_spec/rules/stk_rds.py (STK-RDS-001, STK-RDS-002, STK-RDS-003, STK-RDS-005), run by the
shared tests (tests/policy/fixtures.py gathers every rule's); and STK-RDS-005's own, on plain data and live."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import pytest

from platform_spec.result import Status
from platform_spec.rules import stk_rds
from tests.policy.mutations import props
from tests.policy.templates import db, params, template

# rule id -> a template that passes and one that fails, through every engine its catalog entry names
FIXTURES: dict[str, dict[str, dict[str, Any]]] = {
    "STK-RDS-001": {"pass": template({"Params": params(), "Db": db()}),
                    "fail": template({"Params": params(), "Db": db(MultiAZ=False)})},
    "STK-RDS-002": {"pass": template({"Params": params(), "Db": db()}),
                    "fail": template({"Params": params(), "Db": db(BackupRetentionPeriod=0)})},
    "STK-RDS-003": {"pass": template({"Params": params(), "Db": db()}),
                    "fail": template({"Params": params("0"), "Db": db()})},
    "STK-RDS-005": {"pass": template({"Params": params(),
                                      "Db": db(EnableCloudwatchLogsExports=["postgresql", "upgrade"])}),
                    "fail": template({"Params": params(), "Db": db(EnableCloudwatchLogsExports=["upgrade"])})},
}

# name -> (a change of the real template that breaks the rule, the rule the gate must report)
MUTATIONS: dict[str, tuple[Callable[[dict], Any], str]] = {
    "rds-multi-az-off": (lambda t: props(t, "AWS::RDS::DBInstance").update(MultiAZ=False), "STK-RDS-001"),
    "rds-backups-off": (lambda t: props(t, "AWS::RDS::DBInstance").update(BackupRetentionPeriod=0), "STK-RDS-002"),
    "rds-force-ssl-off": (lambda t: props(t, "AWS::RDS::DBParameterGroup")["Parameters"].update({"rds.force_ssl": "0"}),
                          "STK-RDS-003"),
    "rds-log-not-exported": (lambda t: props(t, "AWS::RDS::DBInstance").update(EnableCloudwatchLogsExports=["upgrade"]),
                             "STK-RDS-005"),
}

# (rule id, what is broken, how): the live picture broken so that the rule fails and its fix is a command
PICTURE_BREAKS: list[tuple[str, str, Callable[[dict], Any]]] = [
    ("STK-RDS-001", "single AZ", lambda p: props(p, "AWS::RDS::DBInstance").update(MultiAZ=False)),
    ("STK-RDS-002", "no backups", lambda p: props(p, "AWS::RDS::DBInstance").update(BackupRetentionPeriod=0)),
    ("STK-RDS-003", "force_ssl off", lambda p: props(p, "AWS::RDS::DBParameterGroup")["Parameters"].update(
        {"rds.force_ssl": "0"})),
    ("STK-RDS-005", "log not exported", lambda p: props(p, "AWS::RDS::DBInstance").update(
        EnableCloudwatchLogsExports=["upgrade"])),
]


@pytest.mark.parametrize("properties, status", [
    ({"Engine": "postgres", "EnableCloudwatchLogsExports": ["postgresql", "upgrade"]}, Status.PASS),
    ({"Engine": "postgres", "EnableCloudwatchLogsExports": ["postgresql"]}, Status.PASS),
    ({"Engine": "postgres", "EnableCloudwatchLogsExports": ["upgrade"]}, Status.FAIL),
    ({"Engine": "postgres", "EnableCloudwatchLogsExports": []}, Status.FAIL),
    ({"Engine": "postgres"}, Status.FAIL),  # absent: nothing is exported (CloudFormation's default, AWS's answer)
    ({"Engine": "postgres", "EnableCloudwatchLogsExports": {"Fn::If": ["Prod", ["postgresql"], []]}}, Status.FAIL),
    ({"Engine": "postgres", "EnableCloudwatchLogsExports": "postgresql"}, Status.FAIL),
    ({"Engine": "postgres", "DBClusterIdentifier": "aurora-x"}, Status.NOT_APPLICABLE),  # the cluster exports
    ({"Engine": "mysql"}, Status.NOT_APPLICABLE),
], ids=["both", "postgresql", "upgrade-only", "empty", "absent", "intrinsic", "a-string", "cluster-member", "mysql"])
def test_the_postgresql_log_must_be_exported(properties, status):
    result = stk_rds.check_log_export(stk_rds.INSTANCE, properties)
    assert result.status is status, result.reason
    if status is Status.FAIL:
        assert result.evidence == {"log_types": ["postgresql"]}  # what the fix enables


@pytest.mark.synth
def test_the_export_turned_off_on_the_deployed_database_fails_live_and_says_how_to_fix_it(restored_deployment,
                                                                                          baseline_posture):
    """Live, as opscli reads it: the postgresql log's export turned off on the deployed database (one
    modify-db-instance call) fails STK-RDS-005 on the database and nothing else, drift names the property and the
    rule, and the fix is the command that turns it back on. What is judged is what the posture monitor reads for
    the call (its CloudTrail record, its planner: tests/integration/changes.py); the rest of the deployment is the
    session's baseline, every check PASS. Once the export is on again, what the calls touched reads back as the
    session found it (Monitor.restored), and after the test every check of the whole deployment is as at the
    session's start (restored_deployment): a setting the call left changed elsewhere fails this test, not a later
    module's."""
    from opscli.aws import new_session
    from opscli.explain import explanation
    from tests.conftest import local_aws
    from tests.integration.changes import Monitor, record_writes_of

    deployment = restored_deployment
    monitor = Monitor(local_aws(deployment.endpoint), deployment.outputs_file)
    session = new_session(aws_access_key_id="local-emulator", aws_secret_access_key="local-emulator",
                          region_name="ap-northeast-1")
    record_writes_of(session)
    rds = session.client("rds", endpoint_url=deployment.endpoint)
    name = deployment.outputs["DbInstanceIdentifier"]

    def exported() -> list[str]:
        return rds.describe_db_instances(DBInstanceIdentifier=name)["DBInstances"][0]["EnabledCloudwatchLogsExports"]

    declared = exported()
    with monitor.recording(session) as broke:
        rds.modify_db_instance(DBInstanceIdentifier=name,
                               CloudwatchLogsExportConfiguration={"DisableLogTypes": [stk_rds.POSTGRES_LOG]})
    try:
        judged = monitor.judge(broke)
    finally:
        # the types exported as they were, in their order (the emulator lists them in the order they were enabled)
        with monitor.recording(session) as put_back:
            rds.modify_db_instance(DBInstanceIdentifier=name, CloudwatchLogsExportConfiguration={
                "DisableLogTypes": exported(), "EnableLogTypes": declared})
    monitor.restored(broke + put_back, baseline_posture)
    [failed] = [f for f in judged.audit if f.status is Status.FAIL]
    assert (failed.rule_id, failed.resource.split(" ", 1)[0]) == (stk_rds.LOG_EXPORT_ID, stk_rds.INSTANCE)
    assert "the postgresql log is not exported to CloudWatch Logs (exported: upgrade)" in failed.reason
    assert explanation(failed)["remediation"]["now"] == (
        f"aws rds modify-db-instance --db-instance-identifier {name} "
        """--cloudwatch-logs-export-configuration '{"EnableLogTypes":["postgresql"]}'""")
    [changed] = [f for f in judged.drift if f.status is Status.FAIL]
    assert changed.check_id.endswith("EnableCloudwatchLogsExports") and stk_rds.LOG_EXPORT_ID in changed.reason
