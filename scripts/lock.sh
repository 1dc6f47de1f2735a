#!/usr/bin/env bash
# Regenerate the lock files after a change to pyproject.toml, requirements-checkov.txt or dist/streamtech-opscli
# (needs the package registry); commit the result. Universal locks (every platform) with hashes, for Python 3.11 and newer.
set -euo pipefail
cd "$(dirname "$0")/.."
bash scripts/setup.sh >/dev/null 2>&1 || true  # brings uv; a stale lock is fine for that
uv=.venv-tools/bin/uv
"$uv" pip compile --quiet --universal --python-version 3.11 --generate-hashes pyproject.toml --extra test --extra lint \
  -o requirements.lock
"$uv" pip compile --quiet --universal --python-version 3.11 --generate-hashes requirements-checkov.txt \
  -o requirements-checkov.lock
# opscli installed alone (dist/streamtech-opscli): its runtime dependencies at the versions the suite runs with
"$uv" pip compile --quiet --universal --python-version 3.11 --generate-hashes dist/streamtech-opscli/pyproject.toml \
  -c requirements.lock -o requirements-opscli.lock
echo "lock: requirements.lock ($(grep -c '==' requirements.lock) pins), requirements-checkov.lock" \
  "($(grep -c '==' requirements-checkov.lock) pins), requirements-opscli.lock ($(grep -c '==' requirements-opscli.lock) pins)"
