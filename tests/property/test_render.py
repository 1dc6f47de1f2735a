"""Properties of opscli.render: any findings render to JSON and SARIF that parse back to them."""

from __future__ import annotations

from hypothesis import given
from hypothesis import strategies as st

from opscli.model import Report, exit_code
from opscli.render import findings_from_json, findings_from_sarif, to_json, to_sarif
from tests.property.strategies import findings


@given(st.lists(findings, max_size=12))
def test_json_and_sarif_parse_back_to_the_same_findings(items):
    """Any findings list renders to JSON and SARIF that parse back to exactly the same findings."""
    report = Report(command="audit", target={"suffix": "x"}, findings=items)
    assert findings_from_json(to_json(report, exit_code(items))) == items
    assert findings_from_sarif(to_sarif(report, include_pass=True)) == items
