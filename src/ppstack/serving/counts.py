"""The counts a serving step reports (sync, rebuild, repair): typed int fields plus one total.

Each step declares its counters as ordinary dataclass fields and its total as a ``Total`` of
some of them; ``Counts.to_dict`` is then the fields in declaration order followed by the total
under its own name. That dict is what the batch ledger and the CLI's JSON output store, so its
keys and their order are part of the format: add fields at the end of a class, never rename.
"""

from __future__ import annotations

from dataclasses import asdict, dataclass
from typing import Any, overload


class Total:
    """A read-only attribute summing named int fields of a ``Counts`` (e.g. all the writes).

    Declared without an annotation, so ``dataclass`` does not make it a field.
    """

    def __init__(self, *fields: str) -> None:
        self.fields = fields
        self.name = ""

    def __set_name__(self, owner: type, name: str) -> None:
        declared = {n for c in owner.__mro__ for n in getattr(c, "__annotations__", {})}
        unknown = [f for f in self.fields if f not in declared]
        if unknown:  # a renamed field would otherwise fail only when the total is first read
            raise TypeError(f"{owner.__name__}.{name} sums undeclared fields {unknown}")
        self.name = name

    @overload
    def __get__(self, obj: None, owner: type | None = None) -> Total: ...

    @overload
    def __get__(self, obj: object, owner: type | None = None) -> int: ...

    def __get__(self, obj: object | None, owner: type | None = None) -> Total | int:
        if obj is None:
            return self
        return sum(getattr(obj, f) for f in self.fields)

    def __set__(self, obj: object, value: Any) -> None:
        raise AttributeError(f"{self.name} is the sum of {', '.join(self.fields)}; set those")


@dataclass
class Counts:
    """Base of the count dataclasses: ``to_dict`` = the fields, then each ``Total``."""

    def to_dict(self) -> dict[str, int]:
        totals = {n: getattr(self, n) for c in reversed(type(self).__mro__)
                  for n, v in vars(c).items() if isinstance(v, Total)}
        return {**asdict(self), **totals}
