"""The architecture, read from the sources: the packages stand on each other in one direction, no module takes part
in an import loop, every concept has one home, and the tests mirror the modules they test.

Layers: platform_spec (the specification) and platform_utils (the tools' shared utilities) are the ground floor, side
by side, and import nothing of ours, not even each other; nothing imports a package above it; no package reaches
into another's private modules. Read from the import statements (every one, also inside functions), so an
import hidden in a function still counts.

Homes: a rule id is written in a rule module of its family and its catalog entry only; the region and the platform
stack's prefix in platform_spec/stacks.py, the posture monitor's stack prefix in platform_spec/monitor.py, the exit
codes in platform_spec/exit_codes.py, the no-credentials message in opscli/errors.py. Everything else names them,
imported from their home (never through a module that imported them). Documentation may say the words: a comment is
not in the syntax tree at all, and a string that is a statement of its own (a module, class or function docstring,
or any other bare string) does nothing, so it is read as prose. Every other string constant -- an argument, a
default, a dict entry, the literal parts of an f-string -- is data the program uses, and is checked. An exit code is
checked where a program hands it over: an int given to sys.exit, os._exit, SystemExit or a `.exit(...)` call, an
`exit_code=` keyword, an assignment to an `exit_code` attribute or an EXIT_* name, and a `return` of a function
named `main` or of a function of the same module whose call such a function returns (through `x if c else y` and
`a or b`). The tests themselves are not read for homes: they state the values they test (an expected "ap-northeast-1"
or exit 2 is the oracle the code is checked against, not a second home).

Mirrors: every module of platform_spec, platform_utils, localenv, services, cdk_app, policies and opscli (but
__init__ and __main__) has a test file named after it, test_<module>.py anywhere under tests/, that imports the
module or names it (its dotted name or its path: a rule's case file names its rule module, a health check is run as
`python -m`), so that a module's tests are found by its name and a same-named module elsewhere does not count. The
exceptions are listed with the reason and where they are tested (UNMIRRORED); a listed module that gets its file
must leave the list.

Collection: no test module imports aws_cdk (or cdk_nag, constructs, jsii) when it is imported, directly or through
modules of ours. Every pytest-xdist worker collects every test module, and importing aws_cdk starts a jsii kernel
(Node) and loads the CDK's assemblies into it: only the tests that build constructs import it, when they run, on
the "cdk" group's worker (tests/conftest.py CDK_AND_CHECKOV)."""

from __future__ import annotations

import ast
import functools
import re
from collections.abc import Iterator
from pathlib import Path

import pytest

from platform_spec import catalog, exit_codes
from tests.imports import parsed, statements

ROOT = Path(__file__).resolve().parents[2]
# On one worker: the tests walk most of the repository's sources, which a worker parses once (tests/imports.py
# `parsed`); on every worker, each would parse them all.
pytestmark = pytest.mark.xdist_group("architecture")

# Bottom to top: a package may import only packages to its left (and itself).
LAYERS = ("platform_spec", "platform_utils", "services", "cdk_app", "policies", "opscli", "localenv")
# The ground floor: standard library only, importing nothing of ours (the two stand beside each other).
GROUND_FLOOR = ("platform_spec", "platform_utils")
# Who may import whom, beyond the order: the workloads stand on the contract and the utilities alone.
ALLOWED = {
    "platform_spec": set(),
    "platform_utils": set(),
    "services": {"platform_spec", "platform_utils"},
    "cdk_app": {"platform_spec", "platform_utils"},
    "policies": {"platform_spec", "platform_utils", "cdk_app"},
    "opscli": {"platform_spec", "platform_utils", "policies"},
    "localenv": {"platform_spec", "platform_utils", "cdk_app"},
}
# Our code that is no package of the distribution: the benchmarks and the scripts use the homes too.
SCRIPTS = ("bench", "scripts")

# Each word's one home (relative to the repository); a string constant holding it anywhere else fails.
WORD_HOMES = {
    "ap-northeast-1": "platform_spec/stacks.py",
    "TapStack": "platform_spec/stacks.py",
    "TapMonitor": "platform_spec/monitor.py",
    "no AWS credentials found": "opscli/errors.py",
}
EXIT_HOME = "platform_spec/exit_codes.py"
# Each home's names are imported from it, never through a module that imported them (a second place to find
# them, and the way a second definition creeps back). The monitor's contract has a STACK_PREFIX of its own.
STACK_HOMES = frozenset({"platform_spec.stacks", "platform_spec.monitor"})
NAME_HOMES = {"ALLOWED_REGION": {"platform_spec.stacks"}, "CREDENTIAL_SOURCES": {"opscli.errors"},
              **dict.fromkeys(("STACK_PREFIX", "stack_name"), STACK_HOMES),
              **{name: {"platform_spec.exit_codes"} for name in vars(exit_codes) if name.startswith("EXIT_")}}
RULE_ID = re.compile(r"STK-[A-Z][A-Z0-9]*-\d{3}")


