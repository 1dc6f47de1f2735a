"""A whole-stack rule's `reads` is every resource type its verdicts depend on (platform_spec.rule.StackRule): the
posture monitor re-judges a rule only when every declared resource of those types was read
(opscli.monitor.resolve.complete_for), so a type the rule looks at but does not declare would let a partial run
keep a verdict a change to that type has made wrong. Shown on the synthesized stacks: each rule judges the same with
only the resources of the types it declares as with all of them."""

from __future__ import annotations

import pytest

from platform_spec.registry import STACK_RULES_BY_ID

pytestmark = pytest.mark.synth


def _verdicts(rule, resources) -> dict[str, str]:
    return {lid: result.status.value for lid, result in rule.check(resources)}


@pytest.mark.parametrize("rule_id", sorted(STACK_RULES_BY_ID))
def test_a_stack_rule_judges_a_resource_the_same_from_it_and_the_types_it_declares(synth, monitor_template, rule_id):
    """What a partial run has when the rule is complete for it: the judged resource, and every declared resource
    of the types the rule reads. Its verdict on that resource must be the whole template's."""
    rule = STACK_RULES_BY_ID[rule_id]
    for template in (synth.template, monitor_template):
        resources = template["Resources"]
        whole = _verdicts(rule, resources)
        declared = {lid: r for lid, r in resources.items() if r.get("Type") in rule.reads}
        for lid, status in whole.items():
            alone = _verdicts(rule, {**declared, lid: resources[lid]}).get(lid)
            assert alone == status, f"{rule_id} on {lid}: {alone} from {sorted(rule.reads)} alone, {status} whole"
