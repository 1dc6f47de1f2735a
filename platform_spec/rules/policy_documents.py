"""Reading IAM policy documents (identity, trust and resource policies) in CloudFormation shape: statements,
their principals and actions, without resolving anything; and the small evaluator the perimeter rules share
(wildcards as IAM matches them, conditions that pin a caller to the account). Shared by the rules that judge who
is granted what."""

from __future__ import annotations

import functools
import re
from collections.abc import Mapping
from typing import Any, NamedTuple

from platform_spec.rules.intrinsics import TOKEN, ref_target, render

ACCOUNT_IN_ARN = re.compile(r"^arn:aws[a-z-]*:(?:iam|sts)::(?P<account>[^:]+):")
# Any ARN's account field (the fifth): empty for S3 buckets and IAM-free services.
ANY_ARN_ACCOUNT = re.compile(r"^arn:aws[a-z-]*:[^:]*:[^:]*:(?P<account>[^:]*):")

# Condition keys that pin an Allow to the owner's account, organization or network, and so keep a "*" (or any)
# principal inside (as IAM Access Analyzer and AWS's data-perimeter guidance read them). Only a positive operator
# counts (StringEquals, ArnLike ... and their ForAnyValue forms): a Not... operator, ...IfExists (true when the key
# is absent, as aws:SourceVpc is for a call from the internet) or ForAllValues (true for an empty key) pins nobody.
ACCOUNT_KEYS = frozenset({"aws:principalaccount", "aws:sourceaccount", "aws:sourceowner", "kms:calleraccount"})
ORGANIZATION_KEYS = frozenset({"aws:principalorgid", "aws:principalorgpaths", "aws:sourceorgid",
                               "aws:sourceorgpaths"})
NETWORK_KEYS = frozenset({"aws:sourcevpc", "aws:sourcevpce"})
ARN_KEYS = frozenset({"aws:principalarn", "aws:sourcearn"})
# EFS serves a client only through a mount target, which lives in the file system's VPC: a network pin, as the
# EFS console's "prevent anonymous access" policy and Prowler's efs_not_publicly_accessible read it.
MOUNT_TARGET_KEY = "elasticfilesystem:accessedviamounttarget"
def statements(document: Any) -> list[Mapping[str, Any]]:
    """The document's statements (one or a list); anything else gives none."""
    if not isinstance(document, Mapping):
        return []
    found = document.get("Statement", [])
    return [s for s in (found if isinstance(found, list) else [found]) if isinstance(s, Mapping)]


def allows(document: Any) -> list[Mapping[str, Any]]:
    return [s for s in statements(document) if s.get("Effect") == "Allow"]


def values(value: Any) -> list[Any]:
    return value if isinstance(value, list) else [value]


def actions(statement: Mapping[str, Any]) -> list[str]:
    return [a for a in values(statement.get("Action", [])) if isinstance(a, str)]


def principals(statement: Mapping[str, Any]) -> list[tuple[str, Any]]:
    """(kind, value) for each principal: kind "*" for Principal "*", else AWS / Service / Federated /
    CanonicalUser with each value as written (an intrinsic stays an intrinsic)."""
    principal = statement.get("Principal")
    if principal == "*":
        return [("*", "*")]
    if not isinstance(principal, Mapping):
        return []
    return [(kind, value) for kind, given in principal.items() for value in values(given)]


def is_everyone(kind: str, value: Any) -> bool:
    return kind == "*" or (kind == "AWS" and value == "*")


def principal_account(value: Any) -> str | None:
    """The account an AWS principal names: a 12-digit id, an ARN's account, or TOKEN when it is the template's own
    AWS::AccountId (or any other intrinsic); None when it names no account."""
    if isinstance(value, Mapping) and value.get("Ref") == "AWS::AccountId":
        return TOKEN
    shown = render(value)
    if shown is None:
        return None
    if re.fullmatch(r"\d{12}", shown):
        return shown
    match = ACCOUNT_IN_ARN.match(shown)
    if match:
        return TOKEN if TOKEN in match.group("account") else match.group("account")
    return TOKEN if TOKEN in shown else None


def label(statement: Mapping[str, Any], index: int) -> str:
    """How a finding names a statement: its Sid, else its position (1-based) in the document."""
    sid = statement.get("Sid")
    return f'statement "{sid}"' if isinstance(sid, str) and sid else f"statement #{index}"


def numbered(document: Any) -> list[tuple[str, Mapping[str, Any]]]:
    """(label, statement) for each statement of the document, in order."""
    return [(label(s, n), s) for n, s in enumerate(statements(document), 1)]


