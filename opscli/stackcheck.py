"""Judging the live stack with the catalog's predicates, and comparing it with its declaration (drift).

Both start from the same read (`livestack.read_stack`). Judging runs the whole-stack engine of the template stage
(`platform_spec.template_engine`) unchanged over the live picture in template shape; no rule is restated here.
"""

from __future__ import annotations

import json
from collections.abc import Collection, Mapping
from dataclasses import dataclass, field
from typing import Any

from opscli.livestack import LiveStack, ReadState, chosen, left_out, same
from opscli.model import Finding, cut, resource_label, stack_suffix
from opscli.readers import READERS
from opscli.shapes import Where
from platform_spec import catalog, template_engine
from platform_spec.catalog import Engine
from platform_spec.intrinsics import Unresolvable
from platform_spec.naming import NamingError, physical_name
from platform_spec.path import Path
from platform_spec.registry import ACCOUNT_RULES_BY_ID, LIVE_ONLY_RULES
from platform_spec.result import Result, Status
from platform_spec.rule import AccountFacts
from platform_spec.rules.paths import stack_paths
from platform_spec.rules.stk_drift import DRIFT_ID
from platform_spec.stages import PRESENCE_RULE

LIVE_RULE_IDS = frozenset(r.id for r in catalog.CATALOG.values() if Engine.LIVE in r.engines)
# Undeclared properties whose absence from the declaration still means a value: CloudFormation creates a group
# without ingress when SecurityGroupIngress is left out, a role without attached or inline policies, and a managed
# policy attached to no user or group, so any live rule, policy or attachment there is drift.
ABSENT_MEANS: dict[tuple[str, str], Any] = {("AWS::EC2::SecurityGroup", "SecurityGroupIngress"): [],
                                            ("AWS::IAM::Role", "ManagedPolicyArns"): [],
                                            ("AWS::IAM::Role", "Policies"): [],
                                            ("AWS::IAM::ManagedPolicy", "Users"): [],
                                            ("AWS::IAM::ManagedPolicy", "Groups"): [],
                                            ("AWS::CloudWatch::Alarm", "ActionsEnabled"): True}


@dataclass(frozen=True)
class Unverified:
    """A declared property drift could not compare, and why: the answers did not include it, or its declared value
    refers to something the deployment does not resolve."""

    resource: str  # the resource label, as findings name it
    property: str
    why: str

    def to_dict(self) -> dict[str, str]:
        return {"resource": self.resource, "property": self.property, "why": self.why}


NOT_IN_ANSWER = "not in the answers"


@dataclass
class Coverage:
    """What the live run could see: declared resources, read ones, and why the others were not read."""

    declared: int = 0
    read: int = 0
    missing: list[str] = field(default_factory=list)  # logical ids declared but not there
    errors: list[str] = field(default_factory=list)  # logical ids that could not be read
    no_reader: dict[str, str] = field(default_factory=dict)  # type -> reason
    not_emulated: dict[str, str] = field(default_factory=dict)  # type -> reason (local emulator only)
    unverified: list[Unverified] = field(default_factory=list)  # declared properties not compared (drift only)

    def to_dict(self) -> dict[str, Any]:
        return {"declared": self.declared, "read": self.read, "missing": self.missing, "errors": self.errors,
                "no_reader": self.no_reader, "not_emulated": self.not_emulated,
                "unverifiable": len(self.unverified), "unverified": [u.to_dict() for u in self.unverified]}


def _label(live: LiveStack, logical_id: str) -> str:
    declared = live.resources[logical_id].declared
    return resource_label(declared.type, logical_id, declared.physical_id)


def coverage(live: LiveStack) -> Coverage:
    result = Coverage(declared=len(live.resources))
    for lid, resource in live.resources.items():
        state, rtype = resource.state, resource.declared.type
        if state == ReadState.READ:
            result.read += 1
        elif state in (ReadState.MISSING, ReadState.NOT_DEPLOYED):
            result.missing.append(lid)
        elif state == ReadState.ERROR:
            result.errors.append(lid)
        elif state == ReadState.NO_READER:
            result.no_reader[rtype] = resource.detail
        elif state == ReadState.NOT_EMULATED:
            result.not_emulated[rtype] = resource.detail
    return result


