"""Properties of the app's configuration parsing (cdk_app.config; pure functions, no synthesis here)."""

from __future__ import annotations

from hypothesis import given

from cdk_app.config import parse_context
from tests.property.strategies import configs


@given(configs)
def test_parsing_is_idempotent(config):
    """Feeding a parsed config's values back through the parser yields the same config."""
    context = {
        "environmentSuffix": config.environment_suffix, "project": config.project,
        "costCenter": config.cost_center, "owner": config.owner,
        "dataClassification": config.data_classification, "extraTags": dict(config.extra_tags),
    }
    assert parse_context(context.get) == config
