"""Readers of Lambda functions."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from opscli.readers.base import ReadContext, _call, need, reader, tag_list
from opscli.stack import Declared


@reader("AWS::Lambda::Function", ("lambda:GetFunction",), "Runtime Handler MemorySize Timeout Role Description Tags")
def lambda_function(ctx: ReadContext, r: Declared) -> dict[str, Any]:
    op = "GetFunction"
    answer = _call(op, ctx.aws.client("lambda").get_function, "ResourceNotFoundException", FunctionName=r.physical_id)
    config = need(answer, "Configuration", Mapping, operation=op)
    props = {k: config[k] for k in ("Runtime", "Handler", "MemorySize", "Timeout", "Role", "Description")
             if k in config}
    props["Tags"] = tag_list(answer.get("Tags") or {})
    return props
