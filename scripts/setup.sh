#!/usr/bin/env bash
# Set up this checkout from its lock files; nothing is resolved at install time:
#   .venv          app, opscli, workloads and tests     requirements.lock         (uv pip sync)
#   .venv-checkov  Checkov, apart for its boto3 pin      requirements-checkov.lock (uv pip sync)
#   node_modules   the pinned CDK CLI                    package-lock.json         (npm ci)
# uv itself is pinned below and installed once per user (.venv-tools links to it). Idempotent: a no-op while the
# inputs are unchanged.
# System packages (PostgreSQL, Redis) are not installed here: scripts/system-deps.sh, run by the commands that
# need them (tests, pipeline); the main command (gate + opscli on the emulator) needs neither.
# Lock files are regenerated with scripts/lock.sh after a change to pyproject.toml or requirements-checkov.txt.
set -euo pipefail
cd "$(dirname "$0")/.."

UV_VERSION=0.13.9

# The interpreter: $PYTHON if set, else a 3.13, else a 3.12, here (scripts/choose-python.sh says why), else python3.
PYTHON=${PYTHON:-$(bash scripts/choose-python.sh)}
# Its version, as it says it: what prints none (a missing file, another program: /bin/true exits 0 whatever it is
# asked) is refused here, before a virtual environment is removed below for being of another Python.
version=$("$PYTHON" -c 'import platform, sys; sys.version_info >= (3, 11) and print(platform.python_version())' \
          2>/dev/null) || version=
if [[ ! $version =~ ^3\.[0-9]+\.[0-9]+ ]]; then
  echo "error: Python 3.11 or newer is required (found: $("$PYTHON" --version 2>&1 | head -1))" >&2; exit 2
fi
# An active virtual environment without pip (this project's own .venv is one: uv makes it) would leave nothing
# to install uv with: use the interpreter it was made from.
if ! "$PYTHON" -m pip --version >/dev/null 2>&1; then
  PYTHON=$("$PYTHON" -c 'import sys; print(getattr(sys, "_base_executable", sys.executable))')
fi
command -v node >/dev/null || { echo "error: Node.js (for the CDK CLI) is required: apt-get install nodejs npm" >&2; exit 2; }

# A virtual environment of another Python (an earlier set-up's, or one PYTHON named) is made again; only one uv
# made (set-up's: its pyvenv.cfg says so) is removed (a symbolic link to one: the link). Its version is asked of its
# own interpreter, as PYTHON's was: pyvenv.cfg says it under its maker's key and in its maker's form (venv's
# `version`, uv's and virtualenv's `version_info`, a pre-release's suffix or not), and an interpreter that no longer
# runs (its Python uninstalled) says none.
for venv in .venv .venv-checkov; do
  [[ -f $venv/pyvenv.cfg ]] || continue
  has=$("$venv/bin/python" -c 'import platform; print(platform.python_version())' 2>/dev/null) || has=
  if [[ $has != "$version" ]]; then
    if ! grep -q '^uv = ' "$venv/pyvenv.cfg"; then
      echo "error: $venv (Python ${has:-that does not run}) is not of $PYTHON ($version), and not set-up's: remove" \
           "it, or set PYTHON to its interpreter" >&2; exit 2
    fi
    echo "setup: $venv (Python ${has:-that does not run}) is not of $PYTHON ($version): made again" >&2
    rm -rf "$venv"
  fi
done
stamp=.venv/.setup-stamp
want=$( { echo "$version"; cat requirements.lock requirements-checkov.lock build-constraints.txt package-lock.json \
           pyproject.toml scripts/setup.sh; } | sha256sum | cut -d' ' -f1)
if [[ -f $stamp && "$(cat "$stamp")" == "$want" && -x node_modules/.bin/cdk && -x .venv-checkov/bin/checkov ]]; then
  exit 0
fi
start=$SECONDS
echo "setup: installing .venv, .venv-checkov (uv, from the lock files) and the pinned CDK CLI (npm ci)" >&2
log=$(mktemp)
npm_log=$(mktemp)
trap 'rm -f "$log" "$npm_log"' EXIT
run() { "$@" >>"$log" 2>&1 || { cat "$log" >&2; echo "error: set-up step failed: $*" >&2; exit 1; }; }

# The CDK CLI downloads while uv installs.
npm ci --no-audit --no-fund >"$npm_log" 2>&1 &
npm_pid=$!

