"""STK-PERIM-002 and STK-PERIM-003: who can reach in, beside the resource policies (STK-POLICY-001).

STK-PERIM-002 (live only: a template cannot see the account): an identity outside the stack that can be used from
outside the account reaches the stack's data. The account's IAM, read in one paged GetAccountAuthorizationDetails
and handed in as plain data (`Account`), is evaluated here in memory, as IAM Access Analyzer's external- and
internal-access findings reason: a role the stack does not declare whose trust policy admits a principal outside
the account (another account, "*" without a condition that pins the caller, a web-identity or SAML provider, whose
provider decides who the caller is), any IAM user (long-lived credentials, usable from anywhere; nothing in the
account's IAM says whether it has an access key now, and one can be made at any time), and every role either can
assume in turn, is judged against each of the stack's data paths: the project key (kms:Decrypt, ReEncryptFrom,
CreateGrant, counted through IAM only where the key policy delegates them to the account), the buckets' objects
(s3:GetObject, GetObjectVersion, PutObject: an upload starts the stack's work), the queues (sqs:ReceiveMessage,
SendMessage), the secrets the stack reads (secretsmanager:GetSecretValue), the database (rds-db:connect, where IAM
authentication is on) and the file system (elasticfilesystem:Client*). An identity reaches a path when an Allow of
its identity policies (inline, attached, its groups') matches the action (wildcards, NotAction) and the resource
(wildcards, NotResource), within its permissions boundary where the boundary's document is known, or when the
resource's own policy names it. A Deny subtracts only where it clearly applies (no condition, the action and the
whole resource covered); an Allow's conditions are not evaluated (the finding says so): a security tool that is
unsure reports. For the same reason a statement whose Effect is not exactly "Deny" is an Allow, an identity
policy that cannot be read as IAM reads it (policy_documents.unreadable) is taken to allow everything, a boundary
that cannot limits nothing, and a trust policy that cannot admits whoever it may. The stack's own roles are never
judged here (STK-IAM-001..003 judge them). The finding is each data path's (as IAM Access Analyzer's findings are
the resource's): it names every identity that reaches it (kind, name, ARN), the outside principal (the trust
statement), and the statement that grants each action.

STK-PERIM-003: an EFS access point enforces a user identity other than root and a root directory below the file
system's root (Security Hub EFS.3 and EFS.4). An access point without a POSIX user passes each client's own uid
(root included) through; one with uid or gid 0, or rooted at "/", hands every client the whole file system. Judged
on every declared access point, and live also on every access point of a declared file system that the stack does
not declare (`undeclared_access_points`)."""

from __future__ import annotations

import json
import re
from collections.abc import Iterable, Iterator, Mapping
from dataclasses import dataclass, replace
from typing import Any

from platform_spec.intrinsics import TOKEN, as_dict, as_list, is_true, ref_target, render
from platform_spec.path import IN, Path
from platform_spec.result import Result
from platform_spec.rule import AccountFacts as Account
from platform_spec.rule import account_rule, live_rule, plain_rule
from platform_spec.rules.policy_documents import (
    covers,
    is_deny,
    matches,
    meet,
    numbered,
    outside,
    principal_account,
    principals,
    statements,
    unreadable,
    values,
)

