"""Properties of opscli.model: the exit-code function against the documented contract, and a resource's label read
back to its type and ids."""

from __future__ import annotations

from hypothesis import given
from hypothesis import strategies as st

from opscli.model import SEVERITIES, Finding, exit_code
from platform_spec.result import Status


def oracle(statuses_and_severities, fail_on: str) -> int:
    """Exit code by the documented contract, written independently of opscli.model.exit_code."""
    order = ["CRITICAL", "HIGH", "MEDIUM", "LOW", "INFO"]
    if any(status == "ERROR" for status, _ in statuses_and_severities):
        return 3
    if not any(status in ("PASS", "FAIL", "ACCEPTED") for status, _ in statuses_and_severities):
        return 3  # nothing reached a verdict: nothing is vouched for
    for status, severity in statuses_and_severities:
        if status == "FAIL" and order.index(severity) <= order.index(fail_on.upper()):
            return 1
    return 0


@given(st.lists(st.tuples(st.sampled_from(list(Status)), st.sampled_from(SEVERITIES)), max_size=20),
       st.sampled_from(["critical", "high", "medium", "low", "info"]))
def test_exit_code_matches_the_contract_for_any_status_mix(mix, fail_on):
    """ERROR beats FAIL (3), and so does a run in which no check reached a verdict (only NOT_APPLICABLE, or
    nothing); a FAIL at or above --fail-on is 1; anything else is 0."""
    items = [Finding("c.x", "STK-RDS-001", status, "r", "why", severity=sev) for status, sev in mix]
    assert exit_code(items, fail_on) == oracle([(s.value, sev) for s, sev in mix], fail_on)


@given(st.from_regex(r"AWS::[A-Za-z0-9]+::[A-Za-z0-9]+", fullmatch=True),
       st.from_regex(r"[A-Za-z][A-Za-z0-9]{0,60}", fullmatch=True),
       st.none() | st.from_regex(r"[^\s()][^()]{0,80}", fullmatch=True))
def test_a_resource_label_reads_back_to_its_type_and_ids(resource_type, logical_id, physical_id):
    """The table, SARIF, the HTML report and accepted-findings entries all read findings' resources back."""
    from opscli.model import resource_label, resource_parts

    assert resource_parts(resource_label(resource_type, logical_id, physical_id)) == (
        resource_type, logical_id, physical_id)


def test_a_resource_that_is_not_a_label_has_no_parts():
    from opscli.model import resource_parts

    assert resource_parts("arn:aws:secretsmanager:ap-northeast-1:1:secret:rds-credentials-x") is None
    assert resource_parts("AWS::SQS::Queue") == ("AWS::SQS::Queue", None, None)