def presence_findings(live: LiveStack) -> list[Finding]:
    """A declared resource that is not there is a FAIL saying what was expected; one that could not be read is
    an ERROR (could not look), never a verdict."""
    findings = []
    for lid, resource in live.resources.items():
        if resource.state in (ReadState.MISSING, ReadState.NOT_DEPLOYED):
            findings.append(Finding(f"stack.{resource.declared.type}", PRESENCE_RULE, Status.FAIL, _label(live, lid),
                                    f"expected {resource.declared.type} {lid} declared by "
                                    f"{live.scope.stack_name}: {resource.detail}"))
        elif resource.state == ReadState.ERROR:
            findings.append(Finding(f"stack.{resource.declared.type}", PRESENCE_RULE, Status.ERROR,
                                    _label(live, lid), resource.detail))
        elif resource.state == ReadState.READ:
            findings.append(Finding(f"stack.{resource.declared.type}", PRESENCE_RULE, Status.PASS, _label(live, lid),
                                    "present and read"))
    return findings


def judge(live: LiveStack, *, expected_tags: Mapping[str, str] | None = None) -> list[Finding]:
    """Every live rule over every read resource (and the whole-stack rules over the read set), plus presence."""
    findings = presence_findings(live)
    picture = live.live_template()
    findings += judge_picture(live, picture, expected_tags=expected_tags)
    for lid, resource in live.resources.items():
        if resource.state != ReadState.READ:
            continue
        for rule in LIVE_ONLY_RULES:
            if rule.resource_type == resource.declared.type:
                result = rule.predicate(resource.properties or {}, resource.facts)
                findings.append(Finding(rule.check_id, rule.rule_id, result.status, _label(live, lid), result.reason,
                                        evidence=fix_facts(live, picture, lid, rule.rule_id, result)))
    return findings + account_findings(live)


def fix_facts(live: LiveStack, picture: Mapping[str, Any], subject: str, rule_id: str, result: Any) -> dict[str, Any]:
    """What a failure's fix is filled from (catalog.Fix): its whole evidence (references resolved to real ids), and
    of the facts the rule's fixes read: where `subject` is a resource the stack declares, its ids (physical id,
    ARN), its declared properties and tags, resolved; the account, region, suffix and project key. Nothing for a
    verdict that is not a failure."""
    rule = catalog.CATALOG.get(rule_id)
    if result.status is not Status.FAIL or rule is None:
        return {}
    resource = live.resources.get(subject)
    rtype = resource.declared.type if resource is not None else None
    needed = {name.split(".", 1)[0] for name in rule.fact_names(rtype)}
    # TapStack<suffix> or its monitor's TapMonitor<suffix>: the project key is the environment's either way
    suffix = stack_suffix(live.scope.stack_name)
    try:
        project_key = physical_name("kms-alias", suffix) if suffix else None
    except NamingError:
        project_key = None
    facts: dict[str, Any] = {"account": live.account, "region": live.resolver.pseudo.get("AWS::Region"),
                             "suffix": suffix, "project_key": project_key}
    if "project_key_arn" in needed:  # for the calls that take no alias (logs associate-kms-key)
        keys = sorted(template_engine.project_cmks(picture.get("Resources", {}))[1])
        facts["project_key_arn"] = live.resolver.attrs.get(keys[0], {}).get("Arn") if keys else None
    if resource is not None:
        attrs = live.resolver.attrs.get(subject, {})
        arns = [v for k, v in attrs.items() if k.endswith("Arn") and isinstance(v, str) and v.startswith("arn:")]
        facts.update(id=resource.declared.physical_id, arn=attrs.get("Arn") or (arns[0] if arns else None))
        if needed & {"tags", "tag_list"}:
            facts.update(_declared_tags(resource.declared.properties, live))
        declared = resource.declared.properties
        facts["declared"] = _resolved({name: declared.get(name) for name in sorted(rule.declared_properties(rtype))},
                                      live)
    # only what a fix reads, beside the whole evidence: every failure carries it in every format
    facts = {k: v for k, v in facts.items() if k in needed and v is not None and v != {}}
    facts.update(_resolved(dict(result.evidence), live))
    # plain JSON data, whatever an answer held (a timestamp, bytes): every format writes it as it is
    return json.loads(json.dumps(facts, default=str))


