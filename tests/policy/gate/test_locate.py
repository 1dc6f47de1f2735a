"""policies/gate/locate.py: a template-stage finding names the Python line that declares its resource."""

from __future__ import annotations

import json

import pytest

from policies.gate import ROOT, locate, merge, table
from policies.gate.scanners.template import template_scan
from tests.conftest import CDK_AND_CHECKOV

pytestmark = [pytest.mark.synth, CDK_AND_CHECKOV]


def test_a_template_stage_finding_names_the_python_line_that_declares_the_resource(synth, tmp_path):
    """Over an assembly with the source-map.json synthesis wrote beside its templates, a template-stage finding
    (here the data store group's egress opened to the internet) names cdk_app's line, once, with its engine; the
    SARIF result sits at that line, with the rule's security-severity. (The template engine alone: the gate's
    Checkov run over the same mutation is the mutation test's.)"""
    import shutil

    from policies.report_formats import to_sarif
    from tests.opscli.test_render import assert_code_scanning_accepts
    from tests.policy.fixtures import MUTATIONS

    out = tmp_path / "cdk.out"
    shutil.copytree(synth.outdir, out)
    template = json.loads(synth.template_path.read_text())
    MUTATIONS["db-egress-to-the-world"][0](template)
    mutated = out / synth.template_path.name
    mutated.write_text(json.dumps(template, indent=1))
    sources = locate.template_sources(out, [mutated])
    assert len(sources) == len(template["Resources"])
    found, _ = template_scan([mutated])
    located, map_file, warning = locate.locate(found, out, [mutated])
    assert map_file and map_file.endswith("source-map.json") and warning == ""
    located = merge.merge(located)
    [finding] = [f for f in located if f.catalog_id == "STK-NET-005"]
    line = table.finding_line(finding)
    assert "(cdk_app/constructs/database.py:" in line and line.endswith("[template STK-NET-005]")
    file, number = finding.source
    assert "ec2.SecurityGroup(" in (ROOT / file).read_text().splitlines()[number - 1]
    sarif = json.loads(to_sarif(located, tool="streamtech-policy-gate"))
    [result] = [r for r in sarif["runs"][0]["results"] if r["ruleId"] == "STK-NET-005"]
    assert result["locations"][0]["physicalLocation"]["artifactLocation"]["uri"] == "cdk_app/constructs/database.py"
    rule = next(r for r in sarif["runs"][0]["tool"]["driver"]["rules"] if r["id"] == "STK-NET-005")
    assert rule["properties"]["security-severity"] == "8.0"
    assert_code_scanning_accepts(sarif)
    assert locate.template_sources(tmp_path, [mutated]) == {}  # no source map: no line claimed, and said so
    unplaced, map_file, warning = locate.locate(found, tmp_path, [mutated])
    assert map_file is None and "source-map.json is missing or unreadable" in warning
    bare = json.loads(to_sarif(merge.merge(unplaced), tool="streamtech-policy-gate"))
    [result] = [r for r in bare["runs"][0]["results"] if r["ruleId"] == "STK-NET-005"]
    assert result["locations"][0]["physicalLocation"] == {"artifactLocation": {"uri": "cdk.json",
                                                                               "uriBaseId": "%SRCROOT%"}}