def _mine(value: Any, account: str | None) -> bool:
    """A condition value names this account: the template's own AWS::AccountId (or another intrinsic), or the
    account itself; any 12-digit value where the account is not known (an account-agnostic template)."""
    shown = render(value)
    if shown is None or "*" in shown or "?" in shown:
        return False
    return TOKEN in shown or shown == account or (account is None and bool(re.fullmatch(r"\d{12}", shown)))


def _arn_mine(value: Any, account: str | None) -> bool:
    """An ARN condition value names a resource or principal of this account (an intrinsic stands for one of the
    template's own: a Ref or GetAtt has no account to show)."""
    shown = render(value)
    if shown is None:
        return False
    if shown == TOKEN or (TOKEN in shown and not shown.startswith("arn:")):
        return True
    match = ANY_ARN_ACCOUNT.match(shown)
    return match is not None and _mine(match.group("account"), account)


def _positive(operator: str) -> str | None:
    """The operator's base when it can pin (StringEquals, ArnLike, Bool ... or ForAnyValue: of one), else None."""
    base = operator.removeprefix("ForAnyValue:")
    if base.startswith(("ForAllValues:", "Not", "StringNot", "ArnNot")) or base.endswith("IfExists") or \
            "Not" in base:
        return None
    return base


def pins(statement: Mapping[str, Any], account: str | None) -> list[str]:
    """The conditions of a statement that pin its caller to this account, its organization or its network, named
    (empty: none does)."""
    condition = statement.get("Condition")
    if not isinstance(condition, Mapping):
        return []
    found = []
    for operator, pairs in condition.items():
        base = _positive(str(operator))
        if base is None or not isinstance(pairs, Mapping):
            continue
        for key, given in pairs.items():
            name, given = str(key).lower(), values(given)
            if not given:
                continue
            if name in ACCOUNT_KEYS and all(_mine(v, account) for v in given):
                found.append(str(key))
            elif name in ORGANIZATION_KEYS | NETWORK_KEYS and all(
                    isinstance(render(v), str) and render(v) not in ("*", "") for v in given):
                found.append(str(key))
            elif name in ARN_KEYS and all(_arn_mine(v, account) for v in given):
                found.append(str(key))
            elif name == MOUNT_TARGET_KEY and base == "Bool" and all(str(v).lower() == "true" for v in given):
                found.append(str(key))
    return found


def _foreign_sources(statement: Mapping[str, Any], account: str | None) -> list[str]:
    """Accounts other than this one that a source condition (aws:SourceAccount, aws:SourceArn ...) names: a
    service principal acting for another account's resource (the confused deputy)."""
    if account is None or not isinstance(statement.get("Condition"), Mapping):
        return []
    found = []
    for pairs in statement["Condition"].values():
        if not isinstance(pairs, Mapping):
            continue
        for key, given in pairs.items():
            name = str(key).lower()
            for value in values(given):
                shown = render(value) or ""
                if name in ("aws:sourceaccount", "aws:sourceowner") and re.fullmatch(r"\d{12}", shown) \
                        and shown != account:
                    found.append(shown)
                elif name == "aws:sourcearn":
                    match = ANY_ARN_ACCOUNT.match(shown)
                    if match and re.fullmatch(r"\d{12}", match.group("account")) and match.group("account") != account:
                        found.append(match.group("account"))
    return sorted(set(found))


def describe(kind: str, value: Any) -> str:
    """A principal as a finding names it."""
    shown = render(value) or str(value)
    if kind == "*" or (kind == "AWS" and shown == "*"):
        return "everyone (Principal \"*\")"
    if kind == "AWS":
        owner = principal_account(value)
        if owner and owner != TOKEN:
            return f"account {owner}" + (f" ({shown})" if shown != owner else "")
        return shown
    return {"Federated": "federated identities of", "CanonicalUser": "S3 canonical user",
            "Service": "service"}.get(kind, kind) + f" {shown}"


class Admitted(NamedTuple):
    who: str  # as a finding names it
    kind: str  # everyone, account, stack (one of the stack's resources), service, federated, canonicaluser
    outside: bool  # outside the account
    pinned: tuple[str, ...] = ()  # the conditions that keep it inside (`pins`), where they do


def _named(kind: str, value: Any, account: str | None) -> tuple[str, str]:
    """(name, kind) of a principal: one of the stack's own resources (a Ref or Fn::GetAtt), this account (its
    IAM, where the principal is the account itself), or as `describe` names it."""
    target = ref_target(value)
    if target is not None:
        return f"the stack's {target}", "stack"
    if is_everyone(kind, value):
        return describe(kind, value), "everyone"
    shown = render(value) or str(value)
    if kind == "AWS" and principal_account(value) in (TOKEN, account):
        root = shown in (TOKEN, account, f"arn:aws:iam::{TOKEN}:root", f"arn:aws:iam::{account}:root")
        return ("this account (its IAM decides)" if root else shown.replace(TOKEN, account or "this account"),
                "account")
    return describe(kind, value), {"AWS": "account", "Service": "service"}.get(kind, kind.lower())


