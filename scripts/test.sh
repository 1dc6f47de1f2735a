#!/usr/bin/env bash
# Run the whole test suite with coverage (set-up included). Extra arguments go to pytest.
set -euo pipefail
cd "$(dirname "$0")/.."
bash scripts/setup.sh
source scripts/env.sh
exec python -m pytest --cov --cov-report=term --cov-report=xml:reports/coverage.xml "$@"
