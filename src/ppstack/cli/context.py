"""What every command takes from the click context: the runtime and the progress channel."""

from __future__ import annotations

from collections.abc import Callable

import click

from ppstack.backends import Runtime


def runtime(ctx: click.Context) -> Runtime:
    """The ports for this command's settings; use as ``with runtime(ctx) as rt:``."""
    return Runtime(ctx.obj["settings"])


def say(ctx: click.Context) -> Callable[[str], None]:
    """Progress messages on stderr (stdout carries data only); silent with ``--quiet``."""
    if ctx.obj.get("quiet"):
        return lambda _msg: None
    return lambda msg: click.echo(msg, err=True)
