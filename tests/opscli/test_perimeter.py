"""The perimeter picture (opscli.perimeter) and the paths in the JSON report: the stack's paths as the rules judged
them, drawn red where a FAIL finding names the path, with the principal or destination written on it; a stack
that keeps everything inside has no red; hostile names stay text."""

from __future__ import annotations

import json
import re
import xml.etree.ElementTree as ET

from opscli import perimeter
from opscli.model import Finding, Report, resource_label
from opscli.render import to_json
from platform_spec import template_engine
from platform_spec.result import Status
from platform_spec.rules.paths import stack_paths

ACCOUNT, OTHER = "123456789012", "999999999999"
SVG = "{http://www.w3.org/2000/svg}"
QUEUE_ARN = {"Fn::GetAtt": ["Queue", "Arn"]}
RED = perimeter.COLOURS[perimeter.FAIL]


def stack(*, partner: str | None = None, copy_to: str | None = None, roles: int = 1) -> dict:
    """A queue, its policy (events pinned to the account, the stack's roles, and `partner` if given), and a rule
    that targets the queue (and `copy_to` if given)."""
    statements = [{"Sid": "Events", "Effect": "Allow", "Principal": {"Service": "events.amazonaws.com"},
                   "Action": "sqs:SendMessage", "Resource": QUEUE_ARN,
                   "Condition": {"StringEquals": {"aws:SourceAccount": {"Ref": "AWS::AccountId"}}}}]
    statements += [{"Sid": f"Worker{n}", "Effect": "Allow", "Action": "sqs:ReceiveMessage", "Resource": QUEUE_ARN,
                    "Principal": {"AWS": {"Fn::GetAtt": [f"WorkerRole{n}", "Arn"]}}} for n in range(roles)]
    if partner is not None:
        statements.append({"Sid": "Partner", "Effect": "Allow", "Principal": {"AWS": partner},
                           "Action": "sqs:ReceiveMessage", "Resource": QUEUE_ARN})
    targets = [{"Id": "Work", "Arn": QUEUE_ARN}] + ([{"Id": "Copy", "Arn": copy_to}] if copy_to else [])
    return {"Queue": {"Type": "AWS::SQS::Queue", "Properties": {}},
            "QueuePolicy": {"Type": "AWS::SQS::QueuePolicy", "Properties": {
                "Queues": [{"Ref": "Queue"}], "PolicyDocument": {"Version": "2012-10-17", "Statement": statements}}},
            "Rule": {"Type": "AWS::Events::Rule", "Properties": {"Targets": targets}}}


def audited(resources: dict) -> Report:
    """What an audit reports of this picture: the live rules' findings (as the live stage names their resources)
    and the paths of the same picture."""
    findings = [Finding(f.rule_id, f.rule_id, f.status, resource_label(f.resource_type, f.logical_id, None), f.reason)
                for f in template_engine.evaluate({"Resources": resources}, account=ACCOUNT)]
    return Report(command="audit", target={"suffix": "x", "stack": "TapStackx"}, findings=findings,
                  paths=stack_paths(resources, account=ACCOUNT))


def drawn(report: Report) -> ET.Element:
    """The picture, parsed as XML (it must be well-formed to be drawn at all)."""
    return ET.fromstring(perimeter.svg(report.paths, report.findings))


def groups(svg: ET.Element, kind: str, tone: str) -> list[ET.Element]:
    return [g for g in svg.iter(f"{SVG}g") if g.get("class") == kind and g.get("data-tone") == tone]


def texts(element: ET.Element) -> list[str]:
    return [t.text or "" for t in element.iter(f"{SVG}text")]


def name(node: ET.Element) -> str:
    """A box's full name: the first line of its tooltip (the box shows it cut to fit)."""
    return node.find(f"{SVG}title").text.split("\n")[0]


def test_an_outside_principal_and_an_outside_destination_are_drawn_red_and_named():
    report = audited(stack(partner=f"arn:aws:iam::{OTHER}:root", copy_to=f"arn:aws:sqs:us-east-1:{OTHER}:copies"))
    svg = drawn(report)
    red_ends = {name(g): g for g in groups(svg, "node", perimeter.FAIL) if g.get("data-side") != "resource"}
    assert set(red_ends) == {f"account {OTHER} (arn:aws:iam::{OTHER}:root)", f"arn:aws:sqs:us-east-1:{OTHER}:copies"}
    assert red_ends[f"arn:aws:sqs:us-east-1:{OTHER}:copies"].get("data-side") == "out"
    assert texts(red_ends[f"arn:aws:sqs:us-east-1:{OTHER}:copies"])[0] == f"arn:aws:sqs:us-east-1:{OTHER}:copies"
    assert {name(g) for g in groups(svg, "node", perimeter.FAIL) if g.get("data-side") == "resource"} == \
        {"QueuePolicy", "Rule"}
    red_edges = groups(svg, "edge", perimeter.FAIL)
    assert sorted(texts(g)[0] for g in red_edges) == [f"account {OTHER}", "copies (us-east-1)"]  # each edge named
    for edge in red_edges:
        assert edge.find(f"{SVG}path").get("stroke") == RED
        tooltip = edge.find(f"{SVG}title").text
        assert edge.get("data-rule") in tooltip and re.match(r"STK-(POLICY-001|RES-003) FAIL: ", tooltip), tooltip
    assert 'statement "Partner"' in red_edges[0].find(f"{SVG}title").text + red_edges[1].find(f"{SVG}title").text
    # the paths that stay inside are there too, green, and unnamed on the edge
    inside = groups(svg, "edge", perimeter.INSIDE)
    assert len(inside) == 3 and all(not texts(g) for g in inside)


