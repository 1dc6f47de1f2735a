"""The import statements of a source file, read once: what the architecture tests (tests/unit/test_architecture.py)
judge, and which packages of ours a body of code needs (what a deployed artifact, an image or the monitor
function's asset, must carry beside it).

One reader for every question asked of imports, so that they agree on what a statement imports: a relative import
is resolved against the file's package the way Python resolves it, and `from m import n` may import the module `m.n`
as well as `m` (a name imported from a package can be its submodule)."""

from __future__ import annotations

import ast
import functools
from collections.abc import Iterable
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
def parsed(path: Path) -> ast.Module:
    """The syntax tree of one source file, parsed once per test process for every test that walks it (kept: the
    architecture tests walk each file several times)."""
    return ast.parse(path.read_bytes(), filename=str(path))


@functools.cache
def statements(path: Path, root: Path, *, when_imported: bool = False) -> tuple[Import, ...]:
    """The import statements of the source file at `path` (below `root`, which dotted names start from): all of
    them, also inside functions; or, `when_imported`, only those its import may run (every block but a function's
    body and the body of `if TYPE_CHECKING:`: both branches of any other if, every clause of a try, a with, a
    loop, a match, a class body)."""
    package = _package(path, root)
    module = parsed(path)
    found: list[Import] = []

    def add(node: ast.Import | ast.ImportFrom) -> None:
        if isinstance(node, ast.Import):
            found.extend(Import(node.lineno, alias.name) for alias in node.names)
        elif isinstance(node, ast.ImportFrom):
            found.append(Import(node.lineno, _absolute(node, package), tuple(alias.name for alias in node.names)))

    def visit(nodes: Iterable[ast.AST]) -> None:
        """Every block the import may run: all but a function's body and the body of `if TYPE_CHECKING:`."""
        for node in nodes:
            if isinstance(node, (ast.Import, ast.ImportFrom)):
                add(node)
            elif isinstance(node, ast.If) and ast.unparse(node.test) in ("TYPE_CHECKING", "typing.TYPE_CHECKING"):
                visit(node.orelse)
            elif not isinstance(node, (ast.FunctionDef, ast.AsyncFunctionDef)):
                visit(child for child in ast.iter_child_nodes(node)
                      if isinstance(child, (ast.stmt, ast.excepthandler, ast.match_case)))

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
