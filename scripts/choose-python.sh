#!/usr/bin/env bash
# Print the interpreter set-up makes the virtual environments with: a CPython 3.13, else 3.12, that answers
# (python3.13 / python3.12 on PATH, then the newest of pyenv's versions under $PYENV_ROOT or ~/.pyenv), else python3.
# On 3.12 and later coverage measures through sys.monitoring, which sends no event for code it does not measure
# (botocore, moto, jsii, pytest); 3.11's trace function ran every line of those slowly (bench/README.md). The lock
# files install on both, and the whole suite has run on both (on 3.12.1, three of set-up's own tests failed, fixed
# since: bench/README.md). 3.11 still works (set PYTHON to choose).
set -uo pipefail

# Whether $2 is a final release of 3.$1 with the default ABI: pyenv's versions match 3.13.* for a pre-release
# (3.13.2rc1, which sorts above 3.13.1) and for a free-threaded or debug build (3.13.1t) too, which the lock files'
# wheels are not for. Given up after 10 s (a wrapper that waits for something, an interpreter on a hung mount):
# set-up runs this before anything else, and would wait with it.
answers() {
  local check="import sys; sys.exit(sys.version_info[:2] != (3, $1) or sys.version_info.releaselevel != 'final'
    or getattr(sys, 'abiflags', '') != '')"
  if ! command -v timeout >/dev/null; then
    "$2" -c "$check" </dev/null >/dev/null 2>&1
    return
  fi
  timeout -k 2 10 "$2" -c "$check" </dev/null >/dev/null 2>&1
  local status=$?
  if [[ $status == 124 || $status == 137 ]]; then echo "choose-python: $2 did not answer in 10 s: passed over" >&2; fi
  return "$status"
}

for minor in 13 12; do
  # A pyenv shim of a version that is not enabled is on PATH but fails: only an interpreter that answers counts.
  candidates=("python3.$minor")
  while IFS= read -r found; do candidates+=("$found"); done < <(
    ls -d "${PYENV_ROOT:-$HOME/.pyenv}"/versions/3."$minor".*/bin/python3."$minor" 2>/dev/null | sort -V -r)
  for candidate in "${candidates[@]}"; do
    if answers "$minor" "$candidate"; then
      echo "$candidate"
      exit 0
    fi
  done
done
echo python3