TAG_PROPERTIES = ("Tags", "FileSystemTags", "AccessPointTags")  # where a CloudFormation type keeps its tags


def _declared_tags(declared: Mapping[str, Any], live: LiveStack) -> dict[str, Any]:
    """The tags the stack declares on a resource, resolved, as the tagging APIs take them: a map (tags) and
    EC2's list of Key/Value (tag_list); nothing where it declares none or they cannot be resolved."""
    for name in TAG_PROPERTIES:
        value = _resolved({name: declared.get(name)}, live).get(name)
        if isinstance(value, list) and all(isinstance(t, Mapping) and "Key" in t and "Value" in t for t in value):
            tags = {str(t["Key"]): str(t["Value"]) for t in value}
        elif isinstance(value, Mapping):
            tags = {str(k): str(v) for k, v in value.items()}
        else:
            continue
        if tags:
            return {"tags": tags, "tag_list": [{"Key": k, "Value": v} for k, v in tags.items()]}
    return {}


def _resolved(values: Mapping[str, Any], live: LiveStack) -> dict[str, Any]:
    """Each value with its references (Ref, Fn::GetAtt, Fn::Sub ...) turned into the deployment's real ids; one that
    cannot be resolved is left out (a fix that needs it does not apply: explain tries the next)."""
    out = {}
    for name, value in values.items():
        try:
            resolved = live.resolver.resolve(value)
        except (Unresolvable, KeyError, IndexError, TypeError, ValueError):
            continue
        if not _intrinsic_left(resolved):  # an intrinsic the resolver does not know (Fn::If) is no real value
            out[name] = resolved
    return out


def _intrinsic_left(value: Any) -> bool:
    if isinstance(value, Mapping):
        return any(key == "Ref" or str(key).startswith("Fn::") or _intrinsic_left(v) for key, v in value.items())
    return isinstance(value, list) and any(_intrinsic_left(v) for v in value)


def judge_picture(live: LiveStack, picture: Mapping[str, Any], *, expected_tags: Mapping[str, str] | None = None,
                  rule_ids: Collection[str] | None = None) -> list[Finding]:
    """The template engine's live rules over `picture` (the live stack in template shape), each failure with the
    facts its fix is filled from; only the live rules of `rule_ids`, if given."""
    findings = []
    unreadable = [(lid, r.declared.type) for lid, r in live.resources.items() if r.state == ReadState.ERROR]
    wanted = LIVE_RULE_IDS if rule_ids is None else LIVE_RULE_IDS & frozenset(rule_ids)
    for f in template_engine.evaluate(picture, expected_tags=expected_tags, rule_ids=wanted,
                                      account=live.account, bucket_regions=live.bucket_regions):
        status, reason = f.status, f.reason
        needs = template_engine.RELATIONSHIP_TYPES.get(f.rule_id, frozenset())
        unseen = [lid for lid, rtype in unreadable if rtype in needs]
        if unseen:
            # A whole-stack rule over a picture missing what it reads could judge what it did not see.
            status = Status.ERROR
            reason = f"could not judge: {len(unseen)} declared resources it depends on could not be read " \
                     f"({', '.join(unseen[:3])}{', ...' if len(unseen) > 3 else ''}): their ERRORs say why"
        check = f.rule_id if f.scope == "resource" else f"{f.rule_id}/stack"
        evidence = fix_facts(live, picture, f.logical_id, f.rule_id, Result(status, reason, f.evidence))
        findings.append(Finding(check, f.rule_id, status, _label(live, f.logical_id), reason, evidence=evidence))
    return findings


