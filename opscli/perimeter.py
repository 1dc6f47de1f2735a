"""The perimeter picture: the stack's paths (Report.paths, the ones its rules judged) as plain SVG. Who can reach
in is on the left, the stack's resources that have paths in the middle, where their data goes on the right; one
edge per principal or destination and resource. An edge and its outside end are red where a FAIL finding names
the path (the principal or destination written on the edge, the rule and what opens the path in its tooltip),
green where the path stays inside and its rule passed. Many inside ends of one kind are grouped into one box so
that the picture stays legible. Text from AWS is shown with its control characters as escapes and HTML-escaped;
no scripts, nothing fetched, white background: it prints like the architecture picture."""

from __future__ import annotations

import html
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field

from opscli.model import Finding, cut, path_status
from opscli.sanitize import visible
from platform_spec.path import IN, Path
from platform_spec.result import Status

# How an edge (and a box) is drawn, worst first: the verdict on an outside path, or that it stays inside.
FAIL, ERROR, ACCEPTED, OUTSIDE, INSIDE, UNJUDGED = "FAIL", "ERROR", "ACCEPTED", "OUTSIDE", "INSIDE", "UNJUDGED"
TONES = (FAIL, ERROR, ACCEPTED, OUTSIDE, INSIDE, UNJUDGED)
COLOURS = {FAIL: "#c62828", ERROR: "#8e24aa", ACCEPTED: "#f9a825", OUTSIDE: "#e65100", INSIDE: "#2e7d32",
           UNJUDGED: "#90a4ae"}
FILLS = {FAIL: "#ffebee", ERROR: "#f3e5f5", ACCEPTED: "#fff8e1", OUTSIDE: "#fff3e0", INSIDE: "#f1f8e9",
         UNJUDGED: "#fafafa"}
LEGEND = ((FAIL, "outside, a FAIL finding names it"), (ACCEPTED, "outside, accepted"),
          (ERROR, "could not judge"), (OUTSIDE, "outside, no finding in this view"),
          (INSIDE, "stays inside, its rule passed"), (UNJUDGED, "not judged in this view"))
# Kinds of principal or destination (platform_spec.path.Path.kind), as a grouped box names them.
KINDS = {"stack": ("resource of the stack", "resources of the stack"), "service": ("AWS service", "AWS services"),
         "account": ("AWS account or principal", "AWS accounts or principals"),
         "everyone": ("everyone, pinned", "pins of everyone"), "identity": ("identity beside the stack", "identities"),
         "resource": ("resource", "resources"), "bucket": ("bucket", "buckets"), "region": ("region", "regions"),
         "endpoint": ("endpoint outside AWS", "endpoints outside AWS"), "federated": ("federated", "federated"),
         "unknown": ("not readable", "not readable")}
GROUP_AT = 8  # more inside ends than this on one side: one box per kind
MAX_ENDS = 40  # outside ends drawn one by one on a side; the rest in one box (every one is in the table below it)
WIDTH, SIDE_W, MIDDLE_W, NODE_H, STEP, TOP = 1320, 330, 260, 34, 42, 78
LEFT_X, MIDDLE_X = 10, (WIDTH - MIDDLE_W) // 2
RIGHT_X = WIDTH - 10 - SIDE_W


def esc(text: object, *, lines: bool = False) -> str:
    """Text for the SVG: control, format and bidi characters shown as escapes, then HTML-escaped (quotes too)."""
    return html.escape(visible(text, lines=lines))


def short(name: str) -> str:
    """A principal or destination as an edge names it: an ARN by its resource's name and its region (or account),
    else up to its first parenthesis ("account 999999999999", not the ARN of its root after it)."""
    if name.startswith("arn:") and name.count(":") >= 5:
        _arn, _partition, _service, region, account, resource = name.split(":", 5)
        where = region or account
        return (resource.rsplit("/", 1)[-1].rsplit(":", 1)[-1] or name) + (f" ({where})" if where else "")
    return name.split(" (", 1)[0]


def tone(path: Path, status: Status | None) -> str:
    if status is Status.ERROR:
        return ERROR
    if path.outside:
        return {Status.FAIL: FAIL, Status.ACCEPTED: ACCEPTED}.get(status, OUTSIDE) if status is not None else OUTSIDE
    return INSIDE if status is not None else UNJUDGED


def _worst(tones: Iterable[str]) -> str:
    return min(tones, key=TONES.index, default=UNJUDGED)


@dataclass
class Node:
    key: tuple[str, ...]
    side: str  # "in", "resource" or "out"
    label: str
    sub: str
    paths: list[tuple[Path, str]] = field(default_factory=list)  # (path, its tone)
    y: float = 0.0

    @property
    def tone(self) -> str:
        return _worst(t for _p, t in self.paths)


def _resource_label(path: Path) -> tuple[str, str]:
    if path.resource.startswith("arn:"):  # a secret the stack reads (STK-PERIM-002)
        return path.resource.rsplit(":", 1)[-1], f"{path.resource_type.removeprefix('AWS::')} the stack reads"
    return path.resource, path.resource_type.removeprefix("AWS::")