IDENTITY_ID = "STK-PERIM-002"
ACCESS_POINT_ID = "STK-PERIM-003"
ACCESS_POINT = "AWS::EFS::AccessPoint"
FILE_SYSTEM = "AWS::EFS::FileSystem"
ACCESS_POINTS_CHECK = "efs.access_points"
IDENTITY_CHECK = "perimeter.identities"
KEY, BUCKET, QUEUE, DATABASE = "AWS::KMS::Key", "AWS::S3::Bucket", "AWS::SQS::Queue", "AWS::RDS::DBInstance"
SECRET = "AWS::SecretsManager::Secret"  # an existing secret the stack reads (named by its ARN, not declared)
# The data paths of each type: the actions that read the data (or start the stack's work with it).
DATA_ACTIONS: dict[str, tuple[str, ...]] = {
    KEY: ("kms:Decrypt", "kms:ReEncryptFrom", "kms:CreateGrant"),
    BUCKET: ("s3:GetObject", "s3:GetObjectVersion", "s3:PutObject"),
    QUEUE: ("sqs:ReceiveMessage", "sqs:SendMessage"),
    FILE_SYSTEM: ("elasticfilesystem:ClientMount", "elasticfilesystem:ClientWrite",
                  "elasticfilesystem:ClientRootAccess"),
    DATABASE: ("rds-db:connect",),
    "secret": ("secretsmanager:GetSecretValue",),
}
POLICY_OF = {"AWS::S3::BucketPolicy": ("Bucket", "PolicyDocument"),
             "AWS::SQS::QueuePolicy": ("Queues", "PolicyDocument")}
ASSUME = ("sts:AssumeRole", "sts:AssumeRoleWithWebIdentity", "sts:AssumeRoleWithSAML")
SHOWN = 5  # identities named in one finding's reason before "..."


# --- STK-PERIM-003: access points ------------------------------------------------------------------------------

def access_point_problems(properties: Mapping[str, Any]) -> list[str]:
    """How an access point (CloudFormation shape) widens who reaches which files: empty when it does not."""
    problems = []
    posix = properties.get("PosixUser")
    if not isinstance(posix, Mapping):
        problems.append("enforces no user identity (PosixUser): each client's own uid, root included, is used")
    else:
        if str(posix.get("Uid")) == "0":
            problems.append("enforces the root identity (uid 0)")
        if str(posix.get("Gid")) == "0" or "0" in {str(g) for g in as_list(posix.get("SecondaryGids"))}:
            problems.append("enforces the root group (gid 0)")
    path = as_dict(properties.get("RootDirectory")).get("Path")
    if path in (None, "", "/"):
        problems.append("is rooted at the file system's root directory (Path \"/\")")
    return problems


def check_access_point(resource_type: str, properties: Mapping[str, Any]) -> Result:
    if resource_type != ACCESS_POINT:
        return Result.na()
    problems = access_point_problems(properties)
    if problems:
        return Result.fail("the access point " + "; ".join(problems))
    posix, root = as_dict(properties.get("PosixUser")), as_dict(properties.get("RootDirectory"))
    return Result.ok(f"enforces uid {posix.get('Uid')} gid {posix.get('Gid')} under {root.get('Path')}")


def undeclared_access_points(_props: Mapping[str, Any], facts: Mapping[str, Any]) -> Result:
    """Live half on a file system: the access points on it that the stack does not declare (each in CloudFormation
    shape with its AccessPointId) widen nothing."""
    found = [f"access point {point.get('AccessPointId', '?')} {'; '.join(problems)}"
             for point in facts["AccessPoints"] if (problems := access_point_problems(point))]
    if found:
        return Result.fail("; ".join(found))
    count = len(facts["AccessPoints"])
    return Result.ok(f"{count} access point(s) beside the declared ones, none widens" if count else
                     "no access point beside the declared ones")


plain_rule(ACCESS_POINT_ID, {ACCESS_POINT}, check_access_point)
live_rule(ACCESS_POINT_ID, ACCESS_POINTS_CHECK, FILE_SYSTEM, ("AccessPoints",), undeclared_access_points)


# --- STK-PERIM-002: identities outside the stack --------------------------------------------------------------

@dataclass(frozen=True)
class Target:
    subject: str  # the logical id of the stack resource, or the secret's ARN (the secrets are not the stack's)
    shown: str
    resource_type: str
    actions: tuple[str, ...]
    resources: tuple[str, ...]  # ARNs (patterns where a part is not known) the actions are judged on
    policy: Any = None  # the resource's own policy (key policy, bucket, queue or file-system policy)
    delegated_only: bool = False  # KMS: identity policies count only where the key policy delegates to the account
    # Every AWS principal the policy names (rendered), and whether an unconditional Deny names everyone: most
    # identities are named by no statement, and need no look at the policy for each action.
    named: frozenset[str] = frozenset()
    denies_everyone: bool = False


