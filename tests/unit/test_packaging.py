"""opscli installs alone (issue 13): dist/streamtech-opscli builds a distribution of opscli and the ground floor
(platform_spec and platform_utils) only, whose install brings click, rich and boto3, never aws-cdk-lib.
bench/opscli_install.py measures the real install; these tests keep the distribution honest offline."""

from __future__ import annotations

import ast
import sys
import tomllib
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
DIST = ROOT / "dist" / "streamtech-opscli" / "pyproject.toml"
PACKAGES = ("opscli", "platform_spec", "platform_utils")
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


def test_opscli_and_the_ground_floor_import_nothing_else():
    """Every import in the shipped packages (also inside functions) is the standard library, the shipped packages
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


OPSCLI_LOCK = ROOT / "requirements-opscli.lock"


def _locked(path: Path) -> dict[str, tuple[str, str, list[str]]]:
    """A uv/pip hashed lock: canonical name -> (the requirement as written, its pinned version, its hashes). Every
    entry must be `name==version [; marker]` followed by its --hash options; anything else fails here."""
    from packaging.requirements import Requirement
    from packaging.utils import canonicalize_name

    text = "\n".join(line.split("#", 1)[0].rstrip() for line in path.read_text().splitlines())
    entries = [e.strip() for e in text.replace("\\\n", " ").splitlines() if e.strip()]
    locked = {}
    for entry in entries:
        words = [w.strip() for w in entry.split(" --hash=")]
        requirement = Requirement(words[0])
        pins = [s for s in requirement.specifier if s.operator == "=="]
        assert len(pins) == 1 and len(requirement.specifier) == 1 and not requirement.url, f"not pinned: {entry}"
        hashes = words[1:]
        assert hashes and all(h.startswith("sha256:") and len(h) == 71 for h in hashes), f"no sha256: {entry}"
        locked[canonicalize_name(requirement.name)] = (words[0], pins[0].version, hashes)
    return locked


def _runtime_closure() -> tuple[set[str], set[str]]:
    """The distribution's runtime dependencies, followed through the metadata installed in this environment (the
    versions of requirements.lock): (those this platform needs, those some platform may need). Extras nobody asks
    for are left out."""
    from importlib.metadata import distribution

    from packaging.requirements import Requirement
    from packaging.utils import canonicalize_name

    needed: set[str] = set()
    possible: set[str] = set()
    todo = [(Requirement(r), frozenset()) for r in tomllib.loads(DIST.read_text())["project"]["dependencies"]]
    while todo:
        requirement, extras = todo.pop()
        marker = requirement.marker
        if marker is not None and "extra" in str(marker) and \
                not any(marker.evaluate({"extra": extra}) for extra in extras):
            continue  # an extra nobody asked for
        name = canonicalize_name(requirement.name)
        possible.add(name)
        here = marker is None or marker.evaluate({"extra": ""}) or any(marker.evaluate({"extra": e}) for e in extras)
        if here and name not in needed:
            needed.add(name)
            todo += [(Requirement(r), frozenset(requirement.extras)) for r in distribution(name).requires or []]
    return needed, possible


def test_the_cli_only_lock_pins_every_runtime_dependency_with_hashes_at_the_suites_versions():
    """`pip install --require-hashes -r requirements-opscli.lock` installs exactly what opscli needs: every
    package its dependencies bring (followed through their metadata), each pinned to one version with its sha256
    hashes, the version the suite runs with (requirements.lock), within the distribution's ranges; and nothing it
    does not need."""
    from packaging.requirements import Requirement
    from packaging.utils import canonicalize_name

    locked = _locked(OPSCLI_LOCK)
    needed, possible = _runtime_closure()
    assert {"botocore", "rich", "click", "boto3", "urllib3", "pygments"} <= needed  # the closure really followed
    assert needed - set(locked) == set(), "runtime dependencies missing from the lock: run bash scripts/lock.sh"
    assert set(locked) - possible == set(), "the lock holds packages opscli does not need"
    suite = _locked(ROOT / "requirements.lock")
    assert {name: version for name, (_, version, _) in locked.items()} == \
        {name: suite[name][1] for name in locked}, "not the versions the suite runs with: run bash scripts/lock.sh"
    for requirement in map(Requirement, tomllib.loads(DIST.read_text())["project"]["dependencies"]):
        assert requirement.specifier.contains(locked[canonicalize_name(requirement.name)][1]), requirement


def test_a_lock_entry_that_is_not_pinned_or_hashed_is_refused(tmp_path):
    """The lock reader the test above relies on fails on a range, a missing hash and a URL."""
    import pytest

    for entry in ("rich>=13 \\\n    --hash=sha256:" + "a" * 64, "rich==15.0.0", "rich @ https://x/rich.whl"):
        (tmp_path / "bad.lock").write_text(entry + "\n")
        with pytest.raises(AssertionError):
            _locked(tmp_path / "bad.lock")
    (tmp_path / "good.lock").write_text("rich==15.0.0 ; python_version >= '3.11' \\\n    --hash=sha256:" + "a" * 64 +
                                        "\n    # via x\n")
    assert _locked(tmp_path / "good.lock")["rich"][1] == "15.0.0"
