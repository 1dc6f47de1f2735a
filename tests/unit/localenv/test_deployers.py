"""The local deployers' registry (localenv.deployers): one deployer per CloudFormation type, in the module of its
AWS service; every type the synthesized stacks declare is deployed or skipped with its reason, never dropped."""

from __future__ import annotations

import pytest

from localenv import deployers
from localenv.deploy import SKIPPED_TYPES
from localenv.deployers import DEPLOYERS, deployer

# The module of a service whose name is not its CloudFormation namespace in lower case.
MODULE_OF = {"ApplicationAutoScaling": "autoscaling", "ElasticLoadBalancingV2": "elbv2", "Lambda": "lambda_"}


def test_a_second_deployer_for_a_type_is_refused_naming_both():
    first = DEPLOYERS["AWS::KMS::Key"]
    with pytest.raises(ValueError, match=r"AWS::KMS::Key has two deployers: localenv\.deployers\.kms\.kms_key and"):
        deployer("AWS::KMS::Key")(lambda ctx, lid, p: (lid, {}))
    assert DEPLOYERS["AWS::KMS::Key"] is first


def test_each_deployer_lives_in_the_module_of_its_service():
    misplaced = {}
    for resource_type, fn in DEPLOYERS.items():
        namespace = resource_type.split("::")[1]
        home = f"{deployers.__name__}.{MODULE_OF.get(namespace, namespace.lower())}"
        if fn.__module__ != home:
            misplaced[resource_type] = f"{fn.__module__}, not {home}"
    assert DEPLOYERS and not misplaced, misplaced


def test_a_type_is_either_deployed_or_skipped_with_a_reason():
    assert not set(SKIPPED_TYPES) & set(DEPLOYERS)
    assert all(reason.strip() for reason in SKIPPED_TYPES.values())


@pytest.mark.synth
def test_every_type_the_stacks_declare_has_a_deployer_or_a_reason(synth, monitor_template):
    declared = {r["Type"] for template in (synth.template, monitor_template) for r in template["Resources"].values()}
    assert declared - set(DEPLOYERS) - set(SKIPPED_TYPES) == set()