def _rendered(value: Any, account: str) -> str | None:
    shown = render(value)
    return None if shown is None else shown.replace(TOKEN, account)


_SECRET_ARN = re.compile(r"arn:aws[a-z-]*:secretsmanager:(?P<region>[^:]+):(?P<account>[^:]+):secret:(?P<name>[^:}]+)")


def _strings(value: Any) -> Iterator[str]:
    if isinstance(value, Mapping):
        if len(value) == 1 and ("Fn::Join" in value or "Fn::Sub" in value):
            shown = render(value)
            if shown is not None:
                yield shown
                return
        for item in value.values():
            yield from _strings(item)
    elif isinstance(value, list):
        for item in value:
            yield from _strings(item)
    elif isinstance(value, str):
        yield value


def _may_name_a_secret(properties: Any) -> bool:
    """False only where no text `_strings` yields from `properties` can hold a secret's ARN: their JSON holds
    neither "secretsmanager" nor "Fn::Join". Every such ARN holds "secretsmanager" whole, and only an Fn::Join can
    make it of pieces: a plain string is in the JSON as it is, and an Fn::Sub's text only gains TOKEN (which holds
    none of its letters) in place of its ${...}. A value JSON cannot write is walked, as any other."""
    try:
        text = json.dumps(properties)
    except (TypeError, ValueError, RecursionError):
        return True
    return "secretsmanager" in text or "Fn::Join" in text


def secrets_read(resources: Mapping[str, Any], account: str, region: str) -> list[str]:
    """The partial ARNs of the secrets the declaration reads (ECS secrets, dynamic references), this account's.
    (Only the resources whose properties may name one are walked string by string: most cannot.)"""
    found = set()
    for resource in resources.values():
        properties = as_dict(resource).get("Properties")
        if not _may_name_a_secret(properties):
            continue
        for text in _strings(properties):
            for match in _SECRET_ARN.finditer(text):
                owner = match.group("account")
                if owner in (TOKEN, account):
                    found.add(f"arn:aws:secretsmanager:{match.group('region').replace(TOKEN, region)}:{account}:"
                              f"secret:{match.group('name')}")
    return sorted(found)


def _resource_policy(resources: Mapping[str, Any], lid: str, physical: str | None) -> Any:
    """The policy a bucket or queue policy resource of the stack attaches to `lid`."""
    for resource in resources.values():
        kind = POLICY_OF.get(as_dict(resource).get("Type", ""))
        if kind is None:
            continue
        props = as_dict(resource.get("Properties"))
        named = [props.get(kind[0])] if kind[0] == "Bucket" else as_list(props.get(kind[0]))
        if any(ref_target(n) == lid or (physical is not None and n == physical) for n in named):
            return props.get(kind[1])
    return None


def _indexed(target: Target, account: str) -> Target:
    named = frozenset(_rendered(value, account) or "" for s in statements(target.policy)
                      for kind, value in principals(s) if kind == "AWS")
    everyone = any(is_deny(s) and not s.get("Condition") and "NotPrincipal" not in s and
                   any(kind == "*" or render(value) == "*" for kind, value in principals(s))
                   for s in statements(target.policy))
    return replace(target, named=named, denies_everyone=everyone)


def targets(resources: Mapping[str, Any], facts: Account) -> list[Target]:
    """The stack's data paths, named as the account's IAM names them."""
    return [_indexed(t, facts.account) for t in _targets(resources, facts)]


