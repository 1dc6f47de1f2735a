"""opscli.model: the --compliance view's grouping of findings by the controls their rules map to."""

from __future__ import annotations

from opscli.model import Finding, compliance_view
from platform_spec.result import Status


def test_findings_are_grouped_by_the_controls_their_rules_map_to():
    items = [Finding("a", "STK-KMS-002", Status.FAIL, "k", "off"), Finding("b", "STK-RDS-003", Status.PASS, "d", "on"),
             Finding("c", "STK-RDS-001", Status.ERROR, "d", "?")]
    view = compliance_view(items, "iso27001")
    assert list(view) == ["8.14", "8.20", "8.24"]  # numeric order
    assert view["8.24"]["rules"] == ["STK-KMS-002", "STK-RDS-003"]
    assert (view["8.24"]["FAIL"], view["8.24"]["PASS"]) == (1, 1)
    assert view["8.14"]["ERROR"] == 1 and view["8.20"] == {**view["8.20"], "rules": ["STK-RDS-003"], "PASS": 1}
