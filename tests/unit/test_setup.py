"""scripts/setup.sh and the virtual environments it finds: one of another Python is made again when set-up made it
(uv) and refused otherwise, whatever pyvenv.cfg calls its version; a PYTHON that is no Python removes nothing; a
link to an environment is replaced, not followed; a second run with nothing changed does nothing. Run in a copy of
what set-up reads, with stand-ins for uv, npm and node (no install)."""

from __future__ import annotations

import platform
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

from tests.conftest import ROOT
from tests.stand_ins import python_of, script

#: What the stand-ins do, as the real ones would for set-up: uv's `venv` a uv-made environment of the interpreter
#: it is given (uv's pyvenv.cfg, bin/python a link to the interpreter), its `pip sync` of Checkov's lock the checkov
#: script, npm's `ci` the CDK CLI. Every call is logged.
UV = """#!/bin/sh
echo "uv $*" >> "$LOG"
[ "$1" = --version ] && { echo "uv {uv_version}"; exit 0; }
last=; python=; previous=
for arg; do [ "$previous" = --python ] && python=$arg; previous=$arg; last=$arg; done
case $1 in
  venv) mkdir -p "$last/bin" && ln -s "$python" "$last/bin/python" &&
        printf 'home = %s\\nimplementation = CPython\\nuv = {uv_version}\\nversion_info = %s\\n' \\
          "$(dirname "$python")" "$("$python" -c 'import platform; print(platform.python_version())')" \\
          > "$last/pyvenv.cfg" ;;
  pip) case "$*" in *.venv-checkov/bin/python*) touch .venv-checkov/bin/checkov && chmod +x .venv-checkov/bin/checkov ;;
       esac ;;
esac
"""
NPM = """#!/bin/sh
echo "npm $*" >> "$LOG"
mkdir -p node_modules/.bin && touch node_modules/.bin/cdk && chmod +x node_modules/.bin/cdk
"""


def _uv_version() -> str:
    return next(line.split("=", 1)[1] for line in (ROOT / "scripts" / "setup.sh").read_text().splitlines()
                if line.startswith("UV_VERSION="))


#: A version of Python that is not this one (the environments "of another Python" say it).
OTHER = next(v for v in ("3.12.1", "3.13.0") if v != platform.python_version())


def _environment(path: Path, *, python: Path, by_uv: bool) -> Path:
    """A virtual environment of `python` with something of its own in it (a marker: whether it was removed)."""
    (path / "bin").mkdir(parents=True)
    (path / "bin" / "python").symlink_to(python)
    maker = f"uv = {_uv_version()}\nversion_info = 9.9.9\n" if by_uv else "version = 9.9.9\n"
    (path / "pyvenv.cfg").write_text(f"home = {python.parent}\n{maker}")
    (path / "marker").write_text("")
    return path


@pytest.fixture
def checkout(tmp_path) -> Path:
    """What set-up reads, with uv already where set-up puts it, and npm and node on PATH."""
    root = tmp_path / "checkout"
    (root / "scripts").mkdir(parents=True)
    for name in ("setup.sh", "bytecode.py", "overlaps.py"):
        shutil.copy(ROOT / "scripts" / name, root / "scripts" / name)
    shutil.copytree(ROOT / "platform_utils", root / "platform_utils", ignore=shutil.ignore_patterns("__pycache__"))
    (root / "platform_spec").mkdir()
    for name in ("__init__.py", "exit_codes.py"):  # scripts/overlaps.py's exit codes
        shutil.copy(ROOT / "platform_spec" / name, root / "platform_spec" / name)
    for name in ("requirements.lock", "requirements-checkov.lock", "build-constraints.txt", "package-lock.json",
                 "pyproject.toml"):
        shutil.copy(ROOT / name, root / name)
    script(root / ".venv-tools" / "bin" / "uv", UV.replace("{uv_version}", _uv_version()))
    script(tmp_path / "bin" / "npm", NPM)
    script(tmp_path / "bin" / "node", "#!/bin/sh\n")
    return root


def _setup(checkout: Path, python: str | Path = sys.executable, **env: str) -> subprocess.CompletedProcess:
    log = checkout.parent / "log"
    log.touch()
    return subprocess.run(["bash", str(checkout / "scripts" / "setup.sh")], capture_output=True, text=True,
                          timeout=60, cwd=checkout.parent,
                          env={"PATH": f"{checkout.parent / 'bin'}:/usr/bin:/bin", "HOME": str(checkout.parent),
                               "PYTHON": str(python), "LOG": str(log), **env})


