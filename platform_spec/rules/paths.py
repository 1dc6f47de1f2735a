"""Every path across the stack's perimeter, in one list: who each resource admits and where its data goes, from
the same functions the perimeter and residency rules judge them with (a rule fails exactly where one of its paths
is outside). Works on a template and on the live picture: the live-only facts (grants, the bus policy,
subscription filters, replicas, snapshot shares) and the account's IAM add paths where they are given."""

from __future__ import annotations

from collections.abc import Callable, Mapping
from typing import Any

from platform_spec.intrinsics import as_dict
from platform_spec.path import Path
from platform_spec.registry import LIVE_ONLY_RULES
from platform_spec.result import CouldNotLook
from platform_spec.rule import AccountFacts
from platform_spec.rules import stk_perim as perimeter
from platform_spec.rules import stk_policy as resource_policy
from platform_spec.rules import stk_res as residency
from platform_spec.rules import stk_res_stores as stores

# (account, where undeclared buckets are) -> the declared resource's paths: each rule module's own function.
DeclaredPaths = Callable[[str, Mapping[str, Any], str | None, Mapping[str, str | None]], list[Path]]
DECLARED: tuple[tuple[frozenset[str], DeclaredPaths], ...] = (
    (frozenset(resource_policy.DOCUMENTS), lambda t, p, account, _r: resource_policy.paths(t, p, account)),
    (frozenset({residency.BUCKET, residency.SUBSCRIPTION_FILTER, residency.RULE, residency.TOPIC,
                residency.SUBSCRIPTION}), residency.paths),
    (frozenset({stores.INSTANCE, stores.FILE_SYSTEM, stores.KEY}),
     lambda t, p, account, _r: stores.paths(t, p, account)),
)
# The rules whose paths these are (each path names its own; a test holds the list to the functions above).
RULE_IDS = frozenset({resource_policy.RULE_ID, perimeter.IDENTITY_ID, residency.BUCKET_ID, residency.LOGS_ID,
                      residency.EVENTS_ID, residency.TOPIC_ID, stores.RDS_COPIES_ID, stores.RDS_SNAPSHOTS_ID,
                      stores.EFS_REPLICATION_ID, stores.KMS_MULTI_REGION_ID})


def resource_paths(logical_id: str, resource: Mapping[str, Any], *, account: str | None = None,
                   bucket_regions: Mapping[str, str | None] | None = None,
                   facts: Mapping[str, Any] | None = None) -> list[Path]:
    """The paths of one resource (a template's or the live picture's), with its live-only facts if given."""
    rtype, props = str(as_dict(resource).get("Type", "")), as_dict(as_dict(resource).get("Properties"))
    found = [path for types, paths in DECLARED if rtype in types
             for path in paths(rtype, props, account, bucket_regions or {})]
    live = as_dict(facts)
    for rule in LIVE_ONLY_RULES:
        if rule.paths is not None and rule.resource_type == rtype and all(key in live for key in rule.facts):
            try:
                found += rule.paths(props, live)
            except CouldNotLook:
                continue  # the rule's own finding is ERROR (could not look): no path is drawn from that answer
    return [path.at(logical_id, rtype) for path in found]


def stack_paths(resources: Mapping[str, Any], *, account: str | None = None,
                bucket_regions: Mapping[str, str | None] | None = None,
                facts: Mapping[str, Mapping[str, Any]] | None = None,
                identities: AccountFacts | None = None) -> list[Path]:
    """Every path of the stack: each resource's (`facts`: logical id -> its live-only facts), then, with the
    account's IAM (`identities`), every identity beside the stack that is usable from outside and reaches its
    data (STK-PERIM-002)."""
    found = [path for lid, resource in resources.items()
             for path in resource_paths(lid, resource, account=account, bucket_regions=bucket_regions,
                                        facts=(facts or {}).get(lid))]
    if identities is not None:
        found += perimeter.identity_paths(resources, identities)
    return found