def plant(root: Path, texts: dict[str, str]) -> None:
    """A failing fixture's source tree: each file (relative to `root`) with its text."""
    for relative, text in texts.items():
        (root / relative).parent.mkdir(parents=True, exist_ok=True)
        (root / relative).write_text(text)


@functools.cache
def walked(module: ast.Module) -> tuple[ast.AST, ...]:
    """Every node of a syntax tree (ast.walk's order), listed once: each check reads the list."""
    return tuple(ast.walk(module))


def files(packages: tuple[str, ...], root: Path) -> list[Path]:
    return sorted(path for package in packages for path in (root / package).rglob("*.py"))


# --- layers ---------------------------------------------------------------------------------------------------

def imports(package: str, root: Path = ROOT) -> list[tuple[Path, int, str]]:
    """(file, line, imported module) for every import of one of our packages in `package`."""
    return [(path.relative_to(root), statement.line, name) for path in files((package,), root)
            for statement in statements(path, root) for name in statement.dotted if name.split(".")[0] in LAYERS]


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


def beyond_the_standard_library(package: str, root: Path = ROOT) -> list[str]:
    """Every import in `package` (also inside functions) of anything but the standard library and itself."""
    import sys

    return sorted({f"{path.relative_to(root)}:{statement.line} imports {statement.module}"
                   for path in files((package,), root) for statement in statements(path, root)
                   if statement.module.split(".")[0] not in sys.stdlib_module_names | {package, "__future__"}})


@pytest.mark.parametrize("package", GROUND_FLOOR)
def test_the_ground_floor_needs_only_the_standard_library(package):
    """Checkov's own environment and the services' images load platform_spec, opscli's own distribution and the
    monitor's function ship platform_utils beside it: each may import nothing but the standard library and itself
    (not even the other)."""
    assert beyond_the_standard_library(package) == []


def test_the_standard_library_check_finds_a_planted_import(tmp_path):
    """Not blind: a third-party import and an import of the other ground-floor package, inside a function too, are
    found; the standard library and the package itself are not."""
    plant(tmp_path, {"platform_utils/bad.py": "import os\nfrom platform_utils import files\n"
                                              "def f():\n    import boto3\n    from platform_spec import catalog\n"})
    assert beyond_the_standard_library("platform_utils", tmp_path) == [
        "platform_utils/bad.py:4 imports boto3", "platform_utils/bad.py:5 imports platform_spec"]


def test_the_import_reader_finds_a_planted_violation(tmp_path):
    """The import reader is not blind: a planted upward import and a private reach are both found."""
    package = tmp_path / "platform_spec"
    package.mkdir()
    (package / "bad.py").write_text("def f():\n    from opscli.readers import READERS\n    import cdk_app._x\n")
    found = {name for _, _, name in imports("platform_spec", tmp_path)}
    assert {"opscli.readers", "cdk_app._x"} <= found


# --- import loops ---------------------------------------------------------------------------------------------

def modules() -> dict[str, Path]:
    found = {}
    for path in files(LAYERS, ROOT):
        name = ".".join(path.relative_to(ROOT).with_suffix("").parts)
        found[name.removesuffix(".__init__")] = path
    return found


def import_graph() -> dict[str, set[str]]:
    """module -> the modules of ours it imports (a name imported from a package counts as its module if it is
    one, else as the package)."""
    ours = modules()
    graph: dict[str, set[str]] = {name: set() for name in ours}
    for name, path in ours.items():
        for statement in statements(path, ROOT):
            targets = [f"{statement.module}.{n}" if f"{statement.module}.{n}" in ours else statement.module
                       for n in statement.names] or [statement.module]
            graph[name] |= {target for target in targets if target in ours and target != name}
    return graph


def loops(graph: dict[str, set[str]]) -> list[list[str]]:
    """The strongly connected components of more than one module (Tarjan), each an import loop."""
    index: dict[str, int] = {}
    low: dict[str, int] = {}
    stack: list[str] = []
    on_stack: set[str] = set()
    found: list[list[str]] = []

    def visit(node: str) -> None:
        index[node] = low[node] = len(index)
        stack.append(node)
        on_stack.add(node)
        for other in sorted(graph[node]):
            if other not in index:
                visit(other)
                low[node] = min(low[node], low[other])
            elif other in on_stack:
                low[node] = min(low[node], index[other])
        if low[node] == index[node]:
            component = []
            while True:
                member = stack.pop()
                on_stack.discard(member)
                component.append(member)
                if member == node:
                    break
            if len(component) > 1:
                found.append(sorted(component))

    for node in sorted(graph):
        if node not in index:
            visit(node)
    return found


def test_no_module_takes_part_in_an_import_loop():
    assert loops(import_graph()) == []


def test_the_loop_finder_finds_a_loop():
    assert loops({"a": {"b"}, "b": {"c"}, "c": {"a"}, "d": {"a"}}) == [["a", "b", "c"]]


# --- one home per concept -------------------------------------------------------------------------------------

