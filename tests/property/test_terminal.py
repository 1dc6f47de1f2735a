"""Properties of opscli.terminal: its line breaking loses and breaks nothing."""

from __future__ import annotations

from hypothesis import given
from hypothesis import strategies as st

from tests.property.strategies import layout_text


@given(layout_text, st.integers(1, 160), st.integers(0, 40), st.integers(0, 40))
def test_flow_breaks_only_at_spaces_and_fits_the_width(text, width, hang, first):
    """`terminal.flow` loses and breaks nothing: its lines joined by single spaces are the text (after the first
    line, left empty where the first word did not fit there), the first starts at `first`, and every line fits
    `width` but for one word longer than the width, which stands whole at column 0."""
    from rich.cells import cell_len

    from opscli.terminal import flow

    lines = flow(text, width, hang=hang, first=first)
    rejoined = [line for _, line in lines]
    assert " ".join(rejoined) == text or (rejoined[0] == "" and " ".join(rejoined[1:]) == text)
    assert lines[0][0] == first
    for column, line in lines[1:] if lines[0][1] == "" else lines:
        assert column + cell_len(line) <= width or (" " not in line and column == 0 and cell_len(line) > width)
