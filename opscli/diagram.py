"""An architecture picture of the stack, drawn from its synthesized template: the main resource types in tiers
(edge, network, compute, intake, data, security and operations), with a box per type (its count) and an arrow
where resources of one type reference resources of another (Ref / Fn::GetAtt in their properties). Plain SVG,
no scripts and no network: it goes into the HTML report and docs/architecture.svg.

    python -m opscli.diagram cdk.out/TapStackdev.template.json > docs/architecture.svg
"""

from __future__ import annotations

import sys
from collections.abc import Mapping
from html import escape
from typing import Any

from platform_spec.exit_codes import EXIT_OK, EXIT_USAGE
from platform_spec.intrinsics import references
from platform_spec.stacks import STACK_PREFIX
from platform_utils import files

TIERS: tuple[tuple[str, tuple[tuple[str, str], ...]], ...] = (
    ("Edge", (("AWS::WAFv2::WebACL", "WAF web ACL"), ("AWS::ApiGateway::RestApi", "API Gateway REST API (regional)"),
              ("AWS::ApiGateway::UsagePlan", "Usage plan + API key"), ("AWS::ApiGateway::VpcLink", "VPC link"))),
    ("Network", (("AWS::EC2::VPC", "VPC"), ("AWS::EC2::Subnet", "Subnets (public + private)"),
                 ("AWS::EC2::NatGateway", "NAT gateways"),
                 ("AWS::ElasticLoadBalancingV2::LoadBalancer", "Network load balancer (internal)"),
                 ("AWS::EC2::SecurityGroup", "Security groups"))),
    ("Compute", (("AWS::ECS::Cluster", "ECS cluster (Container Insights)"),
                 ("AWS::ECS::Service", "Fargate services"), ("AWS::ECS::TaskDefinition", "Task definitions"),
                 ("AWS::ApplicationAutoScaling::ScalableTarget", "Auto scaling targets"))),
    ("Intake", (("AWS::S3::Bucket", "Ingest bucket"), ("AWS::Events::Rule", "EventBridge rule"),
                ("AWS::SQS::Queue", "SQS queue + DLQ"))),
    ("Data", (("AWS::RDS::DBInstance", "RDS PostgreSQL (Multi-AZ)"),
              ("AWS::ElastiCache::ReplicationGroup", "ElastiCache Redis (Multi-AZ)"),
              ("AWS::EFS::FileSystem", "EFS scratch"), ("AWS::EFS::MountTarget", "EFS mount targets"))),
    ("Security and operations", (("AWS::KMS::Key", "KMS customer-managed key"), ("AWS::IAM::Role", "IAM roles"),
                                 ("AWS::Logs::LogGroup", "CloudWatch log groups"),
                                 ("AWS::CloudWatch::Alarm", "CloudWatch alarms"), ("AWS::SNS::Topic", "Alarm topic"))),
)
COLORS = {"FAIL": "#c62828", "ERROR": "#8e24aa", "ACCEPTED": "#f9a825", "PASS": "#2e7d32", None: "#546e7a"}
BOX_W, BOX_H, GAP_X, GAP_Y, TOP = 250, 46, 50, 14, 56
# Types every other type refers to (placement, encryption, permissions, logs): arrows to them would hide the
# data flow, so the picture leaves them out (their boxes stay).
PLUMBING = frozenset({"AWS::EC2::VPC", "AWS::EC2::Subnet", "AWS::EC2::SecurityGroup", "AWS::KMS::Key",
                      "AWS::IAM::Role", "AWS::Logs::LogGroup", "AWS::ECS::Cluster", "AWS::SNS::Topic"})
TITLE = f"{STACK_PREFIX}: architecture, from the synthesized template"


def boxes(template: Mapping[str, Any]) -> tuple[list[dict], set[tuple[str, str]]]:
    """The boxes (type, label, tier, count) of the types the template has, and the (from, to) type edges."""
    resources = template.get("Resources", {}) if isinstance(template, Mapping) else {}
    types = {lid: str(r.get("Type")) for lid, r in resources.items() if isinstance(r, Mapping)}
    shown = {t for _, members in TIERS for t, _ in members}
    out = []
    for tier, (name, members) in enumerate(TIERS):
        for resource_type, label in members:
            count = sum(1 for t in types.values() if t == resource_type)
            if count:
                out.append({"type": resource_type, "label": label, "tier": tier, "tier_name": name, "count": count})
    edges: set[tuple[str, str]] = set()
    for lid, resource in resources.items():
        source = types.get(lid)
        if source is None or source not in shown or not isinstance(resource, Mapping):
            continue
        for target in references(resource.get("Properties", {})):
            if types.get(target) in shown and types[target] != source and \
                    not {source, types[target]} & PLUMBING:
                edges.add((source, types[target]))
    return out, edges