def data_strings(module: ast.Module) -> Iterator[tuple[int, str]]:
    """(line, text) of every string constant the program uses: all but the strings that are statements of their
    own (docstrings and other bare strings, which do nothing). Comments are not in the tree."""
    prose = {id(node.value) for node in walked(module)
             if isinstance(node, ast.Expr) and isinstance(node.value, ast.Constant)}
    for node in walked(module):
        if isinstance(node, ast.Constant) and id(node) not in prose:
            if isinstance(node.value, str):
                yield node.lineno, node.value
            elif isinstance(node.value, bytes):
                yield node.lineno, node.value.decode("latin-1")


def _handed_over(node: ast.expr) -> Iterator[ast.expr]:
    """The expressions whose value `node` hands over as it is: itself, both arms of `x if c else y`, every operand
    of `a or b`."""
    if isinstance(node, ast.IfExp):
        yield from _handed_over(node.body)
        yield from _handed_over(node.orelse)
    elif isinstance(node, ast.BoolOp):
        for value in node.values:
            yield from _handed_over(value)
    else:
        yield node


def _int_literal(node: ast.expr) -> bool:
    if isinstance(node, ast.UnaryOp) and isinstance(node.op, (ast.USub, ast.UAdd)):
        node = node.operand
    return isinstance(node, ast.Constant) and type(node.value) is int


def _own_returns(function: ast.FunctionDef | ast.AsyncFunctionDef) -> Iterator[ast.Return]:
    """The return statements of `function` itself (not of the functions, lambdas and classes it defines)."""
    pending: list[ast.AST] = list(function.body)
    while pending:
        node = pending.pop()
        if isinstance(node, (ast.FunctionDef, ast.AsyncFunctionDef, ast.Lambda, ast.ClassDef)):
            continue
        if isinstance(node, ast.Return):
            yield node
        pending.extend(ast.iter_child_nodes(node))


def _is_exit_name(target: ast.expr) -> bool:
    name = target.id if isinstance(target, ast.Name) else target.attr if isinstance(target, ast.Attribute) else ""
    return name == "exit_code" or name.startswith("EXIT_") or name.endswith("EXIT_CODE")


def _exit_functions(module: ast.Module) -> list[ast.FunctionDef | ast.AsyncFunctionDef]:
    """The functions whose result is an exit code: every `main`, every function of the module's own whose call is
    given to sys.exit (`sys.exit(run(...))`), and in turn every one whose call one of those returns (`return
    up(...)`)."""
    defined = {node.name: node for node in module.body if isinstance(node, (ast.FunctionDef, ast.AsyncFunctionDef))}

    def called(expr: ast.expr | None) -> list[ast.FunctionDef | ast.AsyncFunctionDef]:
        return [defined[value.func.id] for value in (_handed_over(expr) if expr is not None else ())
                if isinstance(value, ast.Call) and isinstance(value.func, ast.Name) and value.func.id in defined]

    found = [node for node in walked(module) if isinstance(node, (ast.FunctionDef, ast.AsyncFunctionDef))
             and node.name == "main"]
    for node in walked(module):
        if isinstance(node, ast.Call) and isinstance(node.func, ast.Attribute) and node.func.attr == "exit":
            found += [other for other in called(node.args[0] if node.args else None) if other not in found]
    for function in found:  # grows while it is read
        found += [other for returned in _own_returns(function) for other in called(returned.value)
                  if other not in found]
    return found


def exit_literals(module: ast.Module) -> Iterator[tuple[int, str]]:
    """(line, what) of every exit code written as a number where a program hands one over."""
    for function in _exit_functions(module):
        for returned in _own_returns(function):
            for value in _handed_over(returned.value) if returned.value is not None else ():
                if _int_literal(value):
                    yield value.lineno, ast.unparse(value)
    for node in walked(module):
        handed: list[ast.expr] = []
        if isinstance(node, ast.Call):
            callee = node.func.attr if isinstance(node.func, ast.Attribute) else getattr(node.func, "id", "")
            if callee in {"exit", "_exit", "SystemExit", "quit"}:
                handed += node.args[:1] + [k.value for k in node.keywords if k.arg in ("code", "status")]
            handed += [k.value for k in node.keywords if k.arg == "exit_code"]
        elif isinstance(node, (ast.Assign, ast.AnnAssign)) and node.value is not None:
            targets = node.targets if isinstance(node, ast.Assign) else [node.target]
            if any(_is_exit_name(target) for target in targets):
                handed.append(node.value)
        for expr in handed:
            for value in _handed_over(expr):
                if _int_literal(value):
                    yield value.lineno, ast.unparse(value)


def misplaced(packages: tuple[str, ...], root: Path = ROOT) -> list[str]:
    """Every word, exit code and rule id written outside its home in `packages`, and every home's name imported
    from elsewhere, as "path:line what"."""
    found = []
    for path in files(packages, root):
        relative = path.relative_to(root).as_posix()
        module = parsed(path)
        for line, text in data_strings(module):
            found += [f"{relative}:{line} {word!r}" for word, home in WORD_HOMES.items()
                      if word in text and relative != home]
            # a suppression cites its accepted deviation on the resource it excuses, by design
            rule = catalog.CATALOG.get(text) if RULE_ID.fullmatch(text) else None
            if (RULE_ID.fullmatch(text) and relative.split("/")[0] in LAYERS and relative != "platform_spec/catalog.py"
                    and not (rule and rule.accepted_deviation) and not _rule_module_of(text, relative)):
                found.append(f"{relative}:{line} {text}")
        if relative != EXIT_HOME:
            found += [f"{relative}:{line} exit code {code}" for line, code in exit_literals(module)]
        found += [f"{relative}:{node.lineno} {alias.name} from {node.module}" for node in walked(module)
                  if isinstance(node, ast.ImportFrom) for alias in node.names
                  if alias.name in NAME_HOMES and node.module not in NAME_HOMES[alias.name]]
    return sorted(found)