def _targets(resources: Mapping[str, Any], facts: Account) -> list[Target]:
    found = []
    for lid, resource in resources.items():
        rtype, props = as_dict(resource).get("Type"), as_dict(as_dict(resource).get("Properties"))
        attributes = as_dict(facts.attributes.get(lid))
        arn = attributes.get("Arn")
        shown = f"{rtype} {lid}"
        if rtype == KEY and arn:
            found.append(Target(lid, shown, rtype, DATA_ACTIONS[KEY], (arn,), props.get("KeyPolicy"),
                                delegated_only=True))
        elif rtype == BUCKET and arn:
            found.append(Target(lid, shown, rtype, DATA_ACTIONS[BUCKET], (f"{arn}/*",),
                                _resource_policy(resources, lid, props.get("BucketName"))))
        elif rtype == QUEUE and arn:
            found.append(Target(lid, shown, rtype, DATA_ACTIONS[QUEUE], (arn,),
                                _resource_policy(resources, lid, None)))
        elif rtype == FILE_SYSTEM and arn:
            found.append(Target(lid, shown, rtype, DATA_ACTIONS[FILE_SYSTEM], (arn,), props.get("FileSystemPolicy")))
        elif rtype == DATABASE and is_true(props.get("EnableIAMDatabaseAuthentication")):
            dbi = attributes.get("DbiResourceId") or "*"
            found.append(Target(lid, shown, rtype, DATA_ACTIONS[DATABASE],
                                (f"arn:aws:rds-db:{facts.region}:{facts.account}:dbuser:{dbi}/*",)))
    for secret in secrets_read(resources, facts.account, facts.region):
        found.append(Target(secret, f"secret {secret.rsplit(':', 1)[-1]}", SECRET, DATA_ACTIONS["secret"],
                            (f"{secret}-??????",)))
    return found


def _strings_of(statement: Mapping[str, Any], key: str) -> list[str]:
    return [v for v in values(statement.get(key, [])) if isinstance(v, str)]


def _acts(statement: Mapping[str, Any], action: str) -> bool:
    if "NotAction" in statement:
        return not any(matches(p, action, fold=True) for p in _strings_of(statement, "NotAction"))
    return any(matches(p, action, fold=True) for p in _strings_of(statement, "Action"))


def _reaches(statement: Mapping[str, Any], resource: str) -> bool:
    """Some ARN the (pattern) `resource` stands for is within the statement's resources."""
    if "NotResource" in statement:
        return not any(covers(p, resource) for p in _strings_of(statement, "NotResource"))
    return any(meet(p, resource) for p in _strings_of(statement, "Resource"))


def _denied(statement: Mapping[str, Any], action: str, resource: str) -> bool:
    """A Deny that clearly applies: no condition, the action matched, every ARN `resource` stands for covered."""
    if not is_deny(statement) or statement.get("Condition"):
        return False
    if not _acts(statement, action):
        return False
    if "NotResource" in statement:
        return not any(meet(p, resource) for p in _strings_of(statement, "NotResource"))
    return any(covers(p, resource) for p in _strings_of(statement, "Resource"))


Granted = list[tuple[str, Mapping[str, Any]]]  # (where: the policy and statement, statement)


def _allowed(granted: Granted, action: str, resource: str) -> str | None:
    """Where an Allow of `granted` gives the action on the resource with no Deny clearly against it, or None."""
    if any(_denied(s, action, resource) for _where, s in granted):
        return None
    for where, statement in granted:
        if not is_deny(statement) and _acts(statement, action) and _reaches(statement, resource):
            return where + (" (its conditions not evaluated)" if statement.get("Condition") else "")
    return None


def _document(value: Any) -> Any:
    return value


# What an identity policy that cannot be read as IAM reads it stands for: it cannot be shown to grant nothing.
EVERYTHING = {"Effect": "Allow", "Action": "*", "Resource": "*"}


def _granted(name: str, document: Any) -> Granted:
    """(where, statement) of each statement of an identity policy; one that allows everything for a policy that
    cannot be read as IAM reads it (`unreadable`)."""
    why = unreadable(document)
    if why is not None:
        return [(f"{name} (unreadable: {why}; taken to allow everything)", EVERYTHING)]
    return [(f"{name} {where}", s) for where, s in numbered(document)]


