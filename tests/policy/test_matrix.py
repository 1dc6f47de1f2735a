"""The committed compliance matrix is the one the catalog generates."""

from policies import matrix


def test_committed_matrix_is_up_to_date():
    assert matrix.OUTPUT.read_text() == matrix.render(), "run: python -m policies.matrix --write"


def test_matrix_lists_every_rule_and_deviation(capsys):
    from platform_spec import catalog

    assert matrix.main([]) == 0
    text = capsys.readouterr().out
    assert all(f"**{rule_id}**" in text for rule_id in catalog.CATALOG)
