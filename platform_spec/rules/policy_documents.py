"""Reading IAM policy documents (identity, trust and resource policies) in CloudFormation shape: statements,
their principals and actions, without resolving anything; and the small evaluator the perimeter rules share
(wildcards as IAM matches them, conditions that pin a caller to the account). Shared by the rules that judge who
is granted what."""

from __future__ import annotations

import functools
import re
from collections.abc import Mapping
from typing import Any, NamedTuple

from platform_spec.intrinsics import TOKEN, ref_target, render

# The partition the stack lives in (ap-northeast-1 is in "aws"). An account id is unique within its partition
# only: the same twelve digits in aws-cn or aws-us-gov are another account. An intrinsic partition (AWS::Partition)
# is the template's own.
PARTITION = "aws"
ACCOUNT_IN_ARN = re.compile(r"^arn:(?P<partition>[^:]*):(?:iam|sts)::(?P<account>[^:]+):")
# Any ARN's account field (the fifth): empty for S3 buckets and IAM-free services.
ANY_ARN_ACCOUNT = re.compile(r"^arn:(?P<partition>[^:]*):[^:]*:[^:]*:(?P<account>[^:]*):")

# Condition keys that pin an Allow to the owner's account, organization or network, and so keep a "*" (or any)
# principal inside (as IAM Access Analyzer and AWS's data-perimeter guidance read them).
ACCOUNT_KEYS = frozenset({"aws:principalaccount", "aws:sourceaccount", "aws:sourceowner", "kms:calleraccount"})
ORGANIZATION_KEYS = frozenset({"aws:principalorgid", "aws:principalorgpaths", "aws:sourceorgid",
                               "aws:sourceorgpaths"})
ORGANIZATION_PATH_KEYS = frozenset({"aws:principalorgpaths", "aws:sourceorgpaths"})
NETWORK_KEYS = frozenset({"aws:sourcevpc", "aws:sourcevpce"})
ARN_KEYS = frozenset({"aws:principalarn", "aws:sourcearn"})
# EFS serves a client only through a mount target, which lives in the file system's VPC: a network pin, as the
# EFS console's "prevent anonymous access" policy and Prowler's efs_not_publicly_accessible read it.
MOUNT_TARGET_KEY = "elasticfilesystem:accessedviamounttarget"
# The operators that can pin, spelled exactly as IAM spells them: IAM's operators are case-sensitive and AWS
# refuses a policy with one it does not know, so "stringequals" is no operator at all and pins nothing (a reader
# that folded case would take "stringnotequals" for a pin). Each pins also behind ForAnyValue: (false when the key
# is absent, and true only where a value of the key matches, which every pattern keeps inside). A Not... operator,
# ...IfExists (true when the key is absent, as aws:SourceVpc is for a call from the internet) or ForAllValues:
# (true for an absent key) pins nobody. ArnEquals and ArnLike both take wildcards, each within its own field.
STRING_OPERATORS = frozenset({"StringEquals", "StringEqualsIgnoreCase", "StringLike"})
ARN_OPERATORS = frozenset({"ArnEquals", "ArnLike"})
BOOL_OPERATOR = "Bool"
ANY_VALUE = "ForAnyValue:"
WILDCARDS = ("*", "?")

# The elements IAM reads, spelled exactly: element names are case-sensitive, and AWS refuses a policy holding any
# other. A document that holds one ("principal", "condition", "statement") has no meaning IAM gives it; guessing one
# could go either way (a "condition" taken for a pin that AWS never evaluates), so it is unreadable: whatever it
# admits, nothing shows it admits nobody.
POLICY_ELEMENTS = frozenset({"Version", "Id", "Statement"})
STATEMENT_ELEMENTS = frozenset({"Sid", "Effect", "Principal", "NotPrincipal", "Action", "NotAction", "Resource",
                                "NotResource", "Condition"})


