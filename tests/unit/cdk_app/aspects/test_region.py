"""cdk_app/aspects/region.py on a small stack with every guardrail: a stack outside ap-northeast-1, or with no
region fixed at synthesis, fails with STK-REGION-001."""

from __future__ import annotations

import pytest

from tests.conftest import CDK_AND_CHECKOV
from tests.unit.cdk_app.aspects.small_stack import only, synth_small

pytestmark = CDK_AND_CHECKOV  # every test builds constructs (tests/conftest.py says why the group)


@pytest.mark.parametrize("env, expected", [
    ({"region": "us-east-1"}, "region 'us-east-1' is outside Japan"),
    (None, "region is not fixed at synthesis"),
])
def test_region_aspect_rejects_other_or_unset_regions(env, expected):
    _, errors, _ = synth_small(lambda stack: None, env=env)
    [error] = only(errors, "STK-REGION-001")
    assert expected in error
