"""The cases of platform_spec/rules/stk_perim.py (STK-PERIM-003), run by the shared tests
(tests/policy/fixtures.py gathers every rule's)."""

from __future__ import annotations

from typing import Any

from tests.policy.templates import access_point, template

# rule id -> a template that passes and one that fails, through every engine its catalog entry names
FIXTURES: dict[str, dict[str, dict[str, Any]]] = {
    "STK-PERIM-003": {"pass": template({"Point": access_point()}),
                      "fail": template({"Point": access_point(PosixUser={"Uid": "0", "Gid": "0"},
                                                              RootDirectory={"Path": "/"})})},
}