def account_facts(live: LiveStack) -> AccountFacts | None:
    """The account's IAM beside the stack as the account rules read it; None where it was not (or could not be)
    read, or the account is not known."""
    iam = live.account_iam
    if iam is None or live.account is None:
        return None
    return AccountFacts(
        account=live.account, region=str(live.resolver.pseudo.get("AWS::Region")), attributes=live.resolver.attrs,
        users=tuple(iam.users), groups=tuple(iam.groups), roles=tuple(iam.roles), policies=iam.policies)


def perimeter_paths(live: LiveStack) -> list[Path]:
    """Every path across the stack's perimeter in the live read (the picture the rules judged, the live-only facts
    of the resources read, and the account's IAM where it was read): the paths the rules' findings name."""
    read = {lid: r.facts for lid, r in live.resources.items() if r.state == ReadState.READ}
    return stack_paths(live.live_template()["Resources"], account=live.account, bucket_regions=live.bucket_regions,
                       facts=read, identities=account_facts(live))


ACCOUNT_CHECK = "account"  # the check id's suffix of an account rule's findings (after the rule id)
ACCOUNT_SUBJECT = "the account's IAM (iam:GetAccountAuthorizationDetails)"


def account_findings(live: LiveStack) -> list[Finding]:
    """The account rules (the account's IAM beside the stack), where the read asked for the account's IAM. A
    subject that is not a declared resource is named as the rule gives it (the ARN of a secret the stack reads)."""
    if live.account_iam is None and live.account_iam_error is None:
        return []
    findings = []
    for rule_id, rule in ACCOUNT_RULES_BY_ID.items():
        check = f"{rule_id}/{ACCOUNT_CHECK}"
        unseen = [lid for lid, r in live.resources.items()
                  if r.state == ReadState.ERROR and r.declared.type in rule.reads]
        iam = live.account_iam
        if iam is None or live.account is None or unseen:
            reason = live.account_iam_error or ("could not judge: the account is not known" if live.account is None
                                                else f"could not judge: {len(unseen)} declared resources it depends "
                                                     f"on could not be read ({', '.join(unseen[:3])}): "
                                                     f"their ERRORs say why")
            findings.append(Finding(check, rule_id, Status.ERROR, ACCOUNT_SUBJECT, reason))
            continue
        facts = account_facts(live)
        picture = live.live_template()
        for subject, result in rule.check(picture["Resources"], facts):
            label = _label(live, subject) if subject in live.resources else subject
            findings.append(Finding(check, rule_id, result.status, label, result.reason,
                                    evidence=fix_facts(live, picture, subject, rule_id, result)))
    return findings



def _brief(value: Any) -> str:
    """A value as people read it: maps as {Key: value, ...} with keys in order, no JSON quoting."""
    if value is None:
        return "(not set)"
    if isinstance(value, Mapping):
        return "{" + ", ".join(f"{k}: {_brief(v)}" for k, v in sorted(value.items(), key=lambda kv: str(kv[0]))) + "}"
    if isinstance(value, list):
        return "[" + ", ".join(_brief(v) for v in value) + "]"
    return value if isinstance(value, str) else json.dumps(value, default=str)


def changes(declared: Any, live: Any, path: str, where: Where | None = None) -> list[str]:
    """What differs between a declared value and the live one, as readable lines: a changed scalar as
    "path: declared X, live Y", list items as "path: added ITEM" / "path: removed ITEM", map keys by their path.
    Keys only the live value has are AWS's defaults (the declaration did not set them): not drift, unless the
    declaration chose a variant by its key (`where`: as for `livestack.same`)."""
    if isinstance(declared, Mapping) and isinstance(live, Mapping):
        found: list[str] = []
        for key in sorted(declared, key=str):
            at = where.at(key) if where is not None else None
            if key not in live:
                if not left_out(declared[key], at):
                    found.append(f"{path}.{key}: removed (declared {_brief(declared[key])})")
            elif not same(declared[key], live[key], at):
                found += changes(declared[key], live[key], f"{path}.{key}", at)
        if chosen(declared, where):
            found += [f"{path}.{key}: added {_brief(value)}" for key, value in sorted(live.items(), key=str)
                      if key not in declared and isinstance(value, Mapping)
                      and not (where is not None and where.at(key).is_map())]
        return found or [f"{path}: declared {_brief(declared)}, live {_brief(live)}"]
    if isinstance(declared, list) and isinstance(live, list):
        at = where.at(0) if where is not None else None
        added = [item for item in live if not any(same(d, item, at) for d in declared)]
        removed = [item for item in declared if not any(same(item, x, at) for x in live)]
        found = [f"{path}: added {_brief(item)}" for item in added] + \
                [f"{path}: removed {_brief(item)}" for item in removed]
        return found or [f"{path}: declared {_brief(declared)}, live {_brief(live)}"]
    return [f"{path}: declared {_brief(declared)}, live {_brief(live)}"]


