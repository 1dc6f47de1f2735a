"""The paged mode of the local emulator: every answer botocore knows to be pageable (its paginator model) comes
in pages of 1 item -- paged by moto's own paginator, by the stack's ListStackResources, or by localenv.pager.
The audit, drift and rotate-check over that deployment reach exactly the posture they reach over the unpaged one:
no reader stops at a first page. (AWS pages ListStackResources at
100 summaries, and the stack declares more than that.)"""

from __future__ import annotations

import json
import re
import urllib.request

import pytest

from localenv.emulator import PAGE_SIZE_ENV, STACK_RESOURCES_PAGE
from localenv.pager import STATS_PATH
from opscli import core, livestack, targets
from opscli.aws import models, new_session
from tests.conftest import deployment_process, hooked, local_aws, posture
from tests.integration.changes import readers_traced_for
from tests.opscli.conftest import sharing_reads
from tests.opscli.test_fault_harness import MONITOR_ONLY

pytestmark = [pytest.mark.synth, pytest.mark.xdist_group("deployment")]

SIZE = 1
# The pager's reasons for leaving a pageable answer whole that are not a gap: moto paged it (with its own token,
# which the next request carries).
PAGED_BY_MOTO = ("moto paged it itself", "the request carries a token that is not the pager's")
NEXT_PAGE = ("NextToken", "nextToken", "Marker", "NextMarker", "position")


@pytest.fixture(scope="module")
def paged(synth, tmp_path_factory):
    """The deployment in pages of one, its file system replicated within Tokyo (which every check passes): EFS
    answers DescribeReplicationConfigurations with an error for a file system without one, and an error is no
    page."""
    with deployment_process(synth, tmp_path_factory.mktemp("paged"), **{PAGE_SIZE_ENV: str(SIZE)}) as deployment:
        efs = new_session(aws_access_key_id="local-emulator", aws_secret_access_key="local-emulator",
                          region_name="ap-northeast-1").client("efs", endpoint_url=deployment.endpoint)
        efs.create_replication_configuration(SourceFileSystemId=deployment.outputs["EfsFileSystemId"],
                                             Destinations=[{"Region": "ap-northeast-1"}])
        yield deployment


def test_the_stack_lists_more_resources_than_one_cloudformation_page(synth):
    assert len(synth.template["Resources"]) > STACK_RESOURCES_PAGE


def pageable_operations() -> dict[str, dict]:
    """Every operation opscli calls that botocore can page, with its paginator entry."""
    session, found = models(), {}
    for operation in core.declared_operations():
        service, name = operation.split(":")
        entry = session.get_paginator_model(service)._paginator_config.get(name) \
            if service in session.get_available_services() else None
        if entry:
            found[operation] = entry
    return found


@pytest.fixture(scope="module")
def paged_reads() -> dict:
    """The whole reads of the paged deployment (it is not changed after its fixture): each made once."""
    return {}


def test_every_check_reaches_the_same_posture_in_pages_of_one(paged, baseline_posture, paged_reads):
    aws = local_aws(paged.endpoint)
    pageable = pageable_operations()
    largest: dict[str, int] = {}

    def note(parsed, model, **_):
        operation = f"{model.service_model.service_name}:{model.name}"
        if operation in pageable and isinstance(parsed, dict):
            for key in (pageable[operation]["result_key"] if isinstance(pageable[operation]["result_key"], list)
                        else [pageable[operation]["result_key"]]):
                if isinstance(parsed.get(key), list):
                    largest[operation] = max(largest.get(operation, 0), len(parsed[key]))

    # This test's own read is always real (its calls are what it judges): a read the other test left in
    # `paged_reads` would be served without a call. Its read is left there for the other test. The readers run
    # outside coverage's tracer (what they run in pages is measured by their own tests, tests/opscli/readers, on
    # stubbed pages); the pool, the account's IAM, the declaration's pages and the judging stay traced.
    own: dict = {}
    with hooked(aws, "after-call.*.*", note), sharing_reads(own), readers_traced_for(frozenset()):
        found = posture(paged)
    paged_reads.update(own)
    with urllib.request.urlopen(paged.endpoint + STATS_PATH, timeout=10) as answer:
        stats = json.load(answer)
    gaps = [row for row in stats["left_whole"] if row["reason"] not in PAGED_BY_MOTO]
    print(f"\npageable operations opscli calls: {len(pageable)}; called here: {len(largest)}; "
          f"paged by localenv.pager: {len(stats['paged'])}: {sorted(stats['paged'])}")
    # No page of any pageable operation held more than one item: each was paged, by moto or by the pager ...
    assert {op: n for op, n in largest.items() if n > SIZE} == {}
    # ... the pager could page every answer moto gave whole ...
    assert gaps == []
    # ... and every pageable operation opscli calls was called in this run (but those only TapMonitor's types ask).
    assert set(largest) == set(pageable) - set(MONITOR_ONLY), sorted(set(pageable) - set(MONITOR_ONLY) - set(largest))
    assert [f for f in found if f[2] == "ERROR"] == []
    assert by_logical_id(found) == by_logical_id(baseline_posture)


def by_logical_id(findings: list[tuple[str, str, str]]) -> list[tuple[str, str, str]]:
    """The posture with what differs between two deployments of one template taken out: physical ids (the API's,
    the key's: made at random) and the random tail of a secret's ARN."""
    return sorted((check, re.sub(r"-[A-Za-z0-9]{6}$", "", re.sub(r" \(.*\)$", "", resource)), status)
                  for check, resource, status in findings)


def test_the_whole_declaration_is_read_page_after_page(paged, paged_reads):
    """The declaration comes in pages of one (read here), and the whole stack's read of it (the audit's, as the
    posture above read it, if it ran) has no resource it could not read."""
    aws = local_aws(paged.endpoint)
    scope = core.stack_scope(aws, targets.from_outputs(paged.outputs_file))
    assert sum(r.present for r in scope.resources) > STACK_RESOURCES_PAGE
    with sharing_reads(paged_reads):
        live = livestack.read_stack(aws, scope, account=core.account_id(aws), account_iam=True)
    assert not [lid for lid, r in live.resources.items() if r.state == livestack.ReadState.ERROR]