def test_every_concept_is_written_in_its_one_home_only():
    """The region, the stack prefixes, the no-credentials message, the exit codes and the rule ids: one home each,
    read by everything else (see the module's docstring for what counts and what is prose)."""
    assert misplaced(LAYERS + SCRIPTS) == []


def test_the_homes_checker_finds_what_is_planted_and_lets_prose_be(tmp_path):
    """Not blind and not deaf: each way of writing a home's value elsewhere is found, and a docstring, a bare
    string and a comment that say the words are not."""
    (tmp_path / "opscli").mkdir()
    (tmp_path / "opscli" / "planted.py").write_text('''"""Runs in ap-northeast-1 against TapStack<suffix>."""
import os
import sys
from opscli.aws import ALLOWED_REGION
from platform_spec.exit_codes import EXIT_USAGE, EXIT_OK as OK
# TapMonitor<suffix> is the monitor's stack; exit 2 is a usage error
REGION = "ap-northeast-1"
NAME = f"TapStack{os.environ['S']}"
MESSAGE = ("no AWS credentials " "found")
RULE = "STK-KMS-001"
EXIT_LATE = 3


class Refused(Exception):
    exit_code = 2


def main(argv):
    """Exit 0 or 1."""
    "a bare string: TapMonitor"
    if argv:
        sys.exit(130)
    if not argv:
        raise SystemExit(-1)
    os._exit(3) if argv is None else None
    launch(exit_code=4)
    if argv == ["again"]:
        return again()
    return 1 if argv else 0


def again():
    return 2
''')
    found = misplaced(("opscli",), tmp_path)
    assert found == sorted([
        "opscli/planted.py:4 ALLOWED_REGION from opscli.aws", "opscli/planted.py:7 'ap-northeast-1'",
        "opscli/planted.py:8 'TapStack'", "opscli/planted.py:9 'no AWS credentials found'",
        "opscli/planted.py:10 STK-KMS-001",
        "opscli/planted.py:11 exit code 3", "opscli/planted.py:15 exit code 2",
        "opscli/planted.py:22 exit code 130", "opscli/planted.py:24 exit code -1",
        "opscli/planted.py:25 exit code 3", "opscli/planted.py:26 exit code 4",
        "opscli/planted.py:29 exit code 1", "opscli/planted.py:29 exit code 0",
        "opscli/planted.py:33 exit code 2"]), found


def test_a_rule_id_in_the_rule_modules_is_written_by_its_familys_module_only(tmp_path):
    """Inside platform_spec/rules a rule id is data only in a module named for its family, a rule judged outside
    the registry too; an id written in another family's module, in a module whose name only starts like its
    family's or in a helper, and imported by its registering module from there, is found; an accepted deviation
    may be cited anywhere."""
    rules = tmp_path / "platform_spec" / "rules"
    rules.mkdir(parents=True)
    (rules / "stk_rds.py").write_text('NET_ID = "STK-NET-001"\nRDS_ID = "STK-RDS-001"\nWAIVED = "STK-DEV-001"\n')
    (rules / "stk_net_egress.py").write_text('OTHER_ASPECT = "STK-NET-001"\n')
    (rules / "stk_perimeter.py").write_text('LONG_NAME = "STK-PERIM-001"\n')
    (rules / "helper.py").write_text('KEY_ID = "STK-KMS-001"\n')
    (rules / "accepted.py").write_text('RULE_ID = "STK-OPS-001"\n')  # judged outside the registry, no matter
    (rules / "stk_ops.py").write_text('RULE_ID = "STK-OPS-001"\n')
    assert misplaced(("platform_spec",), tmp_path) == [
        "platform_spec/rules/accepted.py:1 STK-OPS-001", "platform_spec/rules/helper.py:1 STK-KMS-001",
        "platform_spec/rules/stk_perimeter.py:1 STK-PERIM-001", "platform_spec/rules/stk_rds.py:1 STK-NET-001"]


# --- tests mirror the modules -----------------------------------------------------------------------------------

MIRRORED = ("platform_spec", "platform_utils", "localenv", "services", "cdk_app", "policies", "opscli")

_DEPLOYED = ("run by every local deployment of the synthesized stacks (the shared deployment; "
             "tests/opscli/conftest.py's deploy_into_moto); tests/unit/localenv/test_deployers.py proves each declared "
             "type has its deployer")
