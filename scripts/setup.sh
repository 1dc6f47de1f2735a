#!/usr/bin/env bash
# Set up a fresh machine for this repo: .venv (app, opscli and test dependencies), .venv-checkov (Checkov,
# kept apart for its boto3 pin) and the pinned CDK CLI in node_modules.
# Idempotent and quick when nothing changed (keyed on pyproject.toml and package-lock.json).
set -euo pipefail
cd "$(dirname "$0")/.."

PYTHON=${PYTHON:-python3}
if ! "$PYTHON" -c 'import sys; sys.exit(sys.version_info < (3, 11))' 2>/dev/null; then
  echo "error: Python 3.11 or newer is required (found: $("$PYTHON" --version 2>&1))" >&2; exit 2
fi
command -v node >/dev/null || { echo "error: Node.js (for the CDK CLI) is required: apt-get install nodejs npm" >&2; exit 2; }
bash scripts/system-deps.sh

stamp=.venv/.setup-stamp
want=$(cat pyproject.toml package-lock.json requirements-checkov.txt | sha256sum | cut -d' ' -f1)
if [[ -f $stamp && "$(cat "$stamp")" == "$want" && -x node_modules/.bin/cdk && -x .venv-checkov/bin/checkov ]]; then
  exit 0
fi
echo "setup: installing .venv, .venv-checkov and the pinned CDK CLI (first run takes about two minutes)" >&2
log=$(mktemp)
trap 'rm -f "$log"' EXIT
run() { "$@" >>"$log" 2>&1 || { cat "$log" >&2; echo "error: set-up step failed: $*" >&2; exit 1; }; }
[[ -x .venv/bin/python ]] || run "$PYTHON" -m venv .venv
run .venv/bin/python -m pip install --upgrade pip
run .venv/bin/python -m pip install -e ".[test]"
run npm ci --no-audit --no-fund
[[ -x .venv-checkov/bin/python ]] || run "$PYTHON" -m venv .venv-checkov
run .venv-checkov/bin/python -m pip install --upgrade pip
run .venv-checkov/bin/python -m pip install -r requirements-checkov.txt
echo "$want" > "$stamp"
