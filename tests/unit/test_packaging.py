"""opscli installs alone (issue 13): dist/streamtech-opscli builds a distribution of opscli and the ground-floor
platform_spec only, whose install brings click, rich and boto3, never aws-cdk-lib. bench/opscli_install.py
measures the real install; these tests keep the distribution honest offline."""

from __future__ import annotations

import ast
import sys
import tomllib
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
DIST = ROOT / "dist" / "streamtech-opscli" / "pyproject.toml"
PACKAGES = ("opscli", "platform_spec")
THIRD_PARTY = {"boto3", "botocore", "click", "rich"}


def _requirement_names(requirements: list[str]) -> dict[str, str]:
    return {r.split(">")[0].split("=")[0].split("<")[0].split("[")[0].strip(): r for r in requirements}


def test_the_distribution_ships_opscli_and_the_ground_floor_only():
    config = tomllib.loads(DIST.read_text())
    included = config["tool"]["hatch"]["build"]["targets"]["wheel"]["force-include"]
    assert sorted(included.values()) == sorted(PACKAGES)
    assert all((DIST.parent / source).resolve() == ROOT / target for source, target in included.items())
    assert config["project"]["scripts"] == {"opscli": "opscli.cli:entry_point"}


def test_its_dependencies_are_the_repositorys_own_ranges_and_no_cdk():
    dist = _requirement_names(tomllib.loads(DIST.read_text())["project"]["dependencies"])
    main = _requirement_names(tomllib.loads((ROOT / "pyproject.toml").read_text())["project"]["dependencies"])
    assert set(dist) == {"click", "rich", "boto3"}
    assert all(dist[name] == main[name] for name in dist)


def test_opscli_and_platform_spec_import_nothing_else():
    """Every import in the shipped packages (also inside functions) is the standard library, the two packages
    themselves, or the distribution's dependencies (botocore comes with boto3)."""
    allowed = set(sys.stdlib_module_names) | set(PACKAGES) | THIRD_PARTY | {"__future__"}
    outside = []
    for package in PACKAGES:
        for path in (ROOT / package).rglob("*.py"):
            for node in ast.walk(ast.parse(path.read_text(), str(path))):
                names = [a.name for a in node.names] if isinstance(node, ast.Import) else \
                    [node.module] if isinstance(node, ast.ImportFrom) and node.module and not node.level else []
                outside += [f"{path.relative_to(ROOT)}: {n}" for n in names if n.split(".")[0] not in allowed]
    assert not outside, outside
