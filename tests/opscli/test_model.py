"""opscli.model: the --compliance view's grouping of findings by the controls their rules map to, and the verdict
a path of the perimeter takes from the findings."""

from __future__ import annotations

from opscli.model import Finding, compliance_view, path_status
from platform_spec.result import Status


def test_findings_are_grouped_by_the_controls_their_rules_map_to():
    items = [Finding("a", "STK-KMS-002", Status.FAIL, "k", "off"), Finding("b", "STK-RDS-003", Status.PASS, "d", "on"),
             Finding("c", "STK-RDS-001", Status.ERROR, "d", "?")]
    view = compliance_view(items, "iso27001")
    assert list(view) == ["8.14", "8.20", "8.24"]  # numeric order
    assert view["8.24"]["rules"] == ["STK-KMS-002", "STK-RDS-003"]
    assert (view["8.24"]["FAIL"], view["8.24"]["PASS"]) == (1, 1)
    assert view["8.14"]["ERROR"] == 1 and view["8.20"] == {**view["8.20"], "rules": ["STK-RDS-003"], "PASS": 1}


def test_an_identitys_path_is_judged_by_the_finding_of_the_store_it_reaches():
    from platform_spec.path import IN, Path

    path = Path(IN, "STK-PERIM-002", "role partner", "trusted by account 9", True, kind="identity",
                resource="Key", resource_type="AWS::KMS::Key", subject="arn:aws:iam::1:role/partner")
    on_key = Finding("STK-PERIM-002/account", "STK-PERIM-002", Status.FAIL, "AWS::KMS::Key Key (k)", "reached")
    on_queue = Finding("STK-PERIM-002/account", "STK-PERIM-002", Status.PASS, "AWS::SQS::Queue Queue (q)", "nobody")
    assert path_status(path, [on_queue]) is None and path_status(path, [on_queue, on_key]) is Status.FAIL


def test_a_finding_without_severity_or_title_takes_its_rules_as_plain_strings():
    """Each rule's severity is its catalog value as a plain string (never the enum member, which an f-string would
    show as "Severity.HIGH"), and its title; an unknown rule leaves both empty."""
    from platform_spec import catalog

    for rule in catalog.CATALOG.values():
        finding = Finding("c.x", rule.id, Status.PASS, "r", "why")
        assert type(finding.severity) is str and finding.severity == rule.severity.value
        assert finding.title == rule.title
    unknown = Finding("c.x", "STK-NONE-999", Status.PASS, "r", "why")
    assert (unknown.severity, unknown.title) == ("", "")
