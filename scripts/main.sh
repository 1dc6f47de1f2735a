#!/usr/bin/env bash
# The main job on a fresh machine, end to end on the local emulator:
#   set up -> synth (Aspects + cdk-nag packs) -> policy gate (Checkov + template engine)
#   -> deploy the synthesized template into a moto server on 127.0.0.1 -> cfn-outputs/<suffix>/flat-outputs.json
#   -> opscli audit + opscli rotate-check secrets against it -> summary
#   bash scripts/main.sh [--suffix SUFFIX]        (default suffix: dev)
# Exit codes: 0 compliant; 1 findings (gate or audit); 2 usage error; 3 something could not run or look.
set -euo pipefail
cd "$(dirname "$0")/.."
suffix=dev
while [[ $# -gt 0 ]]; do
  case $1 in
    --suffix) suffix=${2:?--suffix needs a value}; shift 2 ;;
    --suffix=*) suffix=${1#*=}; shift ;;
    -h|--help) sed -n '2,7p' "$0"; exit 0 ;;
    *) echo "error: unknown argument '$1' (usage: scripts/main.sh [--suffix SUFFIX])" >&2; exit 2 ;;
  esac
done
bash scripts/setup.sh
source scripts/env.sh

echo "== 1/3 policy gate: synth (Aspects + cdk-nag packs), Checkov, cfn-lint, template engine  [suffix: $suffix]"
gate=0
python -m policies.gate --suffix "$suffix" --cdk-out cdk.out --reports reports || gate=$?
if [[ $gate -ge 2 ]]; then exit "$gate"; fi
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

echo
echo "== 2/3 local deployment into a moto server, 3/3 opscli audit and rotate-check against it"
local=0
python -m localenv --suffix "$suffix" || local=$?   # outputs: cfn-outputs/$suffix/flat-outputs.json

echo
echo "== main job: policy gate exit $gate, local deployment + opscli exit $local"
if [[ $local -ge 2 ]]; then exit "$local"; fi
exit $(( gate > local ? gate : local ))

