"""The import statements of a source file, read once: what the architecture tests (tests/unit/test_architecture.py)
judge, and which packages of ours a body of code needs (what a deployed artifact, an image or the monitor
function's asset, must carry beside it).

One reader for every question asked of imports, so that they agree on what a statement imports: a relative import
is resolved against the file's package the way Python resolves it, and `from m import n` may import the module `m.n`
as well as `m` (a name imported from a package can be its submodule)."""

from __future__ import annotations

import ast
import functools
from dataclasses import dataclass
from pathlib import Path


@dataclass(frozen=True)
class Import:
    """One import statement: `import module` (names empty) or `from module import names`, the module absolute."""

    line: int
    module: str
    names: tuple[str, ...] = ()

    @property
    def dotted(self) -> list[str]:
        """Every module the statement may import: the module, and module.name for each name it imports from it."""
        return [self.module, *(f"{self.module}.{name}" for name in self.names)]


def _package(path: Path, root: Path) -> list[str]:
    """The package a file's relative imports start from: its directory's (a package's __init__.py is its own)."""
    return list(path.relative_to(root).parent.parts)


def _absolute(node: ast.ImportFrom, package: list[str]) -> str:
    """The module a from-import names, a relative one resolved against `package` (the importing file's)."""
    if not node.level:
        return node.module or ""
    return ".".join(package[:len(package) - node.level + 1] + ([node.module] if node.module else []))


@functools.cache
def statements(path: Path, root: Path, *, when_imported: bool = False) -> tuple[Import, ...]:
    """The import statements of the source file at `path` (below `root`, which dotted names start from): all of
    them, also inside functions; or, `when_imported`, only those its import runs (not inside a function or class
    body, not under TYPE_CHECKING; both branches of an if and every clause of a try)."""
    package = _package(path, root)
    module = ast.parse(path.read_bytes(), filename=str(path))
    found: list[Import] = []

    def add(node: ast.stmt) -> None:
        if isinstance(node, ast.Import):
            found.extend(Import(node.lineno, alias.name) for alias in node.names)
        elif isinstance(node, ast.ImportFrom):
            found.append(Import(node.lineno, _absolute(node, package), tuple(alias.name for alias in node.names)))

    def visit(body: list[ast.stmt]) -> None:
        for node in body:
            add(node)
            if isinstance(node, ast.If) and "TYPE_CHECKING" not in ast.unparse(node.test):
                visit(node.body)
                visit(node.orelse)
            elif isinstance(node, ast.Try):
                visit(node.body)
                for handler in node.handlers:
                    visit(handler.body)
                visit(node.orelse)
                visit(node.finalbody)

    if when_imported:
        visit(module.body)
    else:
        for node in ast.walk(module):
            if isinstance(node, (ast.Import, ast.ImportFrom)):
                add(node)
    return tuple(found)


def ours_imported(paths: list[Path], root: Path) -> set[str]:
    """The top-level packages of ours (directories of `root` with an __init__.py) that `paths` import, followed
    through the packages they name (also imports inside functions)."""
    ours = {p.parent.name for p in root.glob("*/__init__.py")}
    found: set[str] = set()
    todo = list(paths)
    while todo:
        path = todo.pop()
        for statement in statements(path, root):
            for name in {statement.module.split(".")[0]} & ours - found:
                found.add(name)
                todo += sorted((root / name).rglob("*.py"))
    return found
