#!/usr/bin/env bash
# The main job on a fresh machine: set up, synthesize TapStack for a suffix with every guardrail and
# compliance pack, then run the policy gate (Checkov + template engine) over the templates.
#   bash scripts/main.sh [--suffix SUFFIX]        (default suffix: dev)
# Exit codes: 0 compliant; 1 policy findings; 2 usage error; 3 a tool could not run.
set -euo pipefail
cd "$(dirname "$0")/.."
suffix=dev
while [[ $# -gt 0 ]]; do
  case $1 in
    --suffix) suffix=${2:?--suffix needs a value}; shift 2 ;;
    --suffix=*) suffix=${1#*=}; shift ;;
    -h|--help) sed -n '2,6p' "$0"; exit 0 ;;
    *) echo "error: unknown argument '$1' (usage: scripts/main.sh [--suffix SUFFIX])" >&2; exit 2 ;;
  esac
done
bash scripts/setup.sh
source scripts/env.sh

echo "== policy gate: synth (Aspects + cdk-nag packs), Checkov, template engine  [suffix: $suffix]"
python -m policies.gate --suffix "$suffix" --cdk-out cdk.out --reports reports
python - "$suffix" <<'PY'
import json, sys, collections
suffix = sys.argv[1]
template = json.load(open(f"cdk.out/TapStack{suffix}.template.json"))
types = collections.Counter(r["Type"] for r in template["Resources"].values())
print(f"== TapStack{suffix}: {sum(types.values())} resources, {len(template.get('Outputs', {}))} outputs "
      f"-> cdk.out/TapStack{suffix}.template.json")
for kind in ("AWS::RDS::DBInstance", "AWS::ElastiCache::ReplicationGroup", "AWS::EFS::FileSystem",
             "AWS::ECS::Service", "AWS::ApiGateway::RestApi", "AWS::WAFv2::WebACL", "AWS::KMS::Key",
             "AWS::Logs::LogGroup"):
    print(f"  {kind:<40} {types.get(kind, 0)}")
PY