def _ends(side: str, found: Sequence[tuple[Path, str]]) -> list[Node]:
    """The principals (side "in") or destinations ("out") as boxes: each outside one on its own; inside ones on
    their own too, unless there are more than GROUP_AT, then one box per kind."""
    by_other: dict[str, list[tuple[Path, str]]] = {}
    for path, shade in found:
        by_other.setdefault(path.other, []).append((path, shade))
    crossing = {other for other, items in by_other.items() if any(p.outside for p, _t in items)}
    inside = [other for other in by_other if other not in crossing]
    nodes = []
    for other in sorted(crossing):
        items = by_other[other]
        rules = sorted({p.rule_id for p, t in items if t == FAIL})
        kind = KINDS.get(items[0][0].kind, (items[0][0].kind or "", ""))[0]
        nodes.append(Node((side, "one", other), side, other, "outside · " +
                          (f"FAIL {', '.join(rules)} · " if rules else "") + kind, list(items)))
    if len(nodes) > MAX_ENDS:
        rest = nodes[MAX_ENDS - 1:]
        nodes = [*nodes[:MAX_ENDS - 1], Node((side, "more"), side, f"{len(rest)} more outside",
                                             "each is listed in the table below",
                                             [item for n in rest for item in n.paths])]
    kinds: dict[str, list[str]] = {}
    for other in inside:
        kinds.setdefault(by_other[other][0][0].kind, []).append(other)
    for kind, members in sorted(kinds.items()):
        one, many = KINDS.get(kind, (kind, kind))
        if len(inside) > GROUP_AT and len(members) > 1:
            nodes.append(Node((side, "group", kind), side, f"{len(members)} {many}",
                              "stay inside: " + ", ".join(sorted(members)),
                              [item for other in members for item in by_other[other]]))
        else:
            nodes += [Node((side, "one", other), side, other, f"{one} · stays inside", by_other[other])
                      for other in sorted(members)]
    return nodes


def layout(paths: Sequence[Path], findings: Sequence[Finding]) -> tuple[list[Node], list[Node], list[Node]]:
    """(ends in, resources, ends out), each in drawing order with its y."""
    toned = [(path, tone(path, path_status(path, findings))) for path in paths]
    resources: dict[str, Node] = {}
    for path, shade in toned:
        label, sub = _resource_label(path)
        resources.setdefault(path.resource, Node(("resource", path.resource), "resource", label, sub)).paths.append(
            (path, shade))
    middle = sorted(resources.values(), key=lambda n: (TONES.index(n.tone), n.paths[0][0].resource_type, n.label))
    rank = {node.key[1]: index for index, node in enumerate(middle)}

    def order(nodes: list[Node]) -> list[Node]:
        # Outside ends first, then each near the resources it reaches (fewer crossings).
        return sorted(nodes, key=lambda n: (TONES.index(n.tone) >= TONES.index(INSIDE), n.key[1] == "more",
                                            sum(rank[p.resource] for p, _t in n.paths) / len(n.paths), n.label))

    left = order(_ends("in", [(p, t) for p, t in toned if p.direction == IN]))
    right = order(_ends("out", [(p, t) for p, t in toned if p.direction != IN]))
    tallest = max(len(left), len(middle), len(right), 1)
    for column in (left, middle, right):
        offset = (tallest - len(column)) * STEP / 2  # a shorter column sits in the middle of the tallest
        for index, node in enumerate(column):
            node.y = TOP + offset + index * STEP
    return left, middle, right


def _node(node: Node, x: float, width: float, chars: int) -> str:
    shade = node.tone
    colour = COLOURS[shade]
    heavy = shade in (FAIL, ERROR)
    vias = sorted({f"{p.rule_id} · {p.via}" for p, _t in node.paths})
    title = "\n".join([node.label, node.sub, *vias[:12], *(["…"] if len(vias) > 12 else [])])
    weight = ' font-weight="bold"' if heavy else ""
    return (f'<g class="node" data-side="{node.side}" data-tone="{shade}"><title>{esc(title, lines=True)}</title>'
            f'<rect x="{x}" y="{node.y:.1f}" width="{width}" height="{NODE_H}" rx="5" fill="{FILLS[shade]}" '
            f'stroke="{colour}" stroke-width="{2.5 if heavy else 1.2}"/>'
            f'<text x="{x + 7}" y="{node.y + 14:.1f}" fill="#263238"{weight}>'
            f"{esc(cut(node.label, chars - 5 if heavy else chars))}</text>"
            f'<text x="{x + 7}" y="{node.y + 27:.1f}" fill="{colour if shade != ACCEPTED else "#8d6e00"}" '
            f'font-size="10">{esc(cut(node.sub, chars + 8))}</text></g>')