def unreadable(document: Any) -> str | None:
    """Why the document cannot be read as IAM reads it (an element IAM does not know, case included; a statement
    that is not an object; a Principal that is neither "*" nor a map of principals), or None: it can, or there is
    none (None)."""
    if document is None:
        return None
    if not isinstance(document, Mapping):
        return "it is not a JSON object"
    unknown = sorted(str(key) for key in document if key not in POLICY_ELEMENTS)
    if unknown:
        return (f"it holds {unknown[0][:40]!r}, which is not an element of an IAM policy "
                "(IAM's names are case-sensitive)")
    found = document.get("Statement", [])
    for n, statement in enumerate(found if isinstance(found, list) else [found], 1):
        if not isinstance(statement, Mapping):
            return f"its statement #{n} is not a JSON object"
        unknown = sorted(str(key) for key in statement if key not in STATEMENT_ELEMENTS)
        if unknown:
            return (f"its {label(statement, n)} holds {unknown[0][:40]!r}, which is not an element of an IAM statement "
                    "(IAM's names are case-sensitive)")
        for element in ("Principal", "NotPrincipal"):
            if element in statement and not _principal_shape(statement[element]):
                return f"its {label(statement, n)} has a {element} that is neither \"*\" nor a map of principals"
    return None


def _principal_shape(principal: Any) -> bool:
    """A Principal as IAM takes one: "*", or a map of kinds to a principal or a list of them (text, an account id
    as a number, or an intrinsic in a template)."""
    if principal == "*":
        return True
    return isinstance(principal, Mapping) and all(
        isinstance(value, (str, Mapping)) or _number(value) for given in principal.values() for value in values(given))


def _number(value: Any) -> bool:
    return isinstance(value, int) and not isinstance(value, bool)


def statements(document: Any) -> list[Mapping[str, Any]]:
    """The document's statements (one or a list); anything else gives none."""
    if not isinstance(document, Mapping):
        return []
    found = document.get("Statement", [])
    return [s for s in (found if isinstance(found, list) else [found]) if isinstance(s, Mapping)]


def is_deny(statement: Mapping[str, Any]) -> bool:
    """The statement is a Deny: its Effect exactly "Deny". Any other Effect ("allow", "DENY", none) is taken for an
    Allow: AWS refuses such a policy, and a statement a tool cannot show to be a Deny must neither subtract what
    others grant nor hide what it may grant itself."""
    return statement.get("Effect") == "Deny"


def allows(document: Any) -> list[Mapping[str, Any]]:
    """The statements that are not a Deny (`is_deny`)."""
    return [s for s in statements(document) if not is_deny(s)]


def values(value: Any) -> list[Any]:
    return value if isinstance(value, list) else [value]


def actions(statement: Mapping[str, Any]) -> list[str]:
    return [a for a in values(statement.get("Action", [])) if isinstance(a, str)]


def principals(statement: Mapping[str, Any]) -> list[tuple[str, Any]]:
    """(kind, value) for each principal: kind "*" for Principal "*", else AWS / Service / Federated /
    CanonicalUser with each value as written (an intrinsic stays an intrinsic; an account id written as a number
    is read as its digits, as the same id written as text)."""
    principal = statement.get("Principal")
    if principal == "*":
        return [("*", "*")]
    if not isinstance(principal, Mapping):
        return []
    return [(kind, str(value) if _number(value) else value) for kind, given in principal.items()
            for value in values(given)]


def is_everyone(kind: str, value: Any) -> bool:
    return kind == "*" or (kind == "AWS" and value == "*")


def _own_partition(partition: str) -> bool:
    return partition == PARTITION or TOKEN in partition


def _owner(partition: str, account: str) -> str:
    """An ARN's account as this module compares accounts: the account itself in the stack's partition (or an
    intrinsic one), else the account named with its partition (another account, whatever its digits)."""
    return account if _own_partition(partition) else f"{account} of partition {partition}"


def arn_account(arn: str) -> str | None:
    """The account of an IAM or STS ARN (`_owner`: with its partition where that is not the stack's), else None."""
    match = ACCOUNT_IN_ARN.match(arn)
    if match is None:
        return None
    return _owner(match.group("partition"), TOKEN if TOKEN in match.group("account") else match.group("account"))


