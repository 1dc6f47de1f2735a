#!/usr/bin/env bash
# The system packages the workloads' tests and the local pipeline need, from Debian's packages: PostgreSQL 15
# (the stand-in for RDS) and Redis 7 (for ElastiCache); with --browser (scripts/test.sh) also Chromium, for the
# HTML report's browser test. Run by scripts/test.sh and scripts/pipeline.sh only (the gate and opscli need
# none of them). Installs what is missing (as root or with sudo, where apt-get exists); otherwise says in one
# line what to install and exits 0, so that everything that does not need them still runs (the tests that do
# need them then say why they did not run). Idempotent: a no-op when all are present.
set -euo pipefail
pg_bin=${STREAMTECH_PG_BIN:-/usr/lib/postgresql/15/bin}
missing=()
[[ -x $pg_bin/initdb && -x $pg_bin/pg_ctl ]] || missing+=(postgresql)
command -v redis-server >/dev/null || missing+=(redis-server)
# --browser (scripts/test.sh): Chromium too, for the HTML report's browser test; the pipeline does not need it.
if [[ ${1:-} == --browser ]]; then command -v chromium >/dev/null || missing+=(chromium); fi
[[ ${#missing[@]} -eq 0 ]] && exit 0
if ! command -v apt-get >/dev/null; then
  echo "setup: missing ${missing[*]}: install them with your package manager; the workloads' tests, the pipeline and the HTML report's browser test need them" >&2
  exit 0
fi
if [[ $(id -u) -eq 0 ]]; then as_root=(); elif command -v sudo >/dev/null; then as_root=(sudo); else
  echo "setup: missing ${missing[*]}; install them as root: apt-get install -y ${missing[*]}" >&2; exit 0
fi
echo "setup: installing ${missing[*]} (Debian packages)" >&2
log=$(mktemp)
trap 'rm -f "$log"' EXIT
export DEBIAN_FRONTEND=noninteractive
if ! "${as_root[@]}" apt-get install -y -q --no-install-recommends "${missing[@]}" >"$log" 2>&1; then
  "${as_root[@]}" apt-get update -q >>"$log" 2>&1 || true
  "${as_root[@]}" apt-get install -y -q --no-install-recommends "${missing[@]}" >>"$log" 2>&1 || {
    cat "$log" >&2; echo "error: could not install ${missing[*]}" >&2; exit 1; }
fi
# The packages may start their default servers; the project runs its own on free ports, so stop those.
"${as_root[@]}" service redis-server stop >/dev/null 2>&1 || true
"${as_root[@]}" service postgresql stop >/dev/null 2>&1 || true
