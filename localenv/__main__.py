"""Run the main job's local half: a moto server, the stack deployed into it from the synthesized template,
then `opscli audit` and `opscli rotate-check secrets` against it.

    python -m localenv --suffix dev [--template cdk.out/TapStackdev.template.json] [--outputs cfn-outputs/flat-outputs.json]

Exit codes: 0 deployed and the audit passed; 1 the audit or rotate-check found something; 2 usage error
(missing template); 3 deployment or audit could not complete.
"""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
import time
from pathlib import Path

import boto3

from cdk_app.config import AppConfig
from localenv.deploy import Deployer, default_secret_values
from localenv.emulator import LOCAL_CREDENTIALS, moto_server
from localenv.inputs import ROOT, UsageError, load_stack



def deploy(template: dict, config: AppConfig, endpoint_url: str, outputs_path: Path) -> dict[str, str]:
    session = boto3.Session(aws_access_key_id="local-emulator", aws_secret_access_key="local-emulator",
                            region_name=config.region)
    deployer = Deployer(template, config, session=session, endpoint_url=endpoint_url)
    deployer.seed_secrets(default_secret_values(config))
    result = deployer.deploy()
    print(f"deployed {len(result.created)} resources of TapStack{config.environment_suffix} to {endpoint_url}; "
          f"{len(result.skipped)} not emulated:")
    for logical_id, rtype, reason in result.skipped:
        print(f"  - {rtype:<38} {logical_id}: {reason}")
    outputs_path.parent.mkdir(parents=True, exist_ok=True)
    outputs_path.write_text(json.dumps(result.outputs, indent=2, sort_keys=True) + "\n")
    print(f"wrote {outputs_path}")
    return result.outputs


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m localenv", description=__doc__.split("\n\n")[0])
    parser.add_argument("--suffix", default="dev")
    parser.add_argument("--template", type=Path)
    parser.add_argument("--outputs", type=Path, default=ROOT / "cfn-outputs" / "flat-outputs.json")
    args = parser.parse_args(argv)
    try:
        config, template = load_stack(args.suffix, args.template, synthesized_by="scripts/main.sh")
    except UsageError as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 2
    os.environ.update(LOCAL_CREDENTIALS)
    codes = {}
    with moto_server() as endpoint:
        start = time.perf_counter()
        deploy(template, config, endpoint, args.outputs)
        print(f"local deployment took {time.perf_counter() - start:.1f}s")
        env = {**os.environ, "AWS_ENDPOINT_URL": endpoint, "NO_COLOR": "1"}
        for name, command in (
            ("audit", ["audit", "--outputs", str(args.outputs)]),
            ("rotate-check secrets", ["rotate-check", "secrets", "--suffix", config.environment_suffix]),
        ):
            print(f"\n== opscli {name} (against the local emulator)", flush=True)
            codes[name] = subprocess.run([sys.executable, "-m", "opscli", *command], env=env).returncode
    print("\n== summary: " + ", ".join(f"opscli {k} exit {v}" for k, v in codes.items()))
    worst = max(codes.values())
    return worst


if __name__ == "__main__":
    sys.exit(main())
