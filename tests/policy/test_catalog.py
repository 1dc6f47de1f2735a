"""Catalog integrity: ids, words, references, and every rule implemented by every engine it names."""

from __future__ import annotations

import re

import pytest

from cdk_app.config import AppConfig
from platform_spec import catalog
from platform_spec.catalog import Engine
from platform_spec.registry import BY_ID, CHECKOV_BUILTIN_COVERED, RESOURCE_RULES, checkov_custom_rule_ids
from platform_spec.template_engine import RELATIONSHIP_RULE_IDS
from tests.conftest import CDK_AND_CHECKOV

ID = re.compile(r"STK-[A-Z][A-Z0-9]*-\d{3}")
REFERENCE_SHAPES = {
    "security_hub": re.compile(r"[A-Za-z0-9]+\.\d+"),
    "config_rule": re.compile(r"[a-z0-9]+(?:-[a-z0-9]+)*"),
    "prowler": re.compile(r"[a-z0-9]+(?:_[a-z0-9]+)*"),
    "cdk_nag": re.compile(r"(?:AwsSolutions|HIPAA\.Security|NIST\.800\.53\.R5|PCI\.DSS\.321)-[A-Za-z0-9]+"),
    "checkov": re.compile(r"CKV2?_AWS_\d+"),
}
RULES = list(catalog.CATALOG.values())


def test_ids_are_unique_and_well_formed():
    ids = [rule.id for rule in catalog._RULES]
    assert len(ids) == len(set(ids))
    assert all(ID.fullmatch(rule_id) for rule_id in ids)


@pytest.mark.parametrize("rule", RULES, ids=lambda r: r.id)
def test_words_and_references(rule):
    assert rule.title and rule.rationale.endswith(".") and rule.remediation.strip()
    for kind, shape in REFERENCE_SHAPES.items():
        for ref in rule.references.ids(kind):
            assert shape.fullmatch(ref), f"{rule.id} {kind} reference '{ref}' is malformed"
    if rule.accepted_deviation:
        assert not rule.engines, "a deviation documents, it does not enforce"
        assert rule.references.ids("cdk_nag") or rule.references.ids("checkov") or rule.references.ids("security_hub")
        assert len(rule.rationale.split()) >= 12, "the rationale is the suppression reason: a full sentence"
    else:
        assert rule.engines and rule.stages


@CDK_AND_CHECKOV  # cdk_app.aspects imports aws_cdk (tests/conftest.py says why the group)
def test_every_aspect_rule_is_implemented_by_an_aspect():
    from cdk_app.aspects import mutating_aspects, validating_aspects

    config = AppConfig.for_suffix("unit")
    implemented = {rule_id for aspect in mutating_aspects(config) + validating_aspects(config)
                   for rule_id in aspect.rule_ids}
    assert {r.id for r in catalog.rules_for(Engine.ASPECT)} == implemented


def test_every_nag_and_template_rule_has_a_predicate_or_a_relationship_rule():
    for rule in catalog.rules_for(Engine.NAG):
        assert rule.id in BY_ID, f"{rule.id} names the nag engine but has no predicate"
    for rule in catalog.rules_for(Engine.TEMPLATE):
        assert rule.id in BY_ID or rule.id in RELATIONSHIP_RULE_IDS, f"{rule.id} has no template-engine implementation"


def test_every_checkov_rule_has_a_custom_check_or_a_named_builtin():
    custom = set(checkov_custom_rule_ids())
    for rule in catalog.rules_for(Engine.CHECKOV):
        if rule.id in CHECKOV_BUILTIN_COVERED:
            assert rule.references.ids("checkov"), f"{rule.id} is built-in covered but names no Checkov id"
        else:
            assert rule.id in custom and rule.id in BY_ID


def test_registry_rules_are_all_in_the_catalog():
    assert {r.rule_id for r in RESOURCE_RULES} <= set(catalog.CATALOG)


def test_lookup():
    assert catalog.get("STK-KMS-001").message("x").startswith("[STK-KMS-001] ")
    with pytest.raises(KeyError, match="unknown rule id 'NOPE'"):
        catalog.get("NOPE")
    assert {r.id for r in catalog.deviations()} == {r.id for r in RULES if r.accepted_deviation}
    assert catalog.Severity.CRITICAL.rank < catalog.Severity.INFO.rank


def test_every_live_rule_has_an_opscli_check_and_back():
    from platform_spec.stages import live_evaluations

    live = live_evaluations()
    assert {r.id for r in catalog.rules_for(Engine.LIVE)} == set(live)


ANNEX_A_2022 = {"5": 37, "6": 8, "7": 14, "8": 34}  # ISO/IEC 27001:2022 Annex A: themes and their control counts


def test_every_rule_maps_to_iso_27001_annex_a_controls_that_exist():
    """ISO/IEC 27001:2022 (the base of ISMAP): each rule names the Annex A controls it serves; only the stage
    cache deviation (a cost and performance choice) has none."""
    unmapped = set()
    for rule in catalog.CATALOG.values():
        controls = rule.references.ids("iso27001")
        if not controls:
            unmapped.add(rule.id)
        for control in controls:
            theme, _, number = control.partition(".")
            assert theme in ANNEX_A_2022 and number.isdigit() and 1 <= int(number) <= ANNEX_A_2022[theme], \
                (rule.id, control)
    assert unmapped == {"STK-DEV-006"}


@pytest.mark.parametrize("rule", [r for r in RULES if not r.accepted_deviation], ids=lambda r: r.id)
def test_every_rule_says_what_to_do_now_and_in_code(rule):
    """A finding explains itself: what an operator does to the live resource now (the rule's fixes: commands
    each failure fills, or why no single command fixes it), and what keeps it fixed. The rule's own words name
    no placeholder an operator would have to replace (the command with the ids is each failure's)."""
    assert rule.fixes and rule.now and rule.in_code and rule.now != rule.in_code
    assert not re.search(r"\b(?:GROUP|KEY|SECRET|FUNCTION|QUEUE|BUCKET|SUFFIX|REGION|TABLE|STAGE|FS|CLUSTER|"
                         r"SERVICE|ROLE|SID|GRANT|BUS|SUBSCRIPTION|FILTER|TARGET|SNAPSHOT|ACCOUNT|VERSION|DAYS)\b|<",
                         rule.now), rule.now
