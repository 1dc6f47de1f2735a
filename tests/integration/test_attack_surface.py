"""Attacks that cannot be undone in place, on a fresh deployment of the real template beside the declared resources
deleted in tests/opscli/test_core.py (tests/irreversible.py: one deployment, in process, every change's FAILs its
own): the audit alone (no drift) fails each with the rule of its kind, on the resource it hit. (The changes that can
be put back run one at a time on the shared deployment in tests/integration/test_drift.py.)

- the VPC's flow log deleted (an intruder's first step: a flow log's id cannot be restored) -> STK-NET-003 on
  the VPC, as the template stage would say of a template without one;
- a method of the API replaced by one that needs no API key (PutMethod over the declared one: moto has no
  UpdateMethod) -> STK-API-004 on that method."""

from __future__ import annotations

import pytest

from opscli.model import Report
from platform_spec.result import Status
from tests import irreversible

pytestmark = [pytest.mark.synth, irreversible.GROUP]


@pytest.fixture(scope="module")
def attacked(synth):
    deployment = irreversible.changed(synth)
    return deployment.before, _failures(deployment.after), deployment.template["Resources"]


def _failures(report: Report) -> set[tuple[str, str]]:
    return {(f.rule_id, f.resource.split(" ")[1] if " " in f.resource else f.resource)
            for f in report.findings if f.status is Status.FAIL}


def _logical_id(resources, resource_type: str, contains: str = "") -> str:
    return next(lid for lid, r in resources.items() if r["Type"] == resource_type and contains in lid)


def test_a_fresh_deployment_fails_nothing(attacked):
    """The control: the audit before the attacks judged every declared resource and passed all it judged (an
    audit that judged nothing, or could not look, would fail nothing too)."""
    before, _after, resources = attacked
    assert before.findings and {f.status for f in before.findings} == {Status.PASS}, sorted(_failures(before))
    assert before.coverage["declared"] == len(resources) and not before.coverage["missing"]
    assert not before.coverage["errors"]


def test_the_deleted_flow_log_fails_its_vpc(attacked):
    _before, after, resources = attacked
    assert ("STK-NET-003", _logical_id(resources, "AWS::EC2::VPC")) in after, sorted(after)


def test_a_method_without_a_key_fails_that_method(attacked):
    _before, after, resources = attacked
    method = _logical_id(resources, "AWS::ApiGateway::Method", "videosGET")
    assert ("STK-API-004", method) in after, sorted(after)
    assert not {f for f in after if f[0] == "STK-API-004" and f[1] != method}