@dataclass
class Identity:
    arn: str
    name: str
    kind: str  # "role" or "user"
    granted: Granted
    boundary: Granted | None  # None: no boundary (or its document is not known: not applied, conservatively)
    outside: str = ""  # who outside the account can use it, and how


def _identity(kind: str, item: Mapping[str, Any], facts: Account, groups: Mapping[str, Mapping[str, Any]]
              ) -> Identity:
    inline = "RolePolicyList" if kind == "role" else "UserPolicyList"
    granted: Granted = []
    for policy in as_list(item.get(inline)):
        granted += _granted(f"inline policy '{as_dict(policy).get('PolicyName')}'",
                            as_dict(policy).get("PolicyDocument"))
    attached = [as_dict(p).get("PolicyArn") for p in as_list(item.get("AttachedManagedPolicies"))]
    if kind == "user":
        for group_name in as_list(item.get("GroupList")):
            group = as_dict(groups.get(group_name))
            for policy in as_list(group.get("GroupPolicyList")):
                granted += _granted(f"group {group_name} inline policy '{as_dict(policy).get('PolicyName')}'",
                                    as_dict(policy).get("PolicyDocument"))
            attached += [as_dict(p).get("PolicyArn") for p in as_list(group.get("AttachedManagedPolicies"))]
    for arn in attached:
        if isinstance(arn, str):
            granted += _granted(f"managed policy {arn.rsplit('/', 1)[-1]}", facts.policies.get(arn))
    boundary_arn = as_dict(item.get("PermissionsBoundary")).get("PermissionsBoundaryArn")
    boundary_document = facts.policies.get(boundary_arn) if isinstance(boundary_arn, str) else None
    # A boundary limits only where its document is known and readable (an unreadable one limits nothing).
    boundary = _granted("its permissions boundary", boundary_document) \
        if boundary_document is not None and unreadable(boundary_document) is None else None
    name = str(item.get("RoleName" if kind == "role" else "UserName"))
    return Identity(str(item.get("Arn")), name, kind, granted, boundary)


def _may(identity: Identity, action: str, resource: str) -> str | None:
    where = _allowed(identity.granted, action, resource)
    if where is None or (identity.boundary is not None and _allowed(identity.boundary, action, resource) is None):
        return None
    return where


def _root(value: Any, account: str) -> bool:
    shown = _rendered(value, account) or ""
    return shown in (account, f"arn:aws:iam::{account}:root")


def _names(value: Any, arn: str, account: str) -> bool:
    return (_rendered(value, account) or "") == arn


def _assume(statement: Mapping[str, Any]) -> bool:
    return any(_acts(statement, action) for action in ASSUME)


def trusted_from_outside(trust: Any, account: str) -> str:
    """Who outside the account a trust policy admits, with the statement (empty: nobody); whoever it admits, when it
    cannot be read as IAM reads it (`unreadable`)."""
    why = unreadable(trust)
    if why is not None:
        return f"whoever its trust policy admits (unreadable: {why})"
    found = [f"{who} ({where})" for where, statement in numbered(trust) if _assume(statement)
             for who in outside(statement, account)]
    return "; ".join(found)


def _through_resource(target: Target, identity: Identity, action: str, resource: str, account: str) -> str | None:
    """Where the resource's own policy names the identity (its ARN) for the action."""
    if identity.arn not in target.named:
        return None
    for where, statement in numbered(target.policy):
        if is_deny(statement) or not _acts(statement, action):
            continue
        if "Resource" in statement and not any(meet(p, resource) for p in _strings_of(statement, "Resource")):
            continue
        if any(kind == "AWS" and _names(value, identity.arn, account) for kind, value in principals(statement)):
            return f"the resource policy's {where}"
    return None


def _delegates(target: Target, action: str, account: str) -> bool:
    """The key policy lets the account's IAM grant the action (an Allow to the account's root), or cannot be read
    as IAM reads it (then it cannot be shown not to)."""
    return unreadable(target.policy) is not None or any(
        not is_deny(s) and _acts(s, action) and not s.get("Condition") and
        any(kind == "AWS" and _root(value, account) for kind, value in principals(s))
        for s in statements(target.policy))