_TEST_INFRASTRUCTURE = "the tests' own stand-in, started for them by tests/services/conftest.py"
_READ_LIVE = ("read on the shared local deployment by every audit and drift (tests/opscli/test_core.py; "
              "tests/integration/test_drift.py and test_drift_roundtrip.py compare each property it reads), each of "
              "its calls answered badly by tests/opscli/test_fault_harness.py")

# Module -> why it has no test file of its name, and where it is tested.
UNMIRRORED = {
    "platform_spec/context.py": "plain data (what a predicate may know): built by every predicate test",
    "platform_spec/contract.py": "names and values both sides read (variables, ports, the database): held by the "
                                 "pipeline end to end (tests/services/test_pipeline.py)",
    "platform_spec/path.py": "plain data: the paths of tests/policy/test_paths.py, drawn in "
                             "tests/opscli/test_perimeter.py",
    "platform_spec/result.py": "plain data (Status, Result, CouldNotLook): asserted on by every rule and check test",
    "platform_spec/stacks.py": "two constants and a name: written nowhere else (this file's homes)",
    "platform_spec/stages.py": "catalog integrity (tests/policy/test_catalog.py: every live rule has a live "
                               "evaluation) and the audit's coverage (tests/opscli/test_core.py)",
    "localenv/dataservers.py": f"{_TEST_INFRASTRUCTURE}; their TLS posture: tests/services/test_data_stores.py",
    "localenv/sample_video.py": "the tests' own videos: the inputs of tests/services/test_probe.py and "
                                "test_pipeline.py",
    "localenv/deploy.py": f"{_DEPLOYED}; its skipped types there too",
    "localenv/inputs.py": "`python -m localenv`'s inputs: its refusals are tests/unit/localenv/test_main.py's usage "
                          "errors",
    **{f"localenv/deployers/{name}.py": _DEPLOYED
       for name in ("apigateway", "autoscaling", "base", "cloudwatch", "efs", "elasticache", "elbv2", "events", "iam",
                    "kms", "lambda_", "logs", "rds", "s3", "scheduler", "sns", "sqs", "wafv2")},
    "services/common/failpoints.py": "inert unless set: tests/services/test_pipeline.py kills the worker through one",
    "cdk_app/aspects/_cfn.py": "the validating Aspects' and the cdk-nag pack's private helpers: run by their tests "
                               "(tests/unit/cdk_app/aspects/, the NAG cases of tests/policy/test_fixtures.py)",
    "cdk_app/constructs/secrets.py": "imports of the existing secrets, nothing synthesized of its own: each reader's "
                                     "test asserts the secret it reads (tests/unit/cdk_app/constructs/: "
                                     "test_database.py, test_cache.py, test_api.py, test_workload.py)",
    "cdk_app/source_tree.py": "which files are sources, for the assembly cache's key and the monitor's staged code: "
                              "tests/unit/test_monitor_code.py holds every ignored name against CDK's own asset copy",
    "cdk_app/nag_pack.py": "each NAG rule through the pack on its passing and failing fixture, in the session's one "
                           "in-process synthesis of them (tests/policy/conftest.py nag_by_stack, judged by "
                           "tests/policy/test_fixtures.py test_engine); the whole pack in every synthesis",
    "policies/checkov_checks/streamtech.py": "runs inside Checkov's own process: tests/policy/test_fixtures.py "
                                             "test_engine proves each CHECKOV rule's check on its fixtures",
    "policies/gate/result.py": "plain data (GateError, GateResult): raised and read by every test of "
                               "tests/policy/gate/",
    "policies/report_formats.py": "the gate's report files: tests/policy/gate/test_cli.py reads each one the gate "
                                  "writes (JSON, SARIF against the OASIS schema, JUnit), test_locate.py a SARIF result "
                                  "at its Python line",
    "opscli/operations.py": "what opscli may call, the union of what the readers, the secrets' checks and the scope "
                            "declare: a whole run calls exactly these (tests/opscli/test_core.py), the fault harness "
                            "answers each badly (tests/opscli/test_fault_harness.py), iam-policy grants them "
                            "(tests/opscli/test_iam_policy.py)",
    **{f"opscli/readers/{name}.py": _READ_LIVE for name in ("apigateway", "events", "s3", "sns")},
    "opscli/readers/iam.py": f"{_READ_LIVE}; the monitor's managed policy: tests/opscli/test_monitor_readers.py",
    "opscli/readers/lambda_.py": f"{_READ_LIVE} (the function); the monitor's event source mapping: audited with "
                                 "TapMonitor by tests/unit/localenv/test_monitor.py",
    "opscli/readers/scheduler.py": "the monitor's schedule (TapStack declares none): read back, changed by hand, gone "
                                   "and answered without its target in tests/opscli/test_monitor_readers.py",
    "opscli/readers/cdk.py": "registers AWS::CDK::Metadata as read by no reader: tests/opscli/test_coverage.py (every "
                             "declared type has a reader or a reason), tests/opscli/readers/test_base.py (no second "
                             "registration)",
}


def modules_to_mirror(packages: tuple[str, ...], root: Path) -> list[Path]:
    return [path for path in files(packages, root) if path.name not in ("__init__.py", "__main__.py")]


