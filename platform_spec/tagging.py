"""Cost and compliance tags: the required keys and the values computed from the app's configuration."""

from __future__ import annotations

import re
from collections.abc import Mapping
from typing import Protocol

# The keys every taggable resource carries. Policies, the audit CLI and the tests read them here.
REQUIRED_TAG_KEYS: tuple[str, ...] = (
    "Project",
    "Environment",
    "CostCenter",
    "Owner",
    "DataClassification",
    "ManagedBy",
)

MANAGED_BY = "cdk"

# What AWS accepts in tag keys and values (all services that share the tagging API).
_TAG_CHARS = re.compile(r"[\w .:/=+\-@]*", re.UNICODE)
TAG_KEY_MAX = 128
TAG_VALUE_MAX = 256


def tag_problems(key: str, value: str) -> list[str]:
    """Every way the tag key=value breaks AWS's tag rules (empty list: valid)."""
    problems: list[str] = []
    if not key or len(key) > TAG_KEY_MAX:
        problems.append(f"tag key '{key}' must be 1 to {TAG_KEY_MAX} characters")
    if key.lower().startswith("aws:"):
        problems.append(f"tag key '{key}' uses the reserved prefix 'aws:'")
    if len(value) > TAG_VALUE_MAX:
        problems.append(f"tag '{key}' value is longer than {TAG_VALUE_MAX} characters")
    for label, text in (("key", key), ("value", value)):
        if not _TAG_CHARS.fullmatch(text):
            problems.append(f"tag {label} '{text}' has characters outside letters, digits, spaces and _ . : / = + - @")
    return problems


class TagSource(Protocol):
    """What the tag values come from (the CDK app's configuration has these fields). Read-only: a frozen
    dataclass satisfies it."""

    @property
    def project(self) -> str: ...
    @property
    def environment_suffix(self) -> str: ...
    @property
    def cost_center(self) -> str: ...
    @property
    def owner(self) -> str: ...
    @property
    def data_classification(self) -> str: ...
    @property
    def extra_tags(self) -> tuple[tuple[str, str], ...]: ...


def compute_tags(config: TagSource) -> dict[str, str]:
    """All tags for every resource of the app: the required ones from config, then any extra tags."""
    tags: dict[str, str] = {
        "Project": config.project,
        "Environment": config.environment_suffix,
        "CostCenter": config.cost_center,
        "Owner": config.owner,
        "DataClassification": config.data_classification,
        "ManagedBy": MANAGED_BY,
    }
    for key, value in config.extra_tags:
        # Required tags win: an extra tag cannot overwrite them.
        tags.setdefault(key, value)
    return tags


def missing_required_tags(tags: Mapping[str, str]) -> list[str]:
    """The required tag keys absent (or empty) in `tags`, in canonical order."""
    return [key for key in REQUIRED_TAG_KEYS if not tags.get(key)]
