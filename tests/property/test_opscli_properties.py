"""Properties of opscli's pure parts: rendering round-trips, the exit-code function, target derivation."""

from __future__ import annotations

from hypothesis import given
from hypothesis import strategies as st

from opscli.errors import UsageError
from opscli.model import SEVERITIES, Finding, Report, exit_code
from opscli.render import findings_from_json, findings_from_sarif, to_json, to_sarif
from opscli.targets import from_suffix
from platform_spec import catalog
from platform_spec.result import Status
from tests.property.strategies import any_text, layout_text, valid_suffixes

#: Findings with catalog rule ids or arbitrary ones, any status, any text (including markup and emoji codes).
findings = st.builds(
    Finding,
    check_id=st.from_regex(r"[a-z]+\.[a-z_]+", fullmatch=True),
    rule_id=st.one_of(st.sampled_from(sorted(catalog.CATALOG)), st.from_regex(r"X-[A-Z]{3}", fullmatch=True)),
    status=st.sampled_from(list(Status)),
    resource=any_text | st.just("arn:aws:secretsmanager:ap-northeast-1:1:secret:[bold]x:smile:"),
    reason=any_text,
    severity=st.sampled_from(SEVERITIES),
    title=any_text,
)


@given(st.lists(findings, max_size=12))
def test_json_and_sarif_parse_back_to_the_same_findings(items):
    """Any findings list renders to JSON and SARIF that parse back to exactly the same findings."""
    report = Report(command="audit", target={"suffix": "x"}, findings=items)
    assert findings_from_json(to_json(report, exit_code(items))) == items
    assert findings_from_sarif(to_sarif(report, include_pass=True)) == items


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


@given(valid_suffixes)
def test_every_valid_suffix_derives_names_with_that_suffix(suffix):
    """opscli looks for exactly the names the stack's naming function gives."""
    t = from_suffix(suffix)
    assert t.db_instance == f"rds-{suffix}" and t.redis_group == f"redis-{suffix}"
    assert all(name.endswith(f"-{suffix}") for name in (*t.services, *t.log_groups, *t.secrets))


@given(any_text)
def test_invalid_suffixes_are_usage_errors(text):
    """Anything the suffix validator rejects is a usage error in opscli, never a lookup."""
    from platform_spec.naming import suffix_problems
    if suffix_problems(text):
        try:
            from_suffix(text)
        except UsageError:
            return
        raise AssertionError(f"{text!r} accepted")  # pragma: no cover


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


#: Property values as templates and readers give them: scalars (booleans, numbers, strings such as "true" or
#: "30" or an ARN), lists and maps of them. Few scalars, so values that are equal but typed apart (1 and True,
#: 30 and "30") meet often.
_scalars = st.sampled_from([True, False, 1, 0, 30, 30.0, 3.5, "true", "false", "1", "30", "", "k-1",
                            "arn:aws:kms:ap-northeast-1:1:key/k-1"])
property_values = st.recursive(_scalars, lambda inner: st.lists(inner, max_size=3) | st.dictionaries(
    st.sampled_from(["Action", "Resource", "Statement", "Key", "Value"]), inner, max_size=3), max_leaves=8)


def _twin(value):
    """An equal value of another type where there is one (True and 1, 30 and 30.0), else the value itself."""
    if isinstance(value, bool):
        return int(value)
    if isinstance(value, int) and value in (0, 1):
        return bool(value)
    if isinstance(value, (int, float)) and float(value).is_integer():
        return float(value) if isinstance(value, int) else int(value)
    return value


def _twinned(value, flip):
    if isinstance(value, dict):
        return {k: _twinned(v, flip) for k, v in value.items()}
    if isinstance(value, list):
        return [_twinned(v, flip) for v in value]
    return _twin(value) if flip() else value


@given(property_values, property_values, st.data())
def test_same_agrees_with_comparing_the_canonical_forms(declared, other, data):
    """The drift comparison's shortcut (values the same as they are) never changes its verdict: on unrelated
    values, and on a value against a copy of it with some scalars swapped for an equal one of another type."""
    from opscli.livestack import _canonical, _same, same

    twinned = _twinned(declared, lambda: data.draw(st.booleans()))
    for live in (other, twinned):
        assert same(declared, live) == _same(_canonical(declared), _canonical(live)), (declared, live)
    assert same(declared, declared)


@given(layout_text, st.integers(1, 160), st.integers(0, 40), st.integers(0, 40))
def test_flow_breaks_only_at_spaces_and_fits_the_width(text, width, hang, first):
    """`terminal.flow` loses and breaks nothing: its lines joined by single spaces are the text (after the first
    line, left empty where the first word did not fit there), the first starts at `first`, and every line fits
    `width` but for one word longer than the width, which stands whole at column 0."""
    from rich.cells import cell_len

    from opscli.terminal import flow

    lines = flow(text, width, hang=hang, first=first)
    rejoined = [line for _, line in lines]
    assert " ".join(rejoined) == text or (rejoined[0] == "" and " ".join(rejoined[1:]) == text)
    assert lines[0][0] == first
    for column, line in lines[1:] if lines[0][1] == "" else lines:
        assert column + cell_len(line) <= width or (" " not in line and column == 0 and cell_len(line) > width)
