"""The pictures in docs/, from real runs: the stack (suffix prod) deployed into the local emulator, audited once
clean and once after two live changes (key rotation switched off, the database's security group given egress
to the internet), with opscli in a process of its own as an operator runs it.

    source scripts/env.sh && python scripts/screenshots.py

Writes docs/audit-run.json (the second run's findings: what tests/opscli/test_docs.py renders again),
docs/audit-terminal.txt and .svg (the terminal view at 80 columns) and docs/audit-report.png (the HTML report
in headless Chromium at 1,400 x 1,800)."""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
import tempfile
from pathlib import Path

import boto3

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))  # our packages, for a script run by path

from cdk_app.assembly_cache import SynthesisFailed, synthesized
from cdk_app.config import AppConfig
from localenv.__main__ import deploy
from localenv.emulator import LOCAL_CREDENTIALS, moto_server
from platform_spec.exit_codes import EXIT_FINDINGS, EXIT_OK

ROOT = Path(__file__).resolve().parents[1]

DOCS = ROOT / "docs"
SUFFIX = "prod"


def opscli(endpoint: str, *args: str) -> subprocess.CompletedProcess:
    env = {**os.environ, **LOCAL_CREDENTIALS, "AWS_ENDPOINT_URL": endpoint, "COLUMNS": "80", "NO_COLOR": "1"}
    return subprocess.run([sys.executable, "-m", "opscli", *args], env=env, cwd=ROOT, capture_output=True,
                          text=True, timeout=300)


def main() -> int:
    config = AppConfig.for_suffix(SUFFIX)
    try:
        template = synthesized({"environmentSuffix": SUFFIX}).template(config.stack_name)
    except SynthesisFailed as exc:
        return exc.report()
    work = Path(tempfile.mkdtemp(prefix="screenshots-"))
    try:
        with moto_server() as endpoint:
            outputs = work / "outputs.json"
            deploy(template, config, endpoint, outputs, quiet=True)
            common = ["--outputs", str(outputs), "--history", str(work / "history.sqlite")]
            clean = opscli(endpoint, "audit", *common)
            session = boto3.Session(**{k.lower(): v for k, v in LOCAL_CREDENTIALS.items()
                                       if k != "AWS_DEFAULT_REGION"}, region_name=config.region)
            kms, ec2 = (session.client(name, endpoint_url=endpoint) for name in ("kms", "ec2"))
            kms.disable_key_rotation(KeyId=json.loads(outputs.read_text())["KmsKeyArn"])
            group = ec2.describe_security_groups(Filters=[{"Name": "group-name", "Values": [config.name("rds-sg")]}])[
                "SecurityGroups"][0]["GroupId"]
            ec2.authorize_security_group_egress(GroupId=group, IpPermissions=[
                {"IpProtocol": "tcp", "FromPort": 443, "ToPort": 443, "IpRanges": [{"CidrIp": "0.0.0.0/0"}]}])
            found = opscli(endpoint, "audit", *common, "--report", f"json={work / 'run.json'}",
                           "--report", f"html={work / 'audit.html'}")
        print(f"clean run: exit {clean.returncode}, {len(clean.stdout.splitlines())} lines; with two changes: exit "
              f"{found.returncode}, {len(found.stdout.splitlines())} lines")
        if clean.returncode != EXIT_OK or found.returncode != EXIT_FINDINGS:
            print(clean.stdout, clean.stderr, found.stdout, found.stderr, sep="\n", file=sys.stderr)
            return EXIT_FINDINGS
        document = json.loads((work / "run.json").read_text())
        for finding in document["findings"]:
            finding.pop("explanation", None)  # the catalog's words: rendered again from the catalog
        (DOCS / "audit-run.json").write_text(json.dumps(document, indent=1, sort_keys=True) + "\n")
        from tests.opscli.test_docs import terminal_view

        text, svg = terminal_view(DOCS / "audit-run.json")
        (DOCS / "audit-terminal.txt").write_text(text)
        (DOCS / "audit-terminal.svg").write_text(svg)
        profile = work / "chromium"
        subprocess.run(["chromium", "--headless", "--no-sandbox", "--disable-gpu", f"--user-data-dir={profile}",
                        "--hide-scrollbars", "--window-size=1400,1800", f"--screenshot={DOCS / 'audit-report.png'}",
                        (work / "audit.html").as_uri()], capture_output=True, timeout=120, check=True)
        print("wrote docs/audit-run.json, docs/audit-terminal.txt, docs/audit-terminal.svg, docs/audit-report.png")
        return EXIT_OK
    finally:
        shutil.rmtree(work, ignore_errors=True)


if __name__ == "__main__":
    sys.exit(main())
