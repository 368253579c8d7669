"""Record: immutable records with named fields, written like typing.NamedTuple

    class Origin(Record):
        kind: str
        path: str
        where: str = ""

and behaving like one where cefw relies on it: a tuple (immutable, hashable, compared
and sorted by value, unpacked), fields read by name, positional and keyword arguments
with defaults, `_replace`, `_fields`, a readable repr, copy and pickle.

Why not typing.NamedTuple itself: making a NamedTuple class costs about 0.2 ms (typing
builds a collections.namedtuple, then a second class around it), and `cefw plan` makes
some twenty of them before it reads a file, a tenth of its start-up budget
(bench/bench_plan.py). A Record class is one class made directly; its constructor is
compiled from the field names exactly as collections.namedtuple compiles its own, so
making a record costs what making a namedtuple costs.
"""

from __future__ import annotations

from operator import itemgetter
from typing import Any, dataclass_transform


class _RecordType(type):
    def __new__(mcls, name: str, bases: tuple[type, ...], namespace: dict[str, Any]):
        if bases == (tuple,):  # Record itself
            return super().__new__(mcls, name, bases, namespace)
        if any(getattr(b, "_fields", ()) for b in bases):
            raise TypeError(f"{name}: a record's fields cannot be extended by a subclass")
        fields = tuple(namespace.get("__annotations__", ()))
        given = [f in namespace for f in fields]
        if given != sorted(given):  # False (no default) must come before True
            raise TypeError(f"{name}: a field without a default follows one with a default")
        defaults = tuple(namespace.pop(f) for f in fields if f in namespace)
        for index, field in enumerate(fields):
            namespace[field] = property(itemgetter(index), doc=f"field {index}: {field}")
        namespace.update(__new__=_compile_first, __slots__=(), _fields=fields,
                         __match_args__=fields, _defaults=defaults)
        return super().__new__(mcls, name, bases, namespace)


def _compile_first(cls: Any, *args: Any, **kwargs: Any) -> Any:
    """The first record made of a class compiles its constructor, then makes the record
    with it; every later one calls the compiled constructor directly. Compiling on first
    use, not when the class is made: most runs of cefw make records of a few of its
    classes only, and compiling costs about as much as making the class."""
    fields = cls._fields
    # The constructor collections.namedtuple compiles: positional and keyword arguments
    # bound by the interpreter itself, as fast as a tuple can be made.
    values = f"({', '.join(fields)},)" if fields else "()"
    new = eval(f"lambda {', '.join(('_cls', *fields))}: _tuple_new(_cls, {values})",
               {"_tuple_new": tuple.__new__}, {})
    new.__name__ = "__new__"
    new.__qualname__ = f"{cls.__name__}.__new__"
    new.__defaults__ = cls._defaults or None
    cls.__new__ = staticmethod(new)
    return new(cls, *args, **kwargs)


@dataclass_transform(frozen_default=True)
class Record(tuple, metaclass=_RecordType):
    """Base of every record: subclass it with annotated fields (see the module)."""

    __slots__ = ()
    _fields: tuple[str, ...] = ()
    _defaults: tuple[Any, ...] = ()

    def _asdict(self) -> dict[str, Any]:
        """The fields by name, as namedtuple's `_asdict`."""
        return dict(zip(self._fields, self, strict=True))

    def _replace(self, **changes: Any) -> Any:
        """A copy with some fields changed, as namedtuple's `_replace`."""
        values = tuple(changes.pop(f, v) for f, v in zip(self._fields, self, strict=True))
        if changes:
            raise ValueError(f"Got unexpected field names: {list(changes)!r}")
        return tuple.__new__(type(self), values)

    def __repr__(self) -> str:
        shown = ", ".join(f"{f}={v!r}" for f, v in zip(self._fields, self, strict=True))
        return f"{type(self).__name__}({shown})"

    def __getnewargs__(self) -> tuple[Any, ...]:  # copy and pickle call __new__ with these
        return tuple(self)
