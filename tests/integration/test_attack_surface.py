"""Attacks that cannot be undone in place, each on a deployment of its own: the audit alone (no drift) fails each
with the rule of its kind, on the resource it hit. (The changes that can be put back run one at a time on the
shared deployment in tests/integration/test_drift.py.)

- the VPC's flow log deleted (an intruder's first step: a flow log's id cannot be restored) -> STK-NET-003 on
  the VPC, as the template stage would say of a template without one;
- a method of the API replaced by one that needs no API key (PutMethod over the declared one: moto has no
  UpdateMethod) -> STK-API-004 on that method."""

from __future__ import annotations

import pytest

from localenv.emulator import LOCAL_CREDENTIALS
from opscli import core, livestack, stackcheck, targets
from opscli.aws import new_session
from platform_spec.result import Status
from tests.conftest import deployment_process, local_aws
from tests.library_tracing import untraced_with_its_threads

pytestmark = [pytest.mark.synth, pytest.mark.xdist_group("deployment")]


@pytest.fixture(scope="module")
def attacked(synth, tmp_path_factory):
    with deployment_process(synth, tmp_path_factory.mktemp("attacked")) as deployment:
        aws = local_aws(deployment.endpoint)
        # A fresh deployment of the session's template reads and judges as the session's baseline does (traced
        # there, every check passed): outside coverage's tracer here. The attacked one below runs traced.
        before = untraced_with_its_threads(_failures)(aws, deployment)
        session = new_session(**{k.lower(): v for k, v in LOCAL_CREDENTIALS.items() if k != "AWS_DEFAULT_REGION"},
                              region_name="ap-northeast-1")
        ec2 = session.client("ec2", endpoint_url=deployment.endpoint)
        vpc = deployment.outputs["VpcId"]
        flows = ec2.describe_flow_logs(Filters=[{"Name": "resource-id", "Values": [vpc]}])["FlowLogs"]
        ec2.delete_flow_logs(FlowLogIds=[f["FlowLogId"] for f in flows])
        api, api_id = session.client("apigateway", endpoint_url=deployment.endpoint), deployment.outputs["ApiId"]
        videos = next(r for r in api.get_resources(restApiId=api_id)["items"] if r["path"] == "/videos")
        api.put_method(restApiId=api_id, resourceId=videos["id"], httpMethod="GET", authorizationType="NONE",
                       apiKeyRequired=False)
        yield before, _failures(aws, deployment), synth.template["Resources"]


def _failures(aws, deployment) -> set[tuple[str, str]]:
    scope = core.stack_scope(aws, targets.from_outputs(deployment.outputs_file))
    live = livestack.read_stack(aws, scope, account=core.account_id(aws))
    return {(f.rule_id, f.resource.split(" ")[1] if " " in f.resource else f.resource)
            for f in stackcheck.judge(live) if f.status is Status.FAIL}


def _logical_id(resources, resource_type: str, contains: str = "") -> str:
    return next(lid for lid, r in resources.items() if r["Type"] == resource_type and contains in lid)


def test_a_fresh_deployment_fails_nothing(attacked):
    before, _after, _resources = attacked
    assert before == set()


def test_the_deleted_flow_log_fails_its_vpc(attacked):
    _before, after, resources = attacked
    assert ("STK-NET-003", _logical_id(resources, "AWS::EC2::VPC")) in after, sorted(after)


def test_a_method_without_a_key_fails_that_method(attacked):
    _before, after, resources = attacked
    method = _logical_id(resources, "AWS::ApiGateway::Method", "videosGET")
    assert ("STK-API-004", method) in after, sorted(after)
    assert not {f for f in after if f[0] == "STK-API-004" and f[1] != method}
