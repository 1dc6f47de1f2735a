"""cdk_app/compliance.py's suppressions: each on the resource it excuses, citing a catalog deviation, and exactly
the reviewed list (policies/reviewed_suppressions.json)."""

from __future__ import annotations

import json
import re

import pytest

from platform_spec import catalog
from tests.conftest import CDK_AND_CHECKOV, ROOT
from tests.policy_support import synthesized_suppressions

pytestmark = pytest.mark.synth
REVIEWED = json.loads((ROOT / "policies" / "reviewed_suppressions.json").read_text())["suppressions"]


MONITOR = "TapMonitor"  # the reviewed list's "stack" of the posture monitor's suppressions (TapStack's name none)


def test_synthesized_suppressions_are_exactly_the_reviewed_list(synth, monitor_template):
    found = [{k: v for k, v in e.items() if k != "reason"} | {"deviation": e["reason"].split(":")[0]} | extra
             for template, extra in ((synth.template, {}), (monitor_template, {"stack": MONITOR}))
             for e in synthesized_suppressions(template)]
    key = lambda e: (e.get("stack", ""), e["path"], e["engine"], e["rule"], json.dumps(e["applies_to"]))  # noqa: E731
    assert sorted(found, key=key) == sorted(REVIEWED, key=key)


@CDK_AND_CHECKOV  # cdk_app.compliance imports aws_cdk (tests/conftest.py says why the group)
def test_every_suppression_reason_is_its_deviation_rationale(synth, monitor_template):
    from cdk_app.compliance import reason

    for entry in synthesized_suppressions(synth.template) + synthesized_suppressions(monitor_template):
        deviation = entry["reason"].split(":")[0]
        assert entry["reason"] == reason(deviation)
        assert re.fullmatch(r"STK-DEV-\d{3}: [A-Z][^.]+[^.]*\.", entry["reason"]), entry["reason"]


def test_every_suppressed_rule_is_named_by_the_deviation_it_cites():
    for entry in REVIEWED:
        rule = catalog.get(entry["deviation"])
        names = rule.references.ids("cdk_nag") if entry["engine"] == "cdk-nag" else rule.references.ids("checkov")
        assert entry["rule"] in names, f"{entry['rule']} is not among {entry['deviation']}'s references"


@CDK_AND_CHECKOV
def test_suppressions_only_cite_deviations_and_need_a_resource():
    from aws_cdk import App, Stack

    from cdk_app.compliance import reason, suppress

    with pytest.raises(ValueError, match="not an accepted deviation"):
        reason("STK-KMS-001")
    stack = Stack(App(), "S")
    with pytest.raises(TypeError, match="no CloudFormation resource"):
        suppress(stack, "STK-DEV-001", nag=["AwsSolutions-RDS10"])
