"""Click progress bars on stderr (stdout carries data only); silent with ``--quiet``."""

from __future__ import annotations

import sys
from typing import Any

import click

from ppstack.progress import Meter, MeterFactory, no_meter


class ClickMeter:
    """A progress bar sized when the total is known."""

    def __init__(self, label: str) -> None:
        self.label = label
        self.bar: Any = None

    def total(self, n: int) -> None:
        if n and self.bar is None:
            self.bar = click.progressbar(length=n, label=self.label, file=sys.stderr)
            self.bar.__enter__()

    def step(self, n: int) -> None:
        if self.bar is not None:
            self.bar.update(n)

    def close(self) -> None:
        if self.bar is not None:
            self.bar.__exit__(None, None, None)
            self.bar = None


def bar_factory(quiet: bool) -> MeterFactory:
    def make(label: str) -> Meter:
        return ClickMeter(label)

    return no_meter if quiet else make