def svg(template: Mapping[str, Any], status: Mapping[str, str] | None = None, *, title: str = "") -> str:
    """The picture; `status` (resource type -> worst live status) colours the boxes, else they are neutral."""
    items, edges = boxes(template)
    status = status or {}
    columns: dict[int, list[dict]] = {}
    for item in items:
        columns.setdefault(item["tier"], []).append(item)
    tiers = sorted(columns)
    position = {}
    for x_index, tier in enumerate(tiers):
        for y_index, item in enumerate(columns[tier]):
            position[item["type"]] = (20 + x_index * (BOX_W + GAP_X), TOP + y_index * (BOX_H + GAP_Y))
    width = 40 + len(tiers) * (BOX_W + GAP_X) - GAP_X
    height = TOP + max((len(c) for c in columns.values()), default=1) * (BOX_H + GAP_Y) + 20
    parts = [f'<svg xmlns="http://www.w3.org/2000/svg" viewBox="0 0 {width} {height}" width="100%" '
             f'style="max-width:{width}px" font-family="Helvetica, Arial, sans-serif" font-size="12" role="img" '
             f'aria-label="{escape(title or "architecture")}">',
             '<defs><marker id="arrow" viewBox="0 0 10 10" refX="10" refY="5" markerWidth="6" markerHeight="6" '
             'orient="auto-start-reverse"><path d="M 0 0 L 10 5 L 0 10 z" fill="#90a4ae"/></marker></defs>',
             '<rect width="100%" height="100%" fill="#ffffff"/>']
    if title:
        parts.append(f'<text x="20" y="22" font-size="15" font-weight="bold">{escape(title)}</text>')
    for x_index, tier in enumerate(tiers):
        parts.append(f'<text x="{20 + x_index * (BOX_W + GAP_X)}" y="{TOP - 10}" font-weight="bold" fill="#37474f">'
                     f'{escape(TIERS[tier][0])}</text>')
    for source, target in sorted(edges):
        (x1, y1), (x2, y2) = position[source], position[target]
        if x1 == x2:
            continue  # same tier: the column shows they belong together
        start_x, end_x = (x1 + BOX_W, x2) if x1 < x2 else (x1, x2 + BOX_W)
        parts.append(f'<line x1="{start_x}" y1="{y1 + BOX_H / 2}" x2="{end_x}" y2="{y2 + BOX_H / 2}" '
                     f'stroke="#b0bec5" stroke-width="1.2" marker-end="url(#arrow)"/>')
    for item in items:
        x, y = position[item["type"]]
        state = status.get(item["type"])
        colour = COLORS.get(state, COLORS[None])
        parts.append(f'<g class="box" data-type="{escape(item["type"])}" data-status="{escape(state or "")}">'
                     f'<rect x="{x}" y="{y}" width="{BOX_W}" height="{BOX_H}" rx="6" fill="#fafafa" '
                     f'stroke="{colour}" stroke-width="{3 if state in ("FAIL", "ERROR") else 1.5}"/>'
                     f'<text x="{x + 8}" y="{y + 18}" fill="#263238">{escape(item["label"])}</text>'
                     f'<text x="{x + 8}" y="{y + 35}" fill="{colour}" font-size="11">{escape(item["type"])} '
                     f'×{item["count"]}{" — " + state if state and state != "PASS" else ""}</text></g>')
    parts.append("</svg>")
    return "\n".join(parts) + "\n"


def main(argv: list[str] | None = None) -> int:
    args = sys.argv[1:] if argv is None else argv
    if len(args) != 1:
        print("usage: python -m opscli.diagram TEMPLATE.json > architecture.svg", file=sys.stderr)
        return EXIT_USAGE
    try:
        template = files.read_json(args[0], "template")
    except FileNotFoundError:
        print(f"error: template {args[0]} does not exist", file=sys.stderr)
        return EXIT_USAGE
    except files.FileRefused as exc:  # a FIFO, a device, over 16 MiB, not JSON: one line, never a wait
        print(f"error: {exc}", file=sys.stderr)
        return EXIT_USAGE
    sys.stdout.write(svg(template, title=TITLE))
    return EXIT_OK


if __name__ == "__main__":  # pragma: no cover
    sys.exit(main())
