#!/usr/bin/env bash
# Run the whole test suite with coverage, on every core and one worker more (set-up included). Extra arguments
# go to pytest (e.g. `bash scripts/test.sh -n 0 tests/unit` for one process). PYTEST_WORKERS overrides the
# worker count.
#
#   bash scripts/test.sh --affected [PYTEST_ARGS]   only the tests whose executed code changed since the last
#                                                   --affected run (pytest-testmon; no coverage threshold)
#
# --affected runs everything (and records it) on its first run and whenever an input that no test's code trace
# can see changed since its last green run: the lock files, cdk.json, pyproject.toml, any conftest.py, the
# helpers under tests/ that are not test modules, the rules' cases (tests/policy/rules: read at collection by the
# shared policy tests), or this script. Code that runs only in child processes (the
# emulator of the shared deployment, opscli run as a process, the workloads' processes) is not traced: after a
# change there, run the whole suite.
set -euo pipefail
cd "$(dirname "$0")/.."
if [[ "${1:-}" == "--affected" ]]; then
  previous=
  for arg in "$@"; do
    # pytest-testmon reads the cache provider's --lf option: without it (`-p no:cacheprovider` or
    # `-pno:cacheprovider` on the command line), every run that selects ends in its INTERNALERROR (KeyError: 'lf')
    if [[ $arg == -pno:cacheprovider || ( $previous == -p && $arg == no:cacheprovider ) ]]; then
      echo "error: --affected needs pytest's cache provider (pytest-testmon reads its --lf): leave out" \
           "$( [[ $arg == -p* ]] && echo "$arg" || echo "-p $arg" )" >&2
      exit 2
    fi
    previous=$arg
  done
fi
bash scripts/setup.sh
bash scripts/system-deps.sh --browser
source scripts/env.sh
# One worker more than cores: the pipeline, hung-endpoint and browser tests wait on processes and timers, and a
# third worker fills those waits (2 cores: 218 s with 2 workers, 190 s with 3, 199 s with 4; bench/README.md).
workers=${PYTEST_WORKERS:-$(( $(nproc 2>/dev/null || echo 2) + 1 ))}
if [[ "${1:-}" == "--affected" ]]; then
  shift
  mkdir -p .cache/testmon
  export TESTMON_DATAFILE=.cache/testmon/testmondata
  stamp=.cache/testmon/inputs
  want=$( { cat requirements.lock requirements-checkov.lock package-lock.json cdk.json pyproject.toml \
              scripts/test.sh; find tests \( ! -name 'test_*.py' -o -path 'tests/policy/rules/*' \) -name '*.py' -print0 \
              | sort -z | xargs -0 cat; } \
          | sha256sum | cut -d' ' -f1)
  select=()
  if [[ ! -f $TESTMON_DATAFILE || ! -f $stamp || "$(cat "$stamp")" != "$want" ]]; then
    echo "affected: first run, or lock files, cdk.json, pyproject.toml, conftest or test helpers changed: every test" >&2
    select=(--testmon-noselect)
  fi
  rm -f "$stamp"  # written again only after a green run
  # A run that selects: one worker per core, not one more. Each worker makes its own shared deployment and
  # baseline before its first test, which a run of a few dozen tests does not win back (bench/README.md).
  if [[ ${#select[@]} == 0 && -z "${PYTEST_WORKERS:-}" ]]; then workers=$(nproc 2>/dev/null || echo 2); fi
  # pytest-testmon measures each test with a coverage object of its own (not pyproject's settings) and needs every
  # line a test runs reported for that test: sys.monitoring reports a line once, for the first test that ran it
  # (coverage's default from Python 3.14, or COVERAGE_CORE=sysmon), and a later test that runs it would not be
  # selected after a change there. Its C tracer reports every line for every test.
  export COVERAGE_CORE=ctrace
  status=0
  python -m pytest -n "$workers" --dist loadgroup --testmon "${select[@]}" -p no:cov "$@" || status=$?
  if [[ $status == 0 || $status == 5 ]]; then echo "$want" > "$stamp"; status=0; fi  # 5: nothing was affected
  exit "$status"
fi
# The coverage XML (reports/coverage.xml) is CI's artifact: written there, not in a local run (about 1 s).
reports=(--cov-report=term)
if [[ -n "${CI:-}" || -n "${COVERAGE_XML:-}" ]]; then reports+=(--cov-report=xml:reports/coverage.xml); fi
status=0
# Ctrl-C reaches pytest and this shell both: pytest reports and exits 2, and this shell stores nothing (a second
# Ctrl-C, during the store, stops it): the status is the suite's either way. pytest is not exec'd (the store runs
# after it): a signal meant for the whole run goes to the process group (as Ctrl-C, `timeout` and CI's own jobs
# send it), not to this shell's process alone.
interrupted=
trap 'interrupted=1' INT
python -m pytest -n "$workers" --dist loadgroup --cov "${reports[@]}" "$@" || status=$?
# What the run compiled of the libraries, kept for the next checkout's set-up (scripts/bytecode.py); its line says
# what it did, and its failure is not the suite's.
for venv in .venv .venv-checkov; do
  [[ -z $interrupted ]] || break
  "$venv/bin/python" scripts/bytecode.py store || true
done
exit "$status"
