"""The reduced CloudFormation resource schemas opscli's drift compares by (opscli/data/cfn_shapes.json), written
from the resource provider schemas that the pinned cfn-lint ships.

    python -m policies.cfn_shapes                  # again, for the types the file holds
    python -m policies.cfn_shapes AWS::X::Y ...    # and these too (a type a new reader reads)

Only the keywords that say where values sit are kept (which keys an object names, its items, its free keys, its
references and alternatives); descriptions, patterns, enums and lengths say what a value may be, which drift does
not need. opscli reads the file with the standard library alone: its distribution ships no cfn-lint.
"""

from __future__ import annotations

import json
import re
import sys
from collections.abc import Iterable, Mapping
from pathlib import Path
from typing import Any

from platform_spec.exit_codes import EXIT_OK
from platform_spec.stacks import ALLOWED_REGION

DATA = Path(__file__).resolve().parents[1] / "opscli" / "data" / "cfn_shapes.json"
_STRUCTURAL = ("type", "properties", "items", "patternProperties", "additionalProperties", "$ref", "oneOf", "anyOf",
               "allOf")


def reduce(schema: Mapping[str, Any]) -> dict[str, Any]:
    """A provider schema cut to its structural keywords and the definitions its properties reach."""
    def cut(node: Any) -> Any:
        if isinstance(node, list):
            return [cut(item) for item in node]
        if not isinstance(node, Mapping):
            return node
        out: dict[str, Any] = {}
        for key in _STRUCTURAL:
            if key not in node:
                continue
            value = node[key]
            if key in ("properties", "patternProperties"):
                out[key] = {name: cut(sub) for name, sub in value.items()}
            elif key == "additionalProperties":
                if isinstance(value, Mapping):
                    out[key] = cut(value)
            else:
                out[key] = cut(value)
        return out

    definitions = schema.get("definitions") or {}
    root = cut({"properties": schema.get("properties") or {}})
    reached: dict[str, Any] = {}
    todo = [root]
    while todo:
        node = todo.pop()
        for ref in re.findall(r'"#/definitions/([^"]+)"', json.dumps(node)):
            if ref not in reached and ref in definitions:
                reached[ref] = cut(definitions[ref])
                todo.append(reached[ref])
    if reached:
        root["definitions"] = dict(sorted(reached.items()))
    return root


def generate(types: Iterable[str]) -> dict[str, Any]:
    """The file's content for `types`, from the installed cfn-lint's schemas of ap-northeast-1."""
    from importlib.metadata import version

    from cfnlint.schema.manager import PROVIDER_SCHEMA_MANAGER

    out = {rtype: reduce(PROVIDER_SCHEMA_MANAGER.get_resource_schema(ALLOWED_REGION, rtype).schema)
           for rtype in sorted(set(types))}
    return {"source": f"AWS CloudFormation resource provider schemas for {ALLOWED_REGION}, as shipped by cfn-lint "
                      f"{version('cfn-lint')} (MIT-0), reduced to their structure by `python -m policies.cfn_shapes`",
            "types": out}


def render(content: Mapping[str, Any]) -> str:
    return json.dumps(content, indent=None, sort_keys=True, separators=(",", ":")) + "\n"


def main(argv: list[str]) -> int:
    held = set(json.loads(DATA.read_text(encoding="utf-8"))["types"]) if DATA.exists() else set()
    DATA.parent.mkdir(exist_ok=True)
    DATA.write_text(render(generate(held | set(argv))), encoding="utf-8")
    print(f"wrote {DATA} ({DATA.stat().st_size} bytes)", file=sys.stderr)
    return EXIT_OK


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
