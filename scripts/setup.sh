#!/usr/bin/env bash
# Set up a fresh machine for this repo: Python venv with the app and test dependencies, the pinned CDK CLI.
# Idempotent and quick when nothing changed (keyed on pyproject.toml and package-lock.json).
set -euo pipefail
cd "$(dirname "$0")/.."

PYTHON=${PYTHON:-python3}
if ! "$PYTHON" -c 'import sys; sys.exit(sys.version_info < (3, 11))' 2>/dev/null; then
  echo "error: Python 3.11 or newer is required (found: $("$PYTHON" --version 2>&1))" >&2; exit 2
fi
command -v node >/dev/null || { echo "error: Node.js (for the CDK CLI) is required: apt-get install nodejs npm" >&2; exit 2; }

stamp=.venv/.setup-stamp
want=$(cat pyproject.toml package-lock.json | sha256sum | cut -d' ' -f1)
if [[ -f $stamp && "$(cat "$stamp")" == "$want" && -x node_modules/.bin/cdk ]]; then
  exit 0
fi
echo "setup: installing Python dependencies into .venv and the pinned CDK CLI into node_modules" >&2
log=$(mktemp)
trap 'rm -f "$log"' EXIT
run() { "$@" >>"$log" 2>&1 || { cat "$log" >&2; echo "error: set-up step failed: $*" >&2; exit 1; }; }
[[ -x .venv/bin/python ]] || run "$PYTHON" -m venv .venv
run .venv/bin/python -m pip install --upgrade pip
run .venv/bin/python -m pip install -e ".[test]"
run npm ci --no-audit --no-fund
echo "$want" > "$stamp"
