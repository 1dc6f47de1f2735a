"""Checkov custom checks: one per catalog rule that Checkov's built-in checks lack, each a thin adapter
around the shared predicate. Loaded with `checkov --external-checks-dir policies/checkov_checks` and the
repository root on PYTHONPATH; the environment suffix comes from STREAMTECH_SUFFIX (shape only if unset)."""

from __future__ import annotations

import os
from typing import Any

from checkov.cloudformation.checks.resource.base_resource_check import BaseResourceCheck
from checkov.common.models.enums import CheckCategories, CheckResult

from platform_spec import catalog
from platform_spec.context import Context
from platform_spec.registry import BY_ID, ResourceRule, checkov_custom_rule_ids
from platform_spec.result import Status

_RESULT = {Status.PASS: CheckResult.PASSED, Status.FAIL: CheckResult.FAILED, Status.NOT_APPLICABLE: CheckResult.UNKNOWN}


def clean(value: Any) -> Any:
    """Checkov's parsed template with its line markers (__startline__, __endline__) removed."""
    if isinstance(value, dict):
        return {k: clean(v) for k, v in value.items() if not (isinstance(k, str) and k.startswith("__"))}
    if isinstance(value, list):
        return [clean(v) for v in value]
    return value


class CatalogCheck(BaseResourceCheck):
    """A Checkov check whose id, name and logic come from the catalog and the registry."""

    def __init__(self, rule: ResourceRule) -> None:
        self.rule = rule
        entry = catalog.get(rule.rule_id)
        super().__init__(name=entry.title, id=rule.rule_id, categories=[CheckCategories.GENERAL_SECURITY],
                         supported_resources=sorted(rule.resource_types))

    def scan_resource_conf(self, conf: dict[str, Any]) -> CheckResult:
        resource_type = conf.get("Type", "")
        context = Context(suffix=os.environ.get("STREAMTECH_SUFFIX") or None)
        result = self.rule.evaluate(resource_type, clean(conf.get("Properties") or {}), context)
        self.details = [result.reason] if result.failed else []
        return _RESULT[result.status]


# Checkov registers a check when it is instantiated at import.
CHECKS = [CatalogCheck(BY_ID[rule_id]) for rule_id in checkov_custom_rule_ids()]
