"""The cases of platform_spec/rules/stk_efs.py (STK-EFS-001, STK-EFS-002), run by the shared tests
(tests/policy/fixtures.py gathers every rule's)."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from tests.policy.mutations import drop_first, props
from tests.policy.templates import file_system, mount_targets, template, vpc_with_private_subnets

# rule id -> a template that passes and one that fails, through every engine its catalog entry names
FIXTURES: dict[str, dict[str, dict[str, Any]]] = {
    "STK-EFS-001": {"pass": template({"Fs": file_system()}), "fail": template({"Fs": file_system(None)})},
    "STK-EFS-002": {"pass": template({**vpc_with_private_subnets(2), "Fs": file_system(), **mount_targets(2)}),
                    "fail": template({**vpc_with_private_subnets(2), "Fs": file_system(), **mount_targets(1)})},
}

# name -> (a change of the real template that breaks the rule, the rule the gate must report)
MUTATIONS: dict[str, tuple[Callable[[dict], Any], str]] = {
    "efs-policy-removed": (lambda t: props(t, "AWS::EFS::FileSystem").pop("FileSystemPolicy"), "STK-EFS-001"),
    "efs-mount-target-removed": (lambda t: t["Resources"].pop(next(
        k for k, v in t["Resources"].items() if v["Type"] == "AWS::EFS::MountTarget")), "STK-EFS-002"),
}

# (rule id, what is broken, how): the live picture broken so that the rule fails and its fix is a command
PICTURE_BREAKS: list[tuple[str, str, Callable[[dict], Any]]] = [
    ("STK-EFS-001", "no TLS policy", lambda p: props(p, "AWS::EFS::FileSystem").pop("FileSystemPolicy")),
    ("STK-EFS-002", "mount target gone", lambda p: drop_first(p, "AWS::EFS::MountTarget")),
]