# uv is installed once per user and version, in the user's cache beside the assemblies and the byte code
# (streamtech-platform/tools/uv-<version>), and .venv-tools links to it: a fresh clone then installs nothing (pip's
# install of uv took 1.4 s). A copy there is made whole in a directory of its own, then renamed into place, so
# another set-up never sees half of one; one there that does not answer its version (not made so) is left as it is,
# and uv is installed in the checkout instead, as it is without an absolute home.
uv=.venv-tools/bin/uv
answers() { [[ -x $1/bin/uv && "$("$1/bin/uv" --version 2>/dev/null)" == "uv $UV_VERSION"* ]]; }
install_uv() {
  run "$PYTHON" -m pip install --quiet --disable-pip-version-check --no-warn-script-location --target "$1" \
      "uv==$UV_VERSION"
}
if ! answers .venv-tools; then
  rm -rf .venv-tools  # a link to the user's copy: the link alone
  # The user's cache as platform_utils.files.user_cache finds it.
  cache=${XDG_CACHE_HOME:-}
  [[ $cache == /* ]] || { [[ ${HOME:-} == /* ]] && cache=$HOME/.cache || cache=; }
  tools=${cache:+$cache/streamtech-platform/tools/uv-$UV_VERSION}
  if [[ -n $tools ]] && ! answers "$tools" && [[ ! -e $tools ]] && mkdir -p "${tools%/*}" 2>/dev/null; then
    work=$(mktemp -d "${tools%/*}/.tmp-uv-XXXXXXXX")
    install_uv "$work"
    mv -T "$work" "$tools" 2>/dev/null || rm -rf "$work"  # another set-up's copy got there first: the same uv
  fi
  if [[ -n $tools ]] && answers "$tools"; then
    ln -s "$tools" .venv-tools
  else
    install_uv .venv-tools
  fi
fi
# No bytecode compiled at install: the first process to import a module compiles it and keeps it (scripts/env.sh
# lets every process of ours write __pycache__). Compiling every library at install (uv's --compile-bytecode) cost
# set-up most of its time, for modules the suite, the gate and the jobs mostly never import (bench/README.md, s47).
export UV_PYTHON_DOWNLOADS=never UV_NO_PROGRESS=1
[[ -x .venv/bin/python ]] || run "$uv" venv --quiet --python "$PYTHON" .venv
run "$uv" pip sync --quiet --python .venv/bin/python requirements.lock
# aws-cdk-lib and its dependency aws-cdk-cloud-assembly-schema both install aws_cdk/cloud_assembly_schema/__init__.py,
# and uv installs in parallel: when the dependency's was written last, aws-cdk-lib is installed again, alone, so its
# own stays, as pip's order (dependencies first) leaves it (scripts/overlaps.py).
overlaps=0
.venv/bin/python scripts/overlaps.py aws-cdk-lib aws-cdk-cloud-assembly-schema >>"$log" 2>&1 || overlaps=$?
if [[ $overlaps == 1 ]]; then
  run "$uv" pip install --quiet --python .venv/bin/python --no-deps --reinstall-package aws-cdk-lib -r requirements.lock
  run .venv/bin/python scripts/overlaps.py aws-cdk-lib aws-cdk-cloud-assembly-schema
fi
run "$uv" pip install --quiet --python .venv/bin/python --no-deps --build-constraints build-constraints.txt -e .
# The libraries' byte code another checkout of the user compiled (scripts/bytecode.py: kept after each test run), into
# each new environment (.venv's while Checkov's installs): a fresh clone's processes then compile only what no
# earlier run did. Its line says what it did; a cache it cannot use is not a failed set-up.
.venv/bin/python scripts/bytecode.py link &
link_pid=$!
[[ -x .venv-checkov/bin/python ]] || run "$uv" venv --quiet --python "$PYTHON" .venv-checkov
run "$uv" pip sync --quiet --python .venv-checkov/bin/python requirements-checkov.lock
.venv-checkov/bin/python scripts/bytecode.py link || true
wait "$link_pid" || true

if ! wait "$npm_pid"; then
  cat "$npm_log" >&2; echo "error: set-up step failed: npm ci" >&2; exit 1
fi
echo "$want" > "$stamp"
echo "setup: done in $((SECONDS - start)) s" >&2
