"""policies/gate/core.py: the template stage clean on the real template, each broken requirement reported by
id, only the current assembly's stacks scanned, and a manifest that names none refused."""

from __future__ import annotations

import json

import pytest

from platform_spec.exit_codes import EXIT_USAGE
from policies.gate import core
from policies.gate.result import GateError
from tests.conftest import CDK_AND_CHECKOV
from tests.policy.fixtures import MUTATIONS

pytestmark = [pytest.mark.synth, CDK_AND_CHECKOV]


def test_the_synthesized_template_passes_the_template_stage(gate_run):
    assert gate_run["original"] == []


@pytest.mark.parametrize("mutation", sorted(MUTATIONS))
def test_each_broken_requirement_is_reported_with_its_rule_id(gate_run, mutation):
    expected = MUTATIONS[mutation][1]
    reported = {f.catalog_id for f in gate_run[mutation]}
    assert expected in reported, f"{mutation}: expected {expected}, got {sorted(reported)}"


def test_gate_scans_only_the_stacks_of_the_current_assembly(tmp_path):
    """Templates of earlier synths (other suffixes) left in cdk.out are not judged against this suffix."""
    (tmp_path / "TapStackold.template.json").write_text("{}")
    (tmp_path / "TapStacknew.template.json").write_text("{}")
    (tmp_path / "manifest.json").write_text(json.dumps({"artifacts": {
        "TapStacknew": {"type": "aws:cloudformation:stack",
                        "properties": {"templateFile": "TapStacknew.template.json"}},
        "Tree": {"type": "cdk:tree", "properties": {"file": "tree.json"}}}}))
    assert core.assembly_templates(tmp_path) == [tmp_path / "TapStacknew.template.json"]
    (tmp_path / "manifest.json").unlink()
    assert len(core.assembly_templates(tmp_path)) == 2


@pytest.mark.parametrize("manifest", ['{"artifacts": {', "[]", '{"artifacts": []}',
                                      '{"artifacts": {"S": {"type": "aws:cloudformation:stack"}}}'])
def test_a_manifest_that_names_no_templates_is_a_usage_error_not_a_crash(tmp_path, manifest):
    (tmp_path / "manifest.json").write_text(manifest)
    with pytest.raises(GateError, match="is not a readable cloud assembly manifest") as raised:
        core.assembly_templates(tmp_path)
    assert raised.value.exit_code == EXIT_USAGE
