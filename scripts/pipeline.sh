#!/usr/bin/env bash
# Push one generated video through the local pipeline and show its metadata through the API:
#   set up -> synth (cdk synth, Aspects + cdk-nag packs; cached) -> the stack deployed into a TLS moto server ->
#   PostgreSQL + Redis with TLS on 127.0.0.1 -> worker + API processes -> upload -> event -> worker ->
#   PostgreSQL -> Redis -> GET /videos/{id}
#   bash scripts/pipeline.sh [--suffix SUFFIX] [--video PATH]      (default suffix: dev)
# Exit codes: 0 the video came back through the API; 1 it did not; 2 usage error; 3 could not start.
set -euo pipefail
cd "$(dirname "$0")/.."
suffix=dev
args=()
while [[ $# -gt 0 ]]; do
  case $1 in
    --suffix) suffix=${2:?--suffix needs a value}; shift 2 ;;
    --video) args+=(--video "${2:?--video needs a path}"); shift 2 ;;
    -h|--help) sed -n '2,7p' "$0"; exit 0 ;;
    *) echo "error: unknown argument '$1' (usage: scripts/pipeline.sh [--suffix SUFFIX] [--video PATH])" >&2; exit 2 ;;
  esac
done
bash scripts/setup.sh
bash scripts/system-deps.sh
source scripts/env.sh
echo "== synth TapStack$suffix (cdk synth, reused from the assembly cache while its inputs are unchanged)"
python -m cdk_app.assembly_cache --suffix "$suffix" --cdk-out cdk.out >/dev/null
exec python -m localenv.pipeline --suffix "$suffix" "${args[@]}"
