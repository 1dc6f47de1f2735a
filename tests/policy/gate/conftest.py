"""The gate tests' fixtures: cfn-lint started unmeasured, and the template stage's findings per mutated copy of
the real template."""

from __future__ import annotations

import os
import subprocess

import pytest

from policies.gate.scanners import cfnlint
from tests.conftest import unmeasured


@pytest.fixture(autouse=True)
def cfn_lint_unmeasured(monkeypatch):
    """cfn-lint's process runs none of our code, so it starts without coverage's subprocess hook (pyproject's
    `patch = subprocess`): traced, it took twice the CPU (4.8 s instead of 2.5 s on the real template). Every
    other process these tests start (the CDK CLI's `python -m cdk_app`) is measured as before."""
    run = subprocess.run

    def run_cfn_lint_unmeasured(args, *rest, **options):
        if list(args[1:3]) == ["-c", cfnlint.CFN_LINT]:
            options["env"] = unmeasured(options.get("env") or os.environ)
        return run(args, *rest, **options)

    monkeypatch.setattr(subprocess, "run", run_cfn_lint_unmeasured)


@pytest.fixture(scope="module")
def gate_run(policy_scan):
    """Findings of the gate's template stage per mutated copy of the real template (and the original).

    The template engine sees every copy. Checkov, slow on whole templates, sees the original and the
    copies whose rule the template engine does not implement (in the session's one Checkov run): the gate
    reports the union of both.
    """
    return policy_scan.mutants