def _calls(checkout: Path) -> list[str]:
    return (checkout.parent / "log").read_text().splitlines()


def _made(checkout: Path) -> list[str]:
    """The environments uv was asked to make, in order."""
    return [call.split()[-1] for call in _calls(checkout) if call.startswith("uv venv")]


def _of_this_python(environment: Path) -> bool:
    return subprocess.run([environment / "bin" / "python", "-c", "import sys; print(sys.version)"],
                          capture_output=True, text=True).stdout.strip() == sys.version


def test_a_first_run_makes_both_environments_and_a_second_does_nothing(checkout):
    first = _setup(checkout)
    assert first.returncode == 0, first.stderr
    assert _made(checkout) == [".venv", ".venv-checkov"]
    linked = [line for line in first.stderr.splitlines() if line.startswith("bytecode:")]
    assert linked == [f"bytecode: 0 file(s) linked from {checkout.parent}/.cache/streamtech-platform/bytecode"] * 2, \
        first.stderr
    assert _of_this_python(checkout / ".venv") and _of_this_python(checkout / ".venv-checkov")
    calls = len(_calls(checkout))
    again = _setup(checkout)
    assert again.returncode == 0, again.stderr
    assert len(_calls(checkout)) == calls and again.stderr == ""


@pytest.mark.parametrize("python", [OTHER, "a link to an uninstalled Python"])
def test_an_environment_set_up_made_of_another_python_is_made_again(checkout, tmp_path, python):
    other = (tmp_path / "gone" / "python3" if python.startswith("a link")
             else python_of(tmp_path / "other" / "python3", python))
    for name in (".venv", ".venv-checkov"):
        _environment(checkout / name, python=other, by_uv=True)
    done = _setup(checkout)
    assert done.returncode == 0, done.stderr
    assert done.stderr.count("made again") == 2
    for name in (".venv", ".venv-checkov"):
        assert not (checkout / name / "marker").exists() and _of_this_python(checkout / name)


def test_an_environment_set_up_did_not_make_of_another_python_is_refused_and_kept(checkout, tmp_path):
    _environment(checkout / ".venv", python=python_of(tmp_path / "other" / "python3", OTHER), by_uv=False)
    done = _setup(checkout)
    assert done.returncode == 2
    assert f".venv (Python {OTHER}) is not of" in done.stderr and "not set-up's" in done.stderr
    assert (checkout / ".venv" / "marker").exists()
    assert _made(checkout) == []


def test_an_environment_set_up_did_not_make_of_this_python_is_used(checkout):
    """venv's pyvenv.cfg says `version`, not uv's `version_info`: the version is the interpreter's answer."""
    made = subprocess.run([sys._base_executable, "-m", "venv", "--without-pip", checkout / ".venv"],
                          capture_output=True, text=True)
    assert made.returncode == 0, made.stderr
    (checkout / ".venv" / "marker").write_text("")
    done = _setup(checkout)
    assert done.returncode == 0, done.stderr
    assert (checkout / ".venv" / "marker").exists()
    assert _made(checkout) == [".venv-checkov"]


@pytest.mark.parametrize("python", ["/bin/true", "/bin/echo", "no such file", "3.10.13"])
def test_a_python_that_is_no_python_311_or_newer_is_refused_before_anything_is_removed(checkout, tmp_path, python):
    """/bin/true exits 0 whatever it is asked, /bin/echo prints what it is given: neither says a version."""
    if python == "no such file":
        python = str(tmp_path / "python3")
    elif python[0].isdigit():
        python = str(python_of(tmp_path / "old" / "python3", python))
    for name in (".venv", ".venv-checkov"):
        _environment(checkout / name, python=Path(sys.executable), by_uv=True)
    done = _setup(checkout, python)
    assert done.returncode == 2 and "Python 3.11 or newer is required" in done.stderr
    assert (checkout / ".venv" / "marker").exists() and (checkout / ".venv-checkov" / "marker").exists()
    assert _calls(checkout) == []


