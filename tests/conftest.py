"""Shared fixtures: the TapStack synthesized once per session, and hypothesis profiles."""

from __future__ import annotations

import json
import os
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest
from hypothesis import HealthCheck, settings

os.environ.setdefault("JSII_SILENCE_WARNING_END_OF_LIFE_NODE_VERSION", "20")

ROOT = Path(__file__).resolve().parents[1]

settings.register_profile("quick", max_examples=50, deadline=None)
settings.register_profile("ci", max_examples=300, deadline=None, derandomize=True,
                          suppress_health_check=[HealthCheck.too_slow])
settings.load_profile(os.environ.get("HYPOTHESIS_PROFILE", "ci" if os.environ.get("CI") else "quick"))


def cdk_json_context() -> dict[str, Any]:
    """The context cdk.json gives the app (feature flags and defaults), as `cdk synth` would pass it."""
    return json.loads((ROOT / "cdk.json").read_text())["context"]


@dataclass
class Synthesized:
    config: Any
    stack: Any
    template: dict[str, Any]
    assertions: Any  # aws_cdk.assertions.Template
    errors: list[str]
    outdir: Path

    def resources(self, type_: str) -> dict[str, dict[str, Any]]:
        return {k: v for k, v in self.template["Resources"].items() if v["Type"] == type_}

    def one(self, type_: str) -> tuple[str, dict[str, Any]]:
        found = self.resources(type_)
        assert len(found) == 1, f"expected one {type_}, found {len(found)}"
        return next(iter(found.items()))


def synthesize(context: dict[str, Any], outdir: Path) -> Synthesized:
    from aws_cdk import App
    from aws_cdk.assertions import Template

    from cdk_app.app import build_app, guardrail_errors
    from cdk_app.config import parse_context

    # The built-in CloudFormation validation runs in the real synth (`npx cdk synth`, the gate);
    # tests only need the template.
    app = App(context=context, outdir=str(outdir), analytics_reporting=False,
              builtin_cloud_formation_validation=False)
    config = parse_context(app.node.try_get_context)
    stack = build_app(app, config)
    assembly = app.synth()
    template = assembly.get_stack_by_name(stack.stack_name).template
    return Synthesized(config, stack, template, Template.from_json(template), guardrail_errors(assembly), outdir)


@pytest.fixture(scope="session")
def synth(tmp_path_factory: pytest.TempPathFactory) -> Synthesized:
    """The TapStack for suffix 'test', synthesized once for the whole session."""
    context = {**cdk_json_context(), "environmentSuffix": "test"}
    return synthesize(context, tmp_path_factory.mktemp("cdk-out"))