def principal_account(value: Any) -> str | None:
    """The account an AWS principal names: an id written in digits (a number: its digits), an ARN's account
    (`arn_account`: another partition's is another account), or TOKEN when it is the template's own AWS::AccountId
    (or any other intrinsic); None when it names no account."""
    if isinstance(value, Mapping) and value.get("Ref") == "AWS::AccountId":
        return TOKEN
    shown = str(value) if _number(value) else render(value)
    if shown is None:
        return None
    if re.fullmatch(r"\d+", shown):  # twelve digits; any other run of them is no account of ours either
        return shown
    owner = arn_account(shown)
    if owner is not None:
        return owner
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
    account itself; any 12-digit value where the account is not known (an account-agnostic template). A wildcard
    names no one account."""
    shown = render(value)
    if shown is None or any(c in shown for c in WILDCARDS):
        return False
    return TOKEN in shown or shown == account or (account is None and bool(re.fullmatch(r"\d{12}", shown)))


def _arn_mine(value: Any, account: str | None, *, by_field: bool) -> bool:
    """An ARN condition value names a resource or principal of this account, in the stack's partition (an
    intrinsic stands for one of the template's own: a Ref or GetAtt has no account to show). `by_field`: the
    operator matches each of the ARN's fields on its own (ArnEquals, ArnLike), so a wildcard before the account
    stays in its field; a String operator's * runs across colons, so a wildcard before the account leaves the
    account open (an IAM path may hold ":123456789012:" itself)."""
    shown = render(value)
    if shown is None:
        return False
    if shown == TOKEN or (TOKEN in shown and not shown.startswith("arn:")):
        return True
    match = ANY_ARN_ACCOUNT.match(shown)
    if match is None or not _own_partition(match.group("partition")):
        return False
    if not by_field and any(c in shown[:match.end()] for c in WILDCARDS):
        return False
    return _mine(match.group("account"), account)


def _names_one(name: str, value: Any) -> bool:
    """A condition value of an organization or network key names one organization, VPC or endpoint: no wildcard
    in it (StringLike's "o-*" is every organization; a StringEquals value is read literally by IAM, but an id
    with a wildcard is never taken for a pin). An organization path names its organization by its first field:
    "o-abc123/r-ab12/ou-*" keeps the caller in o-abc123, whatever the wildcards after it."""
    shown = render(value)
    if shown is None:
        return False
    if name in ORGANIZATION_PATH_KEYS:
        shown = shown.split("/", 1)[0]
    return shown != "" and not any(c in shown for c in WILDCARDS)


def pins(statement: Mapping[str, Any], account: str | None) -> list[str]:
    """The conditions of a statement that pin its caller to this account, its organization or its network, named
    (empty: none does): an operator of STRING_OPERATORS or ARN_OPERATORS (or Bool, for the mount target key), as
    IAM spells it, alone or behind ForAnyValue:, on a key whose every value pins."""
    condition = statement.get("Condition")
    if not isinstance(condition, Mapping):
        return []
    found = []
    for operator, pairs in condition.items():
        base = str(operator).removeprefix(ANY_VALUE)
        if base not in STRING_OPERATORS | ARN_OPERATORS | {BOOL_OPERATOR} or not isinstance(pairs, Mapping):
            continue
        for key, given in pairs.items():
            name, given = str(key).lower(), values(given)
            if not given:
                continue
            if base == BOOL_OPERATOR:
                if name == MOUNT_TARGET_KEY and all(str(v).lower() == "true" for v in given):
                    found.append(str(key))
            elif ((name in ACCOUNT_KEYS and all(_mine(v, account) for v in given))
                  or (name in ORGANIZATION_KEYS | NETWORK_KEYS and all(_names_one(name, v) for v in given))
                  or (name in ARN_KEYS
                      and all(_arn_mine(v, account, by_field=base in ARN_OPERATORS) for v in given))):
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
                    if match and re.fullmatch(r"\d{12}", match.group("account")):
                        owner = _owner(match.group("partition"), match.group("account"))
                        if owner != account:
                            found.append(owner)
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
    """Every principal a statement that is not a Deny (`is_deny`) admits, and whether it is outside the account.
    Everyone ("*") or a NotPrincipal list (everyone but those) is outside unless a condition pins the caller
    (`pins`); an AWS principal of another account (another partition's included), a federated identity (its
    provider decides who it is) and an S3 canonical user (whose account cannot be told) are outside unless pinned;
    an AWS service is inside unless a source condition names another account. Where the account is not known (an
    account-agnostic template), only everyone is judged. The statement is read as written: whether the document
    can be read as IAM reads it at all is `unreadable`'s to say."""
    if is_deny(statement):
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

    @functools.cache
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
