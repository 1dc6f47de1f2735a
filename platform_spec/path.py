"""A path across the stack's perimeter, as plain data: who reaches a resource of the stack (in) or where its data
is delivered or copied to (out), and whether that crosses the perimeter.

The perimeter and residency rules compute each resource's paths and judge exactly those (a rule fails where one
of its paths is outside); opscli draws the same paths in the HTML report and writes them to JSON."""

from __future__ import annotations

from dataclasses import dataclass, replace
from typing import Any

IN = "in"  # `other` reaches the resource (a principal a policy admits, a grantee, an identity)
OUT = "out"  # the resource's data goes to `other` (a replica, a subscriber, a target, an export)


@dataclass(frozen=True)
class Path:
    direction: str  # IN or OUT
    rule_id: str  # the catalog rule that judges it
    other: str  # the principal or the destination, named as the rule's finding names it
    via: str  # what opens it: a policy statement, a grant, a replication rule, a subscription, a target ...
    outside: bool  # it crosses the perimeter: another account, everyone, another region, outside AWS, unprovable
    # What `other` is, for grouping: everyone, account, stack (a resource the stack declares), service, federated,
    # identity (an IAM user or role beside the stack), resource, bucket, endpoint (outside AWS), region, unknown.
    kind: str = ""
    why: tuple[str, ...] = ()  # what makes it outside, each as the finding says it (empty when it stays inside)
    actions: tuple[str, ...] = ()  # IN: what the principal may do (the statement's actions, a grant's operations)
    resource: str = ""  # the logical id of the stack's resource (a secret's ARN for a secret the stack reads)
    resource_type: str = ""  # its CloudFormation type ("AWS::SecretsManager::Secret" for such a secret)
    subject: str = ""  # who crosses, where the path has a name for it beside `other` (an identity's ARN)

    def at(self, resource: str, resource_type: str) -> Path:
        """This path on the stack's resource `resource` (a rule's predicate sees properties, not the id)."""
        return replace(self, resource=resource, resource_type=resource_type)

    @property
    def judged(self) -> str:
        """What the finding that judges this path names: the stack's resource (a secret's ARN for a secret)."""
        return self.resource

    def to_dict(self) -> dict[str, Any]:
        return {"direction": self.direction, "rule_id": self.rule_id, "resource": self.resource,
                "resource_type": self.resource_type, "other": self.other, "kind": self.kind, "via": self.via,
                "outside": self.outside, "why": list(self.why), "actions": list(self.actions),
                "subject": self.judged, **({"identity": self.subject} if self.subject else {})}