def _resource_denies(target: Target, identity: Identity, action: str, resource: str, account: str) -> bool:
    if not target.denies_everyone and identity.arn not in target.named:
        return False
    for s in statements(target.policy):
        if is_deny(s) and not s.get("Condition") and "NotPrincipal" not in s and \
                _acts(s, action) and any(kind == "*" or (kind == "AWS" and (render(value) == "*" or
                                                                       _names(value, identity.arn, account)))
                                         for kind, value in principals(s)) and \
                ("Resource" not in s or any(covers(p, resource) for p in _strings_of(s, "Resource"))):
            return True
    return False


def reach(identity: Identity, target: Target, account: str) -> list[str]:
    """'<action> (<how>)' for each data action of the target the identity may take."""
    found = []
    for action in target.actions:
        for resource in target.resources:
            if _resource_denies(target, identity, action, resource, account):
                continue
            how = _through_resource(target, identity, action, resource, account)
            if how is None and (not target.delegated_only or _delegates(target, action, account)):
                where = _may(identity, action, resource)
                how = where and (where + (" with the key policy's grant to the account" if target.delegated_only
                                          else ""))
            if how:
                found.append(f"{action} ({how})")
                break
    return found


def _stack_roles(resources: Mapping[str, Any], facts: Account) -> set[str]:
    names = set()
    for lid, resource in resources.items():
        if as_dict(resource).get("Type") == "AWS::IAM::Role":
            name = as_dict(resource.get("Properties")).get("RoleName")
            if isinstance(name, str):
                names.add(name)
            arn = as_dict(facts.attributes.get(lid)).get("Arn")
            if isinstance(arn, str):
                names.add(arn.rsplit("/", 1)[-1])
    return names


def usable_from_outside(resources: Mapping[str, Any], facts: Account) -> list[Identity]:
    """Every identity outside the stack that someone outside the account can use: users, roles whose trust admits
    an outside principal, and each role one of those may assume in turn (a same-account trust: to the account,
    with sts:AssumeRole in the assuming identity's policies; or to its ARN)."""
    own = _stack_roles(resources, facts)
    groups = {str(g.get("GroupName")): g for g in facts.groups if isinstance(g, Mapping)}
    reached: dict[str, Identity] = {}
    queue: list[Identity] = []
    for user in facts.users:
        identity = _identity("user", user, facts, groups)
        identity.outside = "an IAM user (long-lived credentials, usable from anywhere)"
        reached[identity.arn] = identity
        queue.append(identity)
    others = [r for r in facts.roles if isinstance(r, Mapping) and r.get("RoleName") not in own]
    for role in others:
        trusted = trusted_from_outside(role.get("AssumeRolePolicyDocument"), facts.account)
        if trusted:
            identity = _identity("role", role, facts, groups)
            identity.outside = f"trusted by {trusted}"
            reached[identity.arn] = identity
            queue.append(identity)
    trusts = _TrustIndex([r for r in others if r.get("Arn") not in reached], facts.account)
    while queue and trusts.roles:
        assuming = queue.pop(0)
        for role, how in trusts.assumable_by(assuming):
            identity = _identity("role", role, facts, groups)
            identity.outside = f"assumable by {assuming.kind} {assuming.name} ({how}), which is {assuming.outside}"
            reached[identity.arn] = identity
            queue.append(identity)
    return list(reached.values())


