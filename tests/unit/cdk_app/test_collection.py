"""Collecting the tests starts no jsii kernel: every pytest-xdist worker collects every test module, and importing
aws_cdk starts a kernel (Node) and loads the CDK's assemblies into it, so only the tests that build constructs
import it, when they run, on the "cdk" group's worker (tests/conftest.py CDK_AND_CHECKOV)."""

from __future__ import annotations

import ast
from pathlib import Path

from tests.conftest import ROOT

#: The distributions whose import starts the jsii kernel or loads an assembly into it.
JSII = ("aws_cdk", "cdk_nag", "constructs", "jsii")


def module_level_imports(path: Path, root: Path) -> set[str]:
    """The dotted names the module at `path` imports when it is imported (not inside a function, not under
    TYPE_CHECKING), with their parent packages."""
    parts = path.relative_to(root).with_suffix("").parts
    package = list(parts if path.name == "__init__.py" else parts[:-1])
    names: set[str] = set()

    def visit(body: list[ast.stmt]) -> None:
        for node in body:
            if isinstance(node, ast.Import):
                names.update(alias.name for alias in node.names)
            elif isinstance(node, ast.ImportFrom):
                base = node.module or ""
                if node.level:
                    base = ".".join(package[:len(package) - node.level + 1] + ([base] if base else []))
                names.add(base)
                names.update(f"{base}.{alias.name}" for alias in node.names)
            elif isinstance(node, ast.If) and "TYPE_CHECKING" not in ast.unparse(node.test):
                visit(node.body)
                visit(node.orelse)
            elif isinstance(node, ast.Try):
                visit(node.body)
                for handler in node.handlers:
                    visit(handler.body)

    visit(ast.parse(path.read_bytes(), filename=str(path)).body)
    return {".".join(name.split(".")[:i]) for name in names for i in range(1, name.count(".") + 2)}


def jsii_at_collection(root: Path) -> list[str]:
    """'tests.x -> cdk_app.app -> aws_cdk' for every module below root/tests whose import imports aws_cdk (or
    cdk_nag, constructs, jsii), followed through the modules of the repository."""
    chains: dict[str, list[str] | None] = {}

    def chain(dotted: str) -> list[str] | None:
        if dotted.split(".")[0] in JSII:
            return [dotted]
        if dotted not in chains:
            chains[dotted] = None  # an import cycle ends here
            base = root.joinpath(*dotted.split("."))
            path = next((p for p in (base.with_suffix(".py"), base / "__init__.py") if p.is_file()), None)
            for name in sorted(module_level_imports(path, root)) if path else ():
                found = chain(name)
                if found:
                    chains[dotted] = [dotted, *found]
                    break
        return chains[dotted]

    modules = [p for p in sorted((root / "tests").rglob("*.py")) if "schemas" not in p.parts]
    return [" -> ".join(found) for path in modules
            if (found := chain(".".join(path.relative_to(root).with_suffix("").parts)))]


def test_no_test_module_imports_aws_cdk_when_it_is_collected():
    assert jsii_at_collection(ROOT) == [], "import aws_cdk inside the tests that build constructs (the cdk group)"


def test_an_import_of_aws_cdk_through_our_modules_is_found(tmp_path):
    """The failing fixture: a test module importing (relatively, or in a try block) a module of ours that imports
    aws_cdk is found; one importing it inside a function or under TYPE_CHECKING is not."""
    for name, text in {
        "tests/__init__.py": "",
        "tests/test_clean.py": "from typing import TYPE_CHECKING\nif TYPE_CHECKING:\n    import aws_cdk\n"
                               "def test():\n    from app import stack\n",
        "tests/test_through.py": "try:\n    from .helper import build\nexcept ImportError:\n    pass\n",
        "tests/helper.py": "from app.stack import build\n",
        "app/__init__.py": "",
        "app/stack.py": "from aws_cdk import Stack\n",
    }.items():
        (tmp_path / name).parent.mkdir(parents=True, exist_ok=True)
        (tmp_path / name).write_text(text)
    assert jsii_at_collection(tmp_path) == ["tests.helper -> app.stack -> aws_cdk",
                                            "tests.test_through -> tests.helper -> app.stack -> aws_cdk"]
