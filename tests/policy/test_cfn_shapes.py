"""policies/cfn_shapes.py writes opscli/data/cfn_shapes.json, the reduced resource schemas drift compares by
(tests/opscli/test_shapes.py): the committed file is what it writes from the installed cfn-lint, for every type
opscli reads."""

from __future__ import annotations

from opscli import shapes


def test_the_vendored_shapes_are_those_of_the_installed_cfn_lint_for_every_type_opscli_reads():
    """`python -m policies.cfn_shapes [TYPE ...]` writes the file again: after cfn-lint changes, or a reader of a
    new type is added."""
    from opscli.readers import READERS
    from policies import cfn_shapes

    missing = sorted(set(READERS) - shapes.known_types())
    assert not missing, f"no shape for {missing}: run python -m policies.cfn_shapes {' '.join(missing)}"
    assert cfn_shapes.DATA == shapes.DATA
    assert shapes.DATA.read_text(encoding="utf-8") == cfn_shapes.render(cfn_shapes.generate(shapes.known_types())), \
        "opscli/data/cfn_shapes.json is out of date: run python -m policies.cfn_shapes"
