"""Which packages of ours a body of code needs: what a deployed artifact (an image, the monitor function's asset)
must carry beside it."""

from __future__ import annotations

import ast
from pathlib import Path


def ours_imported(paths: list[Path], root: Path) -> set[str]:
    """The top-level packages of ours (directories of `root` with an __init__.py) that `paths` import, followed
    through the packages they name (also imports inside functions)."""
    ours = {p.parent.name for p in root.glob("*/__init__.py")}
    found: set[str] = set()
    todo = list(paths)
    while todo:
        for node in ast.walk(ast.parse(todo.pop().read_text())):
            names = [a.name for a in node.names] if isinstance(node, ast.Import) else \
                [node.module] if isinstance(node, ast.ImportFrom) and node.module and not node.level else []
            for name in {n.split(".")[0] for n in names} & ours - found:
                found.add(name)
                todo += sorted((root / name).rglob("*.py"))
    return found
