"""The JSON layout (one object per line) is still JSON: it loads back unchanged."""

from __future__ import annotations

import json

from hypothesis import given
from hypothesis import strategies as st

from cefw.render.json import dumps

scalars = st.none() | st.booleans() | st.integers() | st.text(max_size=20)
documents = st.recursive(
    scalars,
    lambda inner: st.lists(inner, max_size=4) | st.dictionaries(st.text(max_size=8), inner,
                                                                 max_size=4),
    max_leaves=30,
)


@given(st.dictionaries(st.text(max_size=8), documents, max_size=6))
def test_dumps_round_trips(document: dict) -> None:
    text = dumps(document)
    assert text.endswith("\n")
    assert json.loads(text) == document


def test_each_object_of_a_list_sits_on_its_own_line() -> None:
    text = dumps({"rules": [{"name": "CE-A-TCP"}, {"name": "CE-B-TCP"}], "schema": "x"})
    assert text.splitlines() == [
        "{", '  "rules": [', '    {"name": "CE-A-TCP"},', '    {"name": "CE-B-TCP"}', "  ],",
        '  "schema": "x"', "}"]
