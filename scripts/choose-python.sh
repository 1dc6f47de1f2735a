#!/usr/bin/env bash
# Print the interpreter set-up makes the virtual environments with: the newest CPython 3.13, else 3.12, that
# answers (on PATH as python3.13 / python3.12, then pyenv's versions under $PYENV_ROOT or ~/.pyenv), else python3.
# On 3.12 and later coverage measures through sys.monitoring, which sends no event for code it does not measure
# (botocore, moto, jsii, pytest); 3.11's trace function ran every line of those slowly (bench/README.md). Both are
# the versions the lock files were installed and the suite run on; 3.11 still works (set PYTHON to choose).
set -uo pipefail
for minor in 13 12; do
  # A pyenv shim of a version that is not enabled is on PATH but fails: only an interpreter that answers counts.
  candidates=("python3.$minor")
  while IFS= read -r found; do candidates+=("$found"); done < <(
    ls -d "${PYENV_ROOT:-$HOME/.pyenv}"/versions/3."$minor".*/bin/python3."$minor" 2>/dev/null | sort -V -r)
  for candidate in "${candidates[@]}"; do
    if "$candidate" -c "import sys; sys.exit(sys.version_info[:2] != (3, $minor))" >/dev/null 2>&1; then
      echo "$candidate"
      exit 0
    fi
  done
done
echo python3
