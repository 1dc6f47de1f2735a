"""Every rule's cases, gathered from the rule's own test file: tests/policy/rules/test_<rule module>.py holds the
rules of platform_spec/rules/<rule module>.py (test_stk_rds.py: stk_rds.py's), each with

- FIXTURES: rule id -> {"pass": template, "fail": template}, run through every engine its catalog entry names
  (tests/policy/test_fixtures.py);
- MUTATIONS (optional): name -> (a change of the real template, the rule id the gate must report)
  (tests/policy/gate/test_core.py);
- PICTURE_BREAKS (optional): (rule id, what is broken, a change of the live picture) whose failure's fix is a
  command (tests/integration/test_fix_commands.py).

A new rule adds its cases to its module's file (or makes the file, for a new module): nothing is listed here."""

from __future__ import annotations

import importlib
import pkgutil
from collections.abc import Callable
from types import ModuleType
from typing import Any

RULE_TESTS = "tests.policy.rules"


def rule_test_modules() -> list[ModuleType]:
    """Every test file of tests/policy/rules, imported, in name order."""
    package = importlib.import_module(RULE_TESTS)
    names = sorted(info.name for info in pkgutil.iter_modules(package.__path__) if info.name.startswith("test_"))
    return [importlib.import_module(f"{RULE_TESTS}.{name}") for name in names]


def _gathered() -> tuple[dict[str, dict[str, dict[str, Any]]], dict[str, tuple[Callable[[dict], Any], str]],
                         list[tuple[str, str, Callable[[dict], Any]]]]:
    fixtures: dict[str, dict[str, dict[str, Any]]] = {}
    mutations: dict[str, tuple[Callable[[dict], Any], str]] = {}
    breaks: list[tuple[str, str, Callable[[dict], Any]]] = []
    for module in rule_test_modules():
        for table, gathered in ((getattr(module, "FIXTURES", {}), fixtures),
                                (getattr(module, "MUTATIONS", {}), mutations)):
            for key, value in table.items():
                if key in gathered:
                    raise ValueError(f"{key} is in two rule test files (the second: {module.__name__})")
                gathered[key] = value
        for rule_id, what, how in getattr(module, "PICTURE_BREAKS", []):
            if any((rule_id, what) == (other, said) for other, said, _ in breaks):
                raise ValueError(f"{rule_id}'s break {what!r} is there twice (the second: {module.__name__})")
            breaks.append((rule_id, what, how))
    return fixtures, mutations, breaks


FIXTURES, MUTATIONS, PICTURE_BREAKS = _gathered()
