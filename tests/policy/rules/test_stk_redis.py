"""The cases of platform_spec/rules/stk_redis.py (STK-REDIS-001, STK-REDIS-002), run by the shared tests
(tests/policy/fixtures.py gathers every rule's)."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from tests.policy.mutations import props
from tests.policy.templates import redis, template

# rule id -> a template that passes and one that fails, through every engine its catalog entry names
FIXTURES: dict[str, dict[str, dict[str, Any]]] = {
    "STK-REDIS-001": {"pass": template({"Redis": redis()}), "fail": template({"Redis": redis(NumCacheClusters=1)})},
    "STK-REDIS-002": {"pass": template({"Redis": redis()}),
                      "fail": template({"Redis": redis(TransitEncryptionMode="preferred")})},
}

# name -> (a change of the real template that breaks the rule, the rule the gate must report)
MUTATIONS: dict[str, tuple[Callable[[dict], Any], str]] = {
    "redis-transit-preferred": (lambda t: props(t, "AWS::ElastiCache::ReplicationGroup").update(
        TransitEncryptionMode="preferred"), "STK-REDIS-002"),
    "redis-single-node": (lambda t: props(t, "AWS::ElastiCache::ReplicationGroup").update(NumCacheClusters=1),
                          "STK-REDIS-001"),
}

# (rule id, what is broken, how): the live picture broken so that the rule fails and its fix is a command
PICTURE_BREAKS: list[tuple[str, str, Callable[[dict], Any]]] = [
    ("STK-REDIS-001", "one node", lambda p: props(p, "AWS::ElastiCache::ReplicationGroup").update(NumCacheClusters=1)),
    ("STK-REDIS-002", "TLS preferred", lambda p: props(p, "AWS::ElastiCache::ReplicationGroup").update(
        TransitEncryptionMode="preferred")),
]
