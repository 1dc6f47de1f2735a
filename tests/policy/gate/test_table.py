"""policies/gate/table.py: a stage that did not run says why."""

from __future__ import annotations

import pytest

from policies.gate import table
from policies.gate.result import GateResult
from tests.conftest import CDK_AND_CHECKOV

pytestmark = [pytest.mark.synth, CDK_AND_CHECKOV]


def test_skip_synth_says_the_nag_packs_did_not_run():
    result = GateResult(not_run={"cdk-nag packs": "--skip-synth: only the template stage ran"})
    assert "  cdk-nag packs: NOT RUN (--skip-synth: only the template stage ran)" in table.summary_lines(result)