class _TrustIndex:
    """The roles not yet reached, by what their trust admits of this account: an ARN it names, or the account
    (then the assuming identity's own policies must allow sts:AssumeRole on the role). Indexed once, so following
    the chains costs what the reached identities' policies allow, not every role for every identity."""

    def __init__(self, roles: list[Mapping[str, Any]], account: str) -> None:
        self.roles = {str(r.get("Arn")): r for r in roles}
        self.named: dict[str, list[tuple[str, str]]] = {}  # principal ARN -> (role ARN, statement)
        self.to_account: list[tuple[str, str]] = []  # (role ARN, statement) of trusts that admit the account
        for arn, role in self.roles.items():
            for where, statement in numbered(role.get("AssumeRolePolicyDocument")):
                if is_deny(statement) or "NotPrincipal" in statement or \
                        not _acts(statement, "sts:AssumeRole"):
                    continue
                for kind, value in principals(statement):
                    if kind == "AWS" and _root(value, account):
                        self.to_account.append((arn, where))
                    elif kind == "AWS":
                        self.named.setdefault(_rendered(value, account) or "", []).append((arn, where))

    def assumable_by(self, assuming: Identity) -> list[tuple[Mapping[str, Any], str]]:
        """The roles `assuming` may assume (each taken out of the index), with how."""
        found: dict[str, str] = {}
        for arn, where in self.named.get(assuming.arn, []):
            found.setdefault(arn, f"its trust {where} names it")
        if any(not is_deny(s) and _acts(s, "sts:AssumeRole") for _w, s in assuming.granted):
            for arn, where in self.to_account:
                if arn not in found and arn in self.roles:
                    granted = _may(assuming, "sts:AssumeRole", arn)
                    if granted:
                        found[arn] = f"the trust's {where} admits the account, and {granted} allows sts:AssumeRole"
        return [(self.roles.pop(arn), how) for arn, how in found.items() if arn in self.roles]


def identity_paths(resources: Mapping[str, Any], facts: Account, paths: list[Target] | None = None) -> list[Path]:
    """A path in for every identity usable from outside that reaches one of the stack's data paths (`paths`:
    `targets`, when already computed): each is outside; STK-PERIM-002's finding names the data store it reaches,
    and the path the identity (`subject`: its ARN)."""
    paths = targets(resources, facts) if paths is None else paths
    found = []
    for identity in usable_from_outside(resources, facts):
        for target in paths:
            actions = reach(identity, target, facts.account)
            if actions:
                found.append(Path(IN, IDENTITY_ID, f"{identity.kind} {identity.name}", identity.outside, True,
                                  kind="identity", actions=tuple(actions), resource=target.subject,
                                  resource_type=target.resource_type, subject=identity.arn))
    return found


def check_identities(resources: Mapping[str, Any], facts: Account) -> Iterable[tuple[str, Result]]:
    """For each data path (the subject: its logical id, or a secret's ARN): FAIL naming every identity usable
    from outside that reaches it (kind, name and ARN, how it is usable from outside, and the actions with what
    allows each), else PASS. The finding is the data store's, as IAM Access Analyzer names a resource and the
    principals reaching it, so that the finding a way in opened is the one its closing (or the identity's
    deletion) passes again."""
    paths = targets(resources, facts)
    reaching: dict[str, list[Path]] = {}
    for path in identity_paths(resources, facts, paths):
        reaching.setdefault(path.resource, []).append(path)
    for target in paths:
        found = reaching.get(target.subject)
        if found:
            yield target.subject, Result.fail(f"{target.shown} is reached from outside by " + "; ".join(
                f"{p.other} ({p.subject}), {p.via}: {', '.join(p.actions)}" for p in found))
        else:
            yield target.subject, Result.ok(
                f"no identity outside the stack that is usable from outside the account reaches it "
                f"({len(facts.roles)} roles, {len(facts.users)} users read)")


account_rule(IDENTITY_ID, (KEY, BUCKET, QUEUE, FILE_SYSTEM, DATABASE, "AWS::IAM::Role", "AWS::S3::BucketPolicy",
                           "AWS::SQS::QueuePolicy"), check_identities,
             judges=(KEY, BUCKET, QUEUE, FILE_SYSTEM, DATABASE))  # the data stores: the roles and policies are ways in

__all__ = ["ACCESS_POINT_ID", "IDENTITY_ID", "Account", "access_point_problems", "check_identities",
           "identity_paths", "principal_account", "undeclared_access_points", "usable_from_outside"]
