"""Properties of the tagging rules (platform_spec.tagging; pure functions, no synthesis here)."""

from __future__ import annotations

from hypothesis import given

from platform_spec.tagging import REQUIRED_TAG_KEYS, compute_tags, missing_required_tags, tag_problems
from tests.property.strategies import configs


@given(configs)
def test_required_tags_are_a_subset_of_computed_tags(config):
    """For any valid config, every required tag is computed, non-empty and valid for AWS."""
    tags = compute_tags(config)
    assert set(REQUIRED_TAG_KEYS) <= set(tags)
    assert missing_required_tags(tags) == []
    assert all(tag_problems(k, v) == [] for k, v in tags.items())
    assert tags["Environment"] == config.environment_suffix


@given(configs)
def test_extra_tags_never_override_required_ones(config):
    """An extra tag with a required key cannot replace the required value."""
    tags = compute_tags(config)
    assert tags["ManagedBy"] == "cdk"
    for key, value in config.extra_tags:
        if key not in REQUIRED_TAG_KEYS:
            assert tags[key] == value
