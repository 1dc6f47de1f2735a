#!/usr/bin/env bash
# Run the whole test suite with coverage, on every core and one worker more (set-up included). Extra arguments
# go to pytest (e.g. `bash scripts/test.sh -n 0 tests/unit` for one process). PYTEST_WORKERS overrides the
# worker count.
set -euo pipefail
cd "$(dirname "$0")/.."
bash scripts/setup.sh
bash scripts/system-deps.sh --browser
source scripts/env.sh
# One worker more than cores: the pipeline, hung-endpoint and browser tests wait on processes and timers, and a
# third worker fills those waits (2 cores: 218 s with 2 workers, 190 s with 3, 199 s with 4; bench/README.md).
workers=${PYTEST_WORKERS:-$(( $(nproc 2>/dev/null || echo 2) + 1 ))}
# The coverage XML (reports/coverage.xml) is CI's artifact: written there, not in a local run (about 1 s).
reports=(--cov-report=term)
if [[ -n "${CI:-}" || -n "${COVERAGE_XML:-}" ]]; then reports+=(--cov-report=xml:reports/coverage.xml); fi
exec python -m pytest -n "$workers" --dist loadgroup --cov "${reports[@]}" "$@"
