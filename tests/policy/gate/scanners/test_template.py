"""policies/gate/scanners/template.py: a template the engine's rules cannot read is refused (exit 2), never a
crash that reads as findings (exit 1)."""

from __future__ import annotations

import pytest

from platform_spec.exit_codes import EXIT_USAGE
from policies.gate.result import GateError
from policies.gate.scanners.template import read_template, template_scan

NOT_TEMPLATES = {
    "truncated": b'{"Resources": {',
    "not utf-8": b"\xff{}",
    "a list": b"[]",
    "resources a list": b'{"Resources": []}',
    "a resource a number": b'{"Resources": {"Q": 5}}',
    "properties a list": b'{"Resources": {"Q": {"Type": "AWS::SQS::Queue", "Properties": []}}}',
}


@pytest.mark.parametrize("case", sorted(NOT_TEMPLATES))
def test_a_file_that_is_no_template_is_a_usage_error(tmp_path, case):
    path = tmp_path / "x\x1b[2J.template.json"  # the name is the user's: shown with its escape escaped
    path.write_bytes(NOT_TEMPLATES[case])
    with pytest.raises(GateError, match=r"is not a (readable|CloudFormation) template") as raised:
        template_scan([path])
    assert raised.value.exit_code == EXIT_USAGE and "\x1b" not in str(raised.value) and "\\x1b" in str(raised.value)


def test_a_template_is_read_as_it_is(tmp_path):
    path = tmp_path / "x.template.json"
    path.write_text('{"Resources": {"Q": {"Type": "AWS::SQS::Queue", "Properties": {}}}}')
    assert read_template(path) == {"Resources": {"Q": {"Type": "AWS::SQS::Queue", "Properties": {}}}}
    assert template_scan([path])[0] != []  # judged: an unencrypted queue fails a rule