def admits(statement: Mapping[str, Any], account: str | None) -> list[Admitted]:
    """Every principal an Allow statement admits, and whether it is outside the account. Everyone ("*") or a
    NotPrincipal list (everyone but those) is outside unless a condition pins the caller (`pins`); an AWS
    principal of another account, a federated identity (its provider decides who it is) and an S3 canonical user
    (whose account cannot be told) are outside unless pinned; an AWS service is inside unless a source condition
    names another account. Where the account is not known (an account-agnostic template), only everyone is
    judged."""
    if statement.get("Effect") != "Allow":
        return []
    keys = tuple(pins(statement, account))
    if "NotPrincipal" in statement:
        excluded = ", ".join(sorted(render(v) or str(v) for _k, v in principals(
            {"Principal": statement["NotPrincipal"]})))
        return [Admitted(f"everyone but {excluded or 'nobody'} (NotPrincipal)", "everyone", not keys, keys)]
    found = []
    for kind, value in principals(statement):
        if kind == "Service":
            others = _foreign_sources(statement, account)
            found += [Admitted(f"{describe(kind, value)} for account {other}", "service", True) for other in others]
            if not others:
                found.append(Admitted(describe(kind, value), "service", False, keys))
            continue
        name, what = _named(kind, value, account)
        if keys:
            found.append(Admitted(name, what, False, keys))
        elif is_everyone(kind, value):
            found.append(Admitted(describe(kind, value), "everyone", True))
        elif kind == "AWS":
            owner = principal_account(value)
            if account is not None and owner is not None and owner != TOKEN and owner != account:
                found.append(Admitted(describe(kind, value), "account", True))
            else:
                found.append(Admitted(name, what, False))
        else:  # Federated, CanonicalUser, or a kind IAM does not document
            found.append(Admitted(describe(kind, value), what, True))
    return found


def outside(statement: Mapping[str, Any], account: str | None) -> list[str]:
    """Whom an Allow statement admits from outside the account, described (empty: nobody): the outside ones of
    `admits`."""
    return [admitted.who for admitted in admits(statement, account) if admitted.outside]


# --- wildcards as IAM matches them (* any run of characters, ? one; no character classes) ---------------------

@functools.lru_cache(maxsize=65536)
def _regex(pattern: str, fold: bool) -> re.Pattern[str]:
    body = "".join(".*" if c == "*" else "." if c == "?" else re.escape(c) for c in pattern)
    return re.compile(body, re.DOTALL | (re.IGNORECASE if fold else 0))


def matches(pattern: str, value: str, *, fold: bool = False) -> bool:
    """`value` (literal) matches the IAM `pattern`; `fold`: case-insensitively (actions)."""
    return _regex(pattern, fold).fullmatch(value) is not None


_STAR, _ONE = "\x00", "\x01"  # a pattern's own wildcards, when it is the value a pattern is matched against


def covers(pattern: str, value: str) -> bool:
    """Every string the pattern `value` stands for matches `pattern` (a deny that clearly applies)."""
    literal = value.replace("*", _STAR).replace("?", _ONE)
    body = "".join(".*" if c == "*" else f"[^{_STAR}]" if c == "?" else re.escape(c) for c in pattern)
    return re.fullmatch(body, literal, re.DOTALL) is not None


@functools.lru_cache(maxsize=262144)
def meet(one: str, other: str) -> bool:
    """Some string matches both patterns (a policy's Resource and an ARN that may hold wildcards itself)."""
    if not any(c in other for c in "*?"):
        return matches(one, other)
    if not any(c in one for c in "*?"):
        return matches(other, one)
    a, b = one, other

    @functools.lru_cache(maxsize=None)
    def step(i: int, j: int) -> bool:
        if i == len(a) and j == len(b):
            return True
        if i < len(a) and a[i] == "*":
            return step(i + 1, j) or (j < len(b) and step(i, j + 1))
        if j < len(b) and b[j] == "*":
            return step(i, j + 1) or (i < len(a) and step(i + 1, j))
        if i < len(a) and j < len(b) and (a[i] == "?" or b[j] == "?" or a[i] == b[j]):
            return step(i + 1, j + 1)
        return False

    return step(0, 0)
