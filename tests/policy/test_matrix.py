"""The committed compliance matrix is the one the catalog generates."""

from policies import matrix
from tests.conftest import CDK_AND_CHECKOV


@CDK_AND_CHECKOV  # the matrix names the Aspects: cdk_app.aspects imports aws_cdk (tests/conftest.py: the group)
def test_committed_matrix_is_up_to_date():
    assert matrix.OUTPUT.read_text() == matrix.render(), "run: python -m policies.matrix --write"
    assert matrix.RULES_OUTPUT.read_text() == matrix.render_rules(), "run: python -m policies.matrix --write"


def test_the_rule_reference_has_one_section_per_rule_with_its_anchor():
    from platform_spec import catalog, sarif

    text = matrix.render_rules()
    for rule in catalog.CATALOG.values():
        assert f'<a id="{sarif.anchor(rule.id)}"></a>\n## {rule.id}\n' in text


@CDK_AND_CHECKOV
def test_matrix_lists_every_rule_and_deviation(capsys):
    from platform_spec import catalog

    assert matrix.main([]) == 0
    text = capsys.readouterr().out
    assert all(f"**{rule_id}**" in text for rule_id in catalog.CATALOG)
