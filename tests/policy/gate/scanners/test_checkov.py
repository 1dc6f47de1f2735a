"""policies/gate/scanners/checkov.py: every Checkov finding of the mutations maps to a catalog rule."""

from __future__ import annotations

import pytest

from tests.conftest import CDK_AND_CHECKOV

pytestmark = [pytest.mark.synth, CDK_AND_CHECKOV]


def test_every_checkov_finding_of_the_mutations_maps_to_a_catalog_rule(gate_run):
    unmapped = {(name, f.rule_id) for name, found in gate_run.items() for f in found
                if f.engine == "checkov" and not f.catalog_id}
    assert unmapped == set(), "map these Checkov checks in the catalog references"
