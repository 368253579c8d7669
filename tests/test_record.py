"""cefw.record.Record behaves as typing.NamedTuple where cefw relies on it."""

from __future__ import annotations

import copy
import pickle
from typing import NamedTuple

import pytest

from cefw.model import Origin, Rule
from cefw.record import Record


class Pair(Record):
    a: str
    b: int = 2


class NTPair(NamedTuple):
    a: str
    b: int = 2


@pytest.mark.parametrize("cls", [Pair, NTPair])
def test_behaves_as_a_named_tuple(cls) -> None:  # type: ignore[no-untyped-def]
    x = cls("x")
    assert x == cls(a="x", b=2) == ("x", 2) and hash(x) == hash(("x", 2))
    assert (x.a, x.b) == ("x", 2) and tuple(x) == ("x", 2) and x[1] == 2
    assert sorted([cls("b"), cls("a", 9), cls("a", 1)]) == [("a", 1), ("a", 9), ("b", 2)]
    assert x._replace(b=3) == ("x", 3) and type(x._replace(b=3)) is cls
    assert cls._fields == ("a", "b") and cls.__match_args__ == ("a", "b")
    assert repr(x) == f"{cls.__name__}(a='x', b=2)"
    assert copy.deepcopy(x) == x and type(copy.copy(x)) is cls
    with pytest.raises(TypeError):
        cls()
    with pytest.raises(TypeError):
        cls("a", 1, 2)
    with pytest.raises(TypeError):
        cls("a", c=1)
    with pytest.raises(ValueError):
        x._replace(c=1)
    with pytest.raises(AttributeError):
        x.a = "y"  # type: ignore[misc]
    with pytest.raises(AttributeError):
        x.z = 1  # type: ignore[attr-defined]
    match x:
        case cls(a, b):
            assert (a, b) == ("x", 2)


def test_model_records_pickle_and_keep_defaults() -> None:
    rule = Rule("n", "d", "TCP", ((1, 1),), "p", ("any",), ("domain",), ("C",))
    assert rule.group == "Contact Expert" and rule.enabled is True
    assert pickle.loads(pickle.dumps(rule)) == rule
    assert pickle.loads(pickle.dumps(Origin("file", "x", "y"))) == Origin("file", "x", "y")


def test_a_field_without_default_after_one_with_is_refused() -> None:
    with pytest.raises(TypeError, match="without a default"):
        class Bad(Record):
            a: int = 1
            b: int
