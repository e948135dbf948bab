"""Progress of long steps, as a tiny port: layers report, the CLI draws.

A layer that loops over many items takes a ``MeterFactory`` and reports through the ``Meter`` it
returns; it never imports click or writes to a terminal. ``cli.progress.bar_factory`` draws
click progress bars on stderr; the default draws nothing.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Protocol


class Meter(Protocol):
    def total(self, n: int) -> None:
        """The number of units, once known (a bar appears only then)."""
        ...

    def step(self, n: int) -> None:
        ...

    def close(self) -> None:
        ...


MeterFactory = Callable[[str], Meter]


class NullMeter:
    def total(self, n: int) -> None:
        pass

    def step(self, n: int) -> None:
        pass

    def close(self) -> None:
        pass


def no_meter(_label: str) -> Meter:
    return NullMeter()
