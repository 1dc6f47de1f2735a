"""The whole-stack engine (platform_spec.template_engine) on the session's synthesized template. Each rule's verdicts
through it are proved on the rules' own fixtures (tests/policy/test_fixtures.py)."""

from __future__ import annotations

import json

import pytest

pytestmark = pytest.mark.synth


def test_the_template_engine_leaves_the_template_it_judges_as_it_was(synth):
    """opscli's drift judges templates that share everything but one property with the live picture: the
    template engine (resource and relationship rules alike) changes nothing it reads."""
    from platform_spec import template_engine

    before = json.dumps(synth.template, sort_keys=True)
    findings = template_engine.evaluate(synth.template, expected_tags={"Environment": "test"})
    assert len(findings) > 100 and json.dumps(synth.template, sort_keys=True) == before
