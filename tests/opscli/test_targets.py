"""opscli.targets: the outputs file `cdk deploy --outputs-file` writes, nested under the stack's name, is read
flat; anything but a JSON object is a usage error."""

from __future__ import annotations

import json

import pytest

from opscli import errors
from opscli.targets import REQUIRED_OUTPUTS, from_outputs


def test_nested_cdk_outputs_file_is_unwrapped(tmp_path):
    flat = {key: f"{key.lower()}-x" for key in REQUIRED_OUTPUTS}
    flat["EnvironmentSuffix"] = "x"
    (tmp_path / "nested.json").write_text(json.dumps({"TapStackx": flat}))
    assert from_outputs(tmp_path / "nested.json").db_instance == "dbinstanceidentifier-x"
    (tmp_path / "list.json").write_text("[1]")
    with pytest.raises(errors.UsageError, match="must be a flat JSON object"):
        from_outputs(tmp_path / "list.json")
