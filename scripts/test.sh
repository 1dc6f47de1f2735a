#!/usr/bin/env bash
# Run the whole test suite with coverage, on every core (set-up included). Extra arguments go to pytest
# (e.g. `bash scripts/test.sh -n 0 tests/unit` for one process). PYTEST_WORKERS overrides the worker count.
set -euo pipefail
cd "$(dirname "$0")/.."
bash scripts/setup.sh
bash scripts/system-deps.sh --browser
source scripts/env.sh
workers=${PYTEST_WORKERS:-$(nproc 2>/dev/null || echo 2)}
exec python -m pytest -n "$workers" --dist loadgroup --cov --cov-report=term --cov-report=xml:reports/coverage.xml "$@"
