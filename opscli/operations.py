"""Every AWS operation opscli may call: the readers', the secrets' checks' and the scope's. The read-only guard
allows exactly these, and `opscli iam-policy` grants exactly these. (A module of its own so that the guard in
opscli.aws can ask for them without importing the core that stands on it.)"""

from __future__ import annotations

from opscli import account_iam, readers
from opscli.checks import Spec
from opscli.checks import collectors as c
from opscli.readers import Call

SECRETS_SPECS: tuple[Spec, ...] = (c.SECRET,)
_STACK = ("arn:aws:cloudformation:{region}:{account}:stack/{stack}/*",)
# The stack's declaration: what every resource's evidence is read beside.
STACK_CALLS = (Call("cloudformation:GetTemplate", _STACK), Call("cloudformation:ListStackResources", _STACK))
STACK_OPERATIONS = tuple(sorted(call.operation for call in STACK_CALLS))
# What reading the stack's scope takes beyond the readers: the declaration and the account id (for ARNs).
SCOPE_CALLS = (*STACK_CALLS, Call("sts:GetCallerIdentity"))
SCOPE_OPERATIONS = frozenset(call.operation for call in SCOPE_CALLS)
# The audit's one account-wide read: the account's IAM beside the stack (STK-PERIM-002).
ACCOUNT_OPERATIONS = frozenset(account_iam.OPERATIONS)


def declared_operations(specs: tuple[Spec, ...] = SECRETS_SPECS) -> set[str]:
    """Every operation opscli may call: the secrets' checks, the readers', the scope's and the account read's."""
    operations = {op for spec in specs for op in spec.operations}
    operations |= {op for reader in readers.READERS.values() for op in reader.operations}
    return operations | SCOPE_OPERATIONS | ACCOUNT_OPERATIONS


def declared_calls() -> tuple[Call, ...]:
    """The calls that declare where IAM lets them look (opscli.iam_policy scopes the policy by them): the readers',
    the secrets' checks' and the scope's. (The account read's has no resource to scope.)"""
    return (*(call for reader in readers.READERS.values() for call in reader.calls), *c.SECRET_CALLS, *SCOPE_CALLS)
