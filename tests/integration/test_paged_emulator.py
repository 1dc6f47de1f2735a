"""The paged mode of the local emulator: every answer moto's paginator serves, and the stack's own
ListStackResources, come in pages of 2 items. The audit, drift and rotate-check over that deployment reach exactly
the posture they reach over the unpaged one: no reader stops at a first page. (AWS pages ListStackResources at
100 summaries, and the stack declares more than that.)"""

from __future__ import annotations

import re

import pytest

from localenv.emulator import PAGE_SIZE_ENV, STACK_RESOURCES_PAGE
from opscli import core, livestack, targets
from tests.conftest import deployment_process, local_aws, posture

pytestmark = [pytest.mark.synth, pytest.mark.xdist_group("deployment")]

NEXT_PAGE = ("NextToken", "nextToken", "Marker", "NextMarker", "position")


@pytest.fixture(scope="module")
def paged(synth, tmp_path_factory):
    with deployment_process(synth, tmp_path_factory.mktemp("paged"), **{PAGE_SIZE_ENV: "2"}) as deployment:
        yield deployment


def test_the_stack_lists_more_resources_than_one_cloudformation_page(synth):
    assert len(synth.template["Resources"]) > STACK_RESOURCES_PAGE


def test_every_check_reaches_the_same_posture_in_pages_of_two(paged, baseline_posture):
    aws = local_aws(paged.endpoint)
    paged_answers: set[str] = set()

    def note(parsed, model, **_):
        if isinstance(parsed, dict) and any(parsed.get(key) for key in NEXT_PAGE):
            paged_answers.add(f"{model.service_model.service_name}:{model.name}")

    for service in {op.split(":")[0] for op in core.declared_operations()}:
        aws.client(service).meta.events.register("after-call.*.*", note)
    try:
        found = posture(paged)
    finally:
        for service in {op.split(":")[0] for op in core.declared_operations()}:
            aws.client(service).meta.events.unregister("after-call.*.*", note)
    # What the mode pages today: the stack's declaration (served by localenv) and what moto's own paginator
    # serves. moto answers the other pageable reads in one page (README, "What the emulator cannot show").
    assert {"cloudformation:ListStackResources", "wafv2:ListTagsForResource"} <= paged_answers, sorted(paged_answers)
    assert [f for f in found if f[2] == "ERROR"] == []
    assert by_logical_id(found) == by_logical_id(baseline_posture)


def by_logical_id(findings: list[tuple[str, str, str]]) -> list[tuple[str, str, str]]:
    """The posture with what differs between two deployments of one template taken out: physical ids (the API's,
    the key's: made at random) and the random tail of a secret's ARN."""
    return sorted((check, re.sub(r"-[A-Za-z0-9]{6}$", "", re.sub(r" \(.*\)$", "", resource)), status)
                  for check, resource, status in findings)


def test_the_whole_declaration_is_read_page_after_page(paged):
    aws = local_aws(paged.endpoint)
    scope = core.stack_scope(aws, targets.from_outputs(paged.outputs_file))
    assert sum(r.present for r in scope.resources) > STACK_RESOURCES_PAGE
    live = livestack.read_stack(aws, scope, account=core.account_id(aws))
    assert not [lid for lid, r in live.resources.items() if r.state == livestack.ReadState.ERROR]
