"""Progress of long work, as a tiny port: layers report, the CLI draws.

Two kinds, one name each, everywhere:

- ``progress: Progress`` is a message about what a step is doing ("stage ...", "resuming batch
  ..."); the CLI prints it on stderr, ``quiet`` drops it.
- ``meter: Meter`` counts units of a loop over many items (DynamoDB writes): ``total(n)`` once
  the count is known, ``step(n)`` as units finish. ``cli.progress.bar_factory`` draws click
  progress bars on stderr; ``NULL_METER`` draws nothing.

A layer never imports click or writes to a terminal.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Protocol

Progress = Callable[[str], None]


def quiet(_msg: str) -> None:
    """A ``Progress`` that says nothing."""


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


NULL_METER: Meter = NullMeter()


def no_meter(_label: str) -> Meter:
    return NULL_METER
