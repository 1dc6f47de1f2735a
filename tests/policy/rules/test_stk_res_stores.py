"""The cases of platform_spec/rules/stk_res_stores.py (STK-RES-005, STK-RES-007, STK-RES-008), run by the
shared tests (tests/policy/fixtures.py gathers every rule's)."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from tests.policy.mutations import props
from tests.policy.templates import db, file_system, other_key, params, replicated_file_system, template

# rule id -> a template that passes and one that fails, through every engine its catalog entry names
FIXTURES: dict[str, dict[str, dict[str, Any]]] = {
    # residency of the data stores' copies: automated backups replicated to Virginia, a file system replicated
    # there, a multi-Region key
    "STK-RES-005": {"pass": template({"Params": params(), "Db": db()}),
                    "fail": template({"Params": params(), "Db": db(AutomaticBackupReplicationRegion="us-east-1")})},
    "STK-RES-007": {"pass": template({"Fs": file_system()}),
                    "fail": template({"Fs": replicated_file_system({"Region": "us-east-1"})})},
    "STK-RES-008": {"pass": template({"Other": other_key(True)}),
                    "fail": template({"Other": {**other_key(True), "Properties": {
                        **other_key(True)["Properties"], "MultiRegion": True}}})},
}

# (rule id, what is broken, how): the live picture broken so that the rule fails and its fix is a command
PICTURE_BREAKS: list[tuple[str, str, Callable[[dict], Any]]] = [
    ("STK-RES-005", "backups replicated", lambda p: props(p, "AWS::RDS::DBInstance").update(
        AutomaticBackupReplicationRegion="us-east-1")),
    ("STK-RES-007", "file system replicated", lambda p: props(p, "AWS::EFS::FileSystem").update(
        ReplicationConfiguration={"Destinations": [{"Region": "us-east-1"}]})),
]
