"""policies/gate/merge.py: one finding per (catalog rule, resource), with every engine that saw it."""

from __future__ import annotations

import pytest

from policies.gate import core, merge, synthesis, table
from policies.gate.result import GateResult
from tests.conftest import CDK_AND_CHECKOV

pytestmark = [pytest.mark.synth, CDK_AND_CHECKOV]


def test_one_broken_setting_is_one_finding_with_every_engine_and_its_python_line():
    """Issue 26: multi_az=False printed four FAIL lines, one per pack, and no file or line."""
    at = " (declared at cdk_app/constructs/database.py:40)"
    stderr = "\n".join(f"error: /TapStackx/Database/Instance/Resource: {rule}: The RDS instance is not Multi-AZ{at}"
                       for rule in ("StreamTech-STK-RDS-001", "AwsSolutions-RDS3", "HIPAA.Security-RDSMultiAZSupport",
                                    "NIST.800.53.R5-RDSMultiAZSupport"))
    [finding] = merge.merge(synthesis.synth_findings(stderr))
    assert finding.catalog_id == "STK-RDS-001" and finding.source == ("cdk_app/constructs/database.py", 40)
    assert finding.seen_by == ("nag StreamTech-STK-RDS-001", "nag AwsSolutions-RDS3",
                               "nag HIPAA.Security-RDSMultiAZSupport", "nag NIST.800.53.R5-RDSMultiAZSupport")
    line = table.finding_line(finding)
    assert line.startswith("FAIL STK-RDS-001 HIGH /TapStackx/Database/Instance/Resource "
                           "(cdk_app/constructs/database.py:40): StreamTech-STK-RDS-001: The RDS instance")
    assert "(declared at" not in line and ". Fix: Set multi_az=True on the DatabaseInstance. [nag" in line
    result = GateResult(findings=[finding], not_run=dict.fromkeys(core.TEMPLATE_STAGE, "synthesis failed"))
    lines = table.summary_lines(result)
    assert "  checkov: NOT RUN (synthesis failed)" in lines and "  template engine: NOT RUN (synthesis failed)" in lines
    assert not any("0 passed" in line for line in lines)