def mirror_candidates(root: Path) -> dict[str, list[Path]]:
    """Every test file under tests/, by its name: the candidates for the module of that name."""
    found: dict[str, list[Path]] = {}
    for path in sorted((root / "tests").rglob("test_*.py")):
        found.setdefault(path.name, []).append(path)
    return found


def names_module(test_file: Path, module: Path, root: Path) -> bool:
    """Whether `test_file` imports `module` (import a.b, from a.b import x, from a import b) or names it (its dotted
    name or its path anywhere in the file: a docstring, an `-m` argument)."""
    relative = module.relative_to(root)
    dotted = ".".join(relative.with_suffix("").parts)
    text = test_file.read_text()
    if dotted in text or relative.as_posix() in text:
        return True
    return any(dotted in {node.module, *(f"{node.module}.{alias.name}" for alias in node.names)}
               for node in walked(parsed(test_file))
               if isinstance(node, ast.ImportFrom) and node.module and not node.level)


def unmirrored(packages: tuple[str, ...], root: Path = ROOT) -> list[str]:
    """Every module of `packages` without a test_<module>.py under tests/ that imports or names it."""
    tests = mirror_candidates(root)
    return [module.relative_to(root).as_posix() for module in modules_to_mirror(packages, root)
            if not any(names_module(test, module, root) for test in tests.get(f"test_{module.stem}.py", []))]


def test_every_module_has_a_test_file_of_its_name_or_a_reason():
    missing = unmirrored(MIRRORED)
    assert [module for module in missing if module not in UNMIRRORED] == [], "add tests/<area>/test_<module>.py"
    assert [module for module in UNMIRRORED if module not in missing] == [], \
        "mirrored now (or gone): take it off UNMIRRORED"


def test_the_mirror_checker_finds_a_module_without_its_test_and_a_test_of_another_module(tmp_path):
    """Not blind: a module with no test file, and one whose test file of that name tests a namesake, are found;
    a test file that imports its module (either way) or names its path is its mirror."""
    plant(tmp_path, {
        "pkg/__init__.py": "", "pkg/__main__.py": "", "pkg/sub/__init__.py": "",
        "pkg/alone.py": "", "pkg/imported.py": "", "pkg/sub/from_package.py": "", "pkg/sub/named.py": "",
        "pkg/sub/shadowed.py": "", "other/shadowed.py": "",
        "tests/test_imported.py": "import pkg.imported\n",
        "tests/a/test_from_package.py": "from pkg.sub import from_package as it\n",
        "tests/b/test_named.py": '"""The cases of pkg/sub/named.py."""\n',
        "tests/test_shadowed.py": "from other.shadowed import thing\n",
        "tests/test_alone_and_more.py": "import pkg.alone\n",
    })
    assert unmirrored(("pkg",), tmp_path) == ["pkg/alone.py", "pkg/sub/shadowed.py"]


# --- a rule's home is found from its id -------------------------------------------------------------------------

# Every half of a rule (per-resource, whole-stack, account, live-only) is registered by one module,
# platform_spec/rules/stk_<family>.py or stk_<family>_<aspect>.py, <family> being the id's middle part lowercased
# (STK-NET-003: stk_net*.py, STK-POLICY-001: stk_policy.py), with no alias.
# Catalog rules with an engine that no rule module registers, and what judges them instead (each id is still
# written in its family's module: _rule_module_of).
JUDGED_OUTSIDE_THE_REGISTRY = {
    "STK-REGION-001": "the synthesis aspect (cdk_app/aspects/region.py) with platform_spec/rules/stk_region.py",
    "STK-STACK-001": "opscli's stack check: every declared resource present (opscli/stackcheck.py)",
    "STK-DRIFT-001": "opscli drift, over every declared property (opscli/stackcheck.py)",
    "STK-OPS-001": "the accepted-findings file's entries (platform_spec/rules/stk_ops.py)",
    **dict.fromkeys((f"STK-SECRET-00{n}" for n in range(3, 9)),
                    "opscli rotate-check over the secrets the stack reads (platform_spec/rules/stk_secret_live.py)"),
    "STK-RES-009": "opscli rotate-check over the secrets' replicas (platform_spec/rules/stk_res_stores.py, run by "
                   "platform_spec/rules/stk_secret_live.py's checks)",
}
RULES_PACKAGE = "platform_spec.rules."


def _named_for(module: str, stem: str) -> bool:
    """Whether `module` is the rule module <stem> or one of its aspects, <stem>_<aspect>."""
    name = module.removeprefix(RULES_PACKAGE)
    return module.startswith(RULES_PACKAGE) and (name == stem or name.startswith(stem + "_"))


def _family_stem(rule_id: str) -> str:
    """The module name a rule id's family gives (STK-NET-003: stk_net, STK-RES-005: stk_res)."""
    return "stk_" + rule_id.split("-")[1].lower()