def test_a_stack_that_keeps_everything_inside_has_no_red():
    report = audited(stack())
    assert {f.status for f in report.findings if f.rule_id in ("STK-POLICY-001", "STK-RES-003")} == {Status.PASS}
    svg = drawn(report)
    assert not groups(svg, "node", perimeter.FAIL) and not groups(svg, "edge", perimeter.FAIL)
    drawing = "".join(ET.tostring(g, encoding="unicode") for g in svg.iter(f"{SVG}g") if g.get("class") != "legend")
    assert RED not in drawing  # red only in the legend and the arrowheads' definitions
    assert {g.get("data-tone") for g in svg.iter(f"{SVG}g") if g.get("class") in ("node", "edge")} == \
        {perimeter.INSIDE}


def test_an_accepted_or_unjudged_outside_path_is_not_red():
    report = audited(stack(partner=f"arn:aws:iam::{OTHER}:root"))
    report.findings = [Finding(f.check_id, f.rule_id, Status.ACCEPTED, f.resource, f.reason)
                       if f.status is Status.FAIL else f for f in report.findings]
    svg = drawn(report)
    assert not groups(svg, "edge", perimeter.FAIL) and len(groups(svg, "edge", perimeter.ACCEPTED)) == 1
    report.findings = []  # e.g. a --compliance view without the rule: outside, but no finding names it
    svg = drawn(report)
    assert [name(g) for g in groups(svg, "node", perimeter.OUTSIDE) if g.get("data-side") == "in"] == \
        [f"account {OTHER} (arn:aws:iam::{OTHER}:root)"]


def test_many_inside_principals_of_one_kind_are_one_box():
    report = audited(stack(roles=12, partner=f"arn:aws:iam::{OTHER}:root"))
    svg = drawn(report)
    ends = [g for g in svg.iter(f"{SVG}g") if g.get("class") == "node" and g.get("data-side") == "in"]
    labels = [name(g) for g in ends]
    assert labels[0] == f"account {OTHER} (arn:aws:iam::{OTHER}:root)"  # the outside one first, on its own
    assert sorted(labels[1:]) == ["12 resources of the stack", "service events.amazonaws.com"]  # one stays named
    assert len([g for g in svg.iter(f"{SVG}g") if g.get("class") == "edge"]) == 4  # one edge per box and resource


def test_every_outside_end_is_drawn_up_to_a_bound_and_the_rest_in_one_box():
    resources = stack()
    statements = resources["QueuePolicy"]["Properties"]["PolicyDocument"]["Statement"]
    statements += [{"Effect": "Allow", "Principal": {"AWS": f"{n:012d}"}, "Action": "sqs:ReceiveMessage",
                    "Resource": QUEUE_ARN} for n in range(1, 46)]
    svg = drawn(audited(resources))
    red = [name(g) for g in groups(svg, "node", perimeter.FAIL) if g.get("data-side") == "in"]
    assert len(red) == perimeter.MAX_ENDS and red[-1] == f"{46 - perimeter.MAX_ENDS} more outside"


HOSTILE = "<script>alert(1)</script>\x1b[2J\u202egnp.exe\" onload=\"x"


def test_hostile_names_are_text_not_markup_nor_terminal_controls():
    resources = stack(copy_to=f"arn:aws:sqs:us-east-1:{OTHER}:{HOSTILE}")
    resources["Rule"]["Properties"]["Targets"][1]["Id"] = HOSTILE
    report = audited(resources)
    page = perimeter.svg(report.paths, report.findings)
    assert "<script" not in page and "onload=\"x" not in page
    assert not re.search(r"[\x00-\x08\x0b-\x1f\x7f-\x9f\u202a-\u202e\u2066-\u2069]", page)
    assert "\\x1b[2J\\u202egnp.exe" in page  # shown as escapes, so the reader sees they were there
    svg = ET.fromstring(page)  # still well-formed
    red = groups(svg, "node", perimeter.FAIL)
    assert f"arn:aws:sqs:us-east-1:{OTHER}:<script>alert(1)</script>\\x1b[2J\\u202egnp.exe\" onload=\"x" in \
        {name(g) for g in red}


def test_the_json_report_carries_the_paths_with_their_verdict():
    report = audited(stack(partner=f"arn:aws:iam::{OTHER}:root"))
    document = json.loads(to_json(report, 1))
    crossing = [p for p in document["paths"] if p["outside"]]
    assert crossing == [{
        "direction": "in", "rule_id": "STK-POLICY-001", "resource": "QueuePolicy",
        "resource_type": "AWS::SQS::QueuePolicy", "other": f"account {OTHER} (arn:aws:iam::{OTHER}:root)",
        "kind": "account", "via": 'statement "Partner"', "outside": True, "why": ["another account"],
        "actions": ["sqs:ReceiveMessage"], "subject": "QueuePolicy", "status": "FAIL"}]
    assert {p["status"] for p in document["paths"] if not p["outside"]} == {"PASS"}
    assert len(document["findings"]) == len(report.findings)  # the findings are as they were
    report.paths = None  # drift and rotate-check compute no paths: the key is left out, not empty
    assert "paths" not in json.loads(to_json(report, 1))
