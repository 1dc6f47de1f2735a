"""opscli.diagram: the architecture picture the HTML report and docs/architecture.svg show, drawn from the
synthesized template, and `python -m opscli.diagram`, which takes only a regular JSON template."""

from __future__ import annotations

import json

from opscli import diagram
from tests.conftest import ROOT


def test_the_committed_architecture_picture_is_the_one_the_template_gives(synth):
    assert (ROOT / "docs" / "architecture.svg").read_text() == diagram.svg(synth.template, title=diagram.TITLE), \
        "run: python -m opscli.diagram cdk.out/TapStack<suffix>.template.json > docs/architecture.svg"
    items, edges = diagram.boxes(synth.template)
    kinds = {i["type"] for i in items}
    assert {"AWS::RDS::DBInstance", "AWS::ElastiCache::ReplicationGroup", "AWS::ECS::Service",
            "AWS::ApiGateway::RestApi", "AWS::KMS::Key"} <= kinds
    assert ("AWS::Events::Rule", "AWS::SQS::Queue") in edges  # the intake flow, read from the references


def test_the_diagram_tool_takes_only_a_regular_json_template(fifo, tmp_path, capsys):
    assert diagram.main([str(fifo)]) == 2
    assert f"template {fifo} is a FIFO, not a regular file" in capsys.readouterr().err
    assert diagram.main([str(tmp_path / "none.json")]) == 2
    assert "does not exist" in capsys.readouterr().err
    (tmp_path / "t.json").write_text(json.dumps({"Resources": {"Vpc": {"Type": "AWS::EC2::VPC"}}}))
    assert diagram.main([str(tmp_path / "t.json")]) == 0
    assert capsys.readouterr().out.startswith("<svg")
    assert diagram.main([]) == 2
