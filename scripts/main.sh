#!/usr/bin/env bash
# The main job on a fresh machine: set up, then synthesize TapStack for a suffix with the pinned CDK CLI.
#   bash scripts/main.sh [--suffix SUFFIX]        (default suffix: dev)
set -euo pipefail
cd "$(dirname "$0")/.."
suffix=dev
while [[ $# -gt 0 ]]; do
  case $1 in
    --suffix) suffix=${2:?--suffix needs a value}; shift 2 ;;
    --suffix=*) suffix=${1#*=}; shift ;;
    -h|--help) sed -n '2,3p' "$0"; exit 0 ;;
    *) echo "error: unknown argument '$1' (usage: scripts/main.sh [--suffix SUFFIX])" >&2; exit 2 ;;
  esac
done
bash scripts/setup.sh
source scripts/env.sh

start=$(date +%s.%N)
cdk synth --quiet --no-notices -c "environmentSuffix=$suffix" --output cdk.out
end=$(date +%s.%N)
python - "$suffix" "$start" "$end" <<'PY'
import json, sys, collections
suffix, start, end = sys.argv[1], float(sys.argv[2]), float(sys.argv[3])
template = json.load(open(f"cdk.out/TapStack{suffix}.template.json"))
types = collections.Counter(r["Type"] for r in template["Resources"].values())
print(f"synthesized TapStack{suffix} in {end - start:.1f}s: {sum(types.values())} resources, "
      f"{len(template.get('Outputs', {}))} outputs -> cdk.out/TapStack{suffix}.template.json")
for kind in ("AWS::RDS::DBInstance", "AWS::ElastiCache::ReplicationGroup", "AWS::EFS::FileSystem",
             "AWS::ECS::Service", "AWS::ApiGateway::RestApi", "AWS::KMS::Key", "AWS::Logs::LogGroup"):
    print(f"  {kind:<40} {types.get(kind, 0)}")
PY