def describe_change(key: str, declared: Any, live: Any, limit: int = 400, where: Where | None = None) -> str:
    return cut("; ".join(changes(declared, live, key, where)), limit)


def _with_property(template: Mapping[str, Any], lid: str, key: str, value: Any) -> dict[str, Any]:
    """`template` with one property of one resource set to `value`: new dicts along that path only, the rest
    shared (the template engine's rules are pure, so nothing shared is changed; a deep copy of the whole
    template for every drifted property cost time in proportion to the stack's size)."""
    resource = template["Resources"][lid]
    return {**template, "Resources": {**template["Resources"], lid: {
        **resource, "Properties": {**resource["Properties"], key: value}}}}


def drift(live: LiveStack, *, expected_tags: Mapping[str, str] | None = None
          ) -> tuple[list[Finding], list[Unverified]]:
    """One finding per declared property whose live value differs, with both values and the rule the live value
    now breaks (a rule that fails live and passes with that one property as declared); plus presence.
    Returns (findings, the declared properties that could not be compared and why)."""
    picture = live.live_template()

    def failing(template: Mapping[str, Any]) -> dict[tuple[str, str], template_engine.Finding]:
        return {(f.rule_id, f.logical_id): f for f in template_engine.evaluate(
            template, expected_tags=expected_tags, rule_ids=LIVE_RULE_IDS, account=live.account,
            bucket_regions=live.bucket_regions)
            if f.status is Status.FAIL}

    live_failures = failing(picture)
    findings = [f for f in presence_findings(live) if f.status is not Status.PASS]
    unverified: list[Unverified] = []
    for lid, resource in live.resources.items():
        if resource.state != ReadState.READ or resource.properties is None:
            continue
        reader = READERS[resource.declared.type]
        declared = dict(resource.declared.properties)
        for (rtype, key), value in ABSENT_MEANS.items():
            if rtype == resource.declared.type and key not in declared:
                declared[key] = value
        label = _label(live, lid)
        drifted = False
        for key, value in declared.items():
            if key not in reader.reads:
                continue
            try:
                expected = live.resolve(value)
            except Unresolvable as exc:
                unverified.append(Unverified(label, key, f"its declared value does not resolve: {exc}"))
                continue
            if key not in resource.properties:  # no evidence either way
                unverified.append(Unverified(label, key, NOT_IN_ANSWER))
                continue
            actual = resource.properties[key]
            where = Where(resource.declared.type, (key,))
            if same(expected, actual, where):
                continue
            drifted = True
            restored = _with_property(picture, lid, key, value)
            broken = sorted(set(live_failures) - set(failing(restored)))
            reason = describe_change(key, expected, actual, where=where)
            if broken:
                reason += "; now breaks " + "; ".join(f"{rule} ({live_failures[(rule, where)].reason})"
                                                      for rule, where in broken)
                rule = catalog.get(broken[0][0])
                first = live_failures[broken[0]]
                findings.append(Finding(f"drift.{key}", rule.id, Status.FAIL, label, reason, evidence=fix_facts(
                    live, picture, first.logical_id, rule.id, Result(Status.FAIL, first.reason, first.evidence))))
            else:
                findings.append(Finding(f"drift.{key}", DRIFT_ID, Status.FAIL, label, reason,
                                        title=f"{resource.declared.type} {key} differs from the stack"))
        if not drifted:
            findings.append(Finding("drift.none", DRIFT_ID, Status.PASS, label,
                                    "every readable declared property matches"))
    return findings, unverified