def _edge(end: Node, resource: Node, incoming: bool) -> str:
    items = [(p, t) for p, t in end.paths if p.resource == resource.key[1]]
    shade = _worst(t for _p, t in items)
    colour = COLOURS[shade]
    if incoming:
        x1, y1, x2, y2 = LEFT_X + SIDE_W, end.y + NODE_H / 2, MIDDLE_X, resource.y + NODE_H / 2
    else:
        x1, y1, x2, y2 = MIDDLE_X + MIDDLE_W, resource.y + NODE_H / 2, RIGHT_X, end.y + NODE_H / 2
    bend = (x2 - x1) / 2
    lines = [f"{p.rule_id} {'FAIL' if t == FAIL else t.lower()}: {p.resource_type} {_resource_label(p)[0]} "
             f"{'admits' if p.direction == IN else 'delivers to'} {p.other} through {p.via}" +
             (f" ({'; '.join(p.why)})" if p.why else "") for p, t in items]
    dash = ' stroke-dasharray="5 3"' if shade in (OUTSIDE, UNJUDGED) else ""
    out = [f'<g class="edge" data-tone="{shade}" data-rule="{esc(" ".join(sorted({p.rule_id for p, _t in items})))}">'
           f"<title>{esc(chr(10).join(lines), lines=True)}</title>"
           f'<path d="M {x1} {y1:.1f} C {x1 + bend} {y1:.1f}, {x2 - bend} {y2:.1f}, {x2} {y2:.1f}" fill="none" '
           f'stroke="{colour}" stroke-width="{2.5 if shade == FAIL else 1.3}"{dash} '
           f'marker-end="url(#end-{shade})"/>']
    if shade in (FAIL, ACCEPTED):  # the principal or destination written on the edge itself
        text = cut(short(end.label), 28)
        mx, my = (x1 + x2) / 2, (y1 + y2) / 2
        half = len(text) * 2.9 + 4
        out.append(f'<rect x="{mx - half:.1f}" y="{my - 8:.1f}" width="{2 * half:.1f}" height="13" fill="#ffffff" '
                   f'stroke="{colour}" stroke-width="0.6" rx="2"/>'
                   f'<text x="{mx:.1f}" y="{my + 2:.1f}" text-anchor="middle" font-size="10" '
                   f'fill="{colour if shade == FAIL else "#8d6e00"}">{esc(text)}</text>')
    return "".join(out) + "</g>"


def svg(paths: Sequence[Path], findings: Sequence[Finding], *, title: str = "") -> str:
    """The picture of `paths`, each coloured by the findings of this run that judge it."""
    left, middle, right = layout(paths, findings)
    height = TOP + max(len(left), len(middle), len(right), 1) * STEP + 8
    parts = [f'<svg class="perimeter" xmlns="http://www.w3.org/2000/svg" viewBox="0 0 {WIDTH} {height:.0f}" '
             f'width="100%" style="max-width:{WIDTH}px" font-family="Helvetica, Arial, sans-serif" font-size="12" '
             f'role="img" aria-label="{esc(title or "the stack perimeter: paths in and out")}">',
             "<defs>" + "".join(
                 f'<marker id="end-{shade}" viewBox="0 0 10 10" refX="10" refY="5" markerWidth="7" markerHeight="7" '
                 f'orient="auto-start-reverse"><path d="M 0 0 L 10 5 L 0 10 z" fill="{COLOURS[shade]}"/></marker>'
                 for shade in TONES) + "</defs>",
             '<rect width="100%" height="100%" fill="#ffffff"/>']
    x: float = LEFT_X
    for shade, words in LEGEND:
        dash = ' stroke-dasharray="5 3"' if shade in (OUTSIDE, UNJUDGED) else ""
        parts.append(f'<g class="legend"><line x1="{x}" y1="14" x2="{x + 26}" y2="14" stroke="{COLOURS[shade]}" '
                     f'stroke-width="{2.5 if shade == FAIL else 1.5}"{dash}/><text x="{x + 31}" y="18" '
                     f'font-size="11" fill="#455a64">{esc(words)}</text></g>')
        x += 44 + len(words) * 6.1
    for x, width, words in ((LEFT_X, SIDE_W, "Who can reach in"), (MIDDLE_X, MIDDLE_W, "The stack's resources"),
                            (RIGHT_X, SIDE_W, "Where the data goes")):
        parts.append(f'<text x="{x + width / 2}" y="{TOP - 14}" text-anchor="middle" font-weight="bold" '
                     f'fill="#37474f">{esc(words)}</text>')
    if not paths:
        parts.append(f'<text x="{WIDTH / 2}" y="{TOP + 18}" text-anchor="middle" fill="#546e7a">No path in or out: no '
                     "resource of this read admits a principal or sends its data anywhere.</text>")
    position = {node.key[1]: node for node in middle}
    for end in left:
        for resource in sorted({p.resource for p, _t in end.paths}):
            parts.append(_edge(end, position[resource], incoming=True))
    for end in right:
        for resource in sorted({p.resource for p, _t in end.paths}):
            parts.append(_edge(end, position[resource], incoming=False))
    for node in left:
        parts.append(_node(node, LEFT_X, SIDE_W, 47))
    for node in middle:
        parts.append(_node(node, MIDDLE_X, MIDDLE_W, 37))
    for node in right:
        parts.append(_node(node, RIGHT_X, SIDE_W, 47))
    parts.append("</svg>")
    return "\n".join(parts) + "\n"