def test_a_link_to_an_environment_of_another_python_is_replaced_not_followed(checkout, tmp_path):
    """A worktree's .venv may be a link to the main checkout's: that one stays as it is."""
    shared = _environment(tmp_path / "main" / ".venv",
                          python=python_of(tmp_path / "other" / "python3", OTHER), by_uv=True)
    (checkout / ".venv").symlink_to(shared)
    done = _setup(checkout)
    assert done.returncode == 0, done.stderr
    assert (shared / "marker").exists() and (shared / "pyvenv.cfg").exists()
    assert not (checkout / ".venv").is_symlink() and _of_this_python(checkout / ".venv")


#: pip's stand-in (on PYTHONPATH, before the real one): `--version` answers, `install --target DIR uv==V` puts uv's
#: stand-in in DIR/bin. Every call is logged.
PIP = """import os, sys
args = sys.argv[1:]
with open(os.environ["LOG"], "a") as log:
    log.write("pip " + " ".join(args) + "\\n")
if args[:1] == ["install"]:
    target = args[args.index("--target") + 1]
    os.makedirs(os.path.join(target, "bin"), exist_ok=True)
    with open(os.path.join(target, "bin", "uv"), "w") as uv:
        uv.write(os.environ["UV_TEXT"])
    os.chmod(os.path.join(target, "bin", "uv"), 0o755)
"""


@pytest.fixture
def uvless(checkout, tmp_path) -> dict[str, str]:
    """`checkout` without uv, and the environment for set-up with pip's stand-in."""
    shutil.rmtree(checkout / ".venv-tools")
    (tmp_path / "stand-ins" / "pip").mkdir(parents=True)
    (tmp_path / "stand-ins" / "pip" / "__main__.py").write_text(PIP)
    (tmp_path / "stand-ins" / "pip" / "__init__.py").write_text("")
    return {"PYTHONPATH": str(tmp_path / "stand-ins"), "UV_TEXT": UV.replace("{uv_version}", _uv_version())}


def _pip_targets(checkout: Path) -> list[str]:
    return [call.split("--target ")[1].split()[0] for call in _calls(checkout) if call.startswith("pip install")]


def test_uv_is_installed_once_per_user_and_each_checkout_links_to_it(checkout, uvless, tmp_path):
    home = tmp_path / "home"
    done = _setup(checkout, HOME=str(home), **uvless)
    assert done.returncode == 0, done.stderr
    tools = home / ".cache" / "streamtech-platform" / "tools" / f"uv-{_uv_version()}"
    [target] = _pip_targets(checkout)
    assert Path(target).parent == tools.parent and Path(target).name.startswith(".tmp-uv-")
    assert (checkout / ".venv-tools").is_symlink() and (checkout / ".venv-tools").resolve() == tools
    assert sorted(p.name for p in tools.parent.iterdir()) == [tools.name]  # the work directory renamed, none left
    other = tmp_path / "other" / "checkout"
    shutil.copytree(checkout, other, symlinks=True, ignore=shutil.ignore_patterns(".venv*", "node_modules"))
    script(tmp_path / "other" / "bin" / "npm", NPM)
    script(tmp_path / "other" / "bin" / "node", "#!/bin/sh\n")
    again = _setup(other, HOME=str(home), **uvless)
    assert again.returncode == 0, again.stderr
    assert _pip_targets(other) == [] and (other / ".venv-tools").resolve() == tools
    assert _made(other) == [".venv", ".venv-checkov"]


def test_a_copy_in_the_users_cache_that_does_not_answer_is_left_and_uv_installed_in_the_checkout(checkout, uvless,
                                                                                                  tmp_path):
    home = tmp_path / "home"
    tools = home / ".cache" / "streamtech-platform" / "tools" / f"uv-{_uv_version()}"
    (tools / "bin").mkdir(parents=True)
    (tools / "bin" / "mine").write_text("the user's\n")
    done = _setup(checkout, HOME=str(home), **uvless)
    assert done.returncode == 0, done.stderr
    assert _pip_targets(checkout) == [".venv-tools"] and not (checkout / ".venv-tools").is_symlink()
    assert sorted(p.name for p in (tools / "bin").iterdir()) == ["mine"]
    assert sorted(p.name for p in tools.parent.iterdir()) == [tools.name]


def test_without_an_absolute_home_uv_is_installed_in_the_checkout(checkout, uvless):
    done = _setup(checkout, HOME="relative", **uvless)
    assert done.returncode == 0, done.stderr
    assert _pip_targets(checkout) == [".venv-tools"] and (checkout / ".venv-tools" / "bin" / "uv").is_file()
    assert not (checkout / ".venv-tools").is_symlink()
