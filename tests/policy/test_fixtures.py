"""Every custom rule through every engine that implements it: the passing fixture passes, the failing one fails."""

from __future__ import annotations

import pytest

from platform_spec import catalog, template_engine
from platform_spec.catalog import Engine
from platform_spec.context import Context
from platform_spec.registry import BY_ID, HOME_BY_ID, RULE_MODULES, STACK_RULES_BY_ID
from platform_spec.result import Status
from tests.conftest import CDK_AND_CHECKOV
from tests.policy.fixtures import FIXTURES, MUTATIONS, rule_test_modules
from tests.policy.templates import SUFFIX

CASES = [(rule.id, engine) for rule in catalog.CATALOG.values() for engine in rule.engines
         if engine in (Engine.NAG, Engine.CHECKOV, Engine.TEMPLATE)]


def test_every_rule_beyond_the_aspects_has_both_fixtures():
    needed = {rule_id for rule_id, _ in CASES}
    assert needed <= set(FIXTURES)
    assert all(set(FIXTURES[rule_id]) == {"pass", "fail"} for rule_id in FIXTURES)


def test_a_rules_cases_are_in_the_test_file_named_after_its_module():
    """A rule's cases are found from its id: tests/policy/rules/test_<module>.py holds the fixtures, mutations and
    live-picture breaks of the rules platform_spec/rules/<module>.py registers, and only theirs."""
    for module in rule_test_modules():
        home = "platform_spec.rules." + module.__name__.rsplit(".", 1)[1].removeprefix("test_")
        assert home in RULE_MODULES, f"{module.__name__} is named after no rule module"
        ids = set(getattr(module, "FIXTURES", {})) | {rule for _, rule in getattr(module, "MUTATIONS", {}).values()}
        ids |= {rule for rule, _, _ in getattr(module, "PICTURE_BREAKS", [])}
        assert ids, f"{module.__name__} holds no case"
        strangers = {rule_id: HOME_BY_ID.get(rule_id) for rule_id in ids if HOME_BY_ID.get(rule_id) != home}
        assert strangers == {}, f"{module.__name__} holds cases of rules registered elsewhere"



def test_every_whole_stack_rule_has_a_mutation_of_the_real_template():
    """A rule that judges resources in relation to others is proved on the real stack too: its fixtures are a few
    resources, the real template has every relation (tests/policy/gate/test_core.py runs the mutations)."""
    whole_stack = set(STACK_RULES_BY_ID) | {rule.id for rule in catalog.rules_for(Engine.TEMPLATE)}
    assert whole_stack - {rule_id for _, rule_id in MUTATIONS.values()} == set()

@pytest.mark.parametrize("rule_id", sorted(r for r in FIXTURES if r in BY_ID))
def test_predicate(rule_id):
    rule = BY_ID[rule_id]
    context = Context(suffix=SUFFIX, cmk_ids=frozenset({"Cmk"}))

    def statuses(kind):
        return [rule.evaluate(r["Type"], r.get("Properties"), context).status
                for r in FIXTURES[rule_id][kind]["Resources"].values()]

    assert Status.FAIL not in statuses("pass")
    assert Status.FAIL in statuses("fail")


@pytest.mark.synth  # the session's one Checkov run also judges the mutated real template
@CDK_AND_CHECKOV
@pytest.mark.parametrize("rule_id, engine", CASES, ids=[f"{r}-{e.value}" for r, e in CASES])
def test_engine(rule_id, engine, checkov_by_file, nag_by_stack):
    def failed(kind: str) -> bool:
        name = f"{rule_id}--{kind}.template.json"
        if engine is Engine.TEMPLATE:
            return bool(template_engine.failures(FIXTURES[rule_id][kind], rule_ids={rule_id}))
        if engine is Engine.CHECKOV:
            return any(f.catalog_id == rule_id for f in checkov_by_file[name])
        return any(e.startswith(f"StreamTech-{rule_id}:") for e in nag_by_stack[name])

    assert not failed("pass"), f"{engine.value} reports {rule_id} on its passing fixture"
    assert failed("fail"), f"{engine.value} does not report {rule_id} on its failing fixture"