def _rule_module_of(rule_id: str, relative: str) -> bool:
    """Whether the source file `relative` may write `rule_id` as data: a rule module of its family (a rule judged
    outside the registry too: STK-OPS-001 in stk_ops.py, STK-SECRET-005 in stk_secret_live.py)."""
    if not relative.startswith("platform_spec/rules/") or not relative.endswith(".py") or relative.count("/") != 2:
        return False
    module = RULES_PACKAGE + relative.removeprefix("platform_spec/rules/").removesuffix(".py")
    return _named_for(module, _family_stem(rule_id))


def misplaced_rules(registrations: list[tuple[str, str]], judged: set[str]) -> list[str]:
    """Every rule id registered by more than one module or by a module not named for its family, and every id of
    `judged` (the catalog's rules with an engine) that nothing registers and JUDGED_OUTSIDE_THE_REGISTRY does not
    name (or that it names but a module registers): `registrations` is (rule id, registering module) per half."""
    homes: dict[str, set[str]] = {}
    for rule_id, module in registrations:
        homes.setdefault(rule_id, set()).add(module)
    found = [f"{rule_id} is registered by {len(modules)} modules: {', '.join(sorted(modules))}"
             for rule_id, modules in sorted(homes.items()) if len(modules) > 1]
    for rule_id, modules in sorted(homes.items()):
        stem = _family_stem(rule_id)
        found += [f"{rule_id} is registered by {module}, not by {RULES_PACKAGE}{stem}[_<aspect>]"
                  for module in sorted(modules) if not _named_for(module, stem)]
    found += [f"{rule_id} is registered nowhere" for rule_id in sorted(judged - set(homes))
              if rule_id not in JUDGED_OUTSIDE_THE_REGISTRY]
    found += [f"{rule_id} is registered by {', '.join(sorted(homes[rule_id]))}: take it off "
              "JUDGED_OUTSIDE_THE_REGISTRY" for rule_id in sorted(set(homes) & set(JUDGED_OUTSIDE_THE_REGISTRY))]
    return found


def test_every_rule_is_registered_by_the_one_module_named_for_its_family():
    from platform_spec import registry, rule

    assert registry.RULE_MODULES  # the registry imported the rule modules: every registration below is made
    registrations = [(registered.rule_id, registered.module)
                     for registered in (*rule.REGISTERED, *rule.STACK_RULES, *rule.ACCOUNT_RULES, *rule.LIVE_RULES)]
    judged = {entry.id for entry in catalog.CATALOG.values() if entry.engines}
    assert misplaced_rules(registrations, judged) == []
    assert set(JUDGED_OUTSIDE_THE_REGISTRY) <= judged, "a rule judged outside the registry left the catalog"


REGISTRATIONS = frozenset({"resource_rule", "plain_rule", "stack_rule", "account_rule", "live_rule"})


def unfound_registrants(packages: tuple[str, ...], root: Path = ROOT) -> list[str]:
    """Every source file that takes a registration function of platform_spec.rule (imported, or as an attribute)
    and is no module the registry imports (platform_spec/rules/stk_<name>.py): its registrations would be made only
    if something happened to import it, and would vanish silently otherwise (a live half, say, beside a registered
    resource half of the same rule)."""
    found = []
    for path in files(packages, root):
        relative = path.relative_to(root).as_posix()
        if relative == "platform_spec/rule.py" or (path.parent == root / "platform_spec" / "rules"
                                                   and path.stem.startswith("stk_") and path.stem.isidentifier()):
            continue
        found += [f"{relative}:{node.lineno} {name}" for node in walked(parsed(path)) for name in
                  ([alias.name for alias in node.names if alias.name in REGISTRATIONS]
                   if isinstance(node, ast.ImportFrom) and node.module == "platform_spec.rule" else
                   [node.attr] if isinstance(node, ast.Attribute) and node.attr in REGISTRATIONS else [])]
    return sorted(found)


def test_only_the_modules_the_registry_imports_register_rules():
    assert unfound_registrants(LAYERS + SCRIPTS) == []


def test_the_registrant_finder_finds_a_registration_the_registry_would_not_import(tmp_path):
    rules = tmp_path / "platform_spec" / "rules"
    (rules / "live").mkdir(parents=True)
    (rules / "stk_kms.py").write_text("from platform_spec.rule import live_rule, plain_rule\n")
    (rules / "kms_live.py").write_text("from platform_spec.rule import Result, live_rule as register\n")
    (rules / "live" / "stk_kms_state.py").write_text("from platform_spec import rule\nrule.live_rule('x')\n")
    (tmp_path / "opscli").mkdir()
    (tmp_path / "opscli" / "extra.py").write_text("import platform_spec.rule\nplatform_spec.rule.stack_rule\n")
    assert unfound_registrants(("platform_spec", "opscli"), tmp_path) == [
        "opscli/extra.py:2 stack_rule", "platform_spec/rules/kms_live.py:1 live_rule",
        "platform_spec/rules/live/stk_kms_state.py:2 live_rule"]


