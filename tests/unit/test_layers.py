"""The packages stand on each other in one direction: platform_spec is the ground floor and imports nothing of
ours; nothing imports a package above it; no package reaches into another's private modules. Read from the
import statements (every one, also inside functions), so an import hidden in a function still counts."""

from __future__ import annotations

import ast
from pathlib import Path

import pytest

from tests.conftest import ROOT

# Bottom to top: a package may import only packages to its left (and itself).
LAYERS = ("platform_spec", "services", "cdk_app", "policies", "opscli", "localenv")
# Who may import whom, beyond the order: the workloads stand on the contract alone.
ALLOWED = {
    "platform_spec": set(),
    "services": {"platform_spec"},
    "cdk_app": {"platform_spec"},
    "policies": {"platform_spec", "cdk_app"},
    "opscli": {"platform_spec", "policies"},
    "localenv": {"platform_spec", "cdk_app"},
}


def imports(package: str) -> list[tuple[Path, int, str]]:
    """(file, line, imported module) for every import of one of our packages in `package`."""
    found = []
    for path in sorted((ROOT / package).rglob("*.py")):
        tree = ast.parse(path.read_text(), filename=str(path))
        for node in ast.walk(tree):
            names = []
            if isinstance(node, ast.Import):
                names = [alias.name for alias in node.names]
            elif isinstance(node, ast.ImportFrom) and node.level == 0 and node.module:
                names = [node.module] + [f"{node.module}.{alias.name}" for alias in node.names]
            for name in names:
                if name.split(".")[0] in LAYERS:
                    found.append((path.relative_to(ROOT), node.lineno, name))
    return found


@pytest.mark.parametrize("package", LAYERS)
def test_a_package_imports_only_the_packages_below_it(package):
    wrong = sorted({f"{path}:{line} imports {name}" for path, line, name in imports(package)
                    if name.split(".")[0] not in ALLOWED[package] | {package}})
    assert not wrong, wrong


def test_the_allowed_imports_have_no_loop():
    order = {package: index for index, package in enumerate(LAYERS)}
    assert all(order[below] < order[package] for package, allowed in ALLOWED.items() for below in allowed)


@pytest.mark.parametrize("package", LAYERS)
def test_no_package_reaches_into_another_packages_private_modules(package):
    wrong = sorted({f"{path}:{line} imports {name}" for path, line, name in imports(package)
                    if name.split(".")[0] != package and any(part.startswith("_") and not part.startswith("__")
                                                             for part in name.split(".")[1:])})
    assert not wrong, wrong


def test_the_ground_floor_needs_only_the_standard_library():
    """Checkov's own environment loads platform_spec: it may import nothing but the standard library."""
    import sys

    third_party = sorted({f"{path}:{line} imports {name}" for path, line, name in _all_imports("platform_spec")
                          if name.split(".")[0] not in sys.stdlib_module_names | {"platform_spec", "__future__"}})
    assert not third_party, third_party


def _all_imports(package: str) -> list[tuple[Path, int, str]]:
    found = []
    for path in sorted((ROOT / package).rglob("*.py")):
        for node in ast.walk(ast.parse(path.read_text(), filename=str(path))):
            if isinstance(node, ast.Import):
                found += [(path.relative_to(ROOT), node.lineno, alias.name) for alias in node.names]
            elif isinstance(node, ast.ImportFrom) and node.level == 0 and node.module:
                found.append((path.relative_to(ROOT), node.lineno, node.module))
    return found


def test_the_check_finds_a_planted_violation(tmp_path, monkeypatch):
    """The import reader is not blind: a planted upward import and a private reach are both found."""
    package = tmp_path / "platform_spec"
    package.mkdir()
    (package / "bad.py").write_text("def f():\n    from opscli.readers import READERS\n    import cdk_app._x\n")
    monkeypatch.setattr(f"{__name__}.ROOT", tmp_path)
    found = {name for _, _, name in imports("platform_spec")}
    assert {"opscli.readers", "cdk_app._x"} <= found
