"""CLI commands of the local servers: ``ppstack services`` and ``ppstack services stop``."""

from __future__ import annotations

import click

from ppstack.cli.output import emit_rows, format_option
from ppstack.settings import Settings

COLUMNS = ("name", "pid", "port", "url", "users")


@click.group("services", invoke_without_command=True)
@format_option()
@click.pass_context
def services(ctx: click.Context, fmt: str) -> None:
    """List the local servers this home started: its DynamoDB server and API servers.

    Each row names the server, its pid and port; for the DynamoDB server also the pids of the
    commands using it (it stops by itself when the last one that needed it ends).

    \b
    Example:
      ppstack services
      ppstack services stop
    """
    if ctx.invoked_subcommand is not None:
        return
    from ppstack.services import list_services

    settings: Settings = ctx.obj["settings"]
    found = list_services(settings)
    if not found and fmt == "table":
        click.echo(f"no local servers running for {settings.home_path}", err=True)
        return
    rows = [s.to_dict() for s in found]
    if fmt == "table":  # one cell: the pids side by side
        for row, s in zip(rows, found, strict=True):
            row["users"] = " ".join(str(u) for u in s.users)
    emit_rows(COLUMNS, rows, fmt)


@services.command("stop")
@click.pass_context
def stop(ctx: click.Context) -> None:
    """Stop every local server this home started (API servers first, then DynamoDB).

    \b
    Example:
      ppstack services stop
    """
    from ppstack.services import stop_services

    settings: Settings = ctx.obj["settings"]
    stopped = stop_services(settings)
    for s in stopped:
        click.echo(f"stopped {s.name} (pid {s.pid}, {s.url})")
    if not stopped:
        click.echo(f"no local servers running for {settings.home_path}", err=True)


COMMANDS: tuple[click.Command, ...] = (services,)