def test_the_rule_home_checker_finds_what_is_planted():
    """Not blind: a rule of one family registered by another's module, a rule registered by two modules, a module
    whose name only starts like the family's, a rule registered outside the rule modules and a catalog rule
    registered nowhere are each found; a family's aspect module is not."""
    planted = [("STK-NET-001", "platform_spec.rules.stk_rds"),
               ("STK-KMS-003", "platform_spec.rules.stk_kms"), ("STK-KMS-003", "platform_spec.rules.stk_kms_state"),
               ("STK-API-005", "platform_spec.rules.stk_apigw"),
               ("STK-TAG-001", "platform_spec.rules.live_only"),
               ("STK-ECS-006", "platform_spec.rules.stk_ecs_service"),
               ("STK-RES-005", "platform_spec.rules.stk_res_stores"),
               ("STK-POLICY-001", "platform_spec.rules.stk_resource_policy"),
               ("STK-STACK-001", "platform_spec.rules.stk_stack")]
    assert misplaced_rules(planted, {"STK-NET-001", "STK-NEW-001", "STK-DRIFT-001"}) == [
        "STK-KMS-003 is registered by 2 modules: platform_spec.rules.stk_kms, platform_spec.rules.stk_kms_state",
        "STK-API-005 is registered by platform_spec.rules.stk_apigw, not by platform_spec.rules.stk_api[_<aspect>]",
        "STK-NET-001 is registered by platform_spec.rules.stk_rds, not by platform_spec.rules.stk_net[_<aspect>]",
        "STK-POLICY-001 is registered by platform_spec.rules.stk_resource_policy, not by "
        "platform_spec.rules.stk_policy[_<aspect>]",
        "STK-TAG-001 is registered by platform_spec.rules.live_only, not by platform_spec.rules.stk_tag[_<aspect>]",
        "STK-NEW-001 is registered nowhere",
        "STK-STACK-001 is registered by platform_spec.rules.stk_stack: take it off JUDGED_OUTSIDE_THE_REGISTRY"]


# --- collecting the tests starts no jsii kernel ---------------------------------------------------------------

#: The distributions whose import starts the jsii kernel or loads an assembly into it.
JSII = ("aws_cdk", "cdk_nag", "constructs", "jsii")


def module_level_imports(path: Path, root: Path) -> set[str]:
    """The dotted names the module at `path` imports when it is imported (not inside a function, not under
    TYPE_CHECKING), with their parent packages."""
    names = {name for statement in statements(path, root, when_imported=True) for name in statement.dotted}
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


def test_the_module_level_reader_reads_every_block_an_import_runs(tmp_path):
    """The failing fixture: what a module imports when it is imported is read from every block its import runs
    (both branches of an if, every clause of a try, a with, a loop, a match, a class body, the else of a
    TYPE_CHECKING test), relative imports in a package's __init__ resolved against the package itself, and a name
    imported from a package as its submodule; a function body and a TYPE_CHECKING block are not read."""
    plant(tmp_path, {
        "pkg/__init__.py": "from . import sub\n",
        "pkg/mod.py": "import os\nfrom typing import TYPE_CHECKING\n"
                      "if os.environ:\n    import if_body\nelse:\n    import if_else\n"
                      "try:\n    import try_body\nexcept ImportError:\n    import try_handler\n"
                      "else:\n    import try_else\nfinally:\n    import try_finally\n"
                      "with open(os.devnull):\n    import with_body\n"
                      "for _ in ():\n    import for_body\nelse:\n    import for_else\n"
                      "match os.sep:\n    case '/':\n        import match_case\n"
                      "class Holder:\n    import class_body\n"
                      "if TYPE_CHECKING:\n    import type_only\nelse:\n    import type_else\n"
                      "if not TYPE_CHECKING:\n    import not_type_checking\n"
                      "def f():\n    import in_function\n",
    })
    assert module_level_imports(tmp_path / "pkg" / "__init__.py", tmp_path) == {"pkg", "pkg.sub"}
    assert module_level_imports(tmp_path / "pkg" / "mod.py", tmp_path) == {
        "os", "typing", "typing.TYPE_CHECKING", "if_body", "if_else", "try_body", "try_handler", "try_else",
        "try_finally", "with_body", "for_body", "for_else", "match_case", "class_body", "type_else",
        "not_type_checking"}


def test_no_test_module_imports_aws_cdk_when_it_is_collected():
    assert jsii_at_collection(ROOT) == [], "import aws_cdk inside the tests that build constructs (the cdk group)"


def test_an_import_of_aws_cdk_through_our_modules_is_found(tmp_path):
    """The failing fixture: a test module importing (relatively, or in a try block) a module of ours that imports
    aws_cdk is found; one importing it inside a function or under TYPE_CHECKING is not."""
    plant(tmp_path, {
        "tests/__init__.py": "",
        "tests/test_clean.py": "from typing import TYPE_CHECKING\nif TYPE_CHECKING:\n    import aws_cdk\n"
                               "def test():\n    from app import stack\n",
        "tests/test_through.py": "try:\n    from .helper import build\nexcept ImportError:\n    pass\n",
        "tests/helper.py": "from app.stack import build\n",
        "app/__init__.py": "",
        "app/stack.py": "from aws_cdk import Stack\n",
    })
    assert jsii_at_collection(tmp_path) == ["tests.helper -> app.stack -> aws_cdk",
                                            "tests.test_through -> tests.helper -> app.stack -> aws_cdk"]
