"""Where in our Python each construct is declared: construct path (below the stack) -> "cdk_app/....py:LINE".

CDK records construct paths (aws:cdk:path metadata) but no Python lines: jsii's stack traces end in the Node
process. So synthesis records them itself: while the app is built, every construct jsii creates from Python
(`jsii.create`, which every L1, L2 and our own Construct subclasses call) is noted with the line of cdk_app/
that declares it: the frame of its parent construct's own code, so a child made through a helper function points
at the helper's caller. A resource's line is then its longest recorded path prefix: a security group's
`Resource` child resolves to the `ec2.SecurityGroup(...)` line of the construct that declares it.

`python -m cdk_app` writes the map into the cloud assembly (source-map.json); the committed copy
(cdk_app/source_map.json, kept current by tests/unit/cdk_app/test_source_map.py) is what SARIF and the gate point at, so
every location names a tracked file.

    python -m cdk_app.source_map --write     # refresh the committed copy from a synthesis (cached)
"""

from __future__ import annotations

import json
import sys
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from types import FrameType
from typing import Any

from platform_spec.exit_codes import EXIT_OK
from platform_utils.source_map import COMMITTED_PATH, FILE_NAME, below_stack, document, load, site_of

ROOT = Path(__file__).resolve().parents[1]
OWN = ROOT / "cdk_app"
COMMITTED = ROOT / COMMITTED_PATH

__all__ = ["COMMITTED", "FILE_NAME", "below_stack", "document", "load", "recording", "site_of"]


def _site(scope: Any) -> str | None:
    """Where in cdk_app/ a child of `scope` is declared: the frame of `scope`'s own code (its __init__, where
    `self` is the scope), so that a child made through a helper function points at the helper's caller; else
    the innermost frame in cdk_app/ (not this module). As 'cdk_app/x.py:LINE'."""
    frame: FrameType | None = sys._getframe(2)  # noqa: SLF001 - CPython's documented frame access; inspect.stack() costs far more
    own, this = str(OWN) + "/", __file__
    innermost: str | None = None
    while frame is not None:
        name = frame.f_code.co_filename
        if name.startswith(own) and name != this:
            site = f"{Path(name).relative_to(ROOT).as_posix()}:{frame.f_lineno}"
            if frame.f_locals.get("self") is scope:
                return site
            innermost = innermost or site
        frame = frame.f_back
    return innermost


@contextmanager
def recording() -> Iterator[dict[str, str]]:
    """While building the app: construct path (with the stack's name as its first part) -> creation site."""
    import jsii
    from constructs import Construct

    sites: dict[str, str] = {}
    original = jsii.create

    def create(*args: Any, **kwargs: Any) -> Any:
        created = original(*args, **kwargs)
        arguments = args[2] if len(args) > 2 else kwargs.get("args")
        if isinstance(arguments, (list, tuple)) and len(arguments) >= 2 and isinstance(arguments[0], Construct) \
                and isinstance(arguments[1], str):
            parent = arguments[0].node.path
            site = _site(arguments[0])
            if site is not None:
                sites.setdefault(f"{parent}/{arguments[1]}" if parent else arguments[1], site)
        return created

    jsii.create = create
    try:
        yield sites
    finally:
        jsii.create = original


def main(argv: list[str] | None = None) -> int:
    import argparse

    from cdk_app.assembly_cache import synthesized

    parser = argparse.ArgumentParser(prog="python -m cdk_app.source_map", description=__doc__.split("\n\n")[0])
    parser.add_argument("--write", action="store_true", help=f"write {COMMITTED.relative_to(ROOT)}")
    args = parser.parse_args(argv)
    assembly = synthesized({"environmentSuffix": "dev"})
    text = (assembly.directory / FILE_NAME).read_text()
    if args.write:
        COMMITTED.write_text(text)
        print(f"wrote {COMMITTED.relative_to(ROOT)} ({len(json.loads(text)['constructs'])} constructs)")
    else:
        sys.stdout.write(text)
    return EXIT_OK


if __name__ == "__main__":
    sys.exit(main())
